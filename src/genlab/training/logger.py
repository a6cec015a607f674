"""A CSV logger that writes ``metrics.csv`` straight into the run folder and appends on resume.

Lightning's CSVLogger deletes an existing ``metrics.csv``; on ``--resume`` we keep the rows up to the
checkpoint's step and append the rest. The rows logged are written out with every checkpoint
(``System.on_save_checkpoint``), so a run killed and resumed keeps every row up to its checkpoint.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from lightning.fabric.loggers.csv_logs import _ExperimentWriter
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.logger import rank_zero_experiment

from genlab.atomic import atomic_write_text


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
