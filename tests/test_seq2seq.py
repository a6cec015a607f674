"""Sequence-to-sequence models (R9, A6): beam search, teacher forcing, masking, learning, alignment, WER."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from model_template import check_save_load_identical, check_step_changes_weights, overfit

from genlab.data.tensors import TensorData
from genlab.errors import ConfigError
from genlab.evaluation.metrics import eval_wer
from genlab.models.base import Transduces
from genlab.models.seq2seq import AttentionSeq2Seq, TransformerSeq2Seq
from genlab.models.seq2seq.common import teacher_forcing
from genlab.models.seq2seq.search import beam_search
from genlab.vocab import Vocabulary

SOURCE = Vocabulary(list("abcdef"), unknown=True)
TARGET = Vocabulary(list("ABCDEF"), unknown=True, bos=True, eos=True)
SMALL = {AttentionSeq2Seq: {"hidden": 48, "decoder_hidden": 48, "encoder_layers": 1, "attention_dim": 32,
                            "embed_dim": 16, "dropout": 0.0},
         TransformerSeq2Seq: {"d_model": 48, "nhead": 4, "encoder_layers": 2, "decoder_layers": 2,
                              "dim_feedforward": 96, "dropout": 0.0}}
MODELS = list(SMALL)


def reversal(n: int, seed: int, *, longest: int = 6) -> TensorData:
    """The toy task: a word over a..f → its letters reversed and capitalized (``group`` = the row)."""
    g = torch.Generator().manual_seed(seed)
    n_chars = torch.randint(2, longest + 1, (n,), generator=g)  # (N,)
    source = torch.zeros(n, longest, dtype=torch.int64)
    target = torch.zeros(n, longest, dtype=torch.int64)
    for i, k in enumerate(n_chars.tolist()):
        letters = torch.randint(0, 6, (k,), generator=g).tolist()
        source[i, :k] = torch.tensor(SOURCE.encode(["abcdef"[j] for j in letters]))
        target[i, :k] = torch.tensor(TARGET.encode(["ABCDEF"[j] for j in reversed(letters)]))
    return TensorData({"source": source, "source_lengths": n_chars, "target": target,
                       "target_lengths": n_chars.clone(), "group": torch.arange(n)},
                      kind="seq2seq", name="reversal", split="train",
                      lengths={"source": "source_lengths", "target": "target_lengths"},
                      meta={"source_vocabulary": SOURCE.to_list(), "target_vocabulary": TARGET.to_list(),
                            "source_joiner": "", "target_joiner": ""})


def trained(cls, steps: int) -> Transduces:
    torch.manual_seed(0)
    data = reversal(2000, 0)
    model = cls.for_data(data, SMALL[cls])
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        batch = data.subset(torch.randint(0, len(data), (64,), generator=g))
        loss = model(**batch.fields).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def rnn() -> AttentionSeq2Seq:
    return trained(AttentionSeq2Seq, 150)


def exact(outputs: list[list[int]], data: TensorData) -> float:
    t, n = data.fields["target"], data.fields["target_lengths"]
    return sum(o == t[i, : n[i]].tolist() for i, o in enumerate(outputs)) / len(outputs)


# --- search -----------------------------------------------------------------------------------------------
def markov_step(table: torch.Tensor):
    """A decoder whose next-symbol log-probabilities depend on the last symbol only: ``table`` (V, V)."""
    def step(ctx, prefix):
        return table[prefix[:, -1]], ctx
    return step


def random_table(V: int, seed: int) -> torch.Tensor:
    return torch.randn(V, V, generator=torch.Generator().manual_seed(seed)).mul(2).log_softmax(-1)


def test_a_beam_of_one_is_greedy_decoding() -> None:
    table, bos, eos = random_table(7, 0), 2, 3
    step = markov_step(table)
    out, score = beam_search(step, {"x": torch.zeros(1, 1)}, 1, bos=bos, eos=eos, beam=1, max_length=12)
    ids, total, last = [], 0.0, bos
    for _ in range(12):
        nxt = int(table[last].argmax())
        total += float(table[last, nxt])
        if nxt == eos:
            break
        ids.append(nxt)
        last = nxt
    else:
        total += float(table[last, eos])
    assert out == [ids]
    assert float(score) == pytest.approx(total, abs=1e-5)


@pytest.mark.parametrize("seed", range(4))
def test_a_wide_beam_finds_the_most_probable_output_of_all(seed: int) -> None:
    V, bos, eos, L = 5, 0, 1, 3  # symbols 2..4 may be written, at most L of them
    table = random_table(V, seed)
    best, best_score = None, -math.inf
    for n in range(L + 1):
        for ids in itertools.product(range(2, V), repeat=n):
            path = [bos, *ids, eos]
            s = sum(float(table[a, b]) for a, b in itertools.pairwise(path))
            if s > best_score:
                best, best_score = list(ids), s
    out, score = beam_search(markov_step(table), {}, 1, bos=bos, eos=eos, beam=V ** (L + 1), max_length=L,
                             banned=[bos])
    assert out == [best] and float(score) == pytest.approx(best_score, abs=1e-5)
    greedy, greedy_score = beam_search(markov_step(table), {}, 1, bos=bos, eos=eos, beam=1, max_length=L,
                                       banned=[bos])
    assert float(greedy_score) <= best_score + 1e-6


def test_a_length_penalty_ranks_the_finished_hypotheses_by_score_over_lp() -> None:
    bos, eos, y = 0, 1, 2
    table = torch.full((3, 3), -30.0)
    table[bos, eos], table[bos, y] = -1.0, -1.2  # "" scores −1.0; "y" then <eos>: −1.2 − 0.1 = −1.3
    table[y, eos] = -0.1
    def best(alpha: float) -> list[list[int]]:
        return beam_search(markov_step(table), {}, 1, bos=bos, eos=eos, beam=2, max_length=3, length_penalty=alpha,
                           banned=[bos])[0]
    lp = ((5 + 2) / 6) ** 3  # |"y" <eos>| = 2, |<eos>| = 1 → lp 1
    assert best(0.0) == [[]] and -1.3 / lp > -1.0 and best(3.0) == [[y]]
    assert best(1.0) == [[]]  # −1.3 / (7/6) = −1.11 < −1.0


def test_search_stops_at_max_length_and_never_writes_banned_symbols() -> None:
    table = torch.full((6, 6), -10.0)
    table[:, 4] = 0.0  # always "4", never <eos> by choice
    table[:, 5] = 1.0  # a banned symbol the model prefers
    out, _ = beam_search(markov_step(table), {"c": torch.zeros(3, 2)}, 3, bos=2, eos=3, beam=2, max_length=5,
                         banned=[5])
    assert out == [[4] * 5] * 3
    with pytest.raises(ConfigError, match="beam"):
        beam_search(markov_step(table), {}, 1, bos=2, eos=3, beam=0, max_length=5)


def test_teacher_forcing_feeds_bos_and_the_truth_and_wants_the_truth_then_eos() -> None:
    target = torch.tensor([[4, 5, 6], [7, 0, 0]])
    given, wanted, real = teacher_forcing(target, torch.tensor([3, 1]), TARGET)
    b, e = TARGET.bos_id, TARGET.eos_id
    assert given.tolist() == [[b, 4, 5, 6], [b, 7, 0, 0]]
    assert wanted.tolist() == [[4, 5, 6, e], [7, e, 0, 0]]
    assert real.tolist() == [[True] * 4, [True, True, False, False]]


# --- the models ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", MODELS)
def test_padding_changes_neither_the_loss_nor_the_outputs(cls) -> None:
    torch.manual_seed(0)
    data = reversal(16, 3)
    model = cls.for_data(data, SMALL[cls]).eval()
    f = data.fields
    wider = {**f, "source": torch.cat([f["source"], torch.zeros(16, 5, dtype=torch.int64)], 1),
             "target": torch.cat([f["target"], torch.zeros(16, 4, dtype=torch.int64)], 1)}
    assert torch.allclose(model(**f).loss, model(**wider).loss, atol=1e-5)
    assert model(**f).units == model(**wider).units == int(f["target_lengths"].sum() + 16)
    assert model.transduce(f["source"]) == model.transduce(wider["source"])


def learns_to_reverse(model: Transduces, floor: float) -> None:
    test = reversal(300, 7)
    greedy = model.transduce(test.fields["source"], test.fields["source_lengths"])
    beam = model.transduce(test.fields["source"], test.fields["source_lengths"], beam=4)
    assert exact(greedy, test) >= floor and exact(beam, test) >= floor - 0.05
    untrained = type(model).for_data(test, SMALL[type(model)]).transduce(test.fields["source"])
    assert exact(untrained, test) < 0.05


def test_the_attention_rnn_learns_to_reverse_words_greedy_and_beam(rnn) -> None:
    learns_to_reverse(rnn, 0.9)  # 150 steps of 64 words: ~1.0 measured


@pytest.mark.slow
def test_the_transformer_learns_to_reverse_words_greedy_and_beam() -> None:
    learns_to_reverse(trained(TransformerSeq2Seq, 400), 0.9)  # 1.0 measured


def test_the_transformer_s_loss_falls_fast_on_reversal() -> None:
    """A broken mask or cross-attention leaves the loss near log V: 60 steps take it far below."""
    torch.manual_seed(0)
    data = reversal(512, 0)
    model = TransformerSeq2Seq.for_data(data, SMALL[TransformerSeq2Seq])
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = None
    for k in range(60):
        batch = data.subset(torch.arange(64 * (k % 8), 64 * (k % 8 + 1)))
        loss = model(**batch.fields).loss
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 1.8 and float(model(**data.fields).loss) < 0.6 * first


def test_the_rnn_attends_to_the_mirrored_letter(rnn) -> None:
    """Reversal's alignment is the anti-diagonal: writing output t, the decoder looks at source letter n − 1 − t."""
    test = reversal(50, 11)
    out = rnn.outputs(test.fields)
    alpha = rnn.alignment(test.fields["source"], out)  # (B, T + 1, S)
    n = test.fields["source_lengths"]
    hits = total = 0
    for i in range(50):
        k = int(n[i])
        if out[i, :k].tolist() != test.fields["target"][i, :k].tolist():
            continue
        hits += sum(int(alpha[i, t, :k].argmax()) == k - 1 - t for t in range(k))
        total += k
    assert total > 0 and hits / total >= 0.9


