"""Preprocessing of tables with scikit-learn's own transformers (P1–P3), composed from a small declarative spec.

- P1 one-hot encoding: ``OneHotEncoder`` (``drop="first"``: n categories → n − 1 columns, no multicollinearity);
  ordered categories by ``OrdinalEncoder`` with the order the spec gives.
- P2 pipelines: one ``ColumnTransformer`` fitted on the training frame only and applied unchanged to others.
- P3 binning: ``KBinsDiscretizer`` (equal width ``(max − min)/bins``, equal frequency, k-means), ``TreeBinner``
  (supervised: a decision tree's split points), ``EdgeBinner`` (custom edges); binarization by ``Binarizer``
  (``x > threshold`` → 1, strictly).

The spec (a dict, as a YAML file holds it)::

    onehot: [species, island]          # P1, one indicator column per category
    drop_first: true                   # P1, n − 1 columns (default false)
    handle_unknown: ignore             # a category unseen in training → all-zero row (with drop_first, the
                                       # first category's row too); "error" → ConfigError naming it
    ordinal: {size: [S, M, L]}         # P1, codes 0, 1, 2 in this order
    bins:                              # P3, bin indices 0..n−1 (encode: onehot for indicator columns)
      body_mass_g: {strategy: quantile, n: 4}     # uniform | quantile | kmeans | tree (needs the target)
      bill_depth_mm: {edges: [15, 18]}            # custom edges
    binarize: {bill_length_mm: 45.0}   # P3, 1 where x > 45
    scale: [year]                      # standardized with the training mean and std
    passthrough: [sex]                 # copied unchanged
    remainder: drop                    # the other columns: drop (default) or passthrough

pandas and most of scikit-learn are imported inside the functions; ``sklearn.base`` comes with this module, whose
binners derive from its classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from genlab.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.compose import ColumnTransformer

STRATEGIES = ("uniform", "quantile", "kmeans", "tree")
SPEC_KEYS = ("onehot", "drop_first", "handle_unknown", "ordinal", "bins", "binarize", "scale", "passthrough",
             "remainder")
ENCODINGS = ("ordinal", "onehot")


class _Binner(TransformerMixin, BaseEstimator):
    """Bins each column by its own sorted edges ``edges_[j]``; ``encode="ordinal"`` gives the bin index,
    ``"onehot"`` one indicator column per bin (``len(edges_[j]) + 1`` of them)."""

    right_closed: bool  # True: bin i holds edges[i−1] < v ≤ edges[i]; False: edges[i−1] ≤ v < edges[i]

    def _check_encode(self) -> None:
        if self.encode not in ENCODINGS:
            raise ConfigError(f"encode must be one of {', '.join(ENCODINGS)}, got {self.encode!r}")

    def transform(self, X) -> np.ndarray:
        from sklearn.utils.validation import check_is_fitted, validate_data

        check_is_fitted(self, "edges_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        side = "left" if self.right_closed else "right"
        codes = [np.searchsorted(e, X[:, j], side=side) for j, e in enumerate(self.edges_)]  # each (N,)
        if self.encode == "ordinal":
            return np.stack(codes, 1).astype(np.float64)  # (N, D)
        return np.concatenate([np.eye(len(e) + 1)[c] for e, c in zip(self.edges_, codes, strict=True)], 1)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "edges_")
        if input_features is None:
            input_features = getattr(self, "feature_names_in_", [f"x{j}" for j in range(self.n_features_in_)])
        names = [str(f) for f in input_features]
        if self.encode == "ordinal":
            return np.asarray(names, dtype=object)
        return np.asarray([f"{n}_{k}" for n, e in zip(names, self.edges_, strict=True) for k in range(len(e) + 1)],
                          dtype=object)


class TreeBinner(_Binner):
    """Supervised binning (P3): per column, a decision tree with ``max_leaf_nodes=bins`` fitted on that column
    alone against the target; its sorted split thresholds are the edges. The tree sends ``v ≤ t`` left, so bin i
    holds ``edges[i−1] < v ≤ edges[i]`` (``np.searchsorted(edges, v, side="left")``): the bins are the tree's
    leaves. A tree that separates the target early has fewer than ``bins − 1`` edges.

    ``task="auto"`` grows a regression tree for a continuous target (``type_of_target``) and a classification
    tree otherwise."""

    right_closed = True

    def __init__(self, bins: int = 4, *, task: str = "auto", encode: str = "ordinal", random_state: int = 0):
        self.bins = bins
        self.task = task
        self.encode = encode
        self.random_state = random_state

    def fit(self, X, y=None) -> TreeBinner:
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
        from sklearn.utils.multiclass import type_of_target
        from sklearn.utils.validation import validate_data

        self._check_encode()
        if y is None:
            raise ConfigError("tree binning is supervised: it needs the target (pass --target COL)")
        if not (isinstance(self.bins, int) and self.bins >= 2):
            raise ConfigError(f"tree binning needs bins ≥ 2, got {self.bins!r}")
        if self.task not in ("auto", "classification", "regression"):
            raise ConfigError(f"task must be auto, classification or regression, got {self.task!r}")
        X, y = validate_data(self, X, np.asarray(y), reset=True, dtype=np.float64)
        regression = self.task == "regression" or (self.task == "auto" and type_of_target(y) == "continuous")
        tree_class = DecisionTreeRegressor if regression else DecisionTreeClassifier
        self.edges_ = []
        for j in range(X.shape[1]):
            tree = tree_class(max_leaf_nodes=self.bins, random_state=self.random_state).fit(X[:, j:j + 1], y)
            self.edges_.append(tree_thresholds(tree))
        return self


def tree_thresholds(tree) -> np.ndarray:
    """The sorted split thresholds of a fitted scikit-learn decision tree (its internal nodes; leaves have
    ``feature == -2``)."""
    t = tree.tree_
    return np.sort(t.threshold[t.feature >= 0]).astype(np.float64)


class EdgeBinner(_Binner):
    """Custom edges (P3), the same for every column, with ``np.digitize`` semantics: bin i holds
    ``edges[i−1] ≤ v < edges[i]`` (bin 0: ``v < edges[0]``; the last bin: ``v ≥ edges[−1]``), so ``k`` edges make
    ``k + 1`` bins and a value on an edge falls in the bin above it."""

    right_closed = False

    def __init__(self, edges: Sequence[float] = (), *, encode: str = "ordinal"):
        self.edges = edges
        self.encode = encode

    def fit(self, X, y=None) -> EdgeBinner:
        from sklearn.utils.validation import validate_data

        self._check_encode()
        edges = np.asarray(self.edges, dtype=np.float64)
        if edges.ndim != 1 or len(edges) == 0 or not np.all(np.diff(edges) > 0) or not np.isfinite(edges).all():
            raise ConfigError(f"edges must be a non-empty, strictly increasing list of numbers, got {self.edges!r}")
        X = validate_data(self, X, reset=True, dtype=np.float64)
        self.edges_ = [edges.copy() for _ in range(X.shape[1])]
        return self


def _names(value: Any, what: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(c, str) for c in value):
        raise ConfigError(f"{what} must be a list of column names, got {value!r}")
    return list(value)


def _mapping(value: Any, what: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what} must map column names to settings, got {value!r}")
    return value


def _binner(column: str, setting: Any):
    from sklearn.preprocessing import KBinsDiscretizer

    setting = _mapping(setting, f"bins.{column}")
    encode = setting.get("encode", "ordinal")
    if encode not in ENCODINGS:
        raise ConfigError(f"bins.{column}.encode must be one of {', '.join(ENCODINGS)}, got {encode!r}")
    unknown = set(setting) - {"strategy", "n", "edges", "encode"}
    if unknown:
        raise ConfigError(f"bins.{column} has unknown settings {sorted(unknown)}: use strategy and n, or edges")
    if "edges" in setting:
        if "strategy" in setting or "n" in setting:
            raise ConfigError(f"bins.{column}: give either edges or strategy and n, not both")
        return EdgeBinner(list(setting["edges"]), encode=encode)
    strategy, n = setting.get("strategy"), setting.get("n")
    if strategy not in STRATEGIES:
        raise ConfigError(f"bins.{column}: unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)} "
                          f"or give edges")
    if not (isinstance(n, int) and not isinstance(n, bool) and n >= 2):
        raise ConfigError(f"bins.{column}.n must be a whole number ≥ 2, got {n!r}")
    if strategy == "tree":
        return TreeBinner(n, encode=encode)
    return KBinsDiscretizer(n_bins=n, strategy=strategy, encode="onehot-dense" if encode == "onehot" else "ordinal",
                            random_state=0)


def column_pipeline(spec: Mapping[str, Any], columns: Sequence[str] | None = None) -> ColumnTransformer:
    """An unfitted ``ColumnTransformer`` (P2) that applies to each column what ``spec`` (module docstring) names:
    one-hot and ordinal encoding (P1), binning and binarization (P3), standard scaling, passthrough.
    ``ConfigError`` for an unknown key or strategy, a column named twice, and — when ``columns`` (the frame's
    columns) is given — a column the frame lacks."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import Binarizer, OneHotEncoder, OrdinalEncoder, StandardScaler

    spec = _mapping(spec, "the preprocessing spec")
    unknown = set(spec) - set(SPEC_KEYS)
    if unknown:
        raise ConfigError(f"unknown keys in the preprocessing spec: {sorted(unknown)}; known: {', '.join(SPEC_KEYS)}")
    handle_unknown = spec.get("handle_unknown", "ignore")
    if handle_unknown not in ("ignore", "error"):
        raise ConfigError(f"handle_unknown must be ignore or error, got {handle_unknown!r}")
    remainder = spec.get("remainder", "drop")
    if remainder not in ("drop", "passthrough"):
        raise ConfigError(f"remainder must be drop or passthrough, got {remainder!r}")

    seen: dict[str, str] = {}

    def claim(column: str, where: str) -> str:
        if column in seen:
            raise ConfigError(f"column {column!r} is named twice in the spec ({seen[column]} and {where}): "
                              f"name each column once")
        if columns is not None and column not in columns:
            raise ConfigError(f"{where} names column {column!r}, which the data lacks; its columns: "
                              f"{', '.join(map(str, columns))}")
        seen[column] = where
        return column

    steps: list[tuple[str, Any, list[str]]] = []
    onehot = [claim(c, "onehot") for c in _names(spec.get("onehot", []), "onehot")]
    if onehot:
        drop = "first" if spec.get("drop_first", False) else None
        steps.append(("onehot", OneHotEncoder(drop=drop, handle_unknown=handle_unknown, sparse_output=False), onehot))
    ordinal = _mapping(spec.get("ordinal", {}), "ordinal")
    if ordinal:
        order = [list(_names([str(v) for v in levels], f"ordinal.{c}")) for c, levels in ordinal.items()]
        cols = [claim(c, "ordinal") for c in ordinal]
        steps.append(("ordinal", OrdinalEncoder(categories=order), cols))
    for column, setting in _mapping(spec.get("bins", {}), "bins").items():
        steps.append((f"bins_{column}", _binner(column, setting), [claim(column, "bins")]))
    for column, threshold in _mapping(spec.get("binarize", {}), "binarize").items():
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise ConfigError(f"binarize.{column} must be a number (the threshold), got {threshold!r}")
        steps.append((f"binarize_{column}", Binarizer(threshold=float(threshold)), [claim(column, "binarize")]))
    scale = [claim(c, "scale") for c in _names(spec.get("scale", []), "scale")]
    if scale:
        steps.append(("scale", StandardScaler(), scale))
    passthrough = [claim(c, "passthrough") for c in _names(spec.get("passthrough", []), "passthrough")]
    if passthrough:
        steps.append(("passthrough", "passthrough", passthrough))
    if not steps:
        raise ConfigError(f"the preprocessing spec names no columns: use some of {', '.join(SPEC_KEYS[:-1])}")
    # Readable names ("species_Adelie", "body_mass_g"): each column is named once, so they cannot collide.
    return ColumnTransformer(steps, remainder=remainder, sparse_threshold=0.0, verbose_feature_names_out=False)


