"""Streams of chunks for online learning (F7, the online half): ``(X, y)`` pairs arriving one after another.

Each chunk is ``X`` float32 ``(n, d)`` and ``y`` int64 ``(n,)`` (class indices ``0..K−1``), numpy arrays. Three
sources, all seeded and deterministic (iterating a ``Stream`` twice gives the same chunks):

- ``csv_chunks``: a CSV file read ``chunk_size`` rows at a time (pandas ``read_csv(chunksize=...)``), never whole;
- ``sea_stream``: the SEA concepts (Street & Kim, "A streaming ensemble algorithm (SEA) for large-scale
  classification", KDD 2001): 3 features uniform in [0, 10], label ``f1 + f2 ≤ θ`` (``f3`` is irrelevant), 10 % of
  the labels flipped; θ switches abruptly at the drift points (by default 7 → 9.5, SEA's two farthest concepts:
  about 21 % of the plane changes label);
- ``digits_stream``: a real table, scikit-learn's 8×8 digits (1,797 images, 64 pixel features in 0..16, 10
  classes), rows drawn at random with replacement; from the drift point on every image is mirrored left ↔ right
  (a covariate drift: the pixels' distribution changes, the digit each image shows — its label — does not).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from genlab.errors import ConfigError

Chunk = tuple[np.ndarray, np.ndarray]  # X float32 (n, d), y int64 (n,)


@dataclasses.dataclass(frozen=True)
class Stream:
    """A re-iterable stream: ``iter(stream)`` yields its chunks from the start (same seed, same chunks).

    ``drift_rows``: the rows (0-based, counted over the whole stream) at which its concept changes; ``classes``:
    the label each class index stands for (known up front, as ``SGDClassifier.partial_fit`` needs)."""

    name: str
    chunks: Callable[[], Iterator[Chunk]]
    n_features: int
    classes: tuple
    drift_rows: tuple[int, ...] = ()
    description: str = ""

    def __iter__(self) -> Iterator[Chunk]:
        return self.chunks()

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def _check_sizes(n: int, chunk_size: int, drift_at: Sequence[float]) -> tuple[int, ...]:
    if n < 1 or chunk_size < 1:
        raise ConfigError(f"a stream needs n ≥ 1 rows and chunk_size ≥ 1, got n={n}, chunk_size={chunk_size}")
    if not all(0.0 < f < 1.0 for f in drift_at) or list(drift_at) != sorted(drift_at):
        raise ConfigError(f"drift_at must be increasing fractions of the stream in (0, 1), got {tuple(drift_at)}")
    return tuple(round(f * n) for f in drift_at)


def _generated(n: int, chunk_size: int, rows: Callable[[np.random.Generator, int, int], Chunk],
               seed: int) -> Callable[[], Iterator[Chunk]]:
    """Chunks of ``rows(rng, start, stop)`` from one generator seeded with ``seed`` (so the stream is deterministic)."""

    def chunks() -> Iterator[Chunk]:
        rng = np.random.default_rng(seed)
        for start in range(0, n, chunk_size):
            yield rows(rng, start, min(n, start + chunk_size))

    return chunks


def sea_stream(n: int = 20_000, chunk_size: int = 500, seed: int = 0, *, drift_at: float | Sequence[float] = 0.5,
               thresholds: Sequence[float] = (7.0, 9.5), noise: float = 0.1) -> Stream:
    """SEA concepts (Street & Kim 2001): ``f ~ U[0, 10]³``, ``y = 1[f1 + f2 ≤ θ]`` with θ = ``thresholds[i]`` from
    row ``drift_at[i−1]·n`` on, each label flipped with probability ``noise`` (so the best accuracy is 1 − noise)."""
    drift_at = (drift_at,) if isinstance(drift_at, (int, float)) else tuple(drift_at)
    drifts = _check_sizes(n, chunk_size, drift_at)
    if len(thresholds) != len(drifts) + 1:
        raise ConfigError(f"SEA needs one threshold per concept: {len(drifts) + 1} for {len(drifts)} drift point(s), "
                          f"got thresholds={tuple(thresholds)}")
    if not 0.0 <= noise < 0.5:
        raise ConfigError(f"noise is the share of flipped labels, in [0, 0.5), got {noise}")

    def rows(rng: np.random.Generator, start: int, stop: int) -> Chunk:
        x = rng.uniform(0.0, 10.0, size=(stop - start, 3))  # (n, 3)
        theta = np.asarray(thresholds)[np.searchsorted(drifts, np.arange(start, stop), side="right")]  # (n,)
        y = (x[:, 0] + x[:, 1] <= theta).astype(np.int64)
        flip = rng.random(stop - start) < noise
        return x.astype(np.float32), np.where(flip, 1 - y, y)

    concepts = " → ".join(f"{t:g}" for t in thresholds)
    return Stream("sea", _generated(n, chunk_size, rows, seed), 3, (0, 1), drifts,
                  f"SEA: y = 1[f1 + f2 ≤ θ], θ {concepts} at row {', '.join(map(str, drifts))}, {noise:.0%} noise")


def digits_stream(n: int = 20_000, chunk_size: int = 500, seed: int = 0, *,
                  drift_at: float | Sequence[float] = 0.5) -> Stream:
    """scikit-learn's 8×8 digits drawn with replacement (``x`` = the 64 pixels, 0..16; ``y`` = the digit); from each
    drift point on the images are mirrored left ↔ right (and back at the next one): the inputs drift, the labels
    keep their meaning. The 1,797 images repeat in a long stream: an online model meets images it has seen."""
    from sklearn.datasets import load_digits

    drift_at = (drift_at,) if isinstance(drift_at, (int, float)) else tuple(drift_at)
    drifts = _check_sizes(n, chunk_size, drift_at)
    bunch = load_digits()
    images = bunch.images.astype(np.float32)  # (1797, 8, 8)
    target = bunch.target.astype(np.int64)  # (1797,)

    def rows(rng: np.random.Generator, start: int, stop: int) -> Chunk:
        pick = rng.integers(0, len(images), size=stop - start)  # (n,)
        x = images[pick]  # (n, 8, 8)
        mirrored = np.searchsorted(drifts, np.arange(start, stop), side="right") % 2 == 1  # (n,)
        x = np.where(mirrored[:, None, None], x[:, :, ::-1], x)
        return np.ascontiguousarray(x.reshape(len(x), 64)), target[pick]

    return Stream("digits", _generated(n, chunk_size, rows, seed), 64, tuple(range(10)), drifts,
                  f"digits: mirrored left-right from row {', '.join(map(str, drifts))}")


def csv_chunks(path: str | os.PathLike, label: str, chunk_size: int = 500, *, features: Sequence[str] | None = None,
               categories: Mapping[str, Sequence] | None = None, classes: Sequence | None = None) -> Iterator[Chunk]:
    """Read a CSV file ``chunk_size`` rows at a time: numeric ``features`` (default: every column but ``label`` and
    the ``categories``' keys) as float32, then each categorical column one-hot over the categories declared for it
    (``categories={"island": ["Biscoe", "Dream", "Torgersen"]}``, in that order; a value outside them is an error);
    ``y`` = the index of the label in ``classes`` (default: the labels are themselves class indices 0, 1, ...).

    Kept simple on purpose: no missing values (fill or drop them first), no dates, no text but the declared
    categories; every error is a ``ConfigError`` naming the file's line (a quoted field spanning lines shifts the
    count)."""
    import pandas as pd

    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be ≥ 1, got {chunk_size}")
    categories = {k: list(v) for k, v in (categories or {}).items()}
    class_index = None if classes is None else {str(c): i for i, c in enumerate(classes)}
    try:
        reader = pd.read_csv(path, chunksize=chunk_size, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise ConfigError(f"no CSV file {os.fspath(path)!r}: check the path") from None
    with reader:
        for frame in reader:
            columns = list(frame.columns)
            if label not in columns:
                raise ConfigError(f"{os.fspath(path)} has no label column {label!r}; its columns: {columns}")
            names = [c for c in columns if c != label and c not in categories] if features is None else list(features)
            missing = [c for c in [*names, *categories] if c not in columns]
            if missing:
                raise ConfigError(f"{os.fspath(path)} has no column(s) {missing}; its columns: {columns}")
            lines = frame.index.to_numpy() + 2  # the header is line 1
            parts = [_numeric(frame[c], c, lines, path) for c in names]
            parts += [_one_hot(frame[c], c, cats, lines, path) for c, cats in categories.items()]
            x = np.concatenate(parts, axis=1) if parts else np.zeros((len(frame), 0), np.float32)
            yield x.astype(np.float32), _labels(frame[label], label, class_index, lines, path)


def _numeric(col, name: str, lines: np.ndarray, path) -> np.ndarray:
    import pandas as pd

    values = pd.to_numeric(col.str.strip(), errors="coerce").to_numpy(dtype=np.float64)  # (n,)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        i = bad[0]
        raise ConfigError(f"{os.fspath(path)}, line {lines[i]}: column {name!r} holds {col.iloc[i]!r}, not a number: "
                          f"fix the value, or leave the column out of the features, or (in Python) declare it "
                          f"categorical: categories={{{name!r}: [...]}}")
    return values[:, None]


def _one_hot(col, name: str, cats: list, lines: np.ndarray, path) -> np.ndarray:
    index = {str(c): i for i, c in enumerate(cats)}
    codes = col.map(index)
    bad = np.flatnonzero(codes.isna().to_numpy())
    if len(bad):
        i = bad[0]
        raise ConfigError(f"{os.fspath(path)}, line {lines[i]}: column {name!r} holds {col.iloc[i]!r}, not one of "
                          f"its declared categories {cats}: add it to them")
    return np.eye(len(cats), dtype=np.float32)[codes.to_numpy(dtype=np.int64)]  # (n, len(cats))


def _labels(col, name: str, class_index: dict | None, lines: np.ndarray, path) -> np.ndarray:
    if class_index is not None:
        codes = col.str.strip().map(class_index)
        bad = np.flatnonzero(codes.isna().to_numpy())
        if len(bad):
            i = bad[0]
            raise ConfigError(f"{os.fspath(path)}, line {lines[i]}: label {name!r} is {col.iloc[i]!r}, not one of "
                              f"the declared classes {list(class_index)}: add it to them")
        return codes.to_numpy(dtype=np.int64)
    text = col.str.strip()
    ok = text.str.fullmatch(r"\d+").to_numpy(dtype=bool)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise ConfigError(f"{os.fspath(path)}, line {lines[i]}: label {name!r} is {col.iloc[i]!r}, not a class index "
                          f"0, 1, ...: declare the classes (classes=[...], --classes a,b,...)")
    return text.astype(np.int64).to_numpy()


def csv_classes(path: str | os.PathLike, label: str, chunk_size: int = 10_000) -> tuple[str, ...]:
    """The distinct values of the column ``label`` in a CSV file, sorted, read in chunks of that one column (a first
    pass, for when the classes — or a categorical feature's categories — are not declared up front)."""
    import pandas as pd

    seen: set[str] = set()
    try:
        header = pd.read_csv(path, nrows=0).columns
    except FileNotFoundError:
        raise ConfigError(f"no CSV file {os.fspath(path)!r}: check the path") from None
    if label not in header:
        raise ConfigError(f"{os.fspath(path)} has no column {label!r}; its columns: {list(header)}")
    with pd.read_csv(path, usecols=[label], chunksize=chunk_size, dtype=str, keep_default_na=False) as reader:
        for frame in reader:
            seen.update(frame[label].str.strip())
    return tuple(sorted(seen, key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s)))


def csv_stream(path: str | os.PathLike, label: str, chunk_size: int = 500, *, features: Sequence[str] | None = None,
               categories: Mapping[str, Sequence] | None = None, classes: Sequence | None = None) -> Stream:
    """``csv_chunks`` as a ``Stream`` (no known drift point); ``classes`` default: ``csv_classes`` (one pass over
    the label column), the number of features from the first chunk."""
    classes = tuple(str(c) for c in classes) if classes is not None else csv_classes(path, label)
    if len(classes) < 2:
        raise ConfigError(f"label {label!r} of {os.fspath(path)} has {len(classes)} class(es) {list(classes)}: "
                          f"a classifier needs at least 2")

    def chunks() -> Iterator[Chunk]:
        return csv_chunks(path, label, chunk_size, features=features, categories=categories, classes=classes)

    first = next(chunks(), None)
    if first is None:
        raise ConfigError(f"{os.fspath(path)} has no rows")
    return Stream(os.path.basename(os.fspath(path)), chunks, first[0].shape[1], classes, (),
                  f"{os.fspath(path)}: label {label!r}")
