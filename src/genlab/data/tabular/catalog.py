"""Offline tabular datasets, and a user's CSV/JSON file, as tables (kind ``"table"``, ``genlab.data.table``).

Each is read through ``read`` (types inferred, then set where the data's documentation says otherwise), encoded by
``frame.encode_frame`` into ``numeric`` (N, Dn) float32 and ``categorical`` (N, Dc) int64 with the column spec in
``meta["columns"]``, and its rows cut into train / val / test by shares (``splits.fraction_split``: options ``seed``,
``val_fraction``, ``test_fraction``, as ``cars``'). Package files are read as files (no package imported, but
scikit-learn's for ``breast-cancer``).

- ``penguins``: palmerpenguins' ``penguins.csv``, 344 penguins less the 11 with a missing value: 333 rows;
  ``species``, ``island``, ``sex`` categorical, four measurements and ``year`` numeric (whole numbers).
- ``seattle-weather``: vega-datasets' ``seattle-weather.csv``, 1,461 days: ``date`` a datetime, ``weather``
  categorical, precipitation, temperatures and wind numeric.
- ``fair``: statsmodels' ``fair.csv`` (Fair 1978), 6,366 women; ``affairs`` numeric. The coded columns become
  categories whose names sort in their order: ``rate_marriage`` ``1 very poor`` … ``5 very good``, ``religious``
  ``1 not`` … ``4 strongly``, ``occupation`` and ``occupation_husb`` ``1 student`` … ``6 professional``; ``educ``
  (years of schooling), ``age``, ``yrs_married`` and ``children`` stay numeric.
- ``randhie``: statsmodels' ``randhie.csv`` (RAND health insurance experiment), 20,190 person-years; the three
  one-hot self-rated health columns ``hlthg``, ``hlthf``, ``hlthp`` (never two at once) become one categorical
  ``health`` (excellent, good, fair, poor), ``idp`` (individual deductible plan, 0/1) boolean, the rest numeric.
- ``breast-cancer``: scikit-learn's ``load_breast_cancer`` (Wisconsin diagnostic), 569 tumours: 30 numeric features
  and ``target`` categorical (``malignant``, ``benign``).
- ``tabular``: a user's CSV or JSON file (``--data tabular --set data.path=FILE``) read by ``read.read_table``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from genlab.data.options import FRACTION_OPTIONS, REQUIRED, DataOption
from genlab.data.packaged import package_path
from genlab.data.tabular.read import BOOLEAN, CATEGORICAL, finish, parse_names, parse_types, read_table

if TYPE_CHECKING:
    from genlab.data.tabular.read import Table
    from genlab.data.tensors import TensorData

log = logging.getLogger(__name__)

TABULAR_OPTIONS = (
    DataOption("path", str, REQUIRED, "the CSV or JSON file (a list of objects, or one object per line)"),
    DataOption("types", str, "", "type overrides, COLUMN:TYPE,... with TYPE numeric, categorical, datetime or "
                                 "boolean (empty: inferred)"),
    DataOption("dates", str, "", "columns parsed as dates, comma-separated"),
    DataOption("drop", str, "", "columns left out (identifiers, free text), comma-separated"),
    DataOption("missing", str, "drop", "rows with a missing value: drop them (reported) or stop with an error",
               choices=("drop", "error")),
    DataOption("encoding", str, "utf-8", "the file's text encoding (e.g. latin-1)"),
    DataOption("target", str, "", "the column a synthetic table's utility predicts (genlab eval --metrics utility); "
                                  "empty: the last categorical column"),
    *FRACTION_OPTIONS,
)

FAIR_CODES = {
    "rate_marriage": ("very poor", "poor", "fair", "good", "very good"),
    "religious": ("not", "mildly", "fairly", "strongly"),
    "occupation": ("student", "farming, semi-skilled or unskilled", "white-collar",
                   "teacher, nurse, artist, technician or skilled", "managerial or business", "professional"),
}
FAIR_CODES["occupation_husb"] = FAIR_CODES["occupation"]


def _split(table: Table, split: str, *, name: str, seed: int, val_fraction: float,
           test_fraction: float, target: str = "") -> TensorData:
    from genlab.data.table import table_split

    if table.missing.dropped:
        log.info("%s: %s", table.source, table.missing.summary())
    columns, numeric, categorical = table.encode()
    return table_split(columns, numeric, categorical, split, name=name, seed=seed, val_fraction=val_fraction,
                       test_fraction=test_fraction, what=name, target=target)


def load_tabular(split: str = "train", *, path: str, types: str = "", dates: str = "", drop: str = "",
                 missing: str = "drop", encoding: str = "utf-8", target: str = "", seed: int = 0,
                 val_fraction: float = 0.1, test_fraction: float = 0.1) -> TensorData:
    """``split`` of a user's CSV or JSON file at ``path``, types inferred (``read.read_table``) and overridden by
    ``types`` (``"col:categorical,day:datetime"``); ``target``: the column a synthetic table's utility predicts."""
    table = read_table(path, types=parse_types(types), dates=parse_names(dates), drop=parse_names(drop),
                       missing=missing, encoding=encoding)
    return _split(table, split, name="tabular", seed=seed, val_fraction=val_fraction, test_fraction=test_fraction,
                  target=target)


