"""A CSV logger that writes ``metrics.csv`` straight into the run folder and appends on resume.

Lightning's CSVLogger deletes an existing ``metrics.csv``; on ``--resume`` we keep the rows up to the
checkpoint's step and append the rest.
"""

from __future__ import annotations

import csv
from pathlib import Path

from lightning.fabric.loggers.csv_logs import _ExperimentWriter
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.logger import rank_zero_experiment


class _ResumableWriter(_ExperimentWriter):
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
            rows = [r for r in reader if r.get("step") and float(r["step"]) < self.keep_until_step]
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
        self.metrics_keys = sorted(keys)


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
