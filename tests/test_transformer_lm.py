"""The causal transformer LM (A7 with A3, A5, A6, A8, A9): the per-model template, causality of every variant,
the loss as F2 by hand, cached = uncached sampling, the sliding window, and the CLI from training to evaluation."""

from __future__ import annotations

import json
import math

import pytest
import torch
from model_template import check_save_load_identical, check_step_changes_weights, overfit
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.data import load
from genlab.errors import ConfigError
from genlab.models.text.decoding import banned_ids
from genlab.models.text.transformer_lm import TransformerLM
from genlab.render import TextFile

runner = CliRunner()
TINY = {"d_model": 16, "num_heads": 2, "num_layers": 2, "dropout": 0.0}
#: every combination of the options: (positions, combine, attention)
VARIANTS = [(p, "add", a) for p in ("sinusoidal", "learned", "relative", "none") for a in ("softmax", "linear")
            if (p, a) != ("relative", "linear")]
VARIANTS += [(p, "concat", a) for p in ("sinusoidal", "learned") for a in ("softmax", "linear")]


@pytest.fixture(scope="module")
def kjv():
    return load("kjv", split="val", block_size=8)


def _model(data, **options) -> TransformerLM:
    torch.manual_seed(0)
    model = TransformerLM.for_data(data, {**TINY, **options})
    if model.stack.relative is not None:  # a bias that is not zero, so that it matters
        with torch.no_grad():
            model.stack.relative.weight.normal_()
    return model.double().eval()


def _variant(data, positions, combine, attention, norm="pre"):
    return _model(data, positions=positions, combine=combine, attention=attention, norm=norm, max_distance=3)


# --- the template ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tie_weights", [False, True], ids=["untied", "tied"])
def test_template_step_overfit_and_save_load(kjv, tmp_path, tie_weights):
    model = _model(kjv, tie_weights=tie_weights).float()
    assert model.config.block_size == 8 and model.config.vocabulary == tuple(kjv.meta["vocabulary"])
    assert (model.head.weight is model.embed.weight) == tie_weights
    batch = kjv.fields["tokens"][:8]  # (8, 9)
    check_step_changes_weights(model, batch)
    first, last = overfit(model, batch, steps=60, lr=1e-2)
    assert last < 0.5 * first
    check_save_load_identical(model, batch, tmp_path, call=lambda m, b: m(b).loss)


# --- A3 / A7: causality of every variant -------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["pre", "post"])
@pytest.mark.parametrize("positions, combine, attention", VARIANTS)
def test_changing_token_t_changes_no_logit_before_t(kjv, positions, combine, attention, norm):
    model = _variant(kjv, positions, combine, attention, norm)
    ids = kjv.fields["tokens"][:2, :8]  # (2, 8)
    with torch.no_grad():
        logits = model.logits(ids)  # (2, 8, V)
        for t in range(8):
            changed = ids.clone()
            changed[:, t] = (changed[:, t] + 5) % (len(model.vocab) - 2) + 2  # another symbol, not <pad>/<unk>
            again = model.logits(changed)
            torch.testing.assert_close(again[:, :t], logits[:, :t], rtol=1e-10, atol=1e-12)
            assert not torch.allclose(again[:, t:], logits[:, t:])  # ... and the logits from t on do change


# --- F2 -----------------------------------------------------------------------------------------------------------
def test_the_loss_is_the_cross_entropy_of_the_next_token_by_hand_with_pad_ignored(kjv):
    model = _model(kjv)
    tokens = kjv.fields["tokens"][:3].clone()  # (3, 9)
    tokens[1, 6:] = model.vocab.pad_id  # row 1: 5 targets, then padding
    with torch.no_grad():
        logits = model.logits(tokens[:, :-1])  # (3, 8, V): position t predicts token t + 1
        out = model(tokens)
        by_length = model(kjv.fields["tokens"][:3], tokens_lengths=torch.tensor([9, 6, 9]))
    terms = [torch.logsumexp(logits[b, t], 0) - logits[b, t, tokens[b, t + 1]]  # −log softmax(z)_{w_{t+1}}
             for b in range(3) for t in range(8) if tokens[b, t + 1] != model.vocab.pad_id]
    assert out.units == len(terms) == 8 + 5 + 8
    assert out.loss.item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-12)
    assert out.bits.item() == pytest.approx(out.loss.item() / math.log(2), rel=1e-12)
    assert by_length.units == out.units and by_length.loss.item() == pytest.approx(out.loss.item(), rel=1e-12)


def test_rows_longer_than_the_context_are_refused_with_the_block_size_to_use(kjv):
    model = _model(kjv)
    with pytest.raises(ConfigError, match="block_size 8: load the data with --set data.block_size=8"):
        model(load("kjv", split="val", block_size=12).fields["tokens"][:2])