def _categorical_steps(ct: ColumnTransformer):
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    for _, transformer, cols in getattr(ct, "transformers_", ct.transformers):
        if isinstance(transformer, OneHotEncoder | OrdinalEncoder):
            yield transformer, list(cols)


def _numeric_columns(ct: ColumnTransformer) -> list[str]:
    """The columns that are binned, binarized or scaled (passthrough columns may hold anything)."""
    from sklearn.preprocessing import Binarizer, KBinsDiscretizer, StandardScaler

    numeric = _Binner | KBinsDiscretizer | Binarizer | StandardScaler
    return [c for _, transformer, cols in getattr(ct, "transformers_", ct.transformers)
            if isinstance(transformer, numeric) for c in cols]


def _check_frame(ct: ColumnTransformer, frame: pd.DataFrame, *, fitted: bool) -> None:
    """ConfigError, naming the column (and value), for what scikit-learn would reject with a less direct message:
    a missing column, a missing or non-numeric cell in a numeric column, a category outside an ordinal order or
    (when fitted with ``handle_unknown="error"``) unseen in training."""
    import pandas as pd

    steps = getattr(ct, "transformers_", ct.transformers)
    needed = [c for name, _, cols in steps if name != "remainder" and isinstance(cols, list) for c in cols]
    for c in needed:
        if c not in frame.columns:
            raise ConfigError(f"the data lacks column {c!r}, which the preprocessing reads; its columns: "
                              f"{', '.join(map(str, frame.columns))}")
    for c in _numeric_columns(ct):
        if not pd.api.types.is_numeric_dtype(frame[c]):
            bad = frame[c][pd.to_numeric(frame[c], errors="coerce").isna() & frame[c].notna()]
            raise ConfigError(f"column {c!r} is binned, binarized or scaled but holds text "
                              f"({bad.iloc[0]!r} in row {bad.index[0]}): fix the value or encode the column")
        if frame[c].isna().any():
            raise ConfigError(f"column {c!r} has missing values (first in row {frame[c].isna().idxmax()}): "
                              f"fill or drop them first")
    for encoder, cols in _categorical_steps(ct):
        if fitted:
            if encoder.handle_unknown != "error":
                continue
            known = encoder.categories_
        elif isinstance(encoder.categories, str):  # "auto": fit learns them
            continue
        else:
            known = encoder.categories
        for c, cats in zip(cols, known, strict=True):
            allowed = set(map(str, cats))
            unseen = [v for v in frame[c].dropna().unique() if str(v) not in allowed]
            if unseen:
                given = not isinstance(encoder.categories, str)  # an ordinal order, not learnt ("auto")
                origin, hint = (("in its given order", "add it to the order") if given else
                                ("seen in the training data", "set handle_unknown: ignore in the spec"))
                raise ConfigError(f"column {c!r} has value {unseen[0]!r}, not {origin} "
                                  f"({', '.join(map(str, cats))}): fix the data, or {hint}")


