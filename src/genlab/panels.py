"""The curves of a run, as panels its model declares: one layout code path for every family and for comparisons.

A ``Panel`` names the terms it plots (``("d_loss", "g_loss")``); each term is drawn from ``metrics.csv`` as its
training curve (``train/<term>``, smoothed, the raw values faint behind it) and its validation points
(``val/<term>``, dashed with markers), against the iteration. A model declares its panels (``panels`` on the model
class or on a capability: ``genlab.models.base.panels_of``); terms the run did not log are left out, and a panel
with none of its terms is not drawn. ``draw`` takes several runs at once (``genlab compare``): each run one colour.

Imports no torch: ``genlab compare`` and the gallery read run folders only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple


class Panel(NamedTuple):
    title: str
    terms: tuple[str, ...]  # logged names without their "train/" or "val/" prefix

    def to_list(self) -> list:
        return [self.title, list(self.terms)]

    @classmethod
    def from_list(cls, item: Sequence) -> Panel:
        return cls(str(item[0]), tuple(str(t) for t in item[1]))


#: what every model logs: its training objective
LOSS = (Panel("loss", ("loss",)),)
#: the panels of each capability (``genlab.models.base`` declares them with these)
LATENT_VARIABLE = (Panel("ELBO (nats; higher is better)", ("elbo",)),
                   Panel("reconstruction −E log p(x|z) (nats)", ("reconstruction",)),
                   Panel("KL(q(z|x) ‖ p(z)) (nats)", ("kl",)))
DIFFUSION = (Panel("loss", ("loss",)), Panel("bits/dim (bound)", ("bpd",)),
             Panel("diffusion, prior and reconstruction terms", ("diffusion", "prior", "reconstruction")))
CLASSIFIER = (Panel("loss (cross-entropy, nats)", ("loss",)), Panel("accuracy", ("accuracy",)))
#: D's terms are logged as ``d_<term>``, G's as ``g_<term>`` (``AdversarialSystem``)
ADVERSARIAL = (Panel("losses of D and G", ("d_loss", "g_loss")),
               Panel("D(x) and D(G(z)) (a critic's raw scores)", ("d_real", "d_fake")),
               Panel("Wasserstein estimate E D(x) − E D(G(z))", ("d_distance",)),
               Panel("gradient penalty", ("d_penalty",)),
               Panel("L1 to the truth", ("g_l1",)))


def guess(rows: list[dict[str, float]]) -> tuple[Panel, ...]:
    """The panels of a run that did not record its own (a run cut short, or from an older genlab): the declared set
    whose terms it logged (adversarial terms first: a GAN also logs a ``loss``), else its loss."""
    logged = {k.split("/", 1)[1] for r in rows for k in r if "/" in k}
    for candidate in (ADVERSARIAL, LATENT_VARIABLE, CLASSIFIER, DIFFUSION):
        if any(t in logged for p in candidate for t in p.terms if t != "loss"):
            return candidate
    return LOSS


#: (training line style, validation marker) of a panel's 1st, 2nd, ... term when several runs share a colour
TERM_STYLES = (("-", "o"), (":", "s"), ("-.", "^"))


def present(panels: Sequence[Panel], rows: list[dict[str, float]]) -> list[Panel]:
    """``panels`` restricted to the terms that ``rows`` (``metrics.csv``) hold under ``train/`` or ``val/``; empty
    panels dropped. When none is left, the run's ``train/loss`` (every system logs it)."""
    logged = {k.split("/", 1)[1] for r in rows for k in r if "/" in k}
    kept = [Panel(p.title, tuple(t for t in p.terms if t in logged)) for p in panels]
    kept = [p for p in kept if p.terms]
    return kept or ([LOSS[0]] if "loss" in logged else [])


def smooth(values: list[float], span: int) -> list[float]:
    """Exponential moving average with ``alpha = 2 / (span + 1)``, started at the first value (a training curve is
    logged every few iterations from noisy mini-batches)."""
    alpha, out, m = 2.0 / (span + 1), [], None
    for v in values:
        m = v if m is None else (1 - alpha) * m + alpha * v
        out.append(m)
    return out


def _series(rows: list[dict[str, float]], key: str) -> tuple[list[float], list[float]]:
    pts = [(r["step"], r[key]) for r in rows if key in r and "step" in r and math.isfinite(r[key])]
    return [p[0] for p in pts], [p[1] for p in pts]


def draw(runs: Sequence[tuple[str | None, list[dict[str, float]]]], panels: Sequence[Panel],
         path: str | os.PathLike, *, title: str | None = None) -> Path | None:
    """Write ``path``: one panel per entry of ``panels`` (those the runs logged, ``present``), each run's terms in
    it; ``runs``: ``(label, rows)`` pairs, the label ``None`` for a single run (its terms are then coloured apart,
    and the legend names them). Returns None when nothing is plotted."""
    from genlab.plots import finish_figure, pyplot

    all_rows = [r for _, rows in runs for r in rows]
    panels = present(panels, all_rows)
    if not panels:
        return None
    plt = pyplot()
    cols = min(3, len(panels))
    nrows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.6 * cols, 3.3 * nrows), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    single = len(runs) == 1 and runs[0][0] is None
    for ax, panel in zip(axes.flat, panels, strict=False):
        for r, (label, rows) in enumerate(runs):
            for t, term in enumerate(panel.terms):
                # one run: a colour per term; several: a colour per run, a line style and marker per term
                colour = colours[(t if single else r) % len(colours)]
                style, marker = ("-", "o") if single else (TERM_STYLES[t % len(TERM_STYLES)])
                name = term if single else (f"{label}: {term}" if len(panel.terms) > 1 else label)
                xs, ys = _series(rows, f"train/{term}")
                if xs:
                    if single and len(xs) > 20:
                        ax.plot(xs, ys, color=colour, alpha=0.25, linewidth=0.8)
                    ax.plot(xs, smooth(ys, max(1, len(xs) // 30)), color=colour, linestyle=style, linewidth=1.4,
                            label=f"{name} (train)")
                xs, ys = _series(rows, f"val/{term}")
                if xs:
                    ax.plot(xs, ys, color=colour, linestyle="--", marker=marker, markersize=3.5, linewidth=0.9,
                            label=f"{name} (validation)")
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    return finish_figure(fig, Path(path), title)