@pytest.mark.parametrize("cls", MODELS)
def test_alignment_rows_sum_to_one_over_the_real_source_and_are_zero_on_padding(cls) -> None:
    torch.manual_seed(0)
    data = reversal(8, 5)
    model = cls.for_data(data, SMALL[cls])
    out = model.outputs(data.fields)
    alpha = model.alignment(data.fields["source"], out)  # (B, T + 1, S)
    real = data.fields["source"] != 0  # (B, S)
    assert torch.allclose(alpha.sum(-1), torch.ones(alpha.shape[:2]), atol=1e-5)
    padded = alpha.masked_select(~real[:, None, :].expand_as(alpha))
    assert padded.numel() > 0 and float(padded.abs().max()) == 0.0


@pytest.mark.parametrize("cls", MODELS)
def test_label_smoothing_trains_on_the_smoothed_cross_entropy_and_keeps_f2_in_bits(cls) -> None:
    data = reversal(16, 3)
    torch.manual_seed(0)
    plain = cls.for_data(data, SMALL[cls]).eval()
    smooth = cls.for_data(data, {**SMALL[cls], "label_smoothing": 0.2}).eval()
    smooth.load_state_dict(plain.state_dict())
    with torch.no_grad():
        a, b = plain(**data.fields), smooth(**data.fields)
    assert float(b.bits) == pytest.approx(float(a.bits), abs=1e-6)
    assert float(a.loss) == pytest.approx(float(a.bits) * math.log(2), abs=1e-5)
    # (1 − ε)·F2 + ε·(−mean_v log p): the second term over the same real steps, rebuilt from the logits
    given, wanted, real = teacher_forcing(data.fields["target"], data.fields["target_lengths"], plain.target_vocab)
    source, n = data.fields["source"], data.fields["source_lengths"]
    with torch.no_grad():
        logits = (plain.teacher_forced(source, given, n)[0] if cls is AttentionSeq2Seq
                  else plain.decode(plain.encode(source, n), given))  # (B, T+1, V)
    uniform = -logits.log_softmax(-1)[real].mean()
    assert float(b.loss) == pytest.approx(0.8 * float(a.loss) + 0.2 * float(uniform), abs=1e-5)
    with pytest.raises(ConfigError, match="label_smoothing"):
        cls.for_data(data, {**SMALL[cls], "label_smoothing": 1.0})


