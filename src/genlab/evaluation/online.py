"""Prequential evaluation of online learners (F7: batch vs online learning on a drifting stream).

Prequential ("predictive sequential", Dawid 1984; Gama, Sebastião & Rodrigues, "On evaluating stream learning
algorithms", 2013): each chunk is first a test set — the learner predicts its labels with what it knows so far —
and only then training data. Every row is scored once, by a model that has never seen it.

The same loop runs three learners through one small interface (``Learner``: ``predict`` then ``update``):

- ``TorchOnline``: genlab's ``OnlineClassifier`` (logistic regression, running standardization, Adam steps);
- ``SklearnSGD``: scikit-learn's ``SGDClassifier(loss="log_loss").partial_fit`` with the classes given up front, on
  inputs scaled by a ``StandardScaler.partial_fit`` (also online);
- ``BatchOnce``: genlab's ``OnlineClassifier`` trained once, ``epochs`` passes over the first ``k`` chunks (batch
  learning on a stored dataset), then frozen. It has no predictions (NaN) for the chunks it is trained on.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from genlab.errors import ConfigError


@runtime_checkable
class Learner(Protocol):
    """What the prequential loop asks of a learner: ``predict(x)`` class indices ``(n,)`` (or ``None``: not
    deployed yet), then ``update(x, y)`` with the chunk's labels."""

    name: str

    def predict(self, x: np.ndarray) -> np.ndarray | None: ...

    def update(self, x: np.ndarray, y: np.ndarray) -> None: ...


@dataclasses.dataclass
class PrequentialResult:
    """One learner's prequential record: per chunk, its rows, how many it predicted right before training on it
    (``correct``; NaN where it made no predictions) and the rows seen once the chunk is done (``rows``)."""

    name: str
    sizes: np.ndarray  # (C,) rows per chunk
    correct: np.ndarray  # (C,) float: right predictions per chunk, NaN if the learner did not predict
    seconds: float = 0.0  # time spent in this learner's predict + update

    @property
    def rows(self) -> np.ndarray:
        """Rows seen at the end of each chunk, ``(C,)``."""
        return np.cumsum(self.sizes)

    @property
    def accuracy(self) -> np.ndarray:
        """Per-chunk prequential accuracy, ``(C,)`` (NaN where it did not predict)."""
        return self.correct / np.maximum(self.sizes, 1)

    @property
    def cumulative(self) -> np.ndarray:
        """Accuracy over all rows predicted so far, at the end of each chunk, ``(C,)``."""
        seen = np.where(np.isnan(self.correct), 0, self.sizes)
        right = np.nan_to_num(self.correct)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.cumsum(right) / np.cumsum(seen)

    def mean_accuracy(self, start: int = 0, stop: int | None = None) -> float:
        """Accuracy pooled over the predicted rows of the chunks wholly in rows ``[start, stop)`` (NaN if none)."""
        first = self.rows - self.sizes
        inside = (first >= start) & (self.rows <= (math.inf if stop is None else stop)) & ~np.isnan(self.correct)
        n = self.sizes[inside].sum()
        return float(self.correct[inside].sum() / n) if n else math.nan


def prequential_all(learners: Sequence[Learner], chunks: Iterable[tuple]) -> list[PrequentialResult]:
    """Run each learner over the stream, reading it once: for each chunk, every learner predicts it first (test),
    then learns from it (train)."""
    import time

    sizes, correct, seconds = [], [[] for _ in learners], [0.0] * len(learners)
    for x, y in chunks:
        y = np.asarray(y)
        sizes.append(len(y))
        for i, learner in enumerate(learners):
            t0 = time.perf_counter()
            pred = learner.predict(x)  # before the update: the chunk is unseen
            correct[i].append(math.nan if pred is None else float((np.asarray(pred) == y).sum()))
            learner.update(x, y)
            seconds[i] += time.perf_counter() - t0
    if not sizes:
        raise ConfigError("the stream yielded no chunks: nothing to evaluate")
    return [PrequentialResult(learner.name, np.asarray(sizes), np.asarray(c, dtype=np.float64), s)
            for learner, c, s in zip(learners, correct, seconds, strict=True)]


def prequential(learner: Learner, chunks: Iterable[tuple]) -> PrequentialResult:
    """One learner's prequential accuracy on ``chunks`` (``prequential_all`` with one learner)."""
    return prequential_all([learner], chunks)[0]


class TorchOnline:
    """genlab's ``OnlineClassifier`` as a learner: ``update`` = its own ``update`` (a pass of Adam steps)."""

    def __init__(self, model, name: str = "genlab online") -> None:
        self.model, self.name = model, name

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(x).numpy()

    def update(self, x: np.ndarray, y: np.ndarray) -> None:
        self.model.update(x, y)


