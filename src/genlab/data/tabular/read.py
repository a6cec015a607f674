"""Reading a CSV or JSON file (or records from an HTTP API) into a typed table (P4, data gathering).

``read_table(path, dtypes=..., dates=..., types=..., missing=...)`` reads with pandas and returns a ``Table``: the
frame, each column's type (``numeric``, ``categorical``, ``datetime``, ``boolean``: what ``frame.encode_frame``
takes), a ``MissingReport`` (per column, and rows with any missing cell) and where it came from. A column's type is
inferred from its cells and may be overridden (``types={"col": "categorical"}``):

- a number column is ``numeric``, even with very few distinct whole values (a year, a count of children);
- text whose every cell is an ISO date (``2012-01-31``, ``2012/01/31``, with a time or not) is ``datetime``;
- text with at most two values of one pair true/false, yes/no, t/f, y/n, 0/1 (any case), and JSON booleans, is
  ``boolean``;
- text whose every cell reads as a number (``"3.5"`` in JSON) is ``numeric``; any other text ``categorical``.

``dtypes={"col": "float" | "int" | "str" | "category" | "bool"}`` sets how a column is read (and so its type);
``dates=[...]`` parses columns to ``datetime64``. Every problem is a one-line ``ConfigError`` naming the file, the
line (or record) and the column, and what to do. pandas is imported inside the functions: the CLI's fast paths do
not pay for it.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genlab.columns import CATEGORICAL, NUMERIC
from genlab.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

DATETIME, BOOLEAN = "datetime", "boolean"
TYPES = (NUMERIC, CATEGORICAL, DATETIME, BOOLEAN)  # as genlab.data.tabular.frame.TYPES
DTYPES = {"float": NUMERIC, "int": NUMERIC, "str": CATEGORICAL, "category": CATEGORICAL, "bool": BOOLEAN}
MISSING = ("keep", "drop", "error")
BOOL_PAIRS = ({"true", "false"}, {"yes", "no"}, {"t", "f"}, {"y", "n"}, {"1", "0"})
TRUE = {"true", "yes", "t", "y", "1"}
ISO_DATE = re.compile(r"^\d{4}[-/]\d{1,2}[-/]\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


@dataclasses.dataclass(frozen=True)
class MissingReport:
    """Missing cells: ``counts`` column → number of missing cells (every column, in order), ``rows`` the rows with
    any missing cell, ``dropped`` how many of them were dropped (``missing="drop"``)."""

    counts: dict[str, int]
    rows: int
    dropped: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        """One line: ``"no missing values"`` or ``"3 rows with a missing value (sex 3, age 1); dropped"``."""
        if not self.rows:
            return "no missing values"
        cols = ", ".join(f"{c} {n}" for c, n in self.counts.items() if n)
        return f"{self.rows} row(s) with a missing value ({cols})" + ("; dropped" if self.dropped else "")


@dataclasses.dataclass
class Table:
    """A read table: its ``frame`` (pandas), each column's type in ``types`` (one of ``TYPES``), the ``missing``
    report and the ``source`` (a path or URL)."""

    frame: pd.DataFrame
    types: dict[str, str]
    missing: MissingReport
    source: str

    def encode(self):
        """The column spec, ``numeric`` (N, Dn) float32 and ``categorical`` (N, Dc) int64 (``frame.encode_frame``)."""
        from genlab.data.tabular.frame import encode_frame

        return encode_frame(self.frame, self.types)


# --- options as the CLI and --set give them ------------------------------------------------------------------
def parse_types(text: str | Mapping[str, str] | None) -> dict[str, str]:
    """``"col:categorical,col2:datetime"`` (or a mapping) as ``{"col": "categorical", ...}``; ``ConfigError`` for a
    malformed item or an unknown type."""
    if not text:
        return {}
    items = text.items() if isinstance(text, Mapping) else []
    if not isinstance(text, Mapping):
        for item in str(text).split(","):
            name, sep, kind = item.partition(":")
            if not sep or not name.strip():
                raise ConfigError(f"types {text!r}: write each as COLUMN:TYPE, separated by commas "
                                  f"(e.g. 'sex:categorical,day:datetime'), got {item!r}")
            items.append((name.strip(), kind.strip()))
    out = {}
    for name, kind in items:
        if kind not in TYPES:
            raise ConfigError(f"column {name!r}: type {kind!r} is not one of {', '.join(TYPES)}")
        out[name] = kind
    return out


def parse_names(text: str | Sequence[str] | None) -> list[str]:
    """``"a,b"`` (or a list) as ``["a", "b"]``."""
    if not text:
        return []
    items = str(text).split(",") if isinstance(text, str) else list(text)
    return [s.strip() for s in items if str(s).strip()]


# --- reading a file ------------------------------------------------------------------------------------------
def read_table(path: str | Path, *, dtypes: Mapping[str, str] | None = None, dates: Iterable[str] = (),
               types: Mapping[str, str] | None = None, missing: str = "keep", drop: Iterable[str] = (),
               encoding: str = "utf-8", format: str | None = None) -> Table:
    """The CSV or JSON file at ``path`` as a ``Table`` (P4). ``format``: ``csv``, ``json`` (records: a list of
    objects; or lines) or ``jsonl`` (one object per line); None: by the suffix (``.json``, ``.jsonl``/``.ndjson``,
    else CSV). ``drop``: columns left out; ``missing``: ``keep`` (report only), ``drop`` the rows with a missing
    cell (reported), or ``error`` naming the column and first row."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file: pass the path of a CSV or JSON file")
    data = path.read_bytes()
    if not data.strip():
        raise ConfigError(f"{path} is empty: pass a file with a header row and data rows (CSV) or records (JSON)")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path} is not {encoding} text: byte {e.start} is {data[e.start:e.start + 1]!r}; "
                          f"convert it to UTF-8, or pass its encoding (encoding='latin-1', --set "
                          f"data.encoding=latin-1)") from None
    except LookupError:
        raise ConfigError(f"unknown encoding {encoding!r}: use e.g. utf-8, latin-1, cp1252") from None
    text = text.removeprefix("\ufeff")
    fmt = format or {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(path.suffix.lower(), "csv")
    if fmt == "csv":
        frame, where = _read_csv(text, str(path), dtypes or {})
    elif fmt in ("json", "jsonl"):
        records = _json_records(text, str(path), lines=fmt == "jsonl")
        frame, where = _records_frame(records, str(path)), _record_where
    else:
        raise ConfigError(f"unknown format {format!r}: use csv, json or jsonl")
    return finish(frame, str(path), where=where, dtypes=dtypes, dates=dates, types=types, missing=missing, drop=drop)


def table_from_records(records: Sequence[Any], *, source: str, dtypes: Mapping[str, str] | None = None,
                       dates: Iterable[str] = (), types: Mapping[str, str] | None = None, missing: str = "keep",
                       drop: Iterable[str] = ()) -> Table:
    """JSON records (a list of objects, e.g. from an HTTP API) as a ``Table``, as ``read_table`` infers it."""
    return finish(_records_frame(_check_records(records, source), source), source, where=_record_where,
                  dtypes=dtypes, dates=dates, types=types, missing=missing, drop=drop)


def _row_where(k: int) -> str:
    return f"row {k + 1}"


def _record_where(k: int) -> str:
    return f"record {k + 1}"


def _read_csv(text: str, source: str, dtypes: Mapping[str, str]):
    """The frame of CSV ``text`` (every overridden column read as text) and row → 'line L' ; ragged rows named."""
    import pandas as pd

    reader = csv.reader(io.StringIO(text, newline=""))
    header, lines = None, []
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line, as pandas skips it
            if header is None:
                header = row
                continue
            if len(row) != len(header):
                raise ConfigError(f"{source} line {reader.line_num} has {len(row)} field(s), the header "
                                  f"{len(header)}: fix that row (a missing or extra comma, or an unquoted comma "
                                  f"inside a value)")
            lines.append(reader.line_num)
    except csv.Error as e:
        raise ConfigError(f"{source} line {reader.line_num}: {e}: fix the quoting of that row") from None
    if header is None or not lines:
        raise ConfigError(f"{source} has a header but no data rows: add rows below the header")
    if len(set(header)) != len(header):
        twice = sorted({h for h in header if header.count(h) > 1})
        raise ConfigError(f"{source}: column(s) {', '.join(map(repr, twice))} appear twice in the header: rename one")
    _check_known(dtypes, header, source, "dtypes")
    as_text = {c: str for c in dtypes}
    frame = pd.read_csv(io.StringIO(text), dtype=as_text or None, skipinitialspace=True)
    return frame, lambda k: f"line {lines[k]}" if k < len(lines) else _row_where(k)


def _json_records(text: str, source: str, *, lines: bool) -> list[Any]:
    if not lines:
        try:
            return _check_records(json.loads(text), source)
        except json.JSONDecodeError as e:
            if e.msg != "Extra data":
                raise ConfigError(f"{source} line {e.lineno} column {e.colno}: not valid JSON ({e.msg}): fix the file, "
                                  f"or pass a CSV file") from None
    records = []
    for i, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ConfigError(f"{source} line {i}: not valid JSON ({e.msg}); line-delimited JSON holds one "
                                  f"object per line") from None
    return _check_records(records, source)


def _check_records(records: Any, source: str) -> list[dict]:
    if isinstance(records, dict):
        lists = [k for k, v in records.items() if isinstance(v, list)]
        hint = f" (its list(s) under {', '.join(map(repr, lists))} may be the records: extract them)" if lists else ""
        raise ConfigError(f"{source} holds one JSON object with keys {', '.join(map(repr, list(records)[:8]))}, not "
                          f"records{hint}: genlab reads a list of objects, or one object per line")
    if not isinstance(records, list):
        raise ConfigError(f"{source} holds a JSON {type(records).__name__}, not records: genlab reads a list of "
                          f"objects, or one object per line")
    if not records:
        raise ConfigError(f"{source} holds no records: pass a non-empty list of objects")
    for k, r in enumerate(records):
        if not isinstance(r, dict):
            raise ConfigError(f"{source} record {k + 1} is a JSON {type(r).__name__}, not an object: genlab reads a "
                              f"list of objects (one per row, keys as columns)")
    return records


def _records_frame(records: list[dict], source: str) -> pd.DataFrame:
    """The records as a frame, one column per key (a nested object's keys as columns ``a.b``)."""
    import pandas as pd

    return pd.json_normalize(records)  # nested objects become columns "a.b"


# --- types, dtypes, dates, missing -------------------------------------------------------------------------
def finish(frame: pd.DataFrame, source: str, *, where=_row_where, dtypes: Mapping[str, str] | None = None,
           dates: Iterable[str] = (), types: Mapping[str, str] | None = None, missing: str = "keep",
           drop: Iterable[str] = ()) -> Table:
    """``frame`` with its dtype overrides, dates, inferred (and overridden) types and missing cells handled.
    ``where(k)`` names the k-th row in messages (a file's line, a record)."""
    import pandas as pd

    dtypes, types, dates, drop = dict(dtypes or {}), dict(types or {}), list(dates), list(drop)
    if missing not in MISSING:
        raise ConfigError(f"missing={missing!r}: use one of {', '.join(MISSING)}")
    frame.columns = [str(c) for c in frame.columns]
    for what, names in (("dtypes", dtypes), ("dates", dates), ("types", types), ("drop", drop)):
        _check_known(names, list(frame.columns), source, what)
    frame = frame.drop(columns=drop).reset_index(drop=True)
    for name in frame.columns:  # text cells stripped of spaces; empty text is missing
        if frame[name].dtype == object:
            frame[name] = frame[name].map(lambda v: (v.strip() or None) if isinstance(v, str) else v)
    for name in frame.columns:
        if frame[name].isna().all():
            raise ConfigError(f"{source}: column {name!r} has no values (all {len(frame)} missing): drop it "
                              f"(drop=[{name!r}], --set data.drop={name}) or fill it in")
    for name, dtype in dtypes.items():
        frame[name] = _as_dtype(frame[name], dtype, name, source, where)
    for name in dates:
        frame[name] = _as_dates(frame[name], name, source, where)
    for name, kind in types.items():
        if kind not in TYPES:
            raise ConfigError(f"column {name!r}: type {kind!r} is not one of {', '.join(TYPES)}")
    inferred = {}
    for name in frame.columns:
        kind = types.get(name) or (DTYPES[dtypes[name]] if name in dtypes else None)
        kind = kind or (DATETIME if name in dates else None) or infer_type(frame[name])
        frame[name] = _as_type(frame[name], kind, name, source, where)
        inferred[name] = kind
    counts = {c: int(n) for c, n in frame.isna().sum().items()}
    holes = frame.isna().any(axis=1)
    report = MissingReport(counts, int(holes.sum()))
    if report.rows and missing == "error":
        name = next(c for c, n in counts.items() if n)
        first = int(frame[name].isna().to_numpy().nonzero()[0][0])
        raise ConfigError(f"{source}: column {name!r} has {counts[name]} missing value(s), the first at "
                          f"{where(first)}: fill them in, or drop those rows (missing='drop')")
    if report.rows and missing == "drop":
        frame = frame[~holes].reset_index(drop=True)
        report = dataclasses.replace(report, dropped=report.rows)
        if frame.empty:
            raise ConfigError(f"{source}: every row has a missing value ({report.summary()}): drop the emptiest "
                              f"column instead (drop=[...])")
    assert isinstance(frame, pd.DataFrame)
    return Table(frame, inferred, report, source)


def _check_known(names: Iterable[str], columns: list[str], source: str, what: str) -> None:
    unknown = [n for n in names if n not in columns]
    if unknown:
        raise ConfigError(f"{source} has no column {unknown[0]!r} (named in {what}): its columns are "
                          f"{', '.join(columns)}")


def infer_type(cells: pd.Series) -> str:
    """A column's type from its (non-missing) cells; see the module's docstring."""
    import pandas as pd

    values = cells.dropna()
    if pd.api.types.is_bool_dtype(cells) or (len(values) and values.map(lambda v: isinstance(v, bool)).all()):
        return BOOLEAN
    if pd.api.types.is_datetime64_any_dtype(cells):
        return DATETIME
    if pd.api.types.is_numeric_dtype(cells):
        return NUMERIC
    text = values.map(lambda v: str(v).strip())
    distinct = {t.lower() for t in text.unique()}
    if any(distinct <= pair for pair in BOOL_PAIRS):
        return BOOLEAN
    if text.map(lambda t: bool(ISO_DATE.match(t))).all():
        if pd.to_datetime(text, errors="coerce", format="mixed").notna().all():
            return DATETIME
    nested = values.map(lambda v: isinstance(v, list | dict)).any()
    if not nested and pd.to_numeric(text, errors="coerce").notna().all():
        return NUMERIC
    return CATEGORICAL


def _first_bad(cells: pd.Series, parsed: pd.Series) -> int | None:
    bad = (cells.notna() & parsed.isna()).to_numpy().nonzero()[0]
    return int(bad[0]) if len(bad) else None


def _as_dtype(cells: pd.Series, dtype: str, name: str, source: str, where) -> pd.Series:
    """``cells`` read as ``dtype`` (float, int, str, category, bool)."""
    if dtype not in DTYPES:
        raise ConfigError(f"column {name!r}: dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    if dtype in ("float", "int"):
        values = _as_type(cells, NUMERIC, name, source, where)
        if dtype == "int":
            k = _first_bad(values, values.where(values.isna() | (values == values.round())))
            if k is not None:
                raise ConfigError(f"{source}: column {name!r} is declared int but {where(k)} holds {cells.iloc[k]!r}: "
                                  f"declare it float, or fix the cell")
            values = values.astype("Int64")
        return values
    if dtype == "bool":
        return _as_type(cells, BOOLEAN, name, source, where)
    text = cells.map(lambda v: v if v is None or (isinstance(v, float) and v != v) else _text(v))
    return text.astype("category") if dtype == "category" else text.astype(object)


def _as_dates(cells: pd.Series, name: str, source: str, where) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(cells):
        return cells
    text = cells.map(lambda v: v if v is None or (isinstance(v, float) and v != v) else str(v))
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    if _first_bad(text, parsed) is not None:
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    k = _first_bad(text, parsed)
    if k is not None:
        raise ConfigError(f"{source}: column {name!r} is declared a date but {where(k)} holds {cells.iloc[k]!r}: "
                          f"fix the cell, or leave the column out of dates")
    return parsed


def _as_type(cells: pd.Series, kind: str, name: str, source: str, where) -> pd.Series:
    """``cells`` as a column of type ``kind``: numbers, datetime64, booleans (nullable) or text."""
    import pandas as pd

    if kind == NUMERIC:
        if pd.api.types.is_numeric_dtype(cells) and not pd.api.types.is_bool_dtype(cells):
            return cells
        parsed = pd.to_numeric(cells.map(lambda v: v.strip() if isinstance(v, str) else v), errors="coerce")
        k = _first_bad(cells, parsed)
        if k is not None:
            raise ConfigError(f"{source}: column {name!r} is declared numeric but {where(k)} holds "
                              f"{cells.iloc[k]!r}: fix the cell, or declare the column categorical "
                              f"(types={{{name!r}: 'categorical'}})")
        return parsed.astype(float)
    if kind == DATETIME:
        return _as_dates(cells, name, source, where)
    if kind == BOOLEAN:
        if pd.api.types.is_bool_dtype(cells):
            return cells
        out = []
        for k, v in enumerate(cells):
            if v is None or (isinstance(v, float) and v != v):
                out.append(None)
                continue
            t = _text(v).lower()
            if t not in TRUE | {"false", "no", "f", "n", "0"}:
                raise ConfigError(f"{source}: column {name!r} is declared boolean but {where(k)} holds {v!r}: use "
                                  f"true/false, yes/no or 1/0, or declare it categorical")
            out.append(t in TRUE)
        return pd.Series(out, index=cells.index, dtype="boolean")
    if kind == CATEGORICAL:
        if isinstance(cells.dtype, pd.CategoricalDtype):
            return cells
        return cells.map(lambda v: v if v is None or (isinstance(v, float) and v != v) else _text(v)).astype(object)
    raise ConfigError(f"column {name!r}: type {kind!r} is not one of {', '.join(TYPES)}")


def _text(v: Any) -> str:
    """A cell as category text: a whole float as an integer (``3.0`` → ``"3"``), text stripped."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()
