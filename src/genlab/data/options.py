"""Dataset options, declared by each dataset: a name, a type, a default, what it does, and its allowed values.

``--set data.n_val=1000``, a YAML ``data_options:`` section (or ``data: {name: ..., n_val: 1000}``) and
``genlab.data.load(name, split, **options)`` all pass through ``check_options``: unknown names, wrong types
and values out of range are one-line ``ConfigError``s naming the option, before any data is read. The
resolved options are recorded in the run's ``config.yaml`` (``data_options``), and every verb that reads the
run's data (``eval``, ``sample`` of a translation model, ``embed``, ``denoise``) loads it with them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from genlab.errors import ConfigError

REQUIRED = object()  #: the default of an option that has none: it must be given


@dataclasses.dataclass(frozen=True)
class DataOption:
    """One option of a dataset's loader: ``type`` (int, float, str or bool), ``default`` (``REQUIRED``: none),
    ``help``, and either the allowed ``choices`` or a lower bound ``minimum``. An int option's ``choices`` may
    also hold words (babi's ``task``: 1–16 or ``"all"``)."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None

    def check(self, value: Any, dataset: str) -> Any:
        """``value`` as this option's type, or a ``ConfigError`` naming the dataset, the option and what fits."""
        where = f"dataset {dataset!r} option {self.name!r}"
        if self.type is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{where} must be true or false, got {value!r}")
        elif self.type is int:
            if isinstance(value, str) and value in self.choices:
                return value  # a word among the numbers
            if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float)
                                                                          and value.is_integer())):
                wanted = f"one of {', '.join(map(str, self.choices))}" if self.choices else "a whole number"
                raise ConfigError(f"{where} must be {wanted}, got {value!r}")
            value = int(value)
        elif self.type is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{where} must be a number, got {value!r}")
            value = float(value)
        elif not isinstance(value, str):
            raise ConfigError(f"{where} must be text, got {value!r}")
        if self.choices and value not in self.choices:
            raise ConfigError(f"{where} must be one of {', '.join(map(str, self.choices))}, got {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{where} must be ≥ {self.minimum:g}, got {value!r}")
        return value


def check_options(dataset: str, declared: tuple[DataOption, ...], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` checked against ``declared`` and completed with the defaults: ``{name: value}`` for every option."""
    by_name = {o.name: o for o in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], list(by_name), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(by_name) or "none"
        raise ConfigError(f"dataset {dataset!r} has no option {unknown[0]!r}{hint}: its options are {known}")
    out = {}
    for o in declared:
        if o.name in given and given[o.name] is not None:
            out[o.name] = o.check(given[o.name], dataset)
        elif o.default is REQUIRED:
            raise ConfigError(f"dataset {dataset!r} needs option {o.name!r} ({o.help}): pass --set data.{o.name}=...")
        else:
            out[o.name] = o.default
    return out


# --- the options datasets share ------------------------------------------------------------------
SEED = DataOption("seed", int, 0, "seed of the split (which examples are carved out for validation)", minimum=0)


def n_val(default: int) -> DataOption:
    return DataOption("n_val", int, default, "examples carved out of the training split for validation", minimum=1)


MNIST_OPTIONS = (SEED, n_val(5_000),
                 DataOption("source", str, "auto", "where MNIST is read from", choices=("auto", "package", "files")),
                 DataOption("download", bool, True, "download the IDX files when no other source has them"))
MNIST_BINARIZED_OPTIONS = (*MNIST_OPTIONS,
                           DataOption("binarize_seed", int, 0, "seed of the one Bernoulli draw", minimum=0))
MNIST_MASKED_OPTIONS = (SEED, n_val(5_000))
TOY_OPTIONS = (SEED, DataOption("n_train", int, 50_000, "points drawn for training", minimum=1), n_val(5_000),
               DataOption("n_test", int, 10_000, "points drawn for testing", minimum=1))
DIGITS_OPTIONS = (SEED, n_val(150))
#: a table cut into train / val / test by shares of its rows (``genlab.data.splits.fraction_split``)
FRACTION_OPTIONS = (SEED, DataOption("val_fraction", float, 0.1, "share of the rows for validation", minimum=0.0),
                    DataOption("test_fraction", float, 0.1, "share of the rows for testing", minimum=0.0))
CSV_OPTIONS = (DataOption("path", str, REQUIRED, "the CSV file: a header row, then numeric columns"),
               DataOption("label", str, "", "the column of integer class labels (y); empty: no labels"),
               *FRACTION_OPTIONS)
TABLE_OPTIONS = (DataOption("path", str, REQUIRED, "the CSV file: a header row, then numeric and text columns"),
                 *FRACTION_OPTIONS)
CARS_OPTIONS = FRACTION_OPTIONS
KJV_OPTIONS = (DataOption("block_size", int, 128, "characters a row predicts (a row holds block_size + 1)", minimum=1),)
BABI_OPTIONS = (DataOption("task", int, 1, "the bAbI-style task (Weston et al. 2015): 1–16, or all (joint: every task, "
                           "its number in the field task)", choices=(*range(1, 17), "all", "joint")),
                DataOption("size", str, "1k", "training questions per task, as the paper's two sets",
                           choices=("1k", "10k")),
                DataOption("n_train", int, 0, "training questions per task (0: as size says: 1,000 or 10,000)",
                           minimum=0),
                DataOption("n_val", int, 100, "validation questions per task", minimum=1),
                DataOption("n_test", int, 1_000, "test questions per task", minimum=1),
                DataOption("memory_size", int, 50, "statements a question's memory keeps, the most recent "
                           "(Sukhbaatar et al. 2015: 50)", minimum=1), SEED)
BBC_OPTIONS = (DataOption("seed", int, 0, "seed of the stratified 80/10/10 split (per topic)", minimum=0),
               DataOption("max_words", int, 400, "words kept from the start of each article", minimum=1),
               DataOption("min_count", int, 2, "training-split occurrences a word needs to enter the vocabulary",
                          minimum=1))
CMUDICT_OPTIONS = (DataOption("seed", int, 0, "seed of the 90/5/5 split by word (and so of the vocabularies)",
                              minimum=0),
                   DataOption("n_words", int, 0, "words kept from each split, in its seeded order (0: all)",
                              minimum=0))
DATES_OPTIONS = (DataOption("n_train", int, 10_000, "dates generated for training", minimum=1),
                 DataOption("n_val", int, 500, "dates generated for validation", minimum=1),
                 DataOption("n_test", int, 1_000, "dates generated for testing", minimum=1),
                 DataOption("seed", int, 0, "seed of the split of the days and of each split's draws", minimum=0))
