"""Dynamic evaluation of a language model (Krause, Kahembwe, Murray & Renals 2018, "Dynamic Evaluation of Neural
Sequence Models", arXiv:1709.07432, their SGD form): the split is read as ``eval_loss`` reads it, a batch of
segments at a time; each batch is first scored by the model as it stands, then the model takes one gradient step
on that batch's mean NLL (F2), so the text read so far adapts it to the text still to come:

    θ ← θ − η ∇_θ L(s_i) + λ (θ₀ − θ)

(``lr`` η; ``decay`` λ pulls the weights back to the trained ones θ₀, 0: no pull). The score is prequential
(Dawid 1984, as ``evaluation.online``): every character is predicted by a model that has not trained on it, as an
adaptive compressor codes the text. Dropout stays off; the caller's model is left as it was (a copy adapts).
Choose η and λ on the validation split (``genlab eval RUN --split val``), then read the test figure.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from genlab.data.tensors import TensorData
from genlab.errors import ConfigError
from genlab.models.base import CarriesState, Model, ModelOutput

ROWS = 32  # rows a batch holds when the model carries no state (in the split's order)


def eval_dynamic(model: nn.Module, data: TensorData, *, dynamic_lr: float = 1e-2, dynamic_decay: float = 0.0,
                 seed: int = 0, progress: bool = False, **_: Any) -> dict[str, float]:
    """The split's mean NLL per unit (nats; ``dynamic_bits``: per character) under dynamic evaluation."""
    from genlab.evaluation.metrics import _stream_outputs

    if not math.isfinite(dynamic_lr) or dynamic_lr < 0:
        raise ConfigError(f"dynamic_lr must be ≥ 0 (the step size η of each update; 0: the static score), "
                          f"got {dynamic_lr}")
    if not 0 <= dynamic_decay <= 1:
        raise ConfigError(f"dynamic_decay must be in [0, 1] (λ, the pull back to the trained weights), "
                          f"got {dynamic_decay}")
    if not isinstance(model, Model):
        raise ConfigError(f"metric 'dynamic' adapts a model trained on one objective; {type(model).__name__} "
                          f"is not one: choose another metric")
    adapted = copy.deepcopy(model).eval()
    params = [p for p in adapted.parameters() if p.requires_grad]
    trained = [p.detach().clone() for p in params]  # θ₀
    outputs = (_stream_outputs(adapted, data) if isinstance(adapted, CarriesState) else
               (adapted(**batch) for batch in data.loader(ROWS, shuffle=False)))
    if progress:
        from tqdm.auto import tqdm

        outputs = tqdm(outputs, desc="dynamic evaluation", unit="batch", leave=False)
    total, count = 0.0, 0.0
    with torch.enable_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for out in outputs:  # the generator calls the model again only after this batch's update
            if not isinstance(out, ModelOutput) or out.units is None:
                raise ConfigError(f"metric 'dynamic' needs a model whose output counts its units (a language "
                                  f"model's characters); {type(model).__name__} has none: choose metric loss")
            n = float(out.units)
            total, count = total + float(out.loss.detach()) * n, count + n  # scored before the model learns from it
            if not dynamic_lr:
                continue
            grads = torch.autograd.grad(out.loss, params, allow_unused=True)
            with torch.no_grad():
                for p, g, p0 in zip(params, grads, trained, strict=True):
                    if g is not None:
                        p.sub_(dynamic_lr * g)
                    if dynamic_decay:
                        p.add_(dynamic_decay * (p0 - p))
    if not count:
        raise ConfigError(f"{data.name}'s split holds nothing to predict: metric 'dynamic' needs text")
    nats = total / count
    return {"dynamic": nats, "dynamic_bits": nats / math.log(2), "dynamic_units": count, "dynamic_lr": dynamic_lr,
            "dynamic_decay": dynamic_decay}