@pytest.mark.parametrize("cls", MODELS)
def test_a_saved_model_reloads_with_its_vocabularies_and_writes_the_same_outputs(cls, tmp_path) -> None:
    from genlab.hub import load

    torch.manual_seed(0)
    data = reversal(20, 2)
    model = cls.for_data(data, SMALL[cls]).eval()
    model.save_pretrained(tmp_path / "m")
    again = load(tmp_path / "m")
    assert again.config == model.config
    assert again.transduce(data.fields["source"], beam=3) == model.transduce(data.fields["source"], beam=3)


@pytest.mark.parametrize("cls", MODELS)
def test_the_template_save_load_a_step_and_overfitting_one_batch(cls, tmp_path) -> None:
    torch.manual_seed(0)
    data = reversal(8, 4)
    f = data.fields
    model = cls.for_data(data, {**SMALL[cls], "dropout": 0.1})
    check_save_load_identical(model, f, tmp_path, call=lambda m, b: m(**b).loss)
    check_step_changes_weights(model, f["source"], y=f["target"])
    first, last = overfit(cls.for_data(data, SMALL[cls]), f["source"], y=f["target"], steps=60, lr=1e-2)
    assert last < 0.1 * first


def test_outputs_are_capped_at_max_output_and_inputs_longer_than_trained_are_read(rnn) -> None:
    long = torch.tensor([SOURCE.encode(list("abcdefabcdefabcdefabcdef"))])  # 24 letters; trained on ≤ 6
    (out,) = rnn.transduce(long)
    assert len(out) <= rnn.max_output
    assert len(rnn.transduce(long, max_length=3)[0]) <= 3
    with pytest.raises(ConfigError, match="empty source"):
        rnn.transduce(torch.zeros(1, 4, dtype=torch.int64))


