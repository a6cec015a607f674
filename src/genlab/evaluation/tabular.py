"""``genlab eval``'s synthetic-table metrics (G10, issue 27): ``fidelity``, ``utility``, ``privacy`` of a table model's
samples (``genlab.metrics.tabular``), read against the RAW splits (before the model's fitted preprocessing).

Each draws ``n`` rows (default: as many as the training split) with a generator seeded by ``seed``, at most
``CHUNK`` rows per ``model.sample`` call, and decodes them with the run's column spec (``to_frame``), as the real
training split (``load_split("train")``) and the test split (``raw``) are: the frames the metrics read are the ones
another package's samples would be judged on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from genlab.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from genlab.data.tensors import TensorData

CHUNK = 5000  # rows per model.sample call


def table_frame(data: TensorData) -> pd.DataFrame:
    """A table split's rows as a decoded frame (``to_frame`` with its own column spec)."""
    from genlab.data.tabular.frame import to_frame

    return to_frame(data.meta["columns"], data.fields["numeric"], data.fields["categorical"])


def synthetic_frame(model: nn.Module, columns: list[dict[str, Any]], n: int, *, seed: int = 0) -> pd.DataFrame:
    """``n`` rows of ``model.sample`` (data units and codes), ``CHUNK`` at a time from one generator seeded by
    ``seed``, as a frame in ``columns``."""
    from genlab.data.tabular.frame import to_frame

    if n < 1:
        raise ConfigError(f"the table metrics need at least one synthetic row, got n = {n}: pass --n 1 or more")
    g = torch.Generator().manual_seed(seed)
    rows = [model.sample(min(CHUNK, n - i), generator=g) for i in range(0, n, CHUNK)]
    return to_frame(columns, torch.cat([r["numeric"] for r in rows]), torch.cat([r["categorical"] for r in rows]))


def _frames(model: nn.Module, raw: TensorData | None, load_split: Callable[[str], TensorData] | None, metric: str,
            n: int | None, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """The real training, real test and synthetic frames and the column spec; ``ConfigError`` unless the model draws
    samples and the data is a table."""
    from genlab.models.base import Generative

    if not isinstance(model, Generative):
        raise ConfigError(f"metric {metric!r} needs a model with samples: sample(); {type(model).__name__} has none: "
                          f"choose another metric")
    if raw is None or load_split is None:
        raise ConfigError(f"metric {metric!r} reads the raw test and training splits: run it through "
                          f"genlab.evaluation.evaluate (genlab eval), which passes them")
    if raw.kind != "table" or "columns" not in raw.meta:
        raise ConfigError(f"metric {metric!r} judges synthetic tables; {raw.name} is {raw.kind!r} data: evaluate a "
                          f"table model on a table (--data cars)")
    columns = raw.meta["columns"]
    train = table_frame(load_split("train"))
    fake = synthetic_frame(model, columns, len(train) if n is None else n, seed=seed)
    return train, table_frame(raw), fake, columns


def eval_fidelity(model: nn.Module, data: TensorData, *, raw: TensorData | None = None,
                  load_split: Callable[[str], TensorData] | None = None, n: int | None = None, seed: int = 0,
                  **_: Any) -> dict[str, Any]:
    """SDMetrics' QualityReport of ``n`` samples against the real training split
    (``genlab.metrics.tabular.fidelity``)."""
    from genlab.metrics.tabular import fidelity

    train, _test, fake, columns = _frames(model, raw, load_split, "fidelity", n, seed)
    return fidelity(train, fake, columns)


def eval_utility(model: nn.Module, data: TensorData, *, raw: TensorData | None = None,
                 load_split: Callable[[str], TensorData] | None = None, n: int | None = None, seed: int = 0,
                 target: str | None = None, **_: Any) -> dict[str, Any]:
    """Train on ``n`` samples, test on the real test split, beside train on the real training split
    (``genlab.metrics.tabular.utility``). The target: ``target`` when given, else the dataset's
    (``meta["target"]``), else the last categorical column."""
    from genlab.metrics.tabular import utility

    train, test, fake, columns = _frames(model, raw, load_split, "utility", n, seed)
    return utility(train, test, fake, columns, target or raw.meta.get("target"))


def eval_privacy(model: nn.Module, data: TensorData, *, raw: TensorData | None = None,
                 load_split: Callable[[str], TensorData] | None = None, n: int | None = None, seed: int = 0,
                 **_: Any) -> dict[str, Any]:
    """DCR and membership-inference AUROC of ``n`` samples, the test split as the holdout
    (``genlab.metrics.tabular.privacy``)."""
    from genlab.metrics.tabular import privacy

    train, test, fake, columns = _frames(model, raw, load_split, "privacy", n, seed)
    return privacy(train, test, fake, columns, seed=seed)
