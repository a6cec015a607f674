"""Text classification, many-to-one (R7): the ``bbc-news`` split and vocabulary, the attention pooling (R9) over the
real words only, padding that changes nothing, macro-F1 against scikit-learn, and ``text-classifier`` end to end
from the CLI (train, sample with the weights rendered, eval: accuracy and f1) and from Python."""

from __future__ import annotations

import csv
import json
from collections import Counter

import pytest
import torch
from model_template import check_save_load_identical, check_step_changes_weights, overfit
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.data import load
from genlab.data.bbc import bbc_articles, stratified_split, tokenize
from genlab.errors import ConfigError
from genlab.evaluation.metrics import macro_f1
from genlab.models.text import TextClassifier
from genlab.training.config import TrainConfig
from genlab.training.run import train
from genlab.vocab import Vocabulary

runner = CliRunner()
VOCAB = ("<pad>", "<unk>", *(f"w{i}" for i in range(18)))
CLASSES = ("a", "b", "c")
SMALL = {"embed_dim": 8, "hidden": 6, "attention_dim": 5, "dropout": 0.0}


def _model(**options) -> TextClassifier:
    torch.manual_seed(0)
    return TextClassifier(vocabulary=VOCAB, classes=CLASSES, **{**SMALL, **options}).eval()


def _documents() -> tuple[torch.Tensor, torch.Tensor]:
    """Three documents of 5, 2 and 4 words, padded with 0 to 5: ``(words (3, 5), lengths (3,))``."""
    words = torch.tensor([[2, 3, 4, 5, 6], [7, 8, 0, 0, 0], [9, 10, 11, 2, 0]])
    return words, (words != 0).sum(1)


# --- data -------------------------------------------------------------------------------------------------------
def test_the_split_is_stratified_and_the_vocabulary_comes_from_the_training_split_only():
    topics, texts = bbc_articles()
    counts = [len(t) for t in texts]
    assert sum(counts) == 2225 and len(topics) == 5
    rows = {s: stratified_split(counts, s, seed=3) for s in ("train", "val", "test")}
    assert sorted(r for part in rows.values() for r in part) == sorted((c, i) for c, n in enumerate(counts)
                                                                       for i in range(n))  # disjoint, all
    splits = {s: load("bbc-news", split=s, seed=3, max_words=50) for s in ("train", "val", "test")}
    for s, share in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        per_class = Counter(splits[s].y.tolist())
        assert all(abs(per_class[c] - share * n) <= 1 for c, n in enumerate(counts)), (s, per_class)
    assert splits["val"].meta["classes"] == list(topics) and splits["test"].fields["words"].shape[1] <= 50

    train_docs = [tokenize(texts[c][i])[:50] for c, i in rows["train"]]
    seen = Counter(w for d in train_docs for w in d)
    test_only = Counter(w for c, i in rows["test"] for w in tokenize(texts[c][i])[:50] if w not in seen)
    word, _ = test_only.most_common(1)[0]  # in the test articles, never in the training ones
    vocab = Vocabulary.from_list(splits["test"].meta["vocabulary"])
    assert splits["train"].meta["vocabulary"] == splits["test"].meta["vocabulary"]
    assert vocab == Vocabulary.build(train_docs, min_count=2) and word not in vocab
    assert all(w in vocab for w, n in seen.items() if n >= 2) and not any(w in vocab for w, n in seen.items() if n < 2)
    other = load("bbc-news", split="test", seed=4, max_words=50)
    assert Counter(other.y.tolist()) == Counter(splits["test"].y.tolist())  # the same shares, other articles
    assert not torch.equal(other.y, splits["test"].y) and not torch.equal(other.fields["words"],
                                                                           splits["test"].fields["words"])


def test_the_tokenization_lowercases_and_keeps_letters_digits_and_apostrophes():
    assert tokenize("Blair's £7.5bn PLAN, (2005)!") == ["blair's", "7", "5bn", "plan", "2005"]