@pytest.mark.parametrize("suffix", [".png", ".txt"])
def test_the_renderer_writes_attention_maps_or_lines(rnn, tmp_path, suffix) -> None:
    test = reversal(6, 9)
    fields = {"source": test.fields["source"], "output": rnn.outputs(test.fields), "truth": test.fields["target"]}
    path = rnn.renderer().write(fields, tmp_path / f"maps{suffix}", title="epoch 1")
    assert path.is_file() and path.stat().st_size > 0
    if suffix == ".txt":
        lines = path.read_text().splitlines()
        assert lines[0] == "# epoch 1" and len(lines) == 7
        word = "".join(SOURCE.decode(test.fields["source"][0].tolist()))
        assert lines[1].startswith(f"{word} → ")


# --- WER / PER with alternatives ---------------------------------------------------------------------------
class Fixed(torch.nn.Module, Transduces):
    """Writes given outputs, one per source row (by the row's first symbol id)."""

    inputs = ("source", "target")

    def __init__(self, answers: dict[int, list[int]]) -> None:
        super().__init__()
        self.answers = answers

    def transduce(self, source, source_lengths=None, *, beam=1, max_length=None, length_penalty=0.0):
        self.asked = (beam, length_penalty)
        return [self.answers[int(row[0])] for row in source]


def test_wer_counts_a_word_right_when_it_matches_any_of_its_pronunciations() -> None:
    source = torch.tensor([[5, 0], [5, 0], [6, 7], [8, 0]])  # word 5 has two pronunciations
    target = torch.tensor([[4, 5, 6], [4, 6, 0], [7, 7, 0], [9, 0, 0]])
    data = TensorData({"source": source, "target": target, "target_lengths": torch.tensor([3, 2, 2, 1]),
                       "group": torch.tensor([0, 0, 1, 2])}, kind="seq2seq", name="t", split="test")
    model = Fixed({5: [4, 6], 6: [7, 8], 8: [9]})  # word 0: the 2nd pronunciation; word 1: one substitution
    out = eval_wer(model, data)
    assert out["wer_n"] == 3 and out["wer"] == pytest.approx(1 / 3) and model.asked == (1, 0.0)
    eval_wer(model, data, beam=4, length_penalty=0.6)
    assert model.asked == (4, 0.6)  # the decoding options reach transduce
    assert out["per"] == pytest.approx(1 / (2 + 2 + 1))  # closest references: [4, 6], [7, 7], [9]


