"""Synthetic tables judged three ways (G10: privacy-preserving synthetic data; issue 27): fidelity, utility, privacy.

Frames in, figures out: every function reads pandas frames (decoded, as ``genlab.data.tabular.frame.to_frame``
writes them or as a CSV holds them: numbers, category names, datetimes, bools) and the column spec
(``genlab.columns``: JSON dicts or ``Column``s), so genlab's samples and another package's (``ctgan``) are judged
by the same code. Real frames: ``train`` (what the generator saw), ``test`` (held out).

- ``fidelity``: SDMetrics' single-table ``QualityReport`` (Column Shapes: KS complement / TV complement per column;
  Column Pair Trends: correlation / contingency similarity per pair), synthetic against real training rows.
- ``utility``: train on synthetic, test on real (TSTR) against train on real, test on real (TRTR), with one fixed
  seeded model, ``HistGradientBoosting{Classifier,Regressor}(random_state=0, early_stopping=False)`` on the numeric
  columns (datetimes as days) and one-hot categorical columns (the spec's categories, ``ColumnTransformer``).
  Xu et al. 2019, "Modeling Tabular Data using Conditional GAN" (arXiv:1907.00503), Table 3 on Adult, binary F1 of
  ``>50K``: CTGAN 0.601, TVAE 0.626, real data 0.669 — for scale (their classifiers differ from this one).
- ``privacy``: distance to the closest record (DCR) and a distance-based membership-inference attack (AUROC).
  Rows are vectors: each numeric column ``(v − mean) / std`` (mean, std of the real training rows; a datetime in days;
  std 0 → 1), each categorical column one-hot times ``1/√2`` — two different categories then add exactly 1 to the
  squared Euclidean distance, as a difference of one training std in a numeric column does; a category outside the
  spec is all zeros. Distances are Euclidean, computed in float64 chunks (``torch.cdist``), the nearest exactly.

pandas, scikit-learn and sdmetrics are imported inside the functions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from genlab.columns import EPOCH, Column, columns_of
from genlab.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

UTILITY_MODEL = "HistGradientBoosting (random_state=0, early_stopping=False) on numeric + one-hot categorical columns"
CHUNK = 1024  # query rows per distance block: CHUNK × N float64 (20k reference rows: 160 MiB)


def _columns(columns: Sequence[Mapping[str, Any]] | Sequence[Column]) -> tuple[Column, ...]:
    return tuple(c if isinstance(c, Column) else columns_of([c], where="the column spec")[0] for c in columns)


def _check(frame: pd.DataFrame, cols: Sequence[Column], what: str) -> None:
    missing = [c.name for c in cols if c.name not in frame.columns]
    if missing:
        raise ConfigError(f"the {what} frame lacks the column(s) {', '.join(map(repr, missing))} of the spec (it has "
                          f"{', '.join(map(str, frame.columns))}): pass frames with the table's columns")
    if not len(frame):
        raise ConfigError(f"the {what} frame has no rows")


def default_target(columns: Sequence[Mapping[str, Any]] | Sequence[Column]) -> str:
    """The utility target when none is named: the last categorical column, else the last column."""
    cols = _columns(columns)
    categorical = [c.name for c in cols if c.type == "categorical"]
    return categorical[-1] if categorical else cols[-1].name


# --- fidelity --------------------------------------------------------------------------------------------------
def sdtype(column: Column) -> str:
    """The SDMetrics sdtype of a column: numerical (float, int), datetime, boolean, categorical (str)."""
    return {"float": "numerical", "int": "numerical", "datetime": "datetime", "bool": "boolean"}.get(
        column.dtype, "categorical")


def fidelity(real: pd.DataFrame, synthetic: pd.DataFrame,
             columns: Sequence[Mapping[str, Any]] | Sequence[Column]) -> dict[str, Any]:
    """SDMetrics' single-table ``QualityReport`` of ``synthetic`` against ``real`` (metadata from the spec: ``sdtype``):
    ``fidelity`` (the overall score, the mean of the two), ``fidelity_column_shapes``,
    ``fidelity_column_pair_trends`` (NaN for a one-column table), each in [0, 1] (1: the same). Quiet: no progress,
    no warnings."""
    import contextlib
    import io
    import warnings

    cols = _columns(columns)
    _check(real, cols, "real")
    _check(synthetic, cols, "synthetic")
    names = [c.name for c in cols]
    metadata = {"columns": {c.name: {"sdtype": sdtype(c)} for c in cols}}
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        from sdmetrics.reports.single_table import QualityReport

        report = QualityReport()
        report.generate(_sd_frame(real[names], cols), _sd_frame(synthetic[names], cols), metadata, verbose=False)
        properties = report.get_properties().set_index("Property")["Score"]
        overall = report.get_score()
    return {"fidelity": float(overall), "fidelity_column_shapes": float(properties["Column Shapes"]),
            "fidelity_column_pair_trends": float(properties["Column Pair Trends"]), "fidelity_n_real": len(real),
            "fidelity_n_synthetic": len(synthetic)}


def _sd_frame(frame: pd.DataFrame, cols: Sequence[Column]) -> pd.DataFrame:
    """``frame`` in the dtypes SDMetrics reads for each sdtype: floats, datetime64, bools, text."""
    import pandas as pd

    out = {}
    for c in cols:
        kind = sdtype(c)
        if kind == "numerical":
            out[c.name] = pd.to_numeric(frame[c.name]).astype(float)
        elif kind == "datetime":
            out[c.name] = _dates(frame[c.name])
        elif kind == "boolean":
            out[c.name] = _text(frame[c.name]) == "True"
        else:
            out[c.name] = _text(frame[c.name])
    return pd.DataFrame(out, index=frame.index)


def _dates(cells: pd.Series) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(cells):
        return cells
    if pd.api.types.is_numeric_dtype(cells):  # days since EPOCH
        return pd.Timestamp(EPOCH) + pd.to_timedelta(cells.astype(float) * 86_400, unit="s")
    return pd.to_datetime(cells, format="mixed")


def _text(cells: pd.Series) -> pd.Series:
    """Category names as text: a whole float as an integer (``3.0`` → ``"3"``), a bool as ``True``/``False``."""
    import pandas as pd

    if pd.api.types.is_float_dtype(cells):
        return cells.map(lambda v: str(int(v)) if float(v).is_integer() else str(v))
    return cells.astype(str).str.strip()


# --- features shared by utility and privacy ----------------------------------------------------------------------
def _numbers(cells: pd.Series, column: Column) -> np.ndarray:
    """A numeric column as float64: a datetime in days since ``EPOCH``."""
    import pandas as pd

    if column.dtype == "datetime":
        return ((_dates(cells) - pd.Timestamp(EPOCH)).dt.total_seconds() / 86_400.0).to_numpy(dtype=float)
    return pd.to_numeric(cells).to_numpy(dtype=float)


def _features(frame: pd.DataFrame, cols: Sequence[Column]) -> pd.DataFrame:
    """Numeric columns as float64 (datetimes in days), categorical columns as text."""
    import pandas as pd

    return pd.DataFrame({c.name: _numbers(frame[c.name], c) if c.type == "numeric" else _text(frame[c.name])
                         for c in cols}, index=frame.index)


# --- utility ---------------------------------------------------------------------------------------------------
def _utility_model(cols: Sequence[Column], classify: bool):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    categorical = [c for c in cols if c.type == "categorical"]
    encode = ColumnTransformer(
        [("numeric", "passthrough", [c.name for c in cols if c.type == "numeric"]),
         ("categorical", OneHotEncoder(categories=[list(c.categories) for c in categorical], handle_unknown="ignore",
                                       sparse_output=False), [c.name for c in categorical])])
    kind = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
    return Pipeline([("encode", encode), ("model", kind(random_state=0, early_stopping=False))])


def _fit_predict(x, y, x_test, cols: Sequence[Column], classify: bool):
    """The fixed model fitted on ``(x, y)``, its predictions on ``x_test``; a training set of one class predicts it."""
    import numpy as np

    if classify and len(np.unique(y)) == 1:  # a classifier that saw one class can only say that one
        return np.full(len(x_test), y.iloc[0], dtype=object)
    return _utility_model(cols, classify).fit(x, y).predict(x_test)


def utility(train_real: pd.DataFrame, test_real: pd.DataFrame, synthetic: pd.DataFrame,
            columns: Sequence[Mapping[str, Any]] | Sequence[Column], target: str | None = None) -> dict[str, Any]:
    """Train on synthetic, test on real (TSTR) beside train on real, test on real (TRTR), predicting ``target`` (None:
    ``default_target``) from the other columns with ``UTILITY_MODEL``.

    A categorical target is classified: ``tstr_f1`` / ``trtr_f1`` macro-F1 (over the classes in the truth or the
    predictions), ``*_accuracy``; for a binary target also ``*_f1_positive``, the F1 of the positive class
    ``utility_positive`` = the minority class of the real training rows (the second category on a tie) — the CTGAN
    paper's Adult F1. A numeric target is regressed: ``*_r2``, ``*_mae`` (data units). ``tstr_ratio``: TSTR over TRTR
    (macro-F1, or R²). A synthetic table that lacks some class is fine (those classes are never predicted)."""
    from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, r2_score

    cols = _columns(columns)
    target = default_target(cols) if target is None else target
    by_name = {c.name: c for c in cols}
    if target not in by_name:
        raise ConfigError(f"utility target {target!r} is not a column of the table: choose one of "
                          f"{', '.join(by_name)}")
    if len(cols) < 2:
        raise ConfigError(f"utility predicts {target!r} from the other columns, but the table has no other column")
    for frame, what in ((train_real, "real training"), (test_real, "real test"), (synthetic, "synthetic")):
        _check(frame, cols, what)
    features = [c for c in cols if c.name != target]
    classify = by_name[target].type == "categorical"
    names = [c.name for c in features]
    tables = {k: _features(f, cols) for k, f in (("train", train_real), ("test", test_real), ("synthetic", synthetic))}
    truth = tables["test"][target]
    out: dict[str, Any] = {"utility_target": target, "utility_task": "classification" if classify else "regression",
                           "utility_model": UTILITY_MODEL, "utility_n_train": len(train_real),
                           "utility_n_synthetic": len(synthetic), "utility_n_test": len(test_real)}
    if classify:
        counts = tables["train"][target].value_counts()
        binary = len(by_name[target].categories) == 2
        if binary:
            a, b = by_name[target].categories
            positive = a if counts.get(a, 0) < counts.get(b, 0) else b
            out["utility_positive"] = positive
    for prefix, source in (("tstr", "synthetic"), ("trtr", "train")):
        table = tables[source]
        pred = _fit_predict(table[names], table[target], tables["test"][names], features, classify)
        if classify:
            out[f"{prefix}_f1"] = float(f1_score(truth, pred, average="macro", zero_division=0))
            out[f"{prefix}_accuracy"] = float(accuracy_score(truth, pred))
            if binary:
                out[f"{prefix}_f1_positive"] = float(f1_score(truth == positive, pred == positive, zero_division=0))
        else:
            out[f"{prefix}_r2"] = float(r2_score(truth, pred))
            out[f"{prefix}_mae"] = float(mean_absolute_error(truth, pred))
    key = "f1" if classify else "r2"
    out["tstr_ratio"] = out[f"tstr_{key}"] / out[f"trtr_{key}"] if out[f"trtr_{key}"] else math.nan
    return out


# --- privacy ---------------------------------------------------------------------------------------------------
def encode_rows(frame: pd.DataFrame, columns: Sequence[Mapping[str, Any]] | Sequence[Column],
                reference: pd.DataFrame) -> torch.Tensor:
    """``frame``'s rows as float64 vectors (N, D) for distances: numeric columns standardized by ``reference``'s
    mean and std (population; 0 → 1; datetimes in days), categorical columns one-hot over the spec's categories
    times ``1/√2`` (a different category adds 1 to the squared distance; an unknown one is all zeros)."""
    import numpy as np

    parts = []
    for c in _columns(columns):
        if c.type == "numeric":
            ref = _numbers(reference[c.name], c)
            std = float(ref.std()) or 1.0
            parts.append(((_numbers(frame[c.name], c) - ref.mean()) / std)[:, None])
        else:
            text = _text(frame[c.name]).to_numpy()
            parts.append((text[:, None] == np.asarray(c.categories, dtype=object)[None]) / math.sqrt(2.0))
    return torch.from_numpy(np.concatenate(parts, 1).astype(np.float64))


def nearest(query: torch.Tensor, reference: torch.Tensor, *, chunk: int = CHUNK
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Euclidean distances to the nearest row both ways, in one pass over the ``(M, N)`` distances, ``chunk`` query
    rows at a time (memory ``chunk × N``): each ``query`` row's (M, D) to its nearest ``reference`` row (N, D), and
    each ``reference`` row's to its nearest ``query`` row — ``(M,)`` and ``(N,)``. Each is recomputed directly from
    the nearest row found, so an exact copy is at 0."""
    to_reference = torch.empty(len(query), dtype=torch.long)  # (M,) index of the nearest reference row
    best = torch.full((len(reference),), math.inf, dtype=query.dtype)  # (N,) running nearest distance to a query row
    to_query = torch.zeros(len(reference), dtype=torch.long)  # (N,)
    for i in range(0, len(query), chunk):
        d = torch.cdist(query[i: i + chunk], reference)  # (c, N)
        to_reference[i: i + chunk] = d.argmin(1)
        low, where = d.min(0)  # (N,) over this chunk
        closer = low < best
        best = torch.where(closer, low, best)
        to_query = torch.where(closer, where + i, to_query)
    return (query - reference[to_reference]).norm(dim=1), (reference - query[to_query]).norm(dim=1)


