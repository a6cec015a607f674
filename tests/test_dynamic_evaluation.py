"""Dynamic evaluation of a language model (``genlab.evaluation.dynamic``): each batch is scored before the model
learns from it, the update is the SGD step with a decay back to the trained weights, and the caller's model is
left as it was."""

from __future__ import annotations

import copy

import pytest
import torch

from genlab.data import load
from genlab.errors import ConfigError
from genlab.evaluation.dynamic import eval_dynamic
from genlab.evaluation.metrics import eval_loss
from genlab.models.base import detached
from genlab.models.text import BigramLM, RecurrentLM

DATA = {"block_size": 16}


def _lstm():
    torch.manual_seed(0)
    return RecurrentLM.for_data(load("kjv", split="val", **DATA),
                                {"embed_dim": 8, "hidden": 16, "num_layers": 2, "dropout": 0.0}).eval()


def _rows(n: int, start: int = 0):
    return load("kjv", split="val", **DATA).subset(torch.arange(start, start + n))


@pytest.mark.parametrize("make", [_lstm, lambda: BigramLM.for_data(_rows(1)).eval()])
def test_without_a_step_it_is_the_static_score(make):
    model, data = make(), _rows(70)  # the LSTM: 32 lanes of 2 rows, then 6 rows; the bigram: rows in order
    with torch.no_grad():  # as evaluate() calls it
        static = eval_loss(model, data)
    dynamic = eval_dynamic(model, data, dynamic_lr=0.0, dynamic_lanes=32)  # read as eval_loss reads it
    assert dynamic["dynamic"] == pytest.approx(static["loss"], rel=1e-6)
    assert dynamic["dynamic_units"] == static["loss_units"] == 70 * 16


def test_the_first_batch_is_scored_before_the_model_learns_from_it():
    model, data = _lstm(), _rows(32)  # one batch: 32 lanes of one row
    assert eval_dynamic(model, data, dynamic_lr=5.0, dynamic_lanes=32)["dynamic"] == pytest.approx(
        eval_dynamic(model, data, dynamic_lr=0.0, dynamic_lanes=32)["dynamic"], rel=1e-6)
    lane = _rows(1)  # one stream of one row
    assert eval_dynamic(model, lane, dynamic_lr=5.0)["dynamic"] == pytest.approx(
        eval_dynamic(model, lane, dynamic_lr=0.0)["dynamic"], rel=1e-6)


def test_it_learns_from_text_it_has_scored_and_leaves_the_model_alone():
    model = _lstm()
    rows = _rows(32)
    repeated = rows.subset(torch.arange(32).repeat_interleave(8))  # lane i reads row i 8 times: each batch is the first
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    static = eval_dynamic(model, repeated, dynamic_lr=0.0, dynamic_lanes=32)["dynamic_bits"]
    adapted = eval_dynamic(model, repeated, dynamic_lr=5.0, dynamic_lanes=32)["dynamic_bits"]
    assert adapted < static - 0.5  # what it read once, it predicts better the next time
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())


def test_the_decay_pulls_each_step_back_to_the_trained_weights():
    """After one batch, θ₁ = θ₀ − η∇L + λ(θ₀ − (θ₀ − η∇L)) = θ₀ − (1 − λ)η∇L: the second batch's score with (η, λ)
    is the score with ((1 − λ)η, 0)."""
    model, data = _lstm(), _rows(64)  # two batches of 32 lanes
    two = {"dynamic_lanes": 32}
    pulled = eval_dynamic(model, data, dynamic_lr=0.4, dynamic_decay=0.75, **two)["dynamic"]
    assert pulled == pytest.approx(eval_dynamic(model, data, dynamic_lr=0.1, **two)["dynamic"], rel=1e-5)
    assert pulled != pytest.approx(eval_dynamic(model, data, dynamic_lr=0.4, **two)["dynamic"], rel=1e-3)


def test_by_default_it_reads_the_split_as_one_stream_a_step_after_each_row():
    """Row 0 is scored at θ₀; the step on it gives θ₁ = θ₀ − η ∇L₀; row 1 is scored at θ₁ with the state row 0
    left (at θ₀), and so on: the text just read adapts the model to the text that follows it."""
    model, data = _lstm(), _rows(3)
    eta = 0.5
    got = eval_dynamic(model, data, dynamic_lr=eta)
    adapted = copy.deepcopy(model)
    params = [p for p in adapted.parameters() if p.requires_grad]
    tokens, state, losses = data.fields["tokens"], None, []
    for i in range(3):
        out = adapted(tokens[i:i + 1], state=state)
        losses.append(float(out.loss.detach()))
        state = detached(out.state)
        with torch.no_grad():
            for p, g in zip(params, torch.autograd.grad(out.loss, params), strict=True):
                p.sub_(eta * g)
    assert got["dynamic"] == pytest.approx(sum(losses) / 3, rel=1e-5) and got["dynamic_lanes"] == 1
    assert got["dynamic"] != pytest.approx(eval_dynamic(model, data, dynamic_lr=eta, dynamic_lanes=3)["dynamic"],
                                           rel=1e-4)  # 3 lanes: all three rows scored at θ₀


