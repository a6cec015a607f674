"""The run's loggers: ``metrics.csv`` in the run folder, and TensorBoard event files in ``tensorboard/``
(``TrainConfig.logger`` picks them: ``csv``, ``tensorboard`` or ``both``).

Every row the system logs (``System.log_row``) goes to each logger at the same step, so the two hold the same
scalars. On ``--resume`` both continue from the checkpoint's step: Lightning's CSVLogger deletes an existing
``metrics.csv``, so ``RunCSVLogger`` keeps the rows up to the checkpoint's step and appends the rest;
``RunTensorBoardLogger`` starts its writer with ``purge_step`` there, which makes TensorBoard drop the events a
killed run wrote past its checkpoint. The rows logged are written out with every checkpoint
(``System.on_save_checkpoint``), so a run killed and resumed keeps every row up to its checkpoint. Under DDP
only rank 0 writes (Lightning's ``rank_zero_only`` / ``rank_zero_experiment``).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import lightning as L
from lightning.fabric.loggers.csv_logs import _ExperimentWriter
from lightning.fabric.utilities.logger import _convert_params, _flatten_dict
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from genlab.atomic import atomic_write_text
from genlab.rundir import RunDir

#: seconds between the TensorBoard writer's flushes (and at every checkpoint): TensorBoard shows a live run
FLUSH_SECONDS = 15
#: the sample files of one validation added to TensorBoard as images: (tag, ``RunDir.epoch_samples``'s ``what``)
IMAGE_TAGS = (("samples", "epoch"), ("reconstructions", "reconstructions"))
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _write_rows(path: Path, keys: list[str], rows: list[dict]) -> None:
    """``metrics.csv`` with the header ``keys`` and ``rows``, written atomically (``genlab.atomic``)."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, out.getvalue())


class _ResumableWriter(_ExperimentWriter):
    """Lightning's CSV writer, keeping the rows before ``keep_until_step`` on resume and rewriting the file
    atomically when its header grows (Lightning rewrites it in place: a kill then would empty it)."""

    def __init__(self, log_dir: str, keep_until_step: int | None) -> None:
        self.keep_until_step = keep_until_step
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return
        if self.keep_until_step is None:
            path.unlink()
            return
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            keys = list(reader.fieldnames or [])
            # a row cut short by a kill mid-write has missing fields (None): it is dropped, never misread
            rows = [r for r in reader if None not in r and None not in r.values() and r.get("step")
                    and float(r["step"]) < self.keep_until_step]
        _write_rows(path, keys, rows)
        self.metrics_keys = sorted(keys)

    def _rewrite_with_new_header(self, fieldnames: list[str]) -> None:
        path = Path(self.metrics_file_path)
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        _write_rows(path, fieldnames, rows)


class RunCSVLogger(CSVLogger):
    """Logs to ``<run>/metrics.csv``; ``keep_until_step`` keeps earlier rows (resume)."""

    def __init__(self, run_dir: str | Path, keep_until_step: int | None = None) -> None:
        super().__init__(save_dir=str(run_dir), name="", version="")
        self._keep_until_step = keep_until_step

    @property
    def log_dir(self) -> str:
        return self.save_dir

    @property
    @rank_zero_experiment
    def experiment(self) -> _ExperimentWriter:
        if self._experiment is None:
            self._experiment = _ResumableWriter(self.log_dir, self._keep_until_step)
        return self._experiment

    def log_hyperparams(self, params=None) -> None:  # config.yaml already records them
        return None


class RunTensorBoardLogger(TensorBoardLogger):
    """Lightning's TensorBoard logger writing straight into ``log_dir`` (no ``version_N`` folder), the run's config
    as its hyperparameters, and no ``hparams.yaml`` (``config.yaml`` is the record). ``purge_step`` (on resume: the
    checkpoint's step) makes TensorBoard drop the events of earlier writers at that step and after."""

    def __init__(self, log_dir: str | Path, hparams: dict[str, Any], purge_step: int | None = None) -> None:
        super().__init__(save_dir=str(log_dir), name="", version="", default_hp_metric=False,
                         purge_step=purge_step, flush_secs=FLUSH_SECONDS)
        self.run_hparams = hparams

    @property
    def log_dir(self) -> str:
        return self.save_dir

    @property
    @rank_zero_experiment
    def experiment(self):
        """Lightning's ``SummaryWriter``; the run's config is written as its hyperparameters when it is opened
        (Lightning asks a logger for hyperparameters only when the module saved some, which a system does not)."""
        if self._experiment is not None:
            return self._experiment
        writer = super().experiment
        self.log_hyperparams()
        return writer

    @rank_zero_only
    def log_hyperparams(self, params=None, metrics=None, step=None) -> None:
        """The run's config (with any ``params`` given), flattened (``model_options/hidden``) and sanitized as Lightning
        does, as TensorBoard's HParams summary. Lightning's own method writes it only together with a metric value,
        which would add a scalar that ``metrics.csv`` has not."""
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        flat = self._sanitize_params(_flatten_dict({**self.run_hparams, **_convert_params(params or {})}))
        writer = self.experiment._get_file_writer()
        for summary in hparams_summary(flat, {}):  # experiment, session start, session end
            writer.add_summary(summary, step)

    @rank_zero_only
    def save(self) -> None:  # the flush, without Lightning's hparams.yaml
        self.experiment.flush()


def run_loggers(run: RunDir, choice: str, *, hparams: dict[str, Any], resumed_at: int | None) -> list[Logger]:
    """The loggers of ``TrainConfig.logger`` = ``choice`` (``csv``, ``tensorboard``, ``both``) for ``run``, continuing
    at iteration ``resumed_at`` (None: a new run); ``hparams``: the resolved config, for TensorBoard."""
    loggers: list[Logger] = []
    if choice in ("csv", "both"):
        loggers.append(RunCSVLogger(run.path, keep_until_step=resumed_at))
    if choice in ("tensorboard", "both"):
        loggers.append(RunTensorBoardLogger(run.tensorboard, hparams, purge_step=resumed_at))
    return loggers


class SampleImages(L.Callback):
    """Adds the images ``SampleGrid`` wrote at a validation (``samples/epoch_XXX.png``, ``reconstructions_XXX.png``;
    a renderer may write ``.jpg``, or text or a tensor file, which is skipped) to the TensorBoard logger, at the step
    of that validation's metric row. Placed after ``SampleGrid``, whose files it reads; nothing without a
    TensorBoard logger."""

    def __init__(self, run: RunDir) -> None:
        self.run = run

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        board = next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)
        if board is None or trainer.sanity_checking or not trainer.is_global_zero:
            return
        step = max(0, pl_module.iteration - 1)  # the validation row's step (System.log_row: the last iteration)
        for tag, what in IMAGE_TAGS:
            stem = self.run.epoch_samples(trainer.current_epoch, what).stem
            for path in sorted(self.run.samples.glob(f"{stem}.*")):
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    board.experiment.add_image(tag, _read_rgb(path), global_step=step, dataformats="HWC")


def _read_rgb(path: Path):
    """The image at ``path`` as an ``(H, W, 3)`` uint8 array."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))
