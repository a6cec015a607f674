"""The training spine: run folder, exact resume after a kill, atomic checkpoints, NaN guard, DDP."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import lightning as L
import pytest
import torch
from safetensors.torch import load_file

from genlab.errors import LoadError, NonFiniteError
from genlab.rundir import RunDir
from genlab.runs import read_metrics
from genlab.training import TrainConfig, train
from genlab.training.checkpoint import atomic_torch_save

TINY = {"hidden": [16], "latent_dim": 2}


def _cfg(out, **kw):
    base = dict(model="vae", data="digits", epochs=50, batch_size=256, lr=1e-3, out=str(out), quiet=True,
                num_samples=16, model_options=dict(TINY))
    base.update(kw)
    return TrainConfig(**base)


def test_train_writes_the_run_folder(tmp_path):
    r = train(_cfg(tmp_path / "run", epochs=2))
    d = r.run_dir
    for rel in ["config.yaml", "metrics.csv", "checkpoints/last.ckpt", "checkpoints/best.ckpt",
                "model/config.json", "model/model.safetensors", "samples/epoch_000.png",
                "samples/epoch_001.png", "report.md", "curves.png"]:
        assert (d / rel).is_file(), rel
    from genlab.data import load

    assert r.steps == 2 * (len(load("digits", split="train")) // 256)  # two epochs, drop_last
    assert "val/elbo" in r.metrics
    header = (d / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"train/loss", "val/loss", "step"} <= set(header)
    assert "## Reproduce" in (d / "report.md").read_text()
    from genlab.panels import LATENT_VARIABLE
    from genlab.runs import read_run

    info = read_run(d)  # summary.json: what genlab list, compare and the gallery read, with no model class
    assert info.finished and info.iterations == r.steps and info.panels == LATENT_VARIABLE
    assert info.headline == ("val/loss", pytest.approx(r.metrics["val/loss"]))


def test_train_refuses_to_overwrite_an_existing_run(tmp_path):
    train(_cfg(tmp_path / "run", max_steps=2))
    with pytest.raises(Exception, match="already holds a run"):
        train(_cfg(tmp_path / "run", max_steps=2))


KILL_SCRIPT = textwrap.dedent("""
    import os, sys, lightning as L
    from genlab.training import TrainConfig, train

    class KillAt(L.Callback):
        def on_train_batch_start(self, trainer, *a):
            if trainer.global_step == {kill}:
                os._exit(9)  # like SIGKILL: no cleanup, no final checkpoint

    cfg = TrainConfig(**{cfg})
    train(cfg, callbacks=[KillAt()])