def test_bad_options_are_refused_with_what_to_give():
    model, data = _lstm(), _rows(4)
    with pytest.raises(ConfigError, match="dynamic_lr must be ≥ 0"):
        eval_dynamic(model, data, dynamic_lr=-1.0)
    with pytest.raises(ConfigError, match=r"dynamic_decay must be in \[0, 1\]"):
        eval_dynamic(model, data, dynamic_decay=1.5)
    for bad in ({"dynamic_lanes": 0}, {"dynamic_lanes": 1.5}, {"dynamic_lanes": True}):
        with pytest.raises(ConfigError, match="dynamic_lanes must be a whole number ≥ 1"):
            eval_dynamic(model, data, **bad)
    with pytest.raises(ConfigError, match="adapts a model trained on one objective"):
        eval_dynamic(torch.nn.Linear(2, 2), data)


def test_the_rms_form_reads_the_gradient_scale_on_training_lanes_and_scales_each_step_by_it(monkeypatch):
    """``MS`` over one batch is the squared gradient of the batch whose lanes start at the training text's
    32 equal parts; with ``√MS`` the same c everywhere the RMS form is the SGD form with η / (c + ε) and the
    pull λ itself."""
    from genlab.evaluation import dynamic

    model, train = _lstm(), _rows(320, start=100)
    params = [p for p in model.parameters() if p.requires_grad]
    ms = dynamic.mean_square_gradients(model, params, train, batches=1, lanes=32)
    starts = torch.arange(32) * 10
    loss = model(train.fields["tokens"][starts]).loss  # lane i's first row: row 10·i of the split
    assert all(torch.allclose(m, g ** 2) for m, g in zip(ms, torch.autograd.grad(loss, params), strict=True))
    ms = dynamic.mean_square_gradients(model, params, train, batches=2, lanes=1)  # one lane: rows 0, 1 in a row
    out0 = model(train.fields["tokens"][0:1])
    g0 = torch.autograd.grad(out0.loss, params)
    g1 = torch.autograd.grad(model(train.fields["tokens"][1:2], state=detached(out0.state)).loss, params)
    assert all(torch.allclose(m, (a ** 2 + b ** 2) / 2) for m, a, b in zip(ms, g0, g1, strict=True))

    c = 0.5
    monkeypatch.setattr(dynamic, "mean_square_gradients",
                        lambda model, params, data, batches, lanes: [torch.full_like(p, c * c) for p in params])
    data = _rows(64)
    rms = eval_dynamic(model, data, dynamic_lr=0.01, dynamic_decay=0.3, dynamic_rms=4, load_split=lambda s: train)
    sgd = eval_dynamic(model, data, dynamic_lr=0.01 / (c + dynamic.RMS_EPS), dynamic_decay=0.3)
    assert rms["dynamic"] == pytest.approx(sgd["dynamic"], rel=1e-6) and rms["dynamic_rms"] == 4
    with pytest.raises(ConfigError, match="dynamic_rms must be ≥ 0"):
        eval_dynamic(model, data, dynamic_rms=2)  # no training split to measure it on


def test_steps_that_diverge_are_an_error_and_each_form_has_its_own_default_step():
    model, data = _lstm(), _rows(96)
    with pytest.raises(ConfigError, match="diverged .* give a smaller one"):
        eval_dynamic(model, data, dynamic_lr=1e38)  # the weights overflow: an infinite NLL, not a figure
    assert eval_dynamic(model, data)["dynamic_lr"] == 0.3
    assert eval_dynamic(model, data, dynamic_rms=1, load_split=lambda s: _rows(64))["dynamic_lr"] == 5e-4


def _small_train(name: str):
    """A short training text (the first 300 rows of 16 characters) for the n-gram model of the tests."""
    return load("kjv", split=name, **DATA).subset(torch.arange(300))


