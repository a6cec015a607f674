"""Evaluate a trained model on a test split: ELBO, importance-sampled NLL (V8), the diffusion bound in
bits/dim (D4/D5), FID/KID, mode coverage of 2-D mixtures, accuracy and macro-F1, image-to-image translation (G8).

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
from genlab.evaluation.dynamic import eval_dynamic
from genlab.evaluation.forecasting import eval_forecast
from genlab.evaluation.streams import stream_outputs
from genlab.evaluation.tabular import eval_fidelity, eval_privacy, eval_utility
from genlab.models.base import (
    Classifier,
    Conditional,
    DiffusionBound,
    Generative,
    LatentVariable,
    Model,
    Predicts,
    Transduces,
    Translates,
)

if TYPE_CHECKING:
    from genlab.data.tensors import TensorData


def _batched(fn: Callable[[Tensor], Tensor], x: Tensor, batch_size: int) -> Tensor:
    return torch.cat([fn(x[i: i + batch_size]) for i in range(0, len(x), batch_size)])


def _draw(model: nn.Module, n: int, generator: torch.Generator, sample_kwargs: dict | None) -> Tensor:
    """``n`` samples of ``model``, 1000 at a time."""
    return torch.cat([model.sample(min(1000, n - i), generator=generator, **(sample_kwargs or {}))
                      for i in range(0, n, 1000)])


def _images(data: TensorData, metric: str) -> Tensor:
    """The split's ``x`` (images, points): what the likelihood and sample metrics compare with."""
    if data.x is None:
        raise ConfigError(f"metric {metric!r} reads the field x, but {data.name} holds {', '.join(data.fields)}: "
                          f"choose another metric (loss works for every model)")
    return data.x


def eval_loss(model: nn.Module, data: TensorData, *, batch_size: int = 500, seed: int = 0,
              **_: Any) -> dict[str, Any]:
    """The model's training objective on the split: the means of its ``ModelOutput`` terms, each batch weighted
    by the units its loss averages (``ModelOutput.units``: tokens, steps, cells; else its rows), as validation
    weighs them — every model has it (per-token NLL for a language model, a table's NLL per row, ...).

    A model that carries its state along a stream (``CarriesState``: a recurrent LM) reads the split as one
    stream, row after row, its state carried from each row to the next (every row counted, none dropped)."""
    from genlab.models.base import CarriesState, ModelOutput

    sums: dict[str, float] = {}
    count = 0.0
    carries = isinstance(model, CarriesState)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the objective's own noise (a VAE's z): reproducible, the caller's RNG untouched
        pairs = (((out, None) for out in stream_outputs(model, data)) if carries else  # a stream counts units
                 ((model(**batch), batch.size) for batch in data.loader(batch_size, shuffle=False)))
        for out, rows in pairs:
            if not isinstance(out, ModelOutput):
                raise ConfigError(f"metric 'loss' needs a model whose forward returns a ModelOutput; "
                                  f"{type(model).__name__} returns {type(out).__name__}: choose another metric")
            n = float(rows if out.units is None else out.units)
            for k, v in out.scalars().items():
                sums[k] = sums.get(k, 0.0) + float(v) * n
            count += n
    return {**{f"loss_{k}" if k != "loss" else "loss": v / count for k, v in sums.items()}, "loss_units": count,
            "loss_n": len(data)}


def eval_elbo(model: nn.Module, data: TensorData, *, seed: int = 0, **_: Any) -> dict[str, float]:
    """Mean test ELBO (nats; one reparameterized sample per example, V1)."""
    _require(model, (LatentVariable, DiffusionBound), "elbo", "a bound: elbo()")
    x = _images(data, "elbo")
    g = torch.Generator().manual_seed(seed)
    elbo = _batched(lambda b: model.elbo(b, generator=g), x, 1000)
    return {"elbo": elbo.mean().item(), "elbo_n": len(x)}


def eval_nll(model: nn.Module, data: TensorData, *, k: int = 5000, seed: int = 0, progress: bool = False,
             **_: Any) -> dict[str, float]:
    """Test NLL ``−log p(x)`` by importance sampling with ``k`` samples (V8, IWAE bound)."""
    from genlab.metrics.likelihood import log_likelihood

    _require(model, LatentVariable, "nll", "importance weights: log_importance_weights()")
    x = _images(data, "nll")
    g = torch.Generator().manual_seed(seed)
    ll = log_likelihood(model, x, k=k, generator=g, progress=progress)
    return {"nll": -ll.mean().item(), "nll_k": k, "nll_n": len(x)}