# --- the CLI, on the generated dates ------------------------------------------------------------------------
CLI_MODELS = {"seq2seq-rnn": ["model.hidden=32", "model.decoder_hidden=32", "model.encoder_layers=1",
                              "model.attention_dim=16"],
              "seq2seq-transformer": ["model.d_model=32", "model.encoder_layers=1", "model.decoder_layers=1",
                                      "model.dim_feedforward=64"]}


@pytest.mark.parametrize("name", list(CLI_MODELS))
def test_the_cli_trains_evaluates_wer_and_draws_attention_maps(name, tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from genlab.cli.main import app

    runner, run = CliRunner(), tmp_path / "run"
    sets = [a for s in ["data.n_train=512", "data.n_val=64", "data.n_test=64", *CLI_MODELS[name]] for a in ("--set", s)]
    r = runner.invoke(app, ["train", name, "--data", "dates", "--max-steps", "8", "--quiet", "--out", str(run), *sets])
    assert r.exit_code == 0, r.output
    assert sorted((run / "samples").glob("epoch_*.png"))  # the previews are attention maps
    r = runner.invoke(app, ["eval", str(run), "--beam", "3", "--length-penalty", "0.6"])
    assert r.exit_code == 0, r.output
    figures = json.loads((run / "eval.json").read_text())
    assert figures["wer_n"] == 64 and figures["wer_beam"] == 3 and 0 <= figures["per"] and figures["wer"] <= 1
    assert figures["wer_length_penalty"] == 0.6
    r = runner.invoke(app, ["sample", str(run), "--n", "5", "--out", str(tmp_path / "s.txt")])
    assert r.exit_code == 0, r.output
    title, *lines = (tmp_path / "s.txt").read_text().splitlines()
    assert title.startswith("# ") and len(lines) == 5 and all(" → " in line for line in lines)
    r = runner.invoke(app, ["sample", str(run), "--input", "3 March 1999", "--input", "May 1, 2020", "--beam", "2",
                            "--out", str(tmp_path / "mine.png")])
    assert r.exit_code == 0, r.output
    assert "3 March 1999 → " in r.output and "May 1, 2020 → " in r.output and (tmp_path / "mine.png").is_file()
    for args, message in ((["--input", "3 Mär 1999"], "lacks: 'ä'"), (["--prompt", "x"], "takes --input TEXT"),
                          (["--input", ""], "empty input"), (["--input", "x", "--beam", "0"], "--beam must be")):
        r = runner.invoke(app, ["sample", str(run), *args])
        lines = [line for line in r.output.splitlines() if line.strip()]
        assert r.exit_code != 0 and len(lines) == 1 and message in lines[0], r.output


def test_the_transformer_s_scaled_embeddings_are_on_the_scale_of_its_positions() -> None:
    """√d · E[x] with E ~ N(0, 1/d) has unit variance, as the sinusoids: neither drowns the other (order matters)."""
    data = reversal(8, 1)
    model = TransformerSeq2Seq.for_data(data, {**SMALL[TransformerSeq2Seq], "d_model": 64})
    scaled = model.source_embed.weight[1:] * 64 ** 0.5
    assert 0.8 < float(scaled.std()) < 1.2
    assert float(model.source_embed.weight[0].abs().max()) == 0.0


def test_multi_head_weights_equal_pytorch_s_per_head_attention_weights() -> None:
    """A1 per head, as the maps read it: ``MultiHeadAttention.weights`` equals ``nn.MultiheadAttention``'s
    ``need_weights`` output (not averaged) with the same parameters and key padding."""
    from genlab.blocks.attention import MultiHeadAttention

    torch.manual_seed(0)
    ours, theirs = MultiHeadAttention(16, 4), torch.nn.MultiheadAttention(16, 4, batch_first=True)
    theirs.load_state_dict(ours.state_dict())
    q, kv = torch.randn(3, 5, 16), torch.randn(3, 7, 16)
    real = torch.arange(7)[None] < torch.tensor([[7], [4], [1]])  # (B, S): True at real keys
    _, expected = theirs(q, kv, kv, key_padding_mask=~real, need_weights=True, average_attn_weights=False)
    assert torch.allclose(ours.weights(q, kv, key_mask=real), expected, atol=1e-6)