def fit_frame(ct: ColumnTransformer, frame: pd.DataFrame, y=None) -> ColumnTransformer:
    """``ct`` fitted on the training frame (P2: fitted here only, then applied unchanged by ``transform_frame``);
    ``y`` is the target that tree binning needs. Category columns are compared as text."""
    _check_frame(ct, frame, fitted=False)
    return ct.fit(_as_text(ct, frame), None if y is None else np.asarray(y))


def transform_frame(fitted: ColumnTransformer, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` transformed by a fitted ``ColumnTransformer`` (P2), as a frame with the readable output names of
    ``get_feature_names_out`` and the input's index; ConfigError for a column the data lacks, a missing or
    non-numeric value where a number is needed, and an unseen category when the encoder was told to refuse it."""
    import pandas as pd

    _check_frame(fitted, frame, fitted=True)
    out = fitted.transform(_as_text(fitted, frame))
    out = pd.DataFrame(out, columns=list(fitted.get_feature_names_out()), index=frame.index)
    return out.infer_objects()  # a passthrough text column makes the array object: numbers back to float


def _as_text(ct: ColumnTransformer, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its category columns as text (a CSV's 2008 and a YAML order's "2008" then agree)."""
    cols = [c for _, cs in _categorical_steps(ct) for c in cs]
    if not cols:
        return frame
    frame = frame.copy()
    for c in cols:
        frame[c] = frame[c].map(lambda v: v if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return frame
