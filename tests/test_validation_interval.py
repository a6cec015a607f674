"""How often a run validates (training.validation): every epoch on a full split, every few on a low-data
subset, always at the end, and never in a way that changes the weights."""

import pytest
import torch
from safetensors.torch import load_file

from genlab.errors import ConfigError
from genlab.runs import read_metrics
from genlab.training import TrainConfig, train
from genlab.training.checkpoint import read_checkpoint
from genlab.training.config import resolve
from genlab.training.validation import validation_interval

TINY = {"hidden": [16], "latent_dim": 2}


def _cfg(out, **kw):
    base = dict(model="vae", data="digits", batch_size=10, lr=1e-3, out=str(out), quiet=True, num_samples=4,
                train_per_class=10, model_options=dict(TINY))
    base.update(kw)
    return TrainConfig(**base)


def _grids(run_dir):
    return sorted(p.name for p in (run_dir / "samples").glob("epoch_*"))


def test_a_full_split_validates_every_epoch_and_a_small_subset_every_few():
    assert validation_interval(None, train_examples=50_000, val_examples=10_000, epochs=10) == 1  # MNIST
    assert validation_interval(None, train_examples=192, val_examples=10_000, epochs=-1) == 209  # 20 per class
    assert validation_interval(None, train_examples=100, val_examples=180, epochs=-1) == 8
    assert validation_interval(3, train_examples=100, val_examples=180, epochs=-1) == 3  # asked for: as asked


def test_with_a_fixed_number_of_epochs_the_interval_divides_it_so_the_last_epoch_is_validated():
    assert validation_interval(None, train_examples=100, val_examples=180, epochs=16) == 8
    assert validation_interval(None, train_examples=100, val_examples=180, epochs=20) == 10  # 8 → 10
    assert validation_interval(None, train_examples=100, val_examples=180, epochs=7) == 7  # prime: the end
    assert validation_interval(None, train_examples=100, val_examples=180, epochs=3) == 3


def test_a_low_data_run_validates_draws_samples_and_checkpoints_every_few_epochs_and_at_the_end(tmp_path):
    # 100 digits (10 per class), 10 iterations an epoch; 180 validation digits → every 8 epochs
    r = train(_cfg(tmp_path / "run", epochs=16))
    assert _grids(r.run_dir) == ["epoch_007.png", "epoch_015.png"]
    val_rows = [row for row in read_metrics(r.run_dir / "metrics.csv") if row.get("val/loss") is not None]
    assert [row["step"] for row in val_rows] == [79, 159]  # 0-based: after iterations 80 and 160
    assert read_checkpoint(r.run_dir / "checkpoints" / "last.ckpt")["global_step"] == 160


def test_a_run_stopped_between_validations_still_ends_with_its_checkpoint_and_metrics(tmp_path):
    r = train(_cfg(tmp_path / "run", epochs=-1, max_steps=35))  # validations every 8 epochs: none before the stop
    assert read_checkpoint(r.run_dir / "checkpoints" / "last.ckpt")["global_step"] == 35
    assert "val/loss" in r.metrics


def test_how_often_a_run_validates_never_changes_its_weights(tmp_path):
    # the VAE's validation draws z ~ q(z|x): without the RNG put back, more validations would move training's noise
    every = train(_cfg(tmp_path / "every", epochs=6, val_every_epochs=1))
    auto = train(_cfg(tmp_path / "auto", epochs=6))  # every 6 epochs here
    assert len(_grids(every.run_dir)) == 6
    assert _grids(auto.run_dir) == ["epoch_005.png"]
    a = load_file(every.run_dir / "model" / "model.safetensors")
    b = load_file(auto.run_dir / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_val_every_epochs_below_one_is_refused_and_resume_may_change_it():
    with pytest.raises(ConfigError, match="val_every_epochs must be ≥ 1"):
        TrainConfig(model="vae", val_every_epochs=0)
    from genlab.training.config import check_resumable

    check_resumable({"val_every_epochs": 2})  # logging and drawing only: a resumed run may change it
    assert resolve({"model": "vae", "val_every_epochs": 3}).val_every_epochs == 3


def test_a_long_run_of_tiny_epochs_validates_every_few_epochs_and_a_short_one_every_epoch():
    # a small table: one iteration an epoch; each validation writes last.ckpt, model/ and a sample file
    assert validation_interval(None, train_examples=270, val_examples=39, epochs=300, iterations=1) == 20
    assert validation_interval(None, train_examples=270, val_examples=39, epochs=50, iterations=1) == 5  # 10 kept
    assert validation_interval(None, train_examples=270, val_examples=39, epochs=3, iterations=1) == 1
    assert validation_interval(None, train_examples=270, val_examples=39, epochs=-1, iterations=1, max_steps=400) == 20
    assert validation_interval(None, train_examples=270, val_examples=39, epochs=-1, iterations=1) == 20  # max_time
    assert validation_interval(None, train_examples=50_000, val_examples=10_000, epochs=100, iterations=390) == 1
