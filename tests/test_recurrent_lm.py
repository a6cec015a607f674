"""The recurrent character LMs (R1–R4, R6, R8) and the carried state (R2, truncated BPTT): a row continues where
the same row of the previous batch stopped; the system detaches the carry, restarts it with each epoch, keeps one
for validation, and saves it in checkpoints so a run killed mid-epoch resumes bit-exactly."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from model_template import check_save_load_identical
from safetensors.torch import load_file
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.data import load
from genlab.data.tensors import TensorData
from genlab.errors import ConfigError
from genlab.evaluation.metrics import evaluate
from genlab.evaluation.streams import stream_outputs
from genlab.models.text import GRULM, RNNLM, RecurrentLM
from genlab.render import TextFile
from genlab.training.config import TrainConfig
from genlab.training.run import train

SMALL = {"embed_dim": 8, "hidden": 16, "num_layers": 2, "dropout": 0.0}
DATA = {"block_size": 16}


def _model(cls=RecurrentLM, **kw):
    return cls.for_data(load("kjv", split="val", **DATA), {**SMALL, **kw})


@pytest.mark.parametrize("cls, cell", [(RecurrentLM, "lstm"), (GRULM, "gru"), (RNNLM, "rnn")])
def test_a_row_continued_with_the_carried_state_equals_one_pass_over_the_joined_text(cls, cell):
    model = _model(cls).eval()
    assert model.config.cell == cell
    rows = load("kjv", split="val", **DATA).fields["tokens"][:2]  # consecutive rows: rows[1, 0] == rows[0, -1]
    first = model(rows[:1])
    second = model(rows[1:2], state=first.state)
    joined = torch.cat([rows[0], rows[1, 1:]])[None]  # (1, 33): the two rows as one text
    h, _ = model.hidden_states(joined[:, :-1])
    nll = F.cross_entropy(model.head(h[0, 16:]), joined[0, 17:])  # the second row's 16 predictions
    assert second.loss.item() == pytest.approx(nll.item(), abs=1e-5)
    assert first.units == second.units == 16 and second.bits.item() == pytest.approx(second.loss.item() / math.log(2))


def test_the_template_save_load_and_a_step_change_weights(tmp_path):
    model = _model()
    tokens = load("kjv", split="val", **DATA).fields["tokens"][:4]
    check_save_load_identical(model, tokens, tmp_path, call=lambda m, x: m(x).loss)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model(tokens).loss.backward()
    opt.step()
    assert all(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_state_for_other_rows_is_refused_in_one_line():
    model = _model()
    tokens = load("kjv", split="val", **DATA).fields["tokens"]
    state = model(tokens[:4]).state
    with pytest.raises(ConfigError, match="carried state holds 4 rows but the batch 3"):
        model(tokens[4:7], state=state)


def test_samples_continue_the_prompt_and_a_seed_gives_the_same_text(tmp_path):
    model = _model().eval()
    a = model.sample(3, generator=torch.Generator().manual_seed(0), prompt="And God", tokens=12)
    b = model.sample(3, generator=torch.Generator().manual_seed(0), prompt="And God", tokens=12)
    assert torch.equal(a, b) and a.shape == (3, 7 + 12)
    assert all("".join(model.vocab.decode(row)).startswith("And God") for row in a)
    assert (a > 1).all()  # never <pad> or <unk>
    greedy = model.sample(1, prompt="And", tokens=5, temperature=0)
    h, _ = model.hidden_states(greedy[:, :-1])
    assert torch.equal(model.head(h).argmax(-1)[0, 2:], greedy[0, 3:])  # each token the argmax after the ones before


def test_evaluation_reads_the_split_as_one_stream_every_row_once():
    model = _model().eval()
    data = load("kjv", split="val", **DATA).subset(torch.arange(70))  # 32 lanes of 2 rows, then 6 rows more
    outs = list(stream_outputs(model, data))
    assert sum(o.units for o in outs) == 70 * 16 and len(outs) == 2 + 6
    figures = evaluate(model, "kjv", ["loss"], data_options=DATA, limit=70)
    assert figures["loss_units"] == 70 * 16


def small_kjv(split: str = "train") -> TensorData:
    """A small stream for the spine's tests: 1,024 rows of kjv's validation text to train on, the next 256 to
    validate on (16 characters a row)."""
    rows = load("kjv", split="val", **DATA)
    part = torch.arange(1024) if split == "train" else torch.arange(1024, 1280)
    return rows.subset(part, split=split)


def test_the_system_restarts_the_carry_with_each_epoch_and_validation(tmp_path, monkeypatch):
    from genlab.data import registry

    monkeypatch.setitem(registry._BY_NAME, "small-kjv", dataclasses.replace(
        registry.info("kjv"), name="small-kjv", loader=f"{__name__}:small_kjv", options=()))
    starts = []  # (training, state is None) per forward call
    forward = RecurrentLM.forward

    def recording(self, tokens, state=None):
        starts.append((self.training, state is None))
        return forward(self, tokens, state)

    monkeypatch.setattr(RecurrentLM, "forward", recording)
    train(TrainConfig(model="lstm-lm", data="small-kjv", epochs=2, batch_size=64, model_options=SMALL,
                      out=str(tmp_path / "run"), quiet=True, num_samples=0))
    per_epoch = 1024 // 64  # a stream's batches per epoch
    trained = [fresh for training, fresh in starts if training]
    assert len(trained) == 2 * per_epoch
    assert [i for i, fresh in enumerate(trained) if fresh] == [0, per_epoch]  # one fresh start per epoch
    validated = [fresh for training, fresh in starts if not training]
    assert len(validated) == 2 * 4 and [i for i, fresh in enumerate(validated) if fresh] == [0, 4]  # each its own


KILL = textwrap.dedent("""
    import os, lightning as L, torch
    from genlab.training import TrainConfig, train

    torch.set_num_threads(1)  # as the test process (conftest): the same summation order, the same floats

    class KillAt(L.Callback):
        def on_train_batch_start(self, trainer, *a):
            if trainer.global_step == {kill}:
                os._exit(9)  # like SIGKILL: no cleanup, no final checkpoint

    train(TrainConfig(**{cfg}), callbacks=[KillAt()])
