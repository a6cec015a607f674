"""``dates``: human-written dates → ISO 8601 (``"Wednesday, 3 March 1999"`` → ``"1999-03-03"``), generated and seeded
(kind ``"seq2seq"``).

A row is a day between 1900-01-01 and 2099-12-31 (73,049 days) written in one of the ``FORMATS``, drawn uniformly:
day-month-year, month-day-year and year-month-day orders, full and three-letter month names, weekdays, ordinals
("3rd"), lower and upper case ("march", "MAR"). Every format names the month, so none is ambiguous as "03/04/1999"
(3 April or March 4) would be. Month and weekday names are written here in English (no locale is read).

**Split** by day: the days are permuted by ``mix_seed(seed)``; the first 5 % are test's, the next 5 % val's, the
rest train's, so a test date was never seen in training, in any format. Each split then draws its ``n`` rows
(a day of its own and a format, uniformly and with replacement, one draw per row) from its own generator
``mix_seed(seed, 1 + split)``: train, val and test never share a generator stream, a split does not change with
another's size, and a smaller ``n`` gives the first rows of a larger one.

Character level on both sides: ``meta["source_vocabulary"]`` holds every character a format can write (sorted,
``Vocabulary(..., unknown=True)``) and ``meta["target_vocabulary"]`` the digits and ``-`` (``unknown``, ``bos``,
``eos``: ``<pad>``, ``<unk>``, ``<bos>``, ``<eos>`` = 0–3): the same for every split, seed and size, so a model
trained on train reads val and test. Joiners ``""`` on both sides.

Fields: ``source`` (N, S) int64 character ids padded with 0 and ``source_lengths`` (N,); ``target`` (N, 10) int64,
the ISO date's characters without ``<bos>``/``<eos>`` (a model adds them), and ``target_lengths`` (N,) (all 10);
``group`` (N,) = 0..N−1, each row its own input (one correct output). ``meta["formats"]`` lists the formats.
"""

from __future__ import annotations

import datetime
import functools

import torch

from genlab.data.g2p import encode_padded
from genlab.data.seeding import mix_seed
from genlab.data.tensors import TensorData
from genlab.errors import ConfigError
from genlab.vocab import Vocabulary

FIRST, LAST = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")  # date.weekday() order
#: ``str.format`` patterns over ``date_fields``: {d} 3, {dd} 03, {dth} 3rd, {month} March, {mon} Mar, {weekday}
#: Wednesday, {wkd} Wed, {year} 1999; ``.lower()`` / ``.upper()`` variants are fields of their own
FORMATS = ("{d} {month} {year}", "{dd} {month} {year}", "{month} {d}, {year}", "{d} {mon} {year}",
           "{mon} {d}, {year}", "{weekday}, {d} {month} {year}", "{weekday}, {month} {d}, {year}",
           "{wkd} {d} {mon} {year}", "{month_lower} {d} {year}", "{d} {mon_upper} {year}", "{dth} {month} {year}",
           "the {dth} of {month} {year}", "{month} {dth}, {year}", "{year} {month} {d}", "{d} {month_lower} {year}")
VAL_SHARE = TEST_SHARE = 0.05
SPLITS = ("train", "val", "test")


def ordinal(day: int) -> str:
    """``1`` → ``"1st"``, ``2`` → ``"2nd"``, ``3`` → ``"3rd"``, ``11`` → ``"11th"``, ``22`` → ``"22nd"``."""
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def date_fields(date: datetime.date) -> dict[str, str]:
    """The pieces ``FORMATS`` write ``date`` with."""
    month, weekday = MONTHS[date.month - 1], WEEKDAYS[date.weekday()]
    return {"d": str(date.day), "dd": f"{date.day:02d}", "dth": ordinal(date.day), "month": month,
            "month_lower": month.lower(), "mon": month[:3], "mon_upper": month[:3].upper(), "weekday": weekday,
            "wkd": weekday[:3], "year": str(date.year)}


def render(date: datetime.date, form: int) -> str:
    """``date`` written in ``FORMATS[form]``."""
    return FORMATS[form].format(**date_fields(date))


@functools.lru_cache(maxsize=1)
def vocabularies() -> tuple[Vocabulary, Vocabulary]:
    """``(source characters, target characters)``: every character the formats write (every day of 2000 in every
    format, and the ten digits), and the ISO dates' digits and ``-``; sorted, the target's with ``<bos>``, ``<eos>``."""
    year = [FIRST.replace(year=2000) + datetime.timedelta(days=k) for k in range(366)]
    characters = sorted({c for d in year for f in range(len(FORMATS)) for c in render(d, f)} | set("0123456789"))
    return Vocabulary(characters, unknown=True), Vocabulary(sorted("0123456789-"), unknown=True, bos=True, eos=True)


def day_pool(split: str, seed: int) -> torch.Tensor:
    """The day numbers (0 = 1900-01-01) of ``split``: a permutation of all days by ``mix_seed(seed)``, its first
    5 % test, the next 5 % val, the rest train."""
    n = (LAST - FIRST).days + 1
    n_test, n_val = round(n * TEST_SHARE), round(n * VAL_SHARE)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(mix_seed(seed)))  # (n,)
    return {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}[split]


def load_dates(split: str = "train", *, n_train: int = 10_000, n_val: int = 500, n_test: int = 1_000,
               seed: int = 0) -> TensorData:
    """``split`` of the date translation task: ``{n_train, n_val, n_test}`` rows (written date → ISO date)."""
    if split not in SPLITS:
        raise ConfigError(f"dates has no split {split!r}: use one of {list(SPLITS)}")
    n = {"train": n_train, "val": n_val, "test": n_test}[split]
    g = torch.Generator().manual_seed(mix_seed(seed, 1 + SPLITS.index(split)))
    pool = day_pool(split, seed)
    draws = torch.randint(len(pool) * len(FORMATS), (n,), generator=g)  # (n,) one (day, format) pair per row
    days, forms = pool[draws // len(FORMATS)].tolist(), (draws % len(FORMATS)).tolist()  # (n,), (n,)
    dates = [FIRST + datetime.timedelta(days=d) for d in days]
    sources, targets = [render(d, f) for d, f in zip(dates, forms, strict=True)], [d.isoformat() for d in dates]
    characters, iso = vocabularies()
    source, source_lengths = encode_padded(sources, characters)  # (N, S), (N,)
    target, target_lengths = encode_padded(targets, iso)  # (N, 10), (N,)
    return TensorData({"source": source, "source_lengths": source_lengths, "target": target,
                       "target_lengths": target_lengths, "group": torch.arange(n, dtype=torch.int64)},
                      kind="seq2seq", name="dates", split=split,
                      lengths={"source": "source_lengths", "target": "target_lengths"},
                      meta={"source_vocabulary": characters.to_list(), "target_vocabulary": iso.to_list(),
                            "source_joiner": "", "target_joiner": "", "formats": list(FORMATS)})
