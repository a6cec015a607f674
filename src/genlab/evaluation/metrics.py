"""Evaluate a trained model on a test split: ELBO, importance-sampled NLL (V8), the diffusion bound in
bits/dim (D4/D5), FID/KID, mode coverage of 2-D mixtures, accuracy, image-to-image translation (G8).

Every figure carries what it depends on (``k`` for NLL, the sample count for FID/KID) so a reported
number is never separated from its conditions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError
from genlab.models.base import Classifier, Conditional, DiffusionBound, Generative, LatentVariable, Translates

if TYPE_CHECKING:
    from genlab.data.tensors import TensorData


def _batched(fn: Callable[[Tensor], Tensor], x: Tensor, batch_size: int) -> Tensor:
    return torch.cat([fn(x[i: i + batch_size]) for i in range(0, len(x), batch_size)])


def _draw(model: nn.Module, n: int, generator: torch.Generator, sample_kwargs: dict | None) -> Tensor:
    """``n`` samples of ``model``, 1000 at a time."""
    return torch.cat([model.sample(min(1000, n - i), generator=generator, **(sample_kwargs or {}))
                      for i in range(0, n, 1000)])


def eval_elbo(model: nn.Module, x: Tensor, *, seed: int = 0, **_: Any) -> dict[str, float]:
    """Mean test ELBO (nats; one reparameterized sample per example, V1)."""
    _require(model, (LatentVariable, DiffusionBound), "elbo", "a bound: elbo()")
    g = torch.Generator().manual_seed(seed)
    elbo = _batched(lambda b: model.elbo(b, generator=g), x, 1000)
    return {"elbo": elbo.mean().item(), "elbo_n": len(x)}


def eval_nll(model: nn.Module, x: Tensor, *, k: int = 5000, seed: int = 0, progress: bool = False,
             **_: Any) -> dict[str, float]:
    """Test NLL ``−log p(x)`` by importance sampling with ``k`` samples (V8, IWAE bound)."""
    from genlab.metrics.likelihood import log_likelihood

    _require(model, LatentVariable, "nll", "importance weights: log_importance_weights()")
    g = torch.Generator().manual_seed(seed)
    ll = log_likelihood(model, x, k=k, generator=g, progress=progress)
    return {"nll": -ll.mean().item(), "nll_k": k, "nll_n": len(x)}


def eval_fid(model: nn.Module, x: Tensor, *, n: int = 10000, seed: int = 0, sample_kwargs=None,
             **_: Any) -> dict[str, float]:
    """FID and KID of ``n`` samples against ``n`` test images, LeNet features (genlab.metrics.fid).

    Any ``n`` ≥ 2: KID's subsets are ``kid_subset_size(n)`` images (1,000, at most half of ``n``), and
    ``kid_std`` is their spread (NaN where it is not estimated, ``n`` < 4); both are in the result.
    """
    from genlab.metrics.fid import fid, kid

    _require(model, Generative, "fid", "samples: sample()")
    n = min(n, len(x))
    if n < 2:
        raise ConfigError(f"fid needs at least 2 samples and test images, got n = {n}: pass --n 2 or more "
                          f"(≥ 1,000 for numbers worth reporting) and a --limit of at least as many")
    fake = _draw(model, n, torch.Generator().manual_seed(seed), sample_kwargs)
    real = x[:n]
    out: dict[str, Any] = {"fid": float(fid(real, fake)), "fid_n": n}
    k = kid(real, fake, seed=seed)
    return {**out, "kid": k.mean, "kid_std": k.std, "kid_subset_size": k.subset_size, "kid_subsets": k.subsets}


def eval_bpd(model: nn.Module, x: Tensor, *, y: Tensor | None = None, terms: int | None = None, seed: int = 0,
             batch_size: int = 500, **_: Any) -> dict[str, Any]:
    """The diffusion bound on ``−log p(x)`` in bits/dim (D4 for DDPM, D5 for VDM) via ``model.nll_bpd``.

    ``terms`` is the model's estimator size (``None``: its ``bound_terms_default``): stratified denoising
    terms per example for DDPM (50, an unbiased estimate at ~1/20 of the cost of all ``T − 1``; pass
    ``T − 1`` for every term), draws of ``(t, ε)`` per example for VDM (1). Reports the mean over the
    test examples, its standard error (Monte Carlo noise of the estimate included), ``n`` and ``K``.
    A class-conditional model is evaluated on ``−log p(x|y)`` with the test labels (``bpd_conditional``).
    """
    _require(model, DiffusionBound, "bpd", "a diffusion bound: nll_bpd()")
    terms = model.bound_terms_default if terms is None else terms
    g = torch.Generator().manual_seed(seed)
    labels = y if isinstance(model, Conditional) and model.conditioned else None
    bpd = torch.cat([
        model.nll_bpd(x[i: i + batch_size], None if labels is None else labels[i: i + batch_size],
                      generator=g, terms=terms).total
        for i in range(0, len(x), batch_size)
    ])  # (n,)
    se = bpd.std().item() / math.sqrt(len(bpd)) if len(bpd) > 1 else float("nan")
    return {"bpd": bpd.mean().item(), "bpd_se": se, "bpd_n": len(bpd), "bpd_k": terms if terms is not None else "all",
            "bpd_conditional": labels is not None}


def eval_coverage(model: nn.Module, x: Tensor, *, data=None, n: int = 10000, seed: int = 0, sample_kwargs=None,
                  **_: Any) -> dict[str, Any]:
    """Mode coverage of ``n`` samples on a 2-D Gaussian mixture (ring8, grid25): the share of modes with a
    sample within 3σ, and the share of samples within 3σ of a mode (σ = the dataset's std)."""
    from genlab.metrics.coverage import mode_coverage

    _require(model, Generative, "coverage", "samples: sample()")
    if data is None or data.modes is None or data.std is None:
        name = getattr(data, "name", "this dataset")
        raise ConfigError(f"coverage needs a mixture of Gaussian modes (ring8, grid25); {name} has none: "
                          f"pass --data ring8 or --data grid25")
    c = mode_coverage(_draw(model, n, torch.Generator().manual_seed(seed), sample_kwargs).float(), data.modes,
                      data.std)
    return {"coverage_modes": c.modes, "coverage_samples": c.samples, "coverage_modes_covered": c.modes_covered,
            "coverage_num_modes": len(data.modes), "coverage_radius": c.radius, "coverage_n": n}


def eval_accuracy(model: nn.Module, x: Tensor, *, y: Tensor | None = None, **_: Any) -> dict[str, float]:
    """Classification accuracy on the test split."""
    _require(model, Classifier, "accuracy", "class predictions: predict()")
    if y is None:
        raise ConfigError("accuracy needs labelled data")
    pred = _batched(lambda b: model.predict(b), x, 1000)
    return {"accuracy": (pred == y).float().mean().item(), "accuracy_n": len(x)}


def translate_all(model: nn.Module, source: Tensor, *, seed: int = 0, batch_size: int = 1000) -> Tensor:
    """``model.translate`` of every source image, ``batch_size`` at a time, the noise seeded by ``seed``."""
    g = torch.Generator().manual_seed(seed)
    return _batched(lambda s: model.translate(s, generator=g).float().cpu(), source, batch_size)


def eval_translation(model: nn.Module, x: Tensor, *, y: Tensor | None = None, data: TensorData | None = None,
                     n: int = 10000, seed: int = 0, **_: Any) -> dict[str, float]:
    """G8 (Isola et al. 2017, Table 1's measures on a digit task): the outputs ``G(s)`` of the first ``n`` test
    pairs ``(s, t)`` — ``l1``, the mean absolute error per pixel to the truth ``t`` (data units, [0, 1]); on
    MNIST-like images the FID of the outputs against the truths (LeNet features) and, with labels, ``accuracy``:
    the share of outputs the shipped LeNet classifies as the truth's label (``source_accuracy``: the same for
    the sources, what the input alone tells LeNet)."""
    from genlab.metrics.fid import fid
    from genlab.models.cnn import pretrained_lenet

    _require(model, Translates, "translation", "image-to-image outputs: translate()")
    if data is None or "source" not in data.fields:
        raise ConfigError("translation needs (source, x) pairs: evaluate on the run's paired dataset "
                          "(e.g. --data mnist-masked)")
    n = min(n, len(x))
    target, source = x[:n], data.fields["source"][:n]
    out = translate_all(model, source, seed=seed)  # (n, C, H, W)
    result: dict[str, Any] = {"l1": (out - target.float()).abs().mean().item(), "translation_n": n}
    if tuple(target.shape[1:]) == (1, 28, 28):
        if n >= 2:
            result["fid"] = float(fid(target, out))
        if y is not None:
            lenet = pretrained_lenet()
            for name, images in (("accuracy", out), ("source_accuracy", source)):
                pred = _batched(lambda b: lenet.predict(b.float()), images, 1000)
                result[name] = (pred == y[:n]).float().mean().item()
    return result


METRICS: dict[str, Callable[..., dict[str, float]]] = {
    "elbo": eval_elbo, "nll": eval_nll, "bpd": eval_bpd, "fid": eval_fid, "coverage": eval_coverage,
    "accuracy": eval_accuracy, "translation": eval_translation,
}


def _require(model: nn.Module, capability: type | tuple[type, ...], metric: str, what: str) -> None:
    """``ConfigError`` unless ``model`` declares ``capability`` (``genlab.models.base``)."""
    if not isinstance(model, capability):
        raise ConfigError(f"metric {metric!r} needs a model with {what}; {type(model).__name__} has none: "
                          f"choose another metric")


def parse_metrics(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise ConfigError(f"unknown metric(s) {unknown or text!r}: choose from {', '.join(METRICS)}")
    return names


def default_metrics(model: nn.Module, data: TensorData) -> list[str]:
    """The metric ``model`` is evaluated on when none is named, from the capabilities it declares
    (``genlab.models.base``): ``elbo`` for a ``LatentVariable``, ``bpd`` for a ``DiffusionBound``,
    ``accuracy`` for a ``Classifier``, ``translation`` for a ``Translates`` model (pix2pix), else for a
    ``Generative`` model ``fid`` on MNIST-like images
    ``(1, 28, 28)`` and ``coverage`` on a 2-D mixture of modes (ring8, grid25)."""
    if isinstance(model, LatentVariable):
        return ["elbo"]
    if isinstance(model, DiffusionBound):
        return ["bpd"]
    if isinstance(model, Classifier):
        return ["accuracy"]
    if isinstance(model, Translates):
        return ["translation"]
    if isinstance(model, Generative):
        if data.modes is not None and data.std is not None:
            return ["coverage"]
        if data.kind == "image" and tuple(data.x.shape[1:]) == (1, 28, 28):
            return ["fid"]
    raise ConfigError(f"{type(model).__name__} on {data.name} has no default metric (fid needs 1×28×28 images, "
                      f"coverage a mixture of modes such as ring8): name one with --metrics "
                      f"({', '.join(METRICS)})")


@torch.no_grad()
def evaluate(model: nn.Module, data_name: str, metrics: list[str] | None = None, *, split: str = "test",
             limit: int | None = None, on_result: Callable[[str, dict[str, Any]], None] | None = None,
             data_options: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    """Compute ``metrics`` of ``model`` on ``data_name``'s ``split`` (the first ``limit`` examples), the dataset
    loaded with ``data_options`` (a run's own: ``RunDir.data_options``).

    ``metrics=None``: ``default_metrics(model, data)``. ``on_result(name, figures)`` is called as each
    metric completes with everything computed so far (e.g. to write it to ``eval.json`` at once), so an
    error in a later metric, which propagates, loses none of the earlier ones.
    """
    from genlab.data import load

    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be ≥ 1 (the number of test examples), got {limit}")
    data = load(data_name, split=split, **(data_options or {}))
    x, y = data.x, data.y
    if data.binarize == "dynamic":  # a fixed, seeded draw of the binarized test set
        x = torch.bernoulli(x, generator=torch.Generator().manual_seed(0))
    if limit is not None:
        x, y = x[:limit], (y[:limit] if y is not None else None)
    metrics = default_metrics(model, data) if metrics is None else metrics
    model.eval()
    if data.binarize != "none" and isinstance(model, Generative) and "mean" in model.sample_options:
        # binary data: compare binary samples (x ~ p(x|z)) with binary images, not decoder means
        options.setdefault("sample_kwargs", {"mean": False})
    out: dict[str, Any] = {"data": data_name, "split": split}
    for name in metrics:
        t0 = time.perf_counter()
        out.update(METRICS[name](model, x, y=y, data=data, **options))
        out[f"{name}_seconds"] = round(time.perf_counter() - t0, 2)
        if on_result is not None:
            on_result(name, dict(out))
    return out
