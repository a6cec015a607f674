"""Fitted scikit-learn preprocessing saved and loaded without pickle (P2: fitted once on the training split, then
applied unchanged anywhere).

``save_fitted(estimator, directory)`` writes two files:

- ``preprocess.safetensors``: every numeric array of the fitted state (means, scales, bin edges, numeric
  categories), one tensor per array; an object array of arrays (``KBinsDiscretizer.bin_edges_``) or a list of
  arrays is kept element by element under its own keys;
- ``preprocess.json``: per estimator its class (from ``SAVABLE`` only), ``get_params(deep=False)`` and the fitted
  attributes (names ending in ``_``, plus the few private ones ``PRIVATE`` lists, each with why), as JSON where
  they are scalars, strings or lists of strings and as references to the tensors otherwise; nested estimators
  (a ``Pipeline``'s steps, a ``ColumnTransformer``'s ``transformers_``) recursively. It is written last and holds
  the SHA-256 of the tensor file, so a save cut short (new tensors, old or no JSON) is refused on load.

``load_fitted(directory)`` rebuilds an estimator whose ``transform`` and ``get_feature_names_out`` equal the
saved one's: each class is constructed from its parameters and its fitted attributes are set back. Only the
classes in ``SAVABLE`` are ever constructed; nothing from the files is imported or executed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from genlab.atomic import atomic_write_bytes, atomic_write_text
from genlab.errors import ConfigError, LoadError

log = logging.getLogger(__name__)

JSON_NAME, TENSORS_NAME = "preprocess.json", "preprocess.safetensors"
FORMAT, VERSION = "genlab.preprocess", 1

SAVABLE = (
    "sklearn.pipeline.Pipeline",
    "sklearn.compose.ColumnTransformer",
    "sklearn.preprocessing.StandardScaler",
    "sklearn.preprocessing.OneHotEncoder",
    "sklearn.preprocessing.OrdinalEncoder",
    "sklearn.preprocessing.KBinsDiscretizer",
    "sklearn.preprocessing.Binarizer",
    "sklearn.preprocessing.FunctionTransformer",  # identity only: what ColumnTransformer fits for "passthrough"
    "genlab.data.tabular.preprocess.TreeBinner",
    "genlab.data.tabular.preprocess.EdgeBinner",
)

# Private attributes that fit sets and transform reads (scikit-learn 1.9); saved when present.
PRIVATE = {
    # transform branches on whether infrequent categories are grouped, and then reads the mappings
    "OneHotEncoder": ("_infrequent_enabled", "_drop_idx_after_grouping", "_n_features_outs",
                      "_default_to_infrequent_mappings", "_infrequent_indices"),
    # the same for ordinal codes; _missing_indices says which categories are NaN (encoded_missing_value)
    "OrdinalEncoder": ("_infrequent_enabled", "_missing_indices", "_default_to_infrequent_mappings",
                       "_infrequent_indices"),
    # encode="onehot*" one-hot encodes the bin indices with this fitted OneHotEncoder
    "KBinsDiscretizer": ("_encoder",),
    # the column selections transform applies (by name or index), the remainder's and the input-index map
    # that get_feature_names_out and the feature-name checks read
    "ColumnTransformer": ("_columns", "_remainder", "_transformer_to_input_indices", "_n_features",
                          "_name_to_fitted_passthrough"),
}
OUTPUT_CONFIG = "_sklearn_output_config"  # set_output(transform="pandas") on any estimator: kept as chosen


def _classes() -> dict[str, type]:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import (
        Binarizer,
        FunctionTransformer,
        KBinsDiscretizer,
        OneHotEncoder,
        OrdinalEncoder,
        StandardScaler,
    )

    from genlab.data.tabular.preprocess import EdgeBinner, TreeBinner

    classes = (Pipeline, ColumnTransformer, StandardScaler, OneHotEncoder, OrdinalEncoder, KBinsDiscretizer,
               Binarizer, FunctionTransformer, TreeBinner, EdgeBinner)
    return dict(zip(SAVABLE, classes, strict=True))


def _class_path(estimator: Any) -> str:
    classes = _classes()
    for path, cls in classes.items():
        if type(estimator) is cls:
            if cls.__name__ == "FunctionTransformer" and (estimator.func is not None or
                                                         estimator.inverse_func is not None):
                break  # a function would have to be imported or pickled: refused
            return path
    t = type(estimator)
    raise ConfigError(f"cannot save {t.__module__}.{t.__qualname__}: only these classes can be saved (without "
                      f"pickle): {', '.join(p.rsplit('.', 1)[1] for p in SAVABLE)} (FunctionTransformer as the "
                      f"identity only)")


class _Encoder:
    """Values → JSON, numeric arrays set aside as tensors. Lists are JSON lists; everything else that JSON lacks
    is an object with one tag key."""

    def __init__(self) -> None:
        self.tensors: dict[str, np.ndarray] = {}

    def estimator(self, est: Any) -> dict:
        path = _class_path(est)
        params = est.get_params(deep=False)
        names = [k for k in vars(est) if k.endswith("_") and not k.startswith("_") and k not in params]
        names += [k for k in (*PRIVATE.get(type(est).__name__, ()), OUTPUT_CONFIG) if k in vars(est)]
        return {"class": path, "params": {k: self.value(v) for k, v in params.items()},
                "fitted": {k: self.value(getattr(est, k)) for k in names}}

    def value(self, v: Any) -> Any:
        if v is None or isinstance(v, bool | str):
            return v
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            return v if math.isfinite(v) else {"float": repr(v)}
        if isinstance(v, np.generic):
            return {"scalar": self.value(v.item()), "dtype": v.dtype.str}
        if isinstance(v, np.ndarray):
            return self.array(v)
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, tuple):
            return {"tuple": [self.value(x) for x in v]}
        if isinstance(v, dict):
            return {"dict": [[self.value(k), self.value(x)] for k, x in v.items()]}
        if isinstance(v, slice):
            return {"slice": [v.start, v.stop, v.step]}
        if isinstance(v, np.dtype):
            return {"dtype": v.str}
        if isinstance(v, type) and issubclass(v, np.generic | float | int | bool | str):
            return {"type": np.dtype(v).str}
        if hasattr(v, "get_params"):
            return {"estimator": self.estimator(v)}
        raise ConfigError(f"cannot save a value of type {type(v).__name__} ({v!r:.60}) in fitted preprocessing: "
                          f"only numbers, text, arrays and the savable estimators can be saved")

    def array(self, a: np.ndarray) -> dict:
        if a.dtype.kind in "biuf":  # bool, int, unsigned, float → a tensor
            key = f"t{len(self.tensors)}"
            self.tensors[key] = np.ascontiguousarray(a)
            return {"tensor": key}
        if a.dtype.kind in "US":  # fixed-width text
            return {"text_array": a.tolist(), "dtype": a.dtype.str}
        if a.dtype.kind == "O":  # strings, None, numbers or arrays: element by element
            return {"object_array": [self.value(x) for x in a.ravel()], "shape": list(a.shape)}
        raise ConfigError(f"cannot save an array of dtype {a.dtype} in fitted preprocessing")


class _Decoder:
    def __init__(self, tensors: Mapping[str, np.ndarray], classes: Mapping[str, type]) -> None:
        self.tensors, self.classes = tensors, classes

    def estimator(self, d: dict) -> Any:
        cls = self.classes.get(d["class"])
        if cls is None:
            raise LoadError(f"the saved preprocessing names class {d['class']!r}, which genlab does not load "
                            f"(only {', '.join(SAVABLE)})")
        est = cls(**{k: self.value(v) for k, v in d["params"].items()})
        for k, v in d["fitted"].items():
            setattr(est, k, self.value(v))
        return est

    def value(self, v: Any) -> Any:
        if v is None or isinstance(v, bool | str | int | float):
            return v
        if isinstance(v, list):
            return [self.value(x) for x in v]
        tag, body = next(iter(v.items()))
        if tag == "float":
            return float(body)
        if tag == "scalar":
            return np.dtype(v["dtype"]).type(self.value(body))
        if tag == "tensor":
            return np.array(self.tensors[body])  # a writable copy
        if tag == "text_array":
            return np.array(body, dtype=v["dtype"])
        if tag == "object_array":
            a = np.empty(len(body), dtype=object)
            for i, x in enumerate(body):  # one by one: np.array would stack equal-length arrays into 2-D
                a[i] = self.value(x)
            return a.reshape(v["shape"])
        if tag == "tuple":
            return tuple(self.value(x) for x in body)
        if tag == "dict":
            return {self.value(k): self.value(x) for k, x in body}
        if tag == "slice":
            return slice(*body)
        if tag == "dtype":
            return np.dtype(body)
        if tag == "type":
            return np.dtype(body).type
        if tag == "estimator":
            return self.estimator(body)
        raise LoadError(f"the saved preprocessing holds an unknown value tag {tag!r}: save it again")


def save_fitted(estimator: Any, directory: str | Path, *, meta: Mapping[str, Any] | None = None) -> Path:
    """Write the fitted ``estimator`` (a class in ``SAVABLE``; Pipelines and ColumnTransformers of them) to
    ``directory`` as ``preprocess.safetensors`` and then ``preprocess.json`` (module docstring), with ``meta``
    (JSON: e.g. the target column) beside it; ConfigError for a class outside ``SAVABLE``. Returns the folder."""
    import sklearn
    from safetensors.numpy import save
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    enc = _Encoder()
    tree = enc.estimator(estimator)  # refuses a class outside SAVABLE before anything is written
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        raise ConfigError(f"{type(estimator).__name__} is not fitted: fit it on the training data first, then "
                          f"save it") from None
    blob = save(enc.tensors)
    directory = Path(directory)
    atomic_write_bytes(directory / TENSORS_NAME, blob)
    doc = {"format": FORMAT, "version": VERSION, "sklearn": sklearn.__version__,
           "tensors_sha256": hashlib.sha256(blob).hexdigest(), "meta": dict(meta or {}), "estimator": tree}
    atomic_write_text(directory / JSON_NAME, json.dumps(doc, indent=1) + "\n")
    return directory


def _read(directory: str | Path) -> tuple[dict, bytes]:
    directory = Path(directory)
    json_path, tensor_path = directory / JSON_NAME, directory / TENSORS_NAME
    if not json_path.is_file() or not tensor_path.is_file():
        raise LoadError(f"{directory} holds no saved preprocessing ({JSON_NAME} and {TENSORS_NAME}), or its save "
                        f"was cut short: fit and save it again (genlab preprocess TRAIN.csv --spec ... --out DIR)")
    try:
        doc = json.loads(json_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LoadError(f"{json_path} is not valid JSON ({e}): save the preprocessing again") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise LoadError(f"{json_path} is not a genlab preprocessing file: save the preprocessing again")
    blob = tensor_path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != doc.get("tensors_sha256"):
        raise LoadError(f"{tensor_path} does not match {JSON_NAME} (a save cut short, or a file replaced): "
                        f"save the preprocessing again")
    return doc, blob


def load_fitted(directory: str | Path) -> Any:
    """The fitted estimator that ``save_fitted`` wrote to ``directory``; LoadError for a missing, half-written or
    foreign state."""
    import sklearn
    from safetensors.numpy import load

    doc, blob = _read(directory)
    if doc.get("sklearn") != sklearn.__version__:
        log.warning("preprocessing saved with scikit-learn %s, loaded with %s", doc.get("sklearn"),
                    sklearn.__version__)
    try:
        return _Decoder(load(blob), _classes()).estimator(doc["estimator"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise LoadError(f"{Path(directory) / JSON_NAME} cannot be rebuilt ({type(e).__name__}: {e}): save the "
                        f"preprocessing again") from None


def load_meta(directory: str | Path) -> dict:
    """The ``meta`` dict saved beside the fitted state (``save_fitted(..., meta=...)``)."""
    return dict(_read(directory)[0].get("meta", {}))
