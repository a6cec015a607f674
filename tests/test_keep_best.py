"""``keep=best``: the run hands over checkpoints/best.ckpt's weights (the best validation metric), not the last."""

from __future__ import annotations

import csv

import pytest
import torch

from genlab.errors import ConfigError
from genlab.hub import load
from genlab.training.checkpoint import read_checkpoint
from genlab.training.config import TrainConfig
from genlab.training.run import train


def _run(tmp_path, name: str, **overrides):
    cfg = TrainConfig(model="forecast-mlp", data="nile", epochs=12, lr=3e-2, quiet=True, num_samples=0,
                      out=str(tmp_path / name), **overrides)
    return train(cfg)


def _weights(state: dict) -> dict:
    return {k.removeprefix("model."): v for k, v in state.items()}


def test_keep_best_hands_over_the_best_checkpoints_weights_and_score(tmp_path):
    last, best = _run(tmp_path, "last"), _run(tmp_path, "best", keep="best")
    losses = [float(r["val/loss"]) for r in csv.DictReader(open(best.run_dir / "metrics.csv")) if r.get("val/loss")]
    assert len(losses) >= 3 and min(losses) < losses[-1]  # a run whose last validation is not its best
    assert best.metrics["val/loss"] == pytest.approx(min(losses), rel=1e-5)
    assert last.metrics["val/loss"] == pytest.approx(losses[-1], rel=1e-5)  # same seed: the same run until the end
    fitted = {"residual_std", "interval_scale"}  # σ̂ and s are refitted on the weights handed over (after_fit)
    for run, ckpt in ((best, "best.ckpt"), (last, "last.ckpt")):
        expected = _weights(read_checkpoint(run.run_dir / "checkpoints" / ckpt)["state_dict"])
        saved = load(run.run_dir).state_dict()
        assert set(saved) <= set(expected) and len(saved) > 3  # every saved tensor is compared, none skipped
        assert all(torch.equal(saved[k], expected[k]) for k in saved if k not in fitted), ckpt
    best_weights = load(best.run_dir).state_dict()
    last_weights = load(last.run_dir).state_dict()
    assert any(not torch.equal(best_weights[k], last_weights[k]) for k in best_weights if k not in fitted)


@pytest.mark.parametrize(("model", "overrides", "says"), [
    ("gan", {"data": "ring8"}, "has none"),
    ("forecast-mlp", {"data": "nile", "ema_decay": 0.99}, "ema_decay=0"),
    ("pca", {"data": "digits"}, "closed form"),
])
def test_keep_best_is_refused_where_no_best_checkpoint_stands_for_the_model(tmp_path, model, overrides, says):
    with pytest.raises(ConfigError, match=says):
        train(TrainConfig(model=model, epochs=1, keep="best", quiet=True, out=str(tmp_path / "r"), **overrides))
    assert not (tmp_path / "r").exists()