# --- the offline datasets --------------------------------------------------------------------------------------
def penguins_table() -> Table:
    """palmerpenguins' ``penguins.csv``, rows with a missing value dropped (333 of 344)."""
    path = package_path("palmerpenguins", "data", "penguins.csv", dataset="penguins", pip="palmerpenguins")
    return read_table(path, missing="drop")


def seattle_weather_table() -> Table:
    """vega-datasets' ``seattle-weather.csv`` (1,461 days), ``date`` parsed."""
    path = package_path("vega_datasets", "_data", "seattle-weather.csv", dataset="seattle-weather",
                        pip="vega-datasets")
    return read_table(path, dates=["date"], types={"weather": CATEGORICAL})


def _statsmodels_file(name: str) -> Path:
    return package_path("statsmodels", "datasets", name, f"{name}.csv", dataset=name, pip="statsmodels")


def fair_table() -> Table:
    """statsmodels' ``fair.csv`` (6,366 rows), the coded columns as named categories (module docstring)."""
    table = read_table(_statsmodels_file("fair"), dtypes={c: "int" for c in FAIR_CODES})
    frame = table.frame
    for name, labels in FAIR_CODES.items():
        frame[name] = frame[name].map(lambda k, labels=labels: f"{int(k)} {labels[int(k) - 1]}")
    return finish(frame, table.source, types={c: CATEGORICAL for c in FAIR_CODES})


def randhie_table() -> Table:
    """statsmodels' ``randhie.csv`` (20,190 rows), self-rated health as one categorical column, ``idp`` boolean."""
    import numpy as np

    frame = read_table(_statsmodels_file("randhie")).frame
    health = np.select([frame["hlthg"] == 1, frame["hlthf"] == 1, frame["hlthp"] == 1], ["good", "fair", "poor"],
                       default="excellent")
    frame = frame.drop(columns=["hlthg", "hlthf", "hlthp"]).assign(health=health)
    return finish(frame, "statsmodels randhie.csv", types={"idp": BOOLEAN, "health": CATEGORICAL})


def breast_cancer_table() -> Table:
    """scikit-learn's breast cancer data (569 rows): 30 numeric features, ``target`` malignant or benign."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    frame = pd.DataFrame(d.data, columns=list(d.feature_names))
    frame["target"] = d.target_names[d.target]
    return finish(frame, "scikit-learn load_breast_cancer", types={"target": CATEGORICAL})


def _offline(name: str, table: Callable[[], Table], target: str, what: str) -> Callable[..., TensorData]:
    """The loader of an offline table: ``split`` of ``table()`` under ``name`` (options ``seed``, ``val_fraction``,
    ``test_fraction``), utility predicting ``target``."""
    def load(split: str = "train", *, seed: int = 0, val_fraction: float = 0.1,
             test_fraction: float = 0.1) -> TensorData:
        return _split(table(), split, name=name, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction,
                      target=target)

    load.__name__ = load.__qualname__ = f"load_{name.replace('-', '_')}"
    load.__doc__ = f"``split`` of ``{name}`` ({what}); utility predicts ``{target}``."
    return load


load_penguins = _offline("penguins", penguins_table, "species", "333 rows, 8 columns: 3 categorical")
load_seattle_weather = _offline("seattle-weather", seattle_weather_table, "weather",
                                "1,461 rows, 6 columns: ``date`` datetime, ``weather`` categorical")
load_fair = _offline("fair", fair_table, "yrs_married", "6,366 rows, 9 columns: 4 categorical")
load_randhie = _offline("randhie", randhie_table, "mdvis",
                        "20,190 rows, 8 columns: ``idp`` boolean, ``health`` categorical")
load_breast_cancer = _offline("breast-cancer", breast_cancer_table, "target",
                              "569 rows, 31 columns: ``target`` categorical")


__all__ = ["TABULAR_OPTIONS", "load_breast_cancer", "load_fair", "load_penguins", "load_randhie",
           "load_seattle_weather", "load_tabular"]