# --- the model's equations ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("given", [True, False])
def test_attention_weights_sum_to_one_over_the_real_words_and_are_zero_on_padding(given):
    words, lengths = _documents()
    alpha = _model().attention(words, lengths if given else None)  # lengths, or read from the non-<pad> ids
    real = words != 0
    assert alpha.shape == (3, 5) and (alpha[~real] == 0).all() and (alpha[real] > 0).all()
    assert torch.allclose(alpha.sum(1), torch.ones(3), atol=1e-6)
    assert not torch.allclose(alpha[0], torch.full((5,), 0.2))  # the scores differ word by word
    mean = _model(pooling="mean").attention(words)
    assert torch.allclose(mean[real], (1 / lengths.float()).repeat_interleave(lengths))
    with pytest.raises(ConfigError, match="pooling='last'"):
        _model(pooling="last").attention(words)


@pytest.mark.parametrize("pooling", ["attention", "cosine", "hard", "mean", "last"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_padding_a_document_further_changes_no_logit(pooling, cell):
    model = _model(pooling=pooling, cell=cell)
    words, lengths = _documents()
    padded = torch.cat([words, torch.zeros(3, 7, dtype=torch.int64)], 1)  # (3, 12): 7 more <pad>
    with torch.no_grad():
        logits = model.logits(words, lengths)
        assert torch.allclose(model.logits(padded, lengths), logits, atol=1e-6)
        assert torch.allclose(model.logits(padded), logits, atol=1e-6)  # no lengths: read from the ids
        alone = model.logits(words[1:2, :2])  # the 2-word document, unpadded, alone
        assert torch.allclose(alone, logits[1:2], atol=1e-6)
    assert torch.equal(model.predict(padded), logits.argmax(-1))


def test_cosine_pooling_is_the_softmax_of_the_scaled_cosine_of_query_and_projected_states():
    model = _model(pooling="cosine")
    words, lengths = _documents()
    with torch.no_grad():
        h, _ = model.rnn(model.embed(words), lengths=lengths)  # (3, 5, D)
        keys = model.key(h)  # K h_t
        cos = (keys @ model.query) / (keys.norm(dim=-1) * model.query.norm())  # A2 by hand, (3, 5)
        e = (10.0 * cos).masked_fill(words == 0, float("-inf"))  # s starts at 10
        alpha = model.attention(words, lengths)
        torch.testing.assert_close(alpha, torch.softmax(e, 1))
        torch.testing.assert_close(model.pooled(words, lengths)[0], (alpha[:, :, None] * h).sum(1))
        model.log_scale.fill_(10.0)  # s is capped at 100
        e100 = (100.0 * cos).masked_fill(words == 0, float("-inf"))
        torch.testing.assert_close(model.attention(words, lengths), torch.softmax(e100, 1))


def test_hard_pooling_reads_one_words_state_argmax_in_evaluation_drawn_in_training_straight_through():
    soft, hard = _model(word_dropout=0.0), _model(pooling="hard", word_dropout=0.0)
    hard.load_state_dict(soft.state_dict())  # the same networks and additive scores
    words, lengths = _documents()
    with torch.no_grad():
        h, _ = hard.rnn(hard.embed(words), lengths=lengths)  # (3, 5, D)
        alpha = soft.attention(words, lengths)
        pick = alpha.argmax(1)
        one_hot = hard.attention(words, lengths)
        assert torch.equal(one_hot, torch.nn.functional.one_hot(pick, 5).float())
        torch.testing.assert_close(hard.pooled(words, lengths)[0], h[torch.arange(3), pick])
        hard.train()  # training draws t* ~ α: frequencies follow the weights
        draws = torch.stack([hard.pooled(words[:1], lengths[:1])[1][0] for _ in range(3000)]).mean(0)
        torch.testing.assert_close(draws, alpha[0], atol=0.04, rtol=0)
    hard.eval()
    y = torch.tensor([0, 2, 1])
    hard.zero_grad()
    hard(words, y, lengths).loss.backward()  # ∂L/∂u = ∂L/∂c at c = h_{t*}, through the soft c's Jacobian
    c_hard = h[torch.arange(3), pick].detach().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(hard.head(c_hard), y)
    (g,) = torch.autograd.grad(loss, c_hard)
    c_soft, _ = soft.pooled(words, lengths)
    (expected,) = torch.autograd.grad(c_soft, soft.query, grad_outputs=g)
    torch.testing.assert_close(hard.query.grad, expected)


def test_the_loss_is_the_cross_entropy_of_the_class_and_empty_documents_are_refused():
    model = _model()
    words, lengths = _documents()
    y = torch.tensor([0, 2, 1])
    out = model(words, y, lengths)
    assert out.loss.item() == pytest.approx(torch.nn.functional.cross_entropy(out.logits, y).item())
    assert out.accuracy.item() == pytest.approx((out.logits.argmax(-1) == y).float().mean().item())
    with pytest.raises(ConfigError, match="a document with no word"):
        model(torch.tensor([[2, 3], [0, 0]]), torch.tensor([0, 1]))


def test_word_dropout_removes_whole_words_in_training_only_and_keeps_the_rest_in_order():
    model = _model(word_dropout=0.5)
    words, lengths = _documents()
    with torch.no_grad():
        plain = _model().logits(words, lengths)  # the same weights (seed 0), no word dropout
        assert torch.equal(model.logits(words, lengths), plain)  # evaluation reads every word
        model.train()  # dropout is 0 (SMALL): word dropout is the only randomness
        torch.manual_seed(5)
        trained = model.logits(words, lengths)
        torch.manual_seed(5)
        kept, n = model.drop_words(words, lengths)
        model.eval()
        assert torch.allclose(trained, model.logits(kept, n), atol=1e-6)  # = reading the words kept
    big = torch.randint(2, len(VOCAB), (400, 50))
    big_n = torch.randint(1, 51, (400,))
    big = big.masked_fill(torch.arange(50)[None] >= big_n[:, None], 0)
    kept, n = model.drop_words(big, big_n)
    assert kept.shape == (400, int(n.max())) and (n >= 1).all() and (n <= big_n).all()
    assert torch.equal((kept != 0).sum(1), n)  # the kept words first, then <pad>
    for row, m, original in zip(kept.tolist(), n.tolist(), big.tolist(), strict=True):
        it = iter(original)
        assert all(w in it for w in row[:m])  # a subsequence: the order kept, no word made up
    assert n.sum().item() / big_n.sum().item() == pytest.approx(0.5, abs=0.03)
    with pytest.raises(ConfigError, match="word_dropout"):
        _model(word_dropout=1.0)


def test_the_template_save_load_a_step_and_overfitting_one_batch(tmp_path):
    words, lengths = _documents()
    y = torch.tensor([0, 2, 1])
    model = _model(dropout=0.1)
    check_save_load_identical(model, {"words": words, "words_lengths": lengths}, tmp_path,
                              call=lambda m, b: m.logits(**b))
    check_step_changes_weights(model, words, y=y)
    first, last = overfit(_model(), words, y=y, steps=60, lr=1e-2)
    assert last < 0.1 * first


def test_the_rendering_lists_the_top_words_and_marks_the_heavy_ones_in_place(tmp_path):
    from genlab.models.text.attention_text import AttentionText

    alpha = torch.tensor([[0.1, 0.6, 0.1, 0.2, 0.0], [0.5, 0.5, 0.0, 0.0, 0.0]])  # heavy: ≥ 2/n
    renderer = AttentionText(vocabulary=VOCAB, classes=CLASSES, attend=lambda words: alpha)
    words = torch.tensor([[2, 3, 4, 5, 0], [6, 7, 0, 0, 0]])
    path = renderer.write({"words": words, "output": torch.tensor([1, 0]), "truth": torch.tensor([1, 2])},
                          tmp_path / "d")
    first, second = path.read_text(encoding="utf-8").strip().split("\n\n")
    assert path.suffix == ".txt" and first.split("\n") == [
        "predicted: b   truth: b   (4 words)", "top: w1 60.0 %, w3 20.0 %, w0 10.0 %, w2 10.0 %",
        "text ([w %] after the words weighing ≥ 2/n):", "w0 w1 [60.0 %] w2 w3"]
    assert second.split("\n")[0].endswith("(2 words)   ✗") and second.split("\n")[-1] == "w4 w5"
    page = renderer.write({"words": words, "output": torch.tensor([1, 0]), "truth": torch.tensor([1, 2])},
                          tmp_path / "d.html").read_text(encoding="utf-8")
    assert 'rgba(220,30,30,1.000)" title="60.00 %">w1<' in page  # opacity α / max α
    assert 'rgba(220,30,30,0.167)" title="10.00 %">w0<' in page
    plain = AttentionText(vocabulary=VOCAB, classes=CLASSES).write(  # no weights (pooling="last")
        {"words": words, "output": torch.tensor([1, 0]), "truth": torch.tensor([1, 2])}, tmp_path / "p.txt")
    lines = plain.read_text(encoding="utf-8").split("\n")
    assert lines[:2] == ["predicted: b   truth: b   (4 words)", "w0 w1 w2 w3"]


# --- metrics --------------------------------------------------------------------------------------------------------
def test_macro_f1_equals_scikit_learns_on_a_hand_case():
    from sklearn.metrics import f1_score

    truth = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    pred = torch.tensor([0, 1, 1, 1, 3, 2, 2])  # class 3 predicted, never true: F1 = 0
    # F1_0 = 2/3, F1_1 = 4/5, F1_2 = 2·2/(2·2 + 0 + 1) = 4/5, F1_3 = 0
    assert macro_f1(pred, truth) == pytest.approx((2 / 3 + 4 / 5 + 4 / 5 + 0) / 4)
    assert macro_f1(pred, truth) == pytest.approx(f1_score(truth, pred, average="macro", zero_division=0))
    assert macro_f1(truth, truth) == 1.0


# --- end to end -----------------------------------------------------------------------------------------------------
OPTIONS = ["--set", "model.hidden=16", "--set", "model.embed_dim=16", "--set", "model.attention_dim=16",
           "--set", "data.max_words=60"]


def _ok(args: list[str]) -> str:
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return r.output


def test_the_classifier_trains_renders_its_attention_and_is_evaluated_from_the_cli_and_python(tmp_path):
    run = tmp_path / "cls"
    _ok(["train", "text-classifier", "--epochs", "2", *OPTIONS, "--quiet", "--out", str(run), "--seed", "1"])
    out = _ok(["sample", str(run), "--n", "3", "--out", str(tmp_path / "docs.txt")])
    assert "(words, output, truth)" in out
    title, *docs = (tmp_path / "docs.txt").read_text(encoding="utf-8").strip().split("\n\n")
    assert title.startswith("# text-classifier · cls")  # the model and the run
    topics = load("bbc-news", split="val").meta["classes"]
    assert len(docs) == 3
    for doc in docs:
        header, top, _, text = doc.split("\n")
        predicted, truth = header.split("   ")[:2]
        assert predicted.removeprefix("predicted: ") in topics and truth.removeprefix("truth: ") in topics
        assert top.startswith("top: ") and top.count(" %") == 10 and len(text.split()) >= 10
    _ok(["sample", str(run), "--n", "2", "--out", str(tmp_path / "docs.html")])
    page = (tmp_path / "docs.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and page.count("<span style=\"background:rgba(") >= 2

    out = _ok(["eval", str(run)])
    assert "metrics: accuracy, f1" in out
    figures = json.loads((run / "eval.json").read_text())
    assert figures["accuracy_n"] == figures["f1_n"] == 223 and 0 <= figures["f1"] <= 1
    assert figures["accuracy"] > 0.3  # chance: 1 / 5 topics
    _ok(["eval", str(run), "--metrics", "loss"])  # the test cross-entropy, each batch weighted by its rows
    assert json.loads((run / "eval.json").read_text())["loss_n"] == 223

    python = train(TrainConfig(model="text-classifier", epochs=2, seed=1, quiet=True, out=str(tmp_path / "py"),
                               model_options={"hidden": 16, "embed_dim": 16, "attention_dim": 16},
                               data_options={"max_words": 60}))
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    cli_accuracy = float([r for r in rows if r.get("val/accuracy")][-1]["val/accuracy"])
    assert python.metrics["val/accuracy"] == pytest.approx(cli_accuracy, abs=1e-7)  # one resolution, one run
