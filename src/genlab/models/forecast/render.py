"""A forecast as a person reads it: the history, the point forecast, its 80 % and 95 % bands and the truth when
known (``.png``, ``.svg``, ``.pdf``), or the same numbers as a table (``.csv``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from torch import Tensor

from genlab.errors import ConfigError
from genlab.render import Renderer

FIELDS = ("history", "point")  # required; optional: truth, lo80, hi80, lo95, hi95 (H,); history_time, time (labels)


@dataclasses.dataclass(frozen=True)
class ForecastPlot(Renderer):
    series: str = "series"
    suffixes: tuple[str, ...] = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".csv")
    what: str = "a forecast with its intervals"

    @classmethod
    def of(cls, model) -> ForecastPlot:
        return cls(series=model.preprocessor.channels[0] if model.preprocessor.channels else "series")

    def write(self, samples, path, *, reference=None, title=None, labels=None) -> Path:
        if not isinstance(samples, Mapping) or any(k not in samples for k in FIELDS):
            raise ConfigError(f"{type(self).__name__} writes the fields history and point (and truth, lo80, hi80, "
                              f"lo95, hi95)")
        path = self.path(path)
        f = {k: v.detach().float().cpu().tolist() if isinstance(v, Tensor) else v for k, v in samples.items()}
        H, T = len(f["point"]), len(f["history"])
        x_hist = f.get("history_time") or list(range(-T, 0))
        x_fut = f.get("time") or list(range(H))
        if path.suffix.lower() == ".csv":
            return self._table(f, x_fut, path)
        from genlab.plots import finish_figure, pyplot

        plt = pyplot()
        fig, ax = plt.subplots(figsize=(9, 3.6))
        ax.plot(x_hist, f["history"], color="0.35", linewidth=1.0, label="history")
        for level, alpha in ((95, 0.18), (80, 0.32)):
            if f"lo{level}" in f:
                ax.fill_between(x_fut, f[f"lo{level}"], f[f"hi{level}"], color="tab:blue", alpha=alpha, linewidth=0,
                                label=f"{level} % interval")
        if "truth" in f:
            ax.plot(x_fut, f["truth"], color="black", linewidth=1.2, marker="." if H <= 60 else None, label="truth")
        ax.plot(x_fut, f["point"], color="tab:blue", linewidth=1.6, label="forecast")
        ax.axvline(x_fut[0], color="0.6", linestyle=":", linewidth=1)
        ax.set_ylabel(self.series)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, frameon=False, ncol=5, loc="upper left")
        return finish_figure(fig, path, title)

    def _table(self, f: dict, x_fut: list, path: Path) -> Path:
        import csv
        import io

        from genlab.atomic import atomic_write_text

        cols = ["point", *(k for k in ("lo80", "hi80", "lo95", "hi95", "truth") if k in f)]
        out = io.StringIO(newline="")
        w = csv.writer(out)
        w.writerow(["time", *cols])
        for i, t in enumerate(x_fut):
            w.writerow([t, *(f"{f[c][i]:.6g}" for c in cols)])
        return atomic_write_text(path, out.getvalue())
