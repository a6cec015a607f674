"""The Kneser–Ney character n-gram LM (``kn-lm``): counts and continuation counts by hand, the discounts, normalized
distributions at every order, back-off for unseen histories, ``forward`` against a slow pure-Python reference,
save/load, and the CLI's train → eval → sample of a closed-form fit."""

import json
import math
from collections import Counter, defaultdict

import pytest
import torch
from typer.testing import CliRunner

import genlab
from genlab.cli.main import app
from genlab.data.tensors import TensorData
from genlab.data.text import blocks, encode_characters
from genlab.errors import ConfigError
from genlab.models.closed_form import NotFitted
from genlab.models.text.kneser_ney import KneserNeyLM, modified_discounts
from genlab.render import TextFile
from genlab.vocab import Vocabulary

ABRA = "abracadabra"


def _data(text: str, block_size: int, vocabulary: Vocabulary | None = None) -> TensorData:
    vocabulary = vocabulary or Vocabulary(sorted(set(text)), unknown=True)
    tokens = blocks(encode_characters(text, vocabulary), block_size)
    return TensorData({"tokens": tokens}, kind="tokens", name="text", split="train",
                      meta={"vocabulary": vocabulary.to_list(), "joiner": ""})


def _fitted(text: str, *, block_size: int = 4, **options) -> KneserNeyLM:
    data = _data(text, block_size)
    model = KneserNeyLM.for_data(data, options)
    model.fit(data)
    return model