def privacy(train_real: pd.DataFrame, holdout_real: pd.DataFrame, synthetic: pd.DataFrame,
            columns: Sequence[Mapping[str, Any]] | Sequence[Column], *, seed: int = 0) -> dict[str, Any]:
    """Distance to the closest record (DCR) and a membership-inference attack, rows as ``encode_rows`` vectors.

    DCR: each synthetic row's distance to its closest training row, against each holdout row's (what an
    independent draw from the data gives): medians, 5th percentiles, ``privacy_dcr_ratio`` = synthetic mean /
    holdout mean (≈ 1: no closer than new data; 0: copies; means, not medians: a table with many duplicate rows
    has a holdout median of 0), ``privacy_close_share`` = the share of synthetic rows
    at most the holdout's 5th percentile from a training row (≈ ``privacy_close_share_holdout``, ≥ 0.05, when
    nothing is copied; exact copies count), ``privacy_exact`` / ``privacy_exact_holdout``: the shares at distance 0.

    Membership inference: the attacker scores each real row by minus its distance to the closest synthetic row;
    members = training rows, non-members = holdout rows, the larger set subsampled (``seed``) to the smaller's size;
    ``privacy_mia_auroc`` = ``roc_auc_score`` (0.5: nothing leaks, 1: every member is told apart)."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    cols = _columns(columns)
    for frame, what in ((train_real, "real training"), (holdout_real, "holdout"), (synthetic, "synthetic")):
        _check(frame, cols, what)
    train, holdout, fake = (encode_rows(f, cols, train_real) for f in (train_real, holdout_real, synthetic))
    dcr_synthetic, member_distance = nearest(fake, train)  # (S,), (N,): the attacker's view of each training row
    dcr_holdout, _ = nearest(holdout, train)  # (H,)
    outsider_distance, _ = nearest(holdout, fake)  # (H,)
    rng = np.random.default_rng(seed)
    m = min(len(train), len(holdout))
    members = member_distance.numpy()[np.sort(rng.choice(len(train), m, replace=False))]
    outsiders = outsider_distance.numpy()[np.sort(rng.choice(len(holdout), m, replace=False))]
    labels = np.r_[np.ones(m), np.zeros(m)]
    auroc = float(roc_auc_score(labels, -np.r_[members, outsiders]))
    syn, hold = dcr_synthetic.numpy(), dcr_holdout.numpy()
    p5 = float(np.quantile(hold, 0.05))
    median = float(np.median(hold))
    return {"privacy_dcr_median": float(np.median(syn)), "privacy_dcr_median_holdout": median,
            "privacy_dcr_p5": float(np.quantile(syn, 0.05)), "privacy_dcr_p5_holdout": p5,
            "privacy_dcr_ratio": float(syn.mean() / hold.mean()) if hold.mean() > 0 else math.nan,
            "privacy_close_share": float((syn <= p5).mean()), "privacy_close_share_holdout": float((hold <= p5).mean()),
            "privacy_exact": float((syn == 0).mean()), "privacy_exact_holdout": float((hold == 0).mean()),
            "privacy_mia_auroc": auroc, "privacy_mia_n": m, "privacy_n_train": len(train),
            "privacy_n_holdout": len(holdout), "privacy_n_synthetic": len(fake)}


# --- all three ---------------------------------------------------------------------------------------------------
def judge(train_real: pd.DataFrame, test_real: pd.DataFrame, synthetic: pd.DataFrame,
          columns: Sequence[Mapping[str, Any]] | Sequence[Column], target: str | None = None, *,
          seed: int = 0) -> dict[str, Any]:
    """``fidelity`` (synthetic against the real training rows), ``utility`` (TSTR on ``test_real``) and ``privacy``
    (``test_real`` as the holdout) in one flat dict, with ``fidelity_seconds``, ``utility_seconds``,
    ``privacy_seconds``."""
    out: dict[str, Any] = {}
    for name, run in (("fidelity", lambda: fidelity(train_real, synthetic, columns)),
                      ("utility", lambda: utility(train_real, test_real, synthetic, columns, target)),
                      ("privacy", lambda: privacy(train_real, test_real, synthetic, columns, seed=seed))):
        t0 = time.perf_counter()
        out.update(run())
        out[f"{name}_seconds"] = round(time.perf_counter() - t0, 2)
    return out
