"""Dynamic evaluation of a language model (Krause, Kahembwe, Murray & Renals 2018, "Dynamic Evaluation of Neural
Sequence Models", arXiv:1709.07432): the split is read as ``eval_loss`` reads it, a batch of segments at a time;
each batch is first scored by the model as it stands, then the model takes one gradient step on that batch's mean
NLL (F2), so the text read so far adapts it to the text still to come. Their SGD form:

    θ ← θ − η ∇_θ L(s_i) + λ (θ₀ − θ)

(``dynamic_lr`` η; ``dynamic_decay`` λ pulls the weights back to the trained ones θ₀, 0: no pull; ``L(s_i)`` the mean
NLL of the segment s_i just scored), and their RMS form (``dynamic_rms`` > 0), each weight's step scaled by the root
mean square of its gradient on the training text:

    θ ← θ − η ∇_θ L(s_i) / (√MS + ε) + min(λ √MS / mean(√MS), 1) (θ₀ − θ)

``MS`` the mean over ``dynamic_rms`` training batches (read at θ₀ as the split is read, in as many lanes) of each
weight's squared gradient, ``mean(√MS)`` over every weight, ε = ``RMS_EPS``.

How the split is read sets what a segment is. A model that carries its state (a recurrent LM) reads the split as
``dynamic_lanes`` contiguous lanes side by side (``stream_outputs``); 1, the default, reads it as one stream, as
Krause et al. do, so that each update comes from the text just before the text it helps to predict. With 32 lanes
(``eval_loss``'s reading) each update averages 32 distant parts of the split: on kjv's validation text the 2 × 768
LSTM LM scores 1.429 bits/char in 32 lanes of 128 characters against 1.395 as one stream of 512-character rows
(benchmarks/RESULTS.md, ``text_lm_dynamic_lanes``). Any other model reads ``dynamic_lanes`` rows at a time in the
split's order. A segment is a batch: its rows' length is the data's (``block_size`` of a text: ``genlab eval --set
data.block_size=512``), and the gradient runs back through the whole row.

The score is prequential (Dawid 1984, as ``evaluation.online``): every character is predicted by a model that has
not trained on it, as an adaptive compressor codes the text. Dropout stays off; the caller's model is left as it
was (a copy adapts). Choose η and λ on the validation split (``genlab eval RUN --split val``), then read the test
figure.

``dynamic_ngram`` N > 0 mixes each character's probability with that of an adaptive Kneser–Ney model of order N
(``evaluation.ngram_mixture``: fitted on the training text, refitted every ``dynamic_ngram_refit`` characters on the
text read so far), weight ``dynamic_ngram_weight``; the split is then read as one stream (``dynamic_lanes`` 1).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor, nn

from genlab.data.tensors import TensorData
from genlab.errors import ConfigError
from genlab.evaluation.ngram_mixture import adaptive_ngram_log_probs, check_weight, mixture_log_probs, one_stream
from genlab.evaluation.streams import stream_outputs
from genlab.models.base import CarriesState, Model, ModelOutput

RMS_EPS = 2e-5  # ε of the RMS form
NGRAM_REFIT = 20_000  # characters between refits of the mixture's n-gram model
#: its share of the mixture: the best of NGRAM_WEIGHTS on kjv's validation text for the 2 × 768 LSTM LM with an
#: order-10 model (benchmarks/RESULTS.md, text_lm_dynamic_ngram)
NGRAM_WEIGHT = 0.25
NGRAM_WEIGHTS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)  # the mixture's bits are also reported at these weights
#: η when none is given, per form, from the grids on kjv's validation text for the 2 × 768 LSTM LM
#: (benchmarks/RESULTS.md): the SGD form's best read in 32 lanes (text_lm_dynamic_sgd_pilot); the RMS form's read as
#: one stream of 512-character rows, where 5e-4 and 1e-3 score alike (text_lm_dynamic_lanes; in 32 lanes 3e-3
#: diverges: text_lm_dynamic_rms_pilot_hi)
DEFAULT_LR = {"sgd": 0.3, "rms": 5e-4}


def _outputs(model: nn.Module, data: TensorData, lanes: int):
    """The model's outputs over ``data`` in reading order: ``lanes`` lanes of one stream for a ``CarriesState``
    model, else ``lanes`` rows at a time in the split's order."""
    return stream_outputs(model, data, lanes) if isinstance(model, CarriesState) else \
        (model(**batch) for batch in data.loader(lanes, shuffle=False))