""")


def _final_weights(run_dir: Path) -> dict:
    return load_file(str(run_dir / "model" / "model.safetensors"))


@pytest.mark.parametrize("lr_schedule", ["constant", "cosine"])
def test_resume_after_a_kill_gives_identical_weights(tmp_path, lr_schedule):
    n, half = 12, 6  # 5 steps per epoch: the kill lands mid-epoch
    ref = train(_cfg(tmp_path / "ref", max_steps=n, lr_schedule=lr_schedule))
    cfg = _cfg(tmp_path / "killed", max_steps=n, checkpoint_every=half, lr_schedule=lr_schedule)
    script = KILL_SCRIPT.format(kill=half, cfg=repr(cfg.to_dict()))
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert p.returncode == 9, p.stderr[-2000:]
    assert not RunDir(tmp_path / "killed").finished()  # model/ is the last validation's, marked unfinished
    ck = torch.load(tmp_path / "killed" / "checkpoints" / "last.ckpt", weights_only=False)
    assert ck["global_step"] == half
    resumed = train(cfg, resume=True)
    assert resumed.steps == n
    a, b = _final_weights(ref.run_dir), _final_weights(resumed.run_dir)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # metrics.csv kept the rows before the checkpoint and appended the rest, without duplicates
    rows = read_metrics(tmp_path / "killed" / "metrics.csv")
    train_steps = [r["step"] for r in rows if "train/loss" in r]
    assert train_steps == sorted(set(train_steps)) and train_steps[-1] >= n - 10


def test_cosine_schedule_decays_the_learning_rate_to_zero_over_the_run(tmp_path):
    from genlab.training.optim import cosine_factor

    assert cosine_factor(0, 10) == 1.0 and cosine_factor(5, 10) == pytest.approx(0.5)
    assert cosine_factor(10, 10) == pytest.approx(0.0) and cosine_factor(12, 10) == pytest.approx(0.0)
    r = train(_cfg(tmp_path / "run", max_steps=8, lr_schedule="cosine"))
    ck = torch.load(r.run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    lrs = [g["lr"] for g in ck["optimizer_states"][0]["param_groups"]]
    assert lrs == [pytest.approx(1e-3 * cosine_factor(8, 8), abs=1e-12)]  # reached 0 at max_steps
    assert ck["lr_schedulers"][0]["last_epoch"] == 8


def test_atomic_save_keeps_the_old_checkpoint_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"w": torch.ones(3)}, path)

    def broken_save(obj, f):
        f.write(b"partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        atomic_torch_save({"w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(torch.load(path)["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


class _Poison(L.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == 3:
            with torch.no_grad():
                next(pl_module.model.parameters()).fill_(float("nan"))


def test_nan_guard_stops_naming_step_and_term_and_keeps_last_checkpoint(tmp_path):
    cfg = _cfg(tmp_path / "run", max_steps=20, checkpoint_every=2)
    with pytest.raises(NonFiniteError, match=r"iteration 3: loss term '\w+' is nan"):
        train(cfg, callbacks=[_Poison()])
    ck = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert ck["global_step"] == 2
    assert all(torch.isfinite(v).all() for v in ck["state_dict"].values())


class _RecordRank(L.Callback):
    """Each rank writes the rows it trained on and its final weights."""

    def __init__(self, out):
        self.out = str(out)
        self.seen = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.current_epoch == 0:
            self.seen.append(batch["x"].flatten(1).clone())

    def on_train_end(self, trainer, pl_module):
        torch.save({"seen": torch.cat(self.seen), "weights": pl_module.model.state_dict()},
                   os.path.join(self.out, f"rank{trainer.global_rank}.pt"))


def test_ddp_two_processes_hold_identical_weights_and_see_disjoint_data(tmp_path):
    cfg = _cfg(tmp_path / "run", epochs=1, devices=2, strategy="ddp_spawn", batch_size=128)
    train(cfg, callbacks=[_RecordRank(tmp_path)])
    r0, r1 = (torch.load(tmp_path / f"rank{i}.pt", weights_only=False) for i in (0, 1))
    for k in r0["weights"]:
        assert torch.equal(r0["weights"][k], r1["weights"][k]), k
    rows0 = {tuple(r.tolist()) for r in r0["seen"]}
    rows1 = {tuple(r.tolist()) for r in r1["seen"]}
    assert len(r0["seen"]) == len(r1["seen"]) > 0
    # digits holds a few duplicate images; shards are disjoint by index, so overlap stays tiny
    assert len(rows0 & rows1) <= 5


@pytest.mark.parametrize("precision", ["bf16-mixed"])
def test_bf16_mixed_precision_trains_with_finite_loss(tmp_path, precision):
    r = train(_cfg(tmp_path / "run", max_steps=5, precision=precision))
    assert torch.isfinite(torch.tensor(r.metrics["val/loss"]))


def test_max_time_without_epochs_means_no_epoch_limit(tmp_path):
    from genlab.errors import ConfigError
    from genlab.training.config import resolve

    assert resolve({"model": "vae"}, {"max_time": "1m"}).epochs == -1
    assert resolve({"model": "vae", "epochs": 3}, {"max_time": "1m"}).epochs == 3
    assert resolve({"model": "vae"}).epochs == 10
    with pytest.raises(ConfigError, match="needs the run's length"):
        resolve({"model": "vae", "lr_schedule": "cosine"}, {"max_time": "1m"})
    with pytest.raises(ConfigError, match="needs max_steps or max_time"):
        TrainConfig(epochs=-1)
    r = train(_cfg(tmp_path / "run", epochs=-1, max_steps=7))  # 5 steps per epoch: runs past epoch 1
    assert r.steps == 7
    assert "no epoch limit" in (r.run_dir / "report.md").read_text()


class _PoisonGradient(L.Callback):
    """Makes one gradient NaN at step 3 while the loss stays finite."""

    def on_after_backward(self, trainer, pl_module):
        if trainer.global_step == 3:
            next(pl_module.model.parameters()).grad[0, 0] = float("nan")


def test_nan_gradient_stops_training_naming_the_parameter_and_keeps_last_checkpoint(tmp_path):
    cfg = _cfg(tmp_path / "run", max_steps=20, checkpoint_every=1)
    with pytest.raises(NonFiniteError, match=r"iteration 4: the weights of 'model\.[\w.]+' are not finite"):
        train(cfg, callbacks=[_PoisonGradient()])
    ck = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert ck["global_step"] == 3  # written before the poisoned update, never after it
    assert all(torch.isfinite(v).all() for v in ck["state_dict"].values())


class _GradNorms(L.Callback):
    def __init__(self):
        self.norms = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        self.norms.append(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))).item())


@pytest.mark.parametrize("clip", [None, 0.05])
def test_grad_clip_bounds_the_gradient_norm_the_optimizer_sees(tmp_path, clip):
    seen = _GradNorms()
    train(_cfg(tmp_path / "run", max_steps=4, grad_clip=clip), callbacks=[seen])
    assert len(seen.norms) == 4
    if clip is None:
        assert min(seen.norms) > 0.05  # so the clipped run below is really clipped
    else:
        assert max(seen.norms) <= clip * (1 + 1e-4)


def test_progress_bar_shows_the_loss_unless_quiet(tmp_path, capsys):
    train(_cfg(tmp_path / "loud", max_steps=12, epochs=1, quiet=False))
    loud = capsys.readouterr()
    assert "loss " in loud.out and "iteration 5/5 (100%)" in loud.out  # one epoch: 5 steps (training.progress)
    train(_cfg(tmp_path / "quiet", max_steps=12, epochs=1))
    quiet = capsys.readouterr()
    assert "loss" not in quiet.out + quiet.err and "iteration" not in quiet.out + quiet.err


def test_init_from_starts_another_objective_from_a_saved_models_weights(tmp_path):
    vae = train(_cfg(tmp_path / "vae", epochs=3)).model
    # an IWAE with the VAE's networks, one step at a negligible learning rate: it starts at the VAE's weights
    iwae = train(_cfg(tmp_path / "iwae", model="iwae", epochs=1, max_steps=1, lr=1e-9,
                      init_from=str(tmp_path / "vae" / "model"), model_options={**TINY, "k": 4})).model
    for (name, p), q in zip(vae.named_parameters(), iwae.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6), name
    fresh = train(_cfg(tmp_path / "fresh", model="iwae", epochs=1, max_steps=1, lr=1e-9,
                       model_options={**TINY, "k": 4})).model
    assert not torch.allclose(vae.encoder[1][0].weight, fresh.encoder[1][0].weight)


def test_init_from_a_model_of_another_architecture_says_so_and_writes_nothing(tmp_path):
    train(_cfg(tmp_path / "vae", max_steps=2))
    with pytest.raises(LoadError, match=r"\(VAE\) does not fit IWAE.*same architecture"):
        train(_cfg(tmp_path / "iwae", model="iwae", max_steps=2, init_from=str(tmp_path / "vae" / "model"),
                   model_options={"hidden": [8], "latent_dim": 2}))
    assert not (tmp_path / "iwae").exists()
    with pytest.raises(LoadError, match="no model folder"):
        train(_cfg(tmp_path / "iwae", model="iwae", max_steps=2, init_from=str(tmp_path / "nowhere")))


class _CountCalls(L.Callback):
    def __init__(self):
        self.calls = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.calls += 1


def test_several_steps_per_call_train_exactly_as_one_step_per_call(tmp_path):
    # digits: 1350 training images, batch 160 → 8 steps per epoch; EMA, cosine and clipping act per step
    common = dict(epochs=2, batch_size=160, lr_schedule="cosine", ema_decay=0.9, grad_clip=5.0)
    one, four = _CountCalls(), _CountCalls()
    a = train(_cfg(tmp_path / "one", steps_per_call=1, **common), callbacks=[one])
    b = train(_cfg(tmp_path / "four", steps_per_call=4, **common), callbacks=[four])
    assert (one.calls, four.calls) == (16, 4)  # Lightning ran a quarter of the calls
    assert a.steps == b.steps == 16
    wa, wb = _final_weights(a.run_dir), _final_weights(b.run_dir)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    rows = [[(r["step"], r["train/loss"]) for r in read_metrics(d / "metrics.csv") if "train/loss" in r]
            for d in (a.run_dir, b.run_dir)]
    assert rows[0] == rows[1] and len(rows[0]) == 2  # logged at the same steps, same values
    assert a.metrics == b.metrics


def test_resume_with_another_steps_per_call_gives_identical_weights(tmp_path):
    n, kill = 20, 12  # 8 steps per epoch: the kill lands mid-epoch (step 4 of epoch 2)
    ref = train(_cfg(tmp_path / "ref", max_steps=n, batch_size=160, steps_per_call=1))
    cfg = _cfg(tmp_path / "killed", max_steps=n, batch_size=160, checkpoint_every=4, steps_per_call=2)
    script = KILL_SCRIPT.format(kill=kill, cfg=repr(cfg.to_dict()))
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert p.returncode == 9, p.stderr[-2000:]
    ck = torch.load(tmp_path / "killed" / "checkpoints" / "last.ckpt", weights_only=False)
    assert ck["global_step"] == kill and ck["genlab"]["steps_per_call"] == 2
    import dataclasses

    # 4 per call from here on: Lightning's count of the epoch's calls done (2 of 4) becomes 1 of 2
    resumed = train(dataclasses.replace(cfg, steps_per_call=4), resume=True)
    assert resumed.steps == n
    a, b = _final_weights(ref.run_dir), _final_weights(resumed.run_dir)
    for k in a:
        assert torch.equal(a[k], b[k]), k


class _StepHooks(L.Callback):
    """Counts the per-step hooks and records whether the system dispatched them itself."""

    def __init__(self):
        self.calls = {"on_before_backward": 0, "on_after_backward": 0, "on_before_optimizer_step": 0}
        self.plain = None

    def on_before_backward(self, trainer, pl_module, loss):
        self.calls["on_before_backward"] += 1

    def on_after_backward(self, trainer, pl_module):
        self.calls["on_after_backward"] += 1

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        assert isinstance(optimizer, torch.optim.Adam)
        self.calls["on_before_optimizer_step"] += 1

    def on_train_end(self, trainer, pl_module):
        self.plain = pl_module._hooks is not None


def test_the_systems_own_hook_dispatch_trains_exactly_as_lightnings(tmp_path, monkeypatch):
    from genlab.training import lightning_internals

    direct = _StepHooks()
    a = train(_cfg(tmp_path / "direct", max_steps=9, grad_clip=5.0), callbacks=[direct])
    assert direct.plain and direct.calls == dict.fromkeys(direct.calls, 9) and a.steps == 9
    monkeypatch.setattr(lightning_internals, "plain_step_possible", lambda *a: False)  # Lightning's own plumbing
    lightning = _StepHooks()
    b = train(_cfg(tmp_path / "lightning", max_steps=9, grad_clip=5.0), callbacks=[lightning])
    assert lightning.plain is False and lightning.calls == direct.calls and b.steps == 9
    wa, wb = _final_weights(a.run_dir), _final_weights(b.run_dir)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_run_checkpoint_keeps_model_checkpoints_state_key():
    from lightning.pytorch.callbacks import ModelCheckpoint

    from genlab.training.callbacks import RunCheckpoint

    kw = dict(monitor="val/loss", mode="min", save_top_k=1, every_n_train_steps=4)
    ours, theirs = RunCheckpoint(**kw), ModelCheckpoint(**kw)
    assert ours.state_key == theirs.state_key  # old checkpoints restore the best score into ours
    assert ours.state_key is ours.state_key  # formatted once