class SklearnSGD:
    """scikit-learn's ``SGDClassifier(loss="log_loss")`` updated by ``partial_fit`` (classes given up front) on
    inputs scaled by a ``StandardScaler`` also updated by ``partial_fit``; predicts class 0 before its first chunk."""

    def __init__(self, num_classes: int, seed: int = 0, name: str = "sklearn SGDClassifier", **options) -> None:
        from sklearn.linear_model import SGDClassifier
        from sklearn.preprocessing import StandardScaler

        self.name, self.classes = name, np.arange(num_classes)
        self.scaler = StandardScaler()
        self.sgd = SGDClassifier(loss="log_loss", random_state=seed, **options)
        self.fitted = False

    def predict(self, x: np.ndarray) -> np.ndarray:
        if not self.fitted:
            return np.zeros(len(x), dtype=np.int64)
        return self.sgd.predict(self.scaler.transform(x))

    def update(self, x: np.ndarray, y: np.ndarray) -> None:
        self.scaler.partial_fit(x)
        self.sgd.partial_fit(self.scaler.transform(x), y, classes=self.classes)
        self.fitted = True


class BatchOnce:
    """Batch learning in the same loop: stores the first ``k`` chunks, then trains ``model`` once on them
    (``model.fit(x, y, epochs)``) and never again. Before that it makes no predictions (``None``)."""

    def __init__(self, model, k: int, epochs: int = 20, name: str | None = None) -> None:
        if k < 1:
            raise ConfigError(f"the batch model needs k ≥ 1 chunks to train on, got {k}")
        self.model, self.k, self.epochs = model, k, epochs
        self.name = name or f"batch (first {k} chunks)"
        self.stored: list[tuple[np.ndarray, np.ndarray]] = []
        self.trained = False

    def predict(self, x: np.ndarray) -> np.ndarray | None:
        return self.model.predict(x).numpy() if self.trained else None

    def update(self, x: np.ndarray, y: np.ndarray) -> None:
        if self.trained:
            return
        self.stored.append((np.asarray(x), np.asarray(y)))
        if len(self.stored) == self.k:
            self.model.fit(np.concatenate([c[0] for c in self.stored]), np.concatenate([c[1] for c in self.stored]),
                           epochs=self.epochs)
            self.trained, self.stored = True, []


def default_learners(n_features: int, num_classes: int, *, seed: int = 0, batch_chunks: int = 4,
                     batch_epochs: int = 20, **online) -> list[Learner]:
    """The three learners of ``genlab online``: genlab's online classifier (``online``: ``OnlineConfig`` options),
    ``SklearnSGD``, and the same genlab classifier trained once on the first ``batch_chunks`` chunks."""
    from genlab.models.online import OnlineClassifier, OnlineConfig

    def model() -> OnlineClassifier:
        return OnlineClassifier(OnlineConfig(n_features=n_features, num_classes=num_classes, seed=seed, **online))

    return [TorchOnline(model()), SklearnSGD(num_classes, seed=seed),
            BatchOnce(model(), batch_chunks, epochs=batch_epochs)]


def prequential_table(results: Sequence[PrequentialResult]) -> str:
    """The per-chunk record as CSV: ``chunk, rows`` and one accuracy column per learner (empty: no prediction)."""
    lines = ["chunk,rows," + ",".join(_csv_name(r.name) for r in results)]
    for c, rows in enumerate(results[0].rows):
        accs = ["" if math.isnan(r.accuracy[c]) else f"{r.accuracy[c]:.6f}" for r in results]
        lines.append(f"{c},{rows}," + ",".join(accs))
    return "\n".join(lines) + "\n"


def _csv_name(name: str) -> str:
    return f'"{name}"' if any(ch in name for ch in ',"\n') else name


def write_prequential_csv(results: Sequence[PrequentialResult], path: str | os.PathLike) -> Path:
    """``prequential_table`` written atomically."""
    from genlab.atomic import atomic_write_text

    return atomic_write_text(path, prequential_table(results))


def plot_prequential(results: Sequence[PrequentialResult], path: str | os.PathLike, *, drift_rows: Sequence[int] = (),
                     title: str | None = None) -> Path:
    """Per-chunk prequential accuracy of each learner against the rows seen (each point at its chunk's end), the
    drift points as dashed lines, the mean accuracy of each learner in the legend; written atomically."""
    from genlab.plots import finish_figure, pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for r in results:
        acc = r.accuracy
        ax.plot(r.rows, acc, marker="o", markersize=2.5, linewidth=1.4,
                label=f"{r.name} (mean {r.mean_accuracy():.3f})")
    for i, d in enumerate(drift_rows):
        ax.axvline(d, color="0.3", linestyle="--", linewidth=1, label="drift" if i == 0 else None)
    ax.set_xlabel("rows seen")
    ax.set_ylabel("accuracy on each chunk, predicted before training on it")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    return finish_figure(fig, Path(path), title or "prequential accuracy: online vs batch learning (F7)")