def eval_fid(model: nn.Module, data: TensorData, *, n: int = 10000, seed: int = 0, sample_kwargs=None,
             **_: Any) -> dict[str, float]:
    """FID and KID of ``n`` samples against ``n`` test images, LeNet features (genlab.metrics.fid).

    Any ``n`` ≥ 2: KID's subsets are ``kid_subset_size(n)`` images (1,000, at most half of ``n``), and
    ``kid_std`` is their spread (NaN where it is not estimated, ``n`` < 4); both are in the result.
    """
    from genlab.metrics.fid import fid, kid

    _require(model, Generative, "fid", "samples: sample()")
    x = _images(data, "fid")
    n = min(n, len(x))
    if n < 2:
        raise ConfigError(f"fid needs at least 2 samples and test images, got n = {n}: pass --n 2 or more "
                          f"(≥ 1,000 for numbers worth reporting) and a --limit of at least as many")
    fake = _draw(model, n, torch.Generator().manual_seed(seed), sample_kwargs)
    real = x[:n]
    out: dict[str, Any] = {"fid": float(fid(real, fake)), "fid_n": n}
    k = kid(real, fake, seed=seed)
    return {**out, "kid": k.mean, "kid_std": k.std, "kid_subset_size": k.subset_size, "kid_subsets": k.subsets}


def eval_bpd(model: nn.Module, data: TensorData, *, terms: int | None = None, seed: int = 0,
             batch_size: int = 500, **_: Any) -> dict[str, Any]:
    """The diffusion bound on ``−log p(x)`` in bits/dim (D4 for DDPM, D5 for VDM) via ``model.nll_bpd``.

    ``terms`` is the model's estimator size (``None``: its ``bound_terms_default``): stratified denoising
    terms per example for DDPM (50, an unbiased estimate at ~1/20 of the cost of all ``T − 1``; pass
    ``T − 1`` for every term), draws of ``(t, ε)`` per example for VDM (1). Reports the mean over the
    test examples, its standard error (Monte Carlo noise of the estimate included), ``n`` and ``K``.
    A class-conditional model is evaluated on ``−log p(x|y)`` with the test labels (``bpd_conditional``).
    """
    _require(model, DiffusionBound, "bpd", "a diffusion bound: nll_bpd()")
    x = _images(data, "bpd")
    terms = model.bound_terms_default if terms is None else terms
    g = torch.Generator().manual_seed(seed)
    labels = data.y if isinstance(model, Conditional) and model.conditioned else None
    bpd = torch.cat([
        model.nll_bpd(x[i: i + batch_size], None if labels is None else labels[i: i + batch_size],
                      generator=g, terms=terms).total
        for i in range(0, len(x), batch_size)
    ])  # (n,)
    se = bpd.std().item() / math.sqrt(len(bpd)) if len(bpd) > 1 else float("nan")
    return {"bpd": bpd.mean().item(), "bpd_se": se, "bpd_n": len(bpd), "bpd_k": terms if terms is not None else "all",
            "bpd_conditional": labels is not None}


def eval_coverage(model: nn.Module, data: TensorData, *, n: int = 10000, seed: int = 0, sample_kwargs=None,
                  **_: Any) -> dict[str, Any]:
    """Mode coverage of ``n`` samples on a 2-D Gaussian mixture (ring8, grid25): the share of modes with a
    sample within 3σ, and the share of samples within 3σ of a mode (σ = the dataset's std)."""
    from genlab.metrics.coverage import mode_coverage

    _require(model, Generative, "coverage", "samples: sample()")
    if data.modes is None or data.std is None:
        raise ConfigError(f"coverage needs a mixture of Gaussian modes (ring8, grid25); {data.name} has none: "
                          f"pass --data ring8 or --data grid25")
    c = mode_coverage(_draw(model, n, torch.Generator().manual_seed(seed), sample_kwargs).float(), data.modes,
                      data.std)
    return {"coverage_modes": c.modes, "coverage_samples": c.samples, "coverage_modes_covered": c.modes_covered,
            "coverage_num_modes": len(data.modes), "coverage_radius": c.radius, "coverage_n": n}


def outputs_all(model: nn.Module, data: TensorData, *, seed: int = 0, batch_size: int = 1000) -> Tensor:
    """``model.outputs`` (a ``Predicts`` model: predictions, translations) of every example of ``data``,
    ``batch_size`` at a time, any noise seeded by ``seed`` → ``(N, ...)`` on the CPU."""
    g = torch.Generator().manual_seed(seed)
    outs = [model.outputs(batch, generator=g).cpu() for batch in data.loader(batch_size, shuffle=False)]
    return torch.cat(outs)