def test_the_ngram_mixture_interpolates_each_characters_probability_with_a_refitted_kneser_ney_model():
    """Each character: log((1 − w) p_LM + w p_KN), with p_LM the dynamic LM's (as it reads, one stream) and p_KN
    that of a Kneser–Ney model fitted on the training text and the split's text before the current refit block."""
    from genlab.evaluation.ngram_mixture import one_stream
    from genlab.models.text import KneserNeyLM

    model, data = _lstm(), _rows(20)  # 320 characters predicted: refit blocks of 100 start at 1, 101, 201, 301
    w, eta = 0.3, 0.5
    got = eval_dynamic(model, data, dynamic_lr=eta, dynamic_ngram=3, dynamic_ngram_weight=w, dynamic_ngram_refit=100,
                       load_split=_small_train)
    alone = eval_dynamic(model, data, dynamic_lr=eta)
    assert got["dynamic_lm_bits"] == pytest.approx(alone["dynamic_bits"], rel=1e-6)
    adapted = copy.deepcopy(model)  # the LM's log p of each character, by hand (as the test above steps it)
    params = [p for p in adapted.parameters() if p.requires_grad]
    tokens, state, lm = data.fields["tokens"], None, []
    for i in range(20):
        out = adapted(tokens[i:i + 1], state=state)
        logits = adapted.head(adapted.rnn(adapted.embed(tokens[i:i + 1, :-1]), state)[0])[0]  # (16, V)
        lm.append(torch.log_softmax(logits.detach(), -1).gather(1, tokens[i, 1:, None])[:, 0])
        state = detached(out.state)
        with torch.no_grad():
            for p, g in zip(params, torch.autograd.grad(out.loss, params), strict=True):
                p.sub_(eta * g)
    lm = torch.cat(lm).double()  # (320,)
    history, stream = one_stream(_small_train("train")), one_stream(data)
    assert torch.equal(stream[1:], tokens[:, 1:].flatten())
    kn = []
    for start in (1, 101, 201, 301):
        text = torch.cat([history, stream[:start]])
        fitted = KneserNeyLM.for_data(data, {"order": 3})
        fitted.fit(data.replace(fields={"tokens": text[None]}))
        end = min(start + 100, len(stream))
        kn.append(fitted.stream_log_probs(torch.cat([history, stream[:end]]), start=len(history) + start))
    kn = torch.cat(kn)
    mixed = torch.log((1 - w) * lm.exp() + w * kn.exp())
    assert got["dynamic_bits"] == pytest.approx(float(-mixed.mean() / torch.log(torch.tensor(2.0))), rel=1e-5)
    assert got["dynamic_ngram_bits"] == pytest.approx(float(-kn.mean() / torch.log(torch.tensor(2.0))), rel=1e-6)
    assert got["dynamic_ngram"] == 3 and got["dynamic_ngram_weight"] == w
    by_weight = got["dynamic_bits_by_weight"]  # the same pass mixed at other weights
    at = torch.log((1 - 0.1) * lm.exp() + 0.1 * kn.exp())
    assert by_weight["0.1"] == pytest.approx(float(-at.mean() / torch.log(torch.tensor(2.0))), abs=2e-5)


def test_the_refitted_ngram_model_remembers_a_passage_it_has_just_read():
    from genlab.data.text import blocks

    passage = _rows(6).fields["tokens"]
    text = torch.cat([passage[0], passage[1:, 1:].flatten()])  # 97 characters
    twice = _rows(1).replace(fields={"tokens": blocks(torch.cat([text, text, text[:1]]), 16)})  # read twice
    model = _lstm()
    options = {"dynamic_lr": 0.0, "dynamic_ngram": 5, "dynamic_ngram_weight": 0.5, "load_split": _small_train}
    static = eval_dynamic(model, twice, dynamic_ngram_refit=10**6, **options)  # never refitted on the split
    adaptive = eval_dynamic(model, twice, dynamic_ngram_refit=97, **options)  # counts the first reading
    assert adaptive["dynamic_ngram_bits"] < static["dynamic_ngram_bits"] - 1.0
    assert adaptive["dynamic_bits"] < static["dynamic_bits"] - 0.5
    assert adaptive["dynamic_lm_bits"] == static["dynamic_lm_bits"]


def test_the_ngram_mixture_refuses_what_it_cannot_read():
    model, data = _lstm(), _rows(4)
    mix = {"dynamic_ngram": 3, "load_split": _small_train}
    with pytest.raises(ConfigError, match="dynamic_ngram_weight must be in"):
        eval_dynamic(model, data, dynamic_ngram_weight=1.0, **mix)
    with pytest.raises(ConfigError, match="--dynamic-lanes 1"):
        eval_dynamic(model, data, dynamic_lanes=2, **mix)
    with pytest.raises(ConfigError, match="dynamic_ngram must be a whole number"):
        eval_dynamic(model, data, dynamic_ngram=-1, load_split=_small_train)
    shuffled = data.subset(torch.tensor([2, 0, 3, 1]))  # rows that do not continue one another
    with pytest.raises(ConfigError, match="one stream of text"):
        eval_dynamic(model, shuffled, **mix)
    with pytest.raises(ConfigError, match="dynamic_ngram_refit must be ≥ 1"):
        eval_dynamic(model, data, dynamic_ngram_refit=0, **mix)
