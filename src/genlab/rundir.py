"""``RunDir``: the one object that knows a run folder's layout (DESIGN.md, "Runs").

::

    runs/<name>/
      config.yaml        the resolved run config (enough to rerun it)
      metrics.csv        one row per logged iteration (train/*) and per validation (val/*)
      checkpoints/       last.ckpt (resume) and best.ckpt, written atomically
      model/             model.safetensors + config.json (save_pretrained)
      samples/           the samples drawn during training and by `genlab sample`
      report.md          what was trained, curves.png, final metrics, how to reproduce
      eval.json          what `genlab eval` and the uses (embed, denoise, anomaly) measured

Training, the report, the callbacks, the CLI and evaluation all ask it for paths. Light: no torch,
no Lightning (``genlab list`` uses it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from genlab.atomic import atomic_write_text
from genlab.errors import ConfigError, LoadError


@dataclasses.dataclass(frozen=True)
class RunDir:
    """A run folder at ``path`` (it need not exist yet)."""

    path: Path

    def __init__(self, path: str | os.PathLike) -> None:
        object.__setattr__(self, "path", Path(path))

    @classmethod
    def new(cls, model: str, data: str, *, root: str | os.PathLike = "runs") -> RunDir:
        """``runs/<model>-<data>-<time>``."""
        return cls(Path(root) / f"{model}-{data}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")

    # --- the layout -----------------------------------------------------------------------------
    @property
    def config_yaml(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_csv(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    @property
    def report(self) -> Path:
        return self.path / "report.md"

    @property
    def curves(self) -> Path:
        return self.path / "curves.png"

    @property
    def eval_json(self) -> Path:
        return self.path / "eval.json"

    def epoch_samples(self, epoch: int, what: str = "epoch") -> Path:
        """``samples/<what>_<epoch>.png`` (``what``: ``epoch`` for samples, ``reconstructions``)."""
        return self.samples / f"{what}_{epoch:03d}.png"

    def new_samples(self) -> Path:
        """``samples/sample-<time>.png`` for `genlab sample` (the renderer sets the suffix)."""
        return self.samples / f"sample-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.png"

    # --- what is there --------------------------------------------------------------------------
    def is_run(self) -> bool:
        return self.config_yaml.is_file()

    def holds_checkpoints(self) -> bool:
        return self.checkpoints.is_dir() and any(self.checkpoints.iterdir())

    def model_folder(self) -> Path:
        """The saved model: ``model/`` of a run, or the folder itself when it is a bare model folder."""
        if self.model_dir.is_dir():
            return self.model_dir
        if not self.path.exists():
            raise LoadError(f"no run folder at {self.path}: pass a folder written by `genlab train`")
        return self.path

    def load_model(self):
        """The run's trained model (``genlab.load`` of ``model_folder()``)."""
        from genlab.hub import load

        return load(self.model_folder())

    def read_config(self) -> dict[str, Any]:
        """``config.yaml`` as a dict (``{}`` for a bare model folder)."""
        import yaml

        return (yaml.safe_load(self.config_yaml.read_text()) or {}) if self.is_run() else {}

    def dataset(self, override: str | None = None) -> str:
        """``override`` if given, else the dataset the run was trained on."""
        name = override or self.read_config().get("data")
        if not name:
            raise ConfigError(f"{self.path} has no config.yaml naming its dataset: pass --data NAME")
        return name

    # --- what is written ------------------------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> Path:
        import yaml

        return atomic_write_text(self.config_yaml, yaml.safe_dump(config, sort_keys=False))

    def write_eval(self, result: dict[str, Any]) -> Path:
        """Merge ``result`` into ``eval.json`` (atomically)."""
        old = json.loads(self.eval_json.read_text()) if self.eval_json.is_file() else {}
        return atomic_write_text(self.eval_json, json.dumps({**old, **result}, indent=2) + "\n")