# --- generation ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["pre", "post"])
@pytest.mark.parametrize("positions, combine, attention", VARIANTS)
def test_cached_and_uncached_sampling_draw_the_same_tokens(kjv, positions, combine, attention, norm):
    model = _variant(kjv, positions, combine, attention, norm)
    draws = [model.sample(3, generator=torch.Generator().manual_seed(1), prompt="And", tokens=12, cache=cache)
             for cache in (True, False)]  # 3 + 12 > block_size 8: the window slides too
    assert draws[0].shape == (3, 15) and torch.equal(draws[0], draws[1])
    assert "".join(model.vocab.decode(draws[0][0, :3])) == "And"


@pytest.mark.parametrize("prompt", ["And", "In the beginning"], ids=["short_prompt", "prompt_beyond_block"])
@pytest.mark.parametrize("attention", ["softmax", "linear"])
def test_beyond_block_size_each_token_is_the_prediction_of_the_last_block_size_tokens(kjv, prompt, attention):
    model = _model(kjv, positions="learned", attention=attention)  # learned: no position past block_size exists
    T, P = model.config.block_size, len(prompt)
    text = model.sample(2, prompt=prompt, tokens=20, temperature=0)  # greedy, cached, the window sliding
    assert text.shape == (2, P + 20) and P + 20 > 2 * T
    with torch.no_grad():
        for t in range(P, P + 20):
            z = model.logits(text[:, max(0, t - T) : t])[:, -1]  # recomputed on the window alone
            z[:, banned_ids(model.vocab)] = -math.inf
            assert torch.equal(text[:, t], z.argmax(-1)), t


def test_sampling_restores_training_mode_and_refuses_a_symbol_outside_the_vocabulary(kjv):
    model = _model(kjv, dropout=0.5).train()
    a = model.sample(2, generator=torch.Generator().manual_seed(0), tokens=5)
    b = model.sample(2, generator=torch.Generator().manual_seed(0), tokens=5)
    assert torch.equal(a, b) and model.training  # no dropout while sampling; the mode restored
    with pytest.raises(ConfigError, match="the model's vocabulary lacks: '€'"):
        model.sample(1, prompt="And €")


# --- configuration ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("options, message", [
    ({"d_model": 18, "num_heads": 4}, r"d_model \(18\) must be a multiple of num_heads \(4\)"),
    ({"positions": "relative", "attention": "linear"}, "linear attention .* relative position bias"),
    ({"positions": "none", "combine": "concat"}, "combine='concat' .* needs positions"),
    ({"combine": "concat", "tie_weights": True}, "tie_weights .* use combine='add'"),
    ({"position_dim": 4}, "position_dim sets the concatenated part"),
    ({"norm": "sandwich"}, "norm"),
])
def test_options_that_do_not_combine_are_one_clear_config_error(kjv, options, message):
    with pytest.raises(ConfigError, match=message):
        TransformerLM.for_data(kjv, {**TINY, **options})


def test_concatenated_positions_leave_d_model_minus_position_dim_to_the_tokens(kjv):
    model = _model(kjv, combine="concat", position_dim=4)
    assert model.embed.weight.shape == (len(model.vocab), 12) and model.head.in_features == 16


# --- the CLI ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lm") / "run"
    r = runner.invoke(app, ["train", "transformer-lm", "--data", "kjv", "--max-steps", "30", "--epochs", "1",
                            "--set", "data.block_size=32", "--set", "model.d_model=32", "--set", "model.num_layers=2",
                            "--set", "model.length=40", "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_the_cli_trains_samples_from_a_prompt_and_evaluates_in_bits_per_character(run, tmp_path):
    assert sorted((run / "samples").glob("epoch_*.txt"))  # the training previews are text
    r = runner.invoke(app, ["sample", str(run), "--n", "2", "--prompt", "And God", "--tokens", "20",
                            "--top-k", "10", "--out", str(tmp_path / "s.txt")])
    assert r.exit_code == 0, r.output
    title, texts = TextFile.read(tmp_path / "s.txt")
    assert title is not None and len(texts) == 2 and all(t.startswith("And God") and len(t) == 27 for t in texts)
    r = runner.invoke(app, ["eval", str(run)])
    assert r.exit_code == 0, r.output
    figures = json.loads((run / "eval.json").read_text())
    V = len(load("kjv", split="val", block_size=32).meta["vocabulary"])
    assert figures["loss_bits"] == pytest.approx(figures["loss"] / math.log(2))
    assert figures["loss_bits"] < math.log2(V)  # below the uniform model's bits per character


def test_a_prompt_symbol_outside_the_vocabulary_is_a_one_line_cli_error(run):
    r = runner.invoke(app, ["sample", str(run), "--prompt", "And €", "--tokens", "5"])
    assert r.exit_code != 0
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "vocabulary lacks: '€'" in lines[0]