""")


def test_a_run_killed_mid_epoch_resumes_bit_exactly_with_its_carry(tmp_path):
    base = TrainConfig(model="lstm-lm", max_steps=12, epochs=1, batch_size=8, data_options={"block_size": 64},
                       model_options=SMALL, quiet=True, num_samples=0, seed=3)
    ref = train(dataclasses.replace(base, out=str(tmp_path / "ref")))
    cfg = dataclasses.replace(base, out=str(tmp_path / "killed"), checkpoint_every=5)
    p = subprocess.run([sys.executable, "-c", KILL.format(kill=7, cfg=repr(cfg.to_dict()))], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 9, p.stderr[-2000:]
    ck = torch.load(tmp_path / "killed" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ck["global_step"] == 5
    h, c = ck["genlab"]["carry"]["state"]  # the streams' state after batch 5, saved with the weights
    assert h.shape == (2, 8, 16) and h.abs().sum() > 0
    resumed = train(cfg, resume=True)
    a = load_file(str(ref.run_dir / "model" / "model.safetensors"))
    b = load_file(str(resumed.run_dir / "model" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_lstm_lm_trains_samples_a_prompt_and_is_evaluated_in_bits_per_character_from_the_cli(tmp_path):
    run = tmp_path / "lm"
    runner = CliRunner()
    r = runner.invoke(app, ["train", "lstm-lm", "--max-steps", "40", "--epochs", "1", "--batch-size", "16",
                            "--lr", "1e-2", "--set", "data.block_size=32", "--set", "model.hidden=32",
                            "--set", "model.num_layers=1", "--out", str(run), "--quiet"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["sample", str(run), "--n", "2", "--prompt", "And God said", "--tokens", "30",
                            "--temperature", "0.8", "--top-k", "10", "--out", str(tmp_path / "s.txt")])
    assert r.exit_code == 0, r.output
    title, texts = TextFile.read(tmp_path / "s.txt")
    assert title is not None and len(texts) == 2 and all(t.startswith("And God said") for t in texts)
    r = runner.invoke(app, ["sample", str(run), "--prompt", "ünïcode"])
    assert r.exit_code != 0 and "the model's vocabulary lacks" in r.output
    r = runner.invoke(app, ["sample", str(run), "--steps", "3"])
    assert r.exit_code != 0 and "takes no steps" in r.output and "prompt" in r.output
    r = runner.invoke(app, ["eval", str(run)])
    assert r.exit_code == 0, r.output
    assert "loss_bits" in r.output
    import json

    figures = json.loads((run / "eval.json").read_text())
    assert figures["loss_bits"] < math.log2(65) - 1.5  # it learned something: far below uniform
    r = runner.invoke(app, ["eval", str(run), "--metrics", "dynamic", "--split", "val", "--dynamic-lr", "0.05",
                            "--limit", "200"])
    assert r.exit_code == 0, r.output
    val = json.loads((run / "eval.val.json").read_text())  # the validation figures apart from the test ones
    assert val["split"] == "val" and val["dynamic_lr"] == 0.05 and val["dynamic_units"] == 200 * 32
    assert val["dynamic_lanes"] == 1
    assert json.loads((run / "eval.json").read_text()) == figures
    r = runner.invoke(app, ["eval", str(run), "--metrics", "dynamic", "--split", "val", "--dynamic-lanes", "4",
                            "--set", "data.block_size=64", "--limit", "50"])  # 50 rows of 64 characters, 4 lanes
    assert r.exit_code == 0, r.output
    val = json.loads((run / "eval.val.json").read_text())
    assert val["dynamic_units"] == 50 * 64 and val["dynamic_lanes"] == 4
    r = runner.invoke(app, ["eval", str(run), "--metrics", "dynamic", "--split", "val", "--limit", "50",
                            "--dynamic-ngram", "3", "--dynamic-ngram-weight", "0.3"])  # mixed with a KN-3 model
    assert r.exit_code == 0, r.output
    val = json.loads((run / "eval.val.json").read_text())
    assert val["dynamic_ngram"] == 3 and val["dynamic_ngram_weight"] == 0.3 and val["dynamic_units"] == 50 * 32
    # log is concave: each character's mixed log p is at least the mixed log p's, so the bits at most the mixed bits
    assert val["dynamic_bits"] <= 0.7 * val["dynamic_lm_bits"] + 0.3 * val["dynamic_ngram_bits"] + 1e-9
    r = runner.invoke(app, ["eval", str(run), "--metrics", "dynamic", "--dynamic-ngram", "3", "--dynamic-lanes", "2"])
    assert r.exit_code != 0 and "--dynamic-lanes 1" in r.output
    r = runner.invoke(app, ["eval", str(run), "--set", "model.hidden=8"])
    assert r.exit_code != 0 and "takes data options only" in r.output and "'model.hidden=8'" in r.output
    r = runner.invoke(app, ["eval", str(run), "--set", "data.block_sise=64"])
    assert r.exit_code != 0 and "did you mean 'block_size'" in r.output
    r = runner.invoke(app, ["eval", str(run), "--metrics", "dynamic", "--dynamic-decay", "2"])
    assert r.exit_code != 0 and "dynamic_decay must be in [0, 1]" in r.output


@pytest.mark.slow  # two processes: ~20 s on 2 cores
def test_under_ddp_the_checkpoint_holds_every_process_carry(tmp_path):
    """Each process reads its own shard of the stream: the checkpoint keeps both carries (gathered), and a resume
    gives each process its own back."""
    cfg = TrainConfig(model="lstm-lm", devices=2, strategy="ddp_spawn", max_steps=6, epochs=1, batch_size=4,
                      checkpoint_every=3, data_options={"block_size": 32}, model_options=SMALL,
                      out=str(tmp_path / "run"), quiet=True, num_samples=0)
    train(cfg)
    ck = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    h, c = ck["genlab"]["carry"]["state"]
    assert ck["genlab"]["carry"]["world_size"] == 2 and h.shape == (2, 2, 4, 16)  # (process, layer, stream, unit)
    assert not torch.equal(h[0], h[1])  # two shards of the text, two states
