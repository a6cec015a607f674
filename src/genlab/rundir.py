"""``RunDir``: the one object that knows a run folder's layout (DESIGN.md, "Runs").

::

    runs/<name>/
      config.yaml        the resolved run config (enough to rerun it)
      metrics.csv        one row per logged iteration (train/*) and per validation (val/*)
      tensorboard/       the same scalars, the config and the sample grids as TensorBoard event files
      checkpoints/       last.ckpt (resume) and best.ckpt, written atomically
      model/             model.safetensors + config.json (save_pretrained), written at each validation, at a
                         stop and at the end; progress.json: the iteration it holds, whether the run finished
      samples/           the samples drawn during training and by `genlab sample`
      report.md, .html   what was trained, curves.png, final metrics, how to reproduce (the same, as a web page)
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
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

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
    def model_progress(self) -> Path:
        """``model/progress.json``: the iteration ``model/`` was written at and whether the run had finished."""
        return self.model_dir / "progress.json"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    @property
    def report(self) -> Path:
        return self.path / "report.md"

    @property
    def report_html(self) -> Path:
        return self.path / "report.html"

    @property
    def curves(self) -> Path:
        return self.path / "curves.png"

    @property
    def eval_json(self) -> Path:
        return self.path / "eval.json"

    def eval_json_of(self, split: str = "test") -> Path:
        """Where the figures of ``split`` are kept: ``eval.json`` for the test split, ``eval.<split>.json`` else."""
        return self.eval_json if split == "test" else self.path / f"eval.{split}.json"

    def epoch_samples(self, epoch: int, what: str = "epoch") -> Path:
        """``samples/<what>_<epoch>.png`` (``what``: ``epoch`` for samples, ``reconstructions``)."""
        return self.samples / f"{what}_{epoch:03d}.png"

    def new_samples(self, folder: str | os.PathLike | None = None, suffix: str = ".png") -> Path:
        """``samples/sample-<time>.png`` (or in ``folder``) for `genlab sample`: a name no file there has yet, so
        two calls in the same second get ``-2``, ``-3``, ... (whatever the suffix: the renderer may change it)."""
        folder = Path(folder) if folder is not None else self.samples
        stem = f"sample-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
        taken = {p.stem for p in folder.glob(f"{stem}*")} if folder.is_dir() else set()
        name, n = stem, 1
        while name in taken:
            n += 1
            name = f"{stem}-{n}"
        return folder / f"{name}{suffix}"

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

    def read_model_progress(self) -> dict[str, Any] | None:
        """``model/progress.json`` (``{"iteration": N, "finished": bool}``), or None where there is none (a bare
        model folder, or a run written before genlab kept one: it finished)."""
        if not self.model_progress.is_file():
            return None
        try:
            progress = json.loads(self.model_progress.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise LoadError(f"{self.model_progress} is not valid JSON: the run folder is damaged; resume the run "
                            f"(genlab train --resume {self.path}) to write it again") from None
        if not isinstance(progress, dict) or not isinstance(progress.get("iteration"), int):
            raise LoadError(f"{self.model_progress} lacks the iteration: the run folder is damaged; resume the run "
                            f"(genlab train --resume {self.path}) to write it again")
        return progress

    def load_model(self):
        """The run's trained model (``genlab.load`` of ``model_folder()``).

        A run stopped before its first validation has no model yet: the error says at which iteration its
        ``last.ckpt`` is and how to continue it."""
        from genlab.hub import load

        if self.is_run() and not self.model_dir.is_dir() and self.last_checkpoint.is_file():
            raise LoadError(f"{self.path} has no model yet: it stopped before its first validation (its "
                            f"{self.last_checkpoint} can only be resumed); continue it with genlab train --resume "
                            f"{self.path}")
        return load(self.model_folder())

    def finished(self) -> bool:
        """Whether the run ended and wrote its final ``model/`` (``progress.json`` says so; a run from before genlab
        kept one finished when it wrote its report)."""
        progress = self.read_model_progress()
        return bool(progress["finished"]) if progress is not None else self.report.is_file()

    def write_model_progress(self, *, iteration: int, finished: bool) -> Path:
        return atomic_write_text(self.model_progress,
                                 json.dumps({"iteration": iteration, "finished": finished}, indent=2) + "\n")

    def read_config(self) -> dict[str, Any]:
        """``config.yaml`` as a dict (``{}`` for a bare model folder)."""
        import yaml

        if not self.is_run():
            return {}
        try:
            config = yaml.safe_load(self.config_yaml.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            raise LoadError(f"{self.config_yaml} is not valid YAML: the run folder is damaged; restore the file "
                            f"(a resumable run's checkpoint holds its config) or pass --data NAME") from None
        if config is None:
            return {}
        if not isinstance(config, dict):
            raise LoadError(f"{self.config_yaml} does not hold a mapping of options: the run folder is damaged; "
                            f"restore the file or pass --data NAME")
        return config

    def dataset(self, override: str | None = None) -> str:
        """``override`` if given, else the dataset the run was trained on."""
        if override is None and not self.path.exists():
            raise LoadError(f"no run folder at {self.path}: pass a folder written by `genlab train` (genlab list)")
        name = override or self.read_config().get("data")
        if not name:
            raise ConfigError(f"{self.path} has no config.yaml naming its dataset: pass --data NAME")
        return name

    def data_options(self, override: str | None = None) -> dict[str, Any]:
        """The options the run's dataset was loaded with (``config.yaml``'s ``data_options``), so a verb rebuilds
        exactly the training data; ``{}`` (the defaults) for another dataset (``override``) or a bare model."""
        if override is not None and override != self.read_config().get("data"):
            return {}
        return dict(self.read_config().get("data_options") or {})

    # --- what is written ------------------------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> Path:
        import yaml

        return atomic_write_text(self.config_yaml, yaml.safe_dump(config, sort_keys=False))

    def write_eval(self, result: dict[str, Any], split: str = "test") -> Path:
        """Merge ``result`` into ``eval_json_of(split)`` (atomically)."""
        path = self.eval_json_of(split)
        old = json.loads(path.read_text()) if path.is_file() else {}
        return atomic_write_text(path, json.dumps({**old, **result}, indent=2) + "\n")