def _table(model: KneserNeyLM, k: int) -> dict[str, int]:
    """Order k's stored counts as {k-gram text: count}."""
    V, out = len(model.vocab), {}
    for key, count in zip(getattr(model, f"keys_{k}").tolist(), getattr(model, f"counts_{k}").tolist(), strict=True):
        ids = [(key // V**(k - 1 - i)) % V for i in range(k)]
        out["".join(model.vocab.decode(ids))] = count
    return out


def test_counts_of_a_hand_made_string_are_raw_at_the_top_order_and_continuation_counts_below():
    model = _fitted(ABRA, block_size=5, order=3)  # rows "abraca", "adabra" overlap by one: the whole text
    # trigrams of a-b-r-a-c-a-d-a-b-r-a: abr ×2, bra ×2, rac, aca, cad, ada, dab
    assert _table(model, 3) == {"abr": 2, "bra": 2, "rac": 1, "aca": 1, "cad": 1, "ada": 1, "dab": 1}
    # bigram continuation counts N1+(•vw) over the distinct trigrams: each of br ra ac ca ad da ab follows one symbol
    assert _table(model, 2) == {"ab": 1, "br": 1, "ra": 1, "ac": 1, "ca": 1, "ad": 1, "da": 1}
    # unigram continuation counts over the distinct bigrams ab br ra ac ca ad da: a follows r, c and d (raw count 5)
    assert _table(model, 1) == {"a": 3, "b": 1, "c": 1, "d": 1, "r": 1}
    # the histories of order 3: c(ab•) = 2 with one type of count 2
    a, b = model.vocab.encode(["a", "b"])
    i = model.history_keys_3.tolist().index(a * len(model.vocab) + b)
    assert model.history_totals_3[i] == 2 and model.history_types_3[i].tolist() == [0, 1, 0]
    assert model.config.ngrams == (5, 7, 7) and model.config.histories == (1, 5, 7)


def test_rows_that_do_not_overlap_are_counted_each_on_its_own():
    vocabulary = Vocabulary(list("ab"), unknown=True)
    tokens = torch.tensor([vocabulary.encode(list("aab")), vocabulary.encode(list("aba"))])  # "aba" does not
    data = TensorData({"tokens": tokens}, kind="tokens", name="t", split="train",  # start with "aab"'s last b
                      meta={"vocabulary": vocabulary.to_list(), "joiner": ""})
    model = KneserNeyLM.for_data(data, {"order": 2})
    model.fit(data)
    assert _table(model, 2) == {"aa": 1, "ab": 2, "ba": 1}  # as one stream "aabba" it would hold "bb"


def test_hand_computed_interpolated_probabilities_with_one_discount():
    model = _fitted(ABRA, block_size=5, order=2, discount=0.5)
    V = len(model.vocab)  # <pad> <unk> a b c d r: p_0 = 1/6 over all but <pad>
    a, b, r = model.vocab.encode(["a", "b", "r"])
    # unigram level: continuation counts a 3, b c d r 1 (total 7, five types) → γ_1 = 0.5 · 5 / 7
    p1 = {w: (c - 0.5 + 0.5 * 5 / 6) / 7 for w, c in (("a", 3), ("b", 1))}
    # bigram level after r: c(ra) = 2 (the highest order: raw counts), c(r•) = 2, one type of count 2 → γ = 0.5 / 2
    expected = [(2 - 0.5 + 0.5 * p1["a"]) / 2, (0 + 0.5 * p1["b"]) / 2]
    p = model.probabilities(torch.tensor([[r]]), torch.tensor([[a, b]]))[0]
    assert p.tolist() == pytest.approx(expected, rel=1e-6)
    assert expected[0] == pytest.approx(0.8541667, rel=1e-6)
    assert model.probabilities(torch.tensor([[r]]), torch.arange(V)[None]).sum().item() == pytest.approx(1, abs=1e-12)


def test_modified_discounts_follow_chen_and_goodman_from_the_count_of_counts():
    counts = torch.tensor([1, 1, 1, 1, 2, 2, 3, 4, 7])  # n1 4, n2 2, n3 1, n4 1 → Y = 4 / 8
    assert modified_discounts(counts).tolist() == pytest.approx([1 - 2 * 0.5 * 2 / 4, 2 - 3 * 0.5 / 2, 3 - 4 * 0.5])
    assert modified_discounts(torch.tensor([5, 6])).tolist() == pytest.approx([0.5, 0.5, 0.5])  # none defined
    # n1 1, n2 5: Y = 1/11, D_1 = 1 − 10/11 and D_3+ = Y (n3 = 0) fall below 0.1: clamped; D_2 = 2 − 0
    assert modified_discounts(torch.tensor([1, 2, 2, 2, 2, 2])).tolist() == pytest.approx([0.1, 2.0, 0.1])


@pytest.fixture(scope="module")
def kjv_val():
    from genlab.data import load

    return load("kjv", split="val", block_size=64)


@pytest.mark.parametrize("order", [1, 2, 3, 5])
@pytest.mark.parametrize("discount", [None, 0.75])
def test_the_distribution_sums_to_one_over_the_vocabulary_for_any_history(kjv_val, order, discount):
    model = KneserNeyLM.for_data(kjv_val, {"order": order, "discount": discount})
    model.fit(kjv_val)
    V, g = len(model.vocab), torch.Generator().manual_seed(0)
    seen = kjv_val.fields["tokens"][:50, 10:10 + order - 1]  # histories of the text
    random = torch.randint(0, V, (50, order - 1), generator=g)  # mostly unseen, <pad> and <unk> included
    for history in (seen, random):
        p = model.probabilities(history, torch.arange(V).expand(len(history), -1))  # (50, V)
        assert (p >= 0).all() and p[:, model.vocab.pad_id].eq(0).all()
        assert p.sum(1).tolist() == pytest.approx([1.0] * len(history), abs=1e-9)


def test_unseen_histories_back_off_and_every_string_has_a_finite_nll():
    model = _fitted(ABRA, block_size=5, order=4)
    vocabulary = model.vocab
    text = "rrrdddccc<" + "bad"  # histories never seen, and "<": <unk>
    ids = encode_characters(text, vocabulary)
    assert ids[9] == vocabulary.unk_id
    out = model(tokens=ids[None])
    assert math.isfinite(out.loss.item()) and out.units == len(text) - 1
    assert torch.isfinite(model.stream_log_probs(ids)).all()
    # an unseen history of order 4 gives the order-3 estimate of its last two symbols
    d, r, a, c = vocabulary.encode(list("drac"))
    assert model.probabilities(torch.tensor([[d, r, a]]), torch.tensor([[c]])).item() == pytest.approx(
        model.probabilities(torch.tensor([[0, r, a]]), torch.tensor([[c]])).item())


def _reference_nll(train: str, rows: list[str], order: int, discount: float | None) -> float:
    """−mean log p over positions 1.. of each row (history within the row), by dicts and the textbook recursion."""
    raw = [Counter(train[i:i + k] for i in range(len(train) - k + 1)) for k in range(order + 1)]  # raw[k]: k-grams
    counts = {order: raw[order]}
    for k in range(1, order):  # continuation counts: distinct left extensions
        counts[k] = Counter(g[1:] for g in raw[k + 1])
    discounts = {}
    for k in range(1, order + 1):
        if discount is not None:
            discounts[k] = (discount,) * 3
            continue
        n = [sum(1 for c in counts[k].values() if c == r) for r in range(1, 5)]
        Y = n[0] / (n[0] + 2 * n[1]) if n[0] + 2 * n[1] else 0.5
        discounts[k] = tuple(min(max(r - (r + 1) * Y * n[r] / n[r - 1] if n[r - 1] else Y, 0.1), r)
                             for r in (1, 2, 3))
    totals, types = defaultdict(lambda: defaultdict(int)), defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for k in range(1, order + 1):
        for g, c in counts[k].items():
            totals[k][g[:-1]] += c
            types[k][g[:-1]][min(c, 3) - 1] += 1
    symbols = sorted(set(train)) + ["<unk>"]

    def p(w: str, h: str) -> float:
        prob = 1 / len(symbols)
        for k in range(1, min(order, len(h) + 1) + 1):
            hk = h[len(h) - k + 1:]
            if totals[k][hk] == 0:
                continue
            c, D = counts[k].get(hk + w, 0), discounts[k]
            gamma = sum(Dr * nr for Dr, nr in zip(D, types[k][hk], strict=True))
            prob = (max(c - D[min(c, 3) - 1], 0) if c else 0) / totals[k][hk] + gamma * prob / totals[k][hk]
        return prob

    logs = [math.log(p(row[t], row[max(0, t - order + 1):t])) for row in rows for t in range(1, len(row))]
    return -sum(logs) / len(logs)


@pytest.mark.parametrize("discount", [None, 0.75])
def test_forward_is_the_mean_nll_of_a_slow_reference_implementation(discount):
    from genlab.data.text import kjv_verses

    text = "\n".join(kjv_verses()[:40])[:2000]
    train, test = text[:1601], text[1601:]  # 50 rows of 32 + 1: blocks() keeps every training character
    vocabulary = Vocabulary(sorted(set(train)), unknown=True)
    model = KneserNeyLM.for_data(_data(train, 32, vocabulary), {"order": 3, "discount": discount})
    model.fit(_data(train, 32, vocabulary))
    tokens = blocks(encode_characters(test, vocabulary), 16)  # (N, 17)
    rows = ["".join(vocabulary.decode(r.tolist())) for r in tokens]
    rows = [r.replace("<unk>", "\x00") for r in rows]  # one character per symbol for the reference
    assert rows and all(len(r) == 17 for r in rows)
    expected = _reference_nll(train.replace("<unk>", "\x00"), rows, 3, discount)
    assert model(tokens=tokens).loss.item() == pytest.approx(expected, rel=1e-5)


def test_save_and_load_round_trip_the_fitted_tables(tmp_path, kjv_val):
    model = KneserNeyLM.for_data(kjv_val, {"order": 4})
    model.fit(kjv_val)
    model.save_pretrained(tmp_path / "kn")
    loaded = genlab.load(tmp_path / "kn")
    assert isinstance(loaded, KneserNeyLM) and loaded.config == model.config
    state, again = model.state_dict(), loaded.state_dict()
    assert state.keys() == again.keys() and all(torch.equal(state[k], again[k]) for k in state)
    tokens = kjv_val.fields["tokens"][:20]
    assert loaded(tokens=tokens).loss.item() == model(tokens=tokens).loss.item()
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert torch.equal(loaded.sample(2, generator=g(), tokens=30), model.sample(2, generator=g(), tokens=30))


def test_an_unfitted_model_refuses_and_a_bad_config_says_what_to_do(kjv_val):
    model = KneserNeyLM.for_data(kjv_val, {"order": 3})
    with pytest.raises(NotFitted, match="genlab train kn-lm"):
        model(tokens=kjv_val.fields["tokens"][:2])
    with pytest.raises(NotFitted):
        model.sample(1)
    vocabulary = kjv_val.meta["vocabulary"]
    with pytest.raises(ConfigError, match="more than an int64 key holds: lower --set model.order to at most 10"):
        KneserNeyLM(vocabulary=vocabulary, order=11)
    with pytest.raises(ConfigError, match="discount must be in"):
        KneserNeyLM(vocabulary=vocabulary, discount=1.5)
    with pytest.raises(ConfigError, match="set by fit"):
        KneserNeyLM(vocabulary=vocabulary, order=2, ngrams=[3])


runner = CliRunner()


def _ok(*args):
    res = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_train_eval_and_sample_from_the_cli(tmp_path):
    run = tmp_path / "kn"
    _ok("train", "kn-lm", "--data", "kjv", "--set", "model.order=3", "--set", "data.block_size=64", "--quiet",
        "--out", run)
    assert (run / "model" / "model.safetensors").is_file() and list((run / "samples").glob("epoch_000.txt"))
    _ok("eval", run)
    figures = json.loads((run / "eval.json").read_text())
    assert 2.0 < figures["loss_bits"] < 3.2  # a character trigram: well below the bigram's 3.37 bits
    _ok("sample", run, "--prompt", "And God", "--tokens", 20, "--n", 2, "--out", tmp_path / "s.txt")
    title, texts = TextFile.read(tmp_path / "s.txt")
    assert title.startswith("kn-lm")
    assert len(texts) == 2 and all(t.startswith("And God") and len(t) >= len("And God") + 10 for t in texts)