def mean_square_gradients(model: nn.Module, params: list[Tensor], data: TensorData, batches: int,
                          lanes: int) -> list[Tensor]:
    """``MS`` of each of ``params``: the mean squared gradient of the batch loss over ``batches`` batches of
    ``data`` (the training split), read as the split under evaluation is — ``lanes`` lanes, each ``batches`` rows
    in a row from its own part of the text — so that it measures the gradients of batches like those the steps
    take."""
    lanes = min(lanes, len(data))
    k = max(1, min(batches, len(data) // lanes))
    starts = torch.arange(lanes) * (len(data) // lanes)  # (lanes,)
    rows = (starts[:, None] + torch.arange(k)).flatten()  # (lanes·k,) lane i: k consecutive rows from starts[i]
    ms = [torch.zeros_like(p) for p in params]
    for i, out in enumerate(_outputs(model, data.subset(rows), lanes)):
        if i == k:
            break
        for m, g in zip(ms, torch.autograd.grad(out.loss, params, allow_unused=True), strict=True):
            if g is not None:
                m.add_(g.detach() ** 2)
    return [m / k for m in ms]


def eval_dynamic(model: nn.Module, data: TensorData, *, dynamic_lr: float | None = None, dynamic_decay: float = 0.0,
                 dynamic_rms: int = 0, dynamic_lanes: int = 1, dynamic_ngram: int = 0,
                 dynamic_ngram_weight: float = NGRAM_WEIGHT, dynamic_ngram_refit: int = NGRAM_REFIT,
                 load_split=None, seed: int = 0, progress: bool = False, **_: Any) -> dict[str, float]:
    """The split's mean NLL per unit (nats; ``dynamic_bits``: per character) under dynamic evaluation: the SGD form,
    or with ``dynamic_rms`` > 0 the RMS form, ``MS`` from that many batches of ``load_split("train")``;
    ``dynamic_lr=None``: the form's ``DEFAULT_LR``; the split read in ``dynamic_lanes`` lanes, a step after each
    batch; with ``dynamic_ngram`` N > 0 each character's probability mixed with an adaptive order-N Kneser–Ney
    model's (``dynamic_bits``; the two models alone: ``dynamic_lm_bits``, ``dynamic_ngram_bits``; the mixture at each
    of ``NGRAM_WEIGHTS``, from the same pass, to choose the weight on validation: ``dynamic_bits_by_weight``). A score
    that turns non-finite (the steps diverged) is an error."""
    if dynamic_lr is None:
        dynamic_lr = DEFAULT_LR["rms" if dynamic_rms else "sgd"]
    if not math.isfinite(dynamic_lr) or dynamic_lr < 0:
        raise ConfigError(f"dynamic_lr must be ≥ 0 (the step size η of each update; 0: the static score), "
                          f"got {dynamic_lr}")
    if not 0 <= dynamic_decay <= 1:
        raise ConfigError(f"dynamic_decay must be in [0, 1] (λ, the pull back to the trained weights), "
                          f"got {dynamic_decay}")
    if dynamic_rms < 0 or (dynamic_rms and load_split is None):
        raise ConfigError(f"dynamic_rms must be ≥ 0 (training batches that measure each weight's gradient scale; 0: "
                          f"the SGD form) and needs the training split, got {dynamic_rms}")
    if isinstance(dynamic_lanes, bool) or not isinstance(dynamic_lanes, int) or dynamic_lanes < 1:
        raise ConfigError(f"dynamic_lanes must be a whole number ≥ 1 (lanes the split is read in side by side; 1: "
                          f"one stream), got {dynamic_lanes!r}")
    if isinstance(dynamic_ngram, bool) or not isinstance(dynamic_ngram, int) or dynamic_ngram < 0:
        raise ConfigError(f"dynamic_ngram must be a whole number ≥ 0 (the order of the n-gram model mixed in; 0: "
                          f"none), got {dynamic_ngram!r}")
    if dynamic_ngram:
        check_weight(dynamic_ngram_weight)  # before the work
        if dynamic_lanes != 1 or load_split is None:
            raise ConfigError(f"mixing with an n-gram model reads the split as one stream after the training text: "
                              f"use --dynamic-lanes 1 (got {dynamic_lanes}) and a dataset with a training split")
        stream = one_stream(data)
    if not isinstance(model, Model):
        raise ConfigError(f"metric 'dynamic' adapts a model trained on one objective; {type(model).__name__} "
                          f"is not one: choose another metric")
    adapted = copy.deepcopy(model).eval()
    params = [p for p in adapted.parameters() if p.requires_grad]
    trained = [p.detach().clone() for p in params]  # θ₀
    scale, pull = [1.0] * len(params), [dynamic_decay] * len(params)  # the SGD form
    if dynamic_rms:
        with torch.enable_grad():
            rms = [m.sqrt() for m in mean_square_gradients(adapted, params, model.prepare(load_split("train")),
                                                            dynamic_rms, dynamic_lanes)]
        mean = float(sum(r.sum() for r in rms) / sum(r.numel() for r in rms))
        scale = [1 / (r + RMS_EPS) for r in rms]
        pull = [(dynamic_decay * r / mean).clamp_max(1.0) for r in rms]
    outputs = _outputs(adapted, data, dynamic_lanes)
    if progress:
        from tqdm.auto import tqdm

        lanes = min(dynamic_lanes, len(data))  # the batches _outputs yields: the lanes' rows, then the rows left over
        batches = len(data) // lanes + len(data) % lanes if isinstance(model, CarriesState) else -(-len(data) // lanes)
        outputs = tqdm(outputs, desc="dynamic evaluation", unit="batch", total=batches, leave=False)
    total, count, log_probs = 0.0, 0.0, []
    with torch.enable_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for out in outputs:  # the generator calls the model again only after this batch's update
            if not isinstance(out, ModelOutput) or out.units is None:
                raise ConfigError(f"metric 'dynamic' needs a model whose output counts its units (a language "
                                  f"model's characters); {type(model).__name__} has none: choose metric loss")
            n, nll = float(out.units), float(out.loss.detach())
            if not math.isfinite(nll):
                raise ConfigError(f"dynamic evaluation diverged (a batch's NLL is {nll}) with dynamic_lr "
                                  f"{dynamic_lr}: give a smaller one (--dynamic-lr), or a decay (--dynamic-decay)")
            total, count = total + nll * n, count + n  # scored before the model learns from it
            if dynamic_ngram:
                if getattr(out, "log_probs", None) is None:
                    raise ConfigError(f"mixing with an n-gram model needs each character's log p; "
                                      f"{type(model).__name__}'s output has none: evaluate without --dynamic-ngram")
                log_probs.append(out.log_probs)
            if not dynamic_lr:
                continue
            grads = torch.autograd.grad(out.loss, params, allow_unused=True)
            with torch.no_grad():
                for p, g, p0, a, b in zip(params, grads, trained, scale, pull, strict=True):
                    if g is not None:
                        p.sub_(dynamic_lr * g * a)
                    if dynamic_decay:
                        p.add_(b * (p0 - p))
    if not count:
        raise ConfigError(f"{data.name}'s split holds nothing to predict: metric 'dynamic' needs text")
    nats = total / count
    out = {"dynamic": nats, "dynamic_bits": nats / math.log(2), "dynamic_units": count, "dynamic_lr": dynamic_lr,
           "dynamic_decay": dynamic_decay, "dynamic_rms": dynamic_rms, "dynamic_lanes": dynamic_lanes}
    if dynamic_ngram:
        lm = torch.cat(log_probs).double()  # (n,) the stream's characters 1..n
        ngram = adaptive_ngram_log_probs(data, one_stream(model.prepare(load_split("train"))), stream,
                                         order=dynamic_ngram, refit=dynamic_ngram_refit, progress=progress)
        mixed = -float(mixture_log_probs(lm, ngram, dynamic_ngram_weight).mean())
        out.update(dynamic=mixed, dynamic_bits=mixed / math.log(2), dynamic_lm_bits=nats / math.log(2),
                   dynamic_ngram_bits=-float(ngram.mean()) / math.log(2), dynamic_ngram=dynamic_ngram,
                   dynamic_ngram_weight=dynamic_ngram_weight, dynamic_ngram_refit=dynamic_ngram_refit,
                   dynamic_bits_by_weight={f"{w:g}": round(-float(mixture_log_probs(lm, ngram, w).mean()) / math.log(2),
                                                           5) for w in NGRAM_WEIGHTS})
    return out