def _target(model: Predicts, data: TensorData, metric: str) -> Tensor:
    if model.target not in data.fields:
        raise ConfigError(f"{metric} compares {type(model).__name__}'s outputs with the field {model.target!r}, "
                          f"which {data.name} lacks (it holds {', '.join(data.fields)}): evaluate on the run's "
                          f"own dataset")
    return data.fields[model.target]


def eval_accuracy(model: nn.Module, data: TensorData, **_: Any) -> dict[str, float]:
    """Classification accuracy on the test split: ``predict`` from the fields the model reads, against its
    ``target`` field (``y``; a QA model's ``answer``)."""
    _require(model, Classifier, "accuracy", "class predictions: predict()")
    truth = _target(model, data, "accuracy")
    pred = outputs_all(model, data)
    return {"accuracy": (pred == truth).float().mean().item(), "accuracy_n": len(data)}


def macro_f1(pred: Tensor, truth: Tensor) -> float:
    """Macro-averaged F1 of class predictions ``pred`` against ``truth`` (both ``(N,)`` ints): the mean over the
    classes of ``F1_k = 2 P_k R_k / (P_k + R_k) = 2 TP_k / (2 TP_k + FP_k + FN_k)``, over the classes that occur in
    ``truth`` or ``pred`` (scikit-learn's ``f1_score(average="macro")``); ``F1_k = 0`` when ``TP_k = 0``."""
    pred, truth = pred.reshape(-1).long(), truth.reshape(-1).long()
    classes = torch.unique(torch.cat([pred, truth]))  # (K,)
    hit = pred[:, None] == classes  # (N, K): predicted k
    real = truth[:, None] == classes  # (N, K): truly k
    tp = (hit & real).sum(0).double()
    f1 = 2 * tp / (2 * tp + (hit & ~real).sum(0) + (real & ~hit).sum(0))  # each k occurs: no 0 / 0
    return f1.mean().item()


def eval_f1(model: nn.Module, data: TensorData, **_: Any) -> dict[str, float]:
    """Macro-F1 (``macro_f1``) of a classifier's ``predict`` on the test split against its ``target`` field: each
    class counts the same whatever its size, where accuracy weights them by their share."""
    _require(model, Classifier, "f1", "class predictions: predict()")
    truth = _target(model, data, "f1")
    pred = outputs_all(model, data)
    return {"f1": macro_f1(pred, truth), "f1_n": len(data), "f1_classes": len(torch.unique(torch.cat([pred, truth])))}


def eval_translation(model: nn.Module, data: TensorData, *, n: int = 10000, seed: int = 0,
                     **_: Any) -> dict[str, float]:
    """G8 (Isola et al. 2017, Table 1's measures on a digit task): the outputs ``G(s)`` of the first ``n`` test
    pairs ``(s, t)`` — ``l1``, the mean absolute error per pixel to the truth ``t`` (data units, [0, 1]); on
    MNIST-like images the FID of the outputs against the truths (LeNet features) and, with labels, ``accuracy``:
    the share of outputs the shipped LeNet classifies as the truth's label (``source_accuracy``: the same for
    the sources, what the input alone tells LeNet)."""
    from genlab.metrics.fid import fid
    from genlab.models.cnn import pretrained_lenet

    _require(model, Translates, "translation", "image-to-image outputs: translate()")
    _target(model, data, "translation")
    missing = [f for f in model.inputs if f != model.target and f not in data.fields]
    if missing:
        raise ConfigError(f"translation needs the sources {', '.join(missing)} with each {model.target}: evaluate on "
                          f"the run's paired dataset (e.g. --data mnist-masked)")
    pairs = data.subset(torch.arange(min(n, len(data))))
    n, target = len(pairs), pairs.fields[model.target]
    out = outputs_all(model, pairs, seed=seed).float()  # (n, C, H, W)
    result: dict[str, Any] = {"l1": (out - target.float()).abs().mean().item(), "translation_n": n}
    if tuple(target.shape[1:]) == (1, 28, 28):
        if n >= 2:
            result["fid"] = float(fid(target, out))
        if pairs.y is not None:
            lenet = pretrained_lenet()
            (source,) = model.inputs_of(pairs.fields).values()
            for name, images in (("accuracy", out), ("source_accuracy", source)):
                pred = _batched(lambda b: lenet.predict(x=b.float()), images, 1000)
                result[name] = (pred == pairs.y).float().mean().item()
    return result


def eval_wer(model: nn.Module, data: TensorData, *, beam: int = 1, length_penalty: float = 0.0,
             batch_size: int = 256, progress: bool = False, **_: Any) -> dict[str, Any]:
    """Word and symbol error rates of a sequence-to-sequence model's outputs (``transduce``, greedy at ``beam=1``,
    else beam search, ``length_penalty`` its ranking's exponent) on the test split: one output per source — per
    ``group`` when the data has one, whose rows are the alternative correct outputs (a word's pronunciations;
    ``genlab.metrics.sequence.error_rates``).
    ``wer``: the share of sources whose output equals none of their targets; ``per``: edit operations to the
    closest target over its length, summed over the sources (phoneme error rate for G2P)."""
    from genlab.metrics.sequence import error_rates

    _require(model, Transduces, "wer", "sequence outputs: transduce()")
    target = _target(model, data, "wer")
    groups = data.fields.get("group", torch.arange(len(data)))  # (N,)
    n_target = data.fields.get("target_lengths", (target != 0).sum(1))
    references = [row[: int(k)].tolist() for row, k in zip(target, n_target, strict=True)]
    first = torch.tensor(sorted({int(g): i for i, g in reversed(list(enumerate(groups.tolist())))}.values()))
    sources = data.subset(first)  # one row per group, in the order the groups first appear
    lengths = sources.fields.get("source_lengths", (sources.fields["source"] != 0).sum(1))
    order = torch.argsort(lengths, stable=True)  # similar lengths together: little padding
    predictions: list[list[int]] = [[] for _ in range(len(first))]
    chunks = range(0, len(order), batch_size)
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc=f"wer (beam {beam})", unit="batch", leave=False)
    for i in chunks:
        rows = order[i: i + batch_size]
        k = int(lengths[rows].max())
        outs = model.transduce(sources.fields["source"][rows, :k], lengths[rows], beam=beam,
                               length_penalty=length_penalty)
        for r, out in zip(rows.tolist(), outs, strict=True):
            predictions[r] = out
    rates = error_rates(predictions, references, groups.tolist())
    return {"wer": rates["wer"], "per": rates["per"], "wer_beam": beam, "wer_length_penalty": length_penalty,
            "wer_n": rates["words"], "per_symbols": rates["phonemes"]}


METRICS: dict[str, Callable[..., dict[str, float]]] = {
    "elbo": eval_elbo, "nll": eval_nll, "bpd": eval_bpd, "fid": eval_fid, "coverage": eval_coverage,
    "accuracy": eval_accuracy, "f1": eval_f1, "translation": eval_translation, "loss": eval_loss, "wer": eval_wer,
    "dynamic": eval_dynamic, "forecast": eval_forecast, "fidelity": eval_fidelity, "utility": eval_utility,
    "privacy": eval_privacy,
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
    """The metrics ``model`` is evaluated on when none is named: the ``default_metric`` of the first capability it
    declares that has one for ``data`` (``genlab.models.base.PRECEDENCE``: ``elbo`` for a ``LatentVariable``,
    ``bpd`` for a ``DiffusionBound``, ``accuracy`` and ``f1`` for a ``Classifier``, ``translation``; a
    ``Generative`` model's ``fid`` on MNIST-like images, ``coverage`` on a mixture of modes; a name or a tuple of
    names), else ``loss`` (the test objective) for a model trained on one objective."""
    from genlab.models.base import PRECEDENCE, Adversarial

    for capability in PRECEDENCE:
        choice = vars(capability).get("default_metric")
        if choice is not None and isinstance(model, capability):
            name = choice.__func__(data) if isinstance(choice, staticmethod) else choice
            if name is not None:
                return [name] if isinstance(name, str) else list(name)
    if isinstance(model, Model) and not isinstance(model, Adversarial):
        return ["loss"]
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
    if data.binarize == "dynamic":  # a fixed, seeded draw of the binarized test set
        x = torch.bernoulli(data.x, generator=torch.Generator().manual_seed(0))
        data = data.replace(fields={**data.fields, "x": x}, binarize="static")
    if limit is not None:
        data = data.subset(torch.arange(min(limit, len(data))))
    raw = data  # before the model's preprocessing: every metric gets it and load_split (the table metrics read them)

    def load_split(name: str) -> TensorData:
        return load(data_name, split=name, **(data_options or {}))

    if isinstance(model, Model):
        data = model.prepare(data)  # its fitted preprocessing, as in training
    metrics = default_metrics(model, data) if metrics is None else metrics
    model.eval()
    if data.binarize != "none" and isinstance(model, Generative) and "mean" in model.sample_options:
        # binary data: compare binary samples (x ~ p(x|z)) with binary images, not decoder means
        options.setdefault("sample_kwargs", {"mean": False})
    out: dict[str, Any] = {"data": data_name, "split": split}
    for name in metrics:
        t0 = time.perf_counter()
        out.update(METRICS[name](model, data, raw=raw, load_split=load_split, **options))
        out[f"{name}_seconds"] = round(time.perf_counter() - t0, 2)
        if on_result is not None:
            on_result(name, dict(out))
    return out
