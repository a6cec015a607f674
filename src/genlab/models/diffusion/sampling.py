"""The sampling loop (D2) and classifier-free guidance, kept apart from networks and schedulers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import Tensor

from genlab.models.diffusion.ddpm_scheduler import SchedulerOutput
from genlab.models.inputs import check_labels

if TYPE_CHECKING:
    from genlab.models.base import Model

Denoiser = Callable[[Tensor, Tensor, Tensor | None], Tensor]  # (x_t, t (B,), y (B,) | None) → output


class Scheduler(Protocol):
    """What ``sample_loop`` runs: ``timesteps`` to visit (descending) and one reverse ``step`` from each
    (``DDPMScheduler``, ``DDIMScheduler``, ``VDMScheduler``)."""

    timesteps: Tensor

    def step(self, model_output: Tensor, t: int, x_t: Tensor, *, generator: torch.Generator | None = None,
             **kwargs: Any) -> SchedulerOutput: ...


def guided_output(
    net: Denoiser,
    x_t: Tensor,
    t: Tensor,
    *,
    y: Tensor | None,
    guidance_scale: float,
    num_channels: int | None = None,
) -> Tensor:
    """Classifier-free guidance: ``ε̃ = (1 + w) ε(x_t, y) − w ε(x_t, ∅)``.

    Ho & Salimans, "Classifier-Free Diffusion Guidance", 2022, arXiv:2207.12598, Eq. (6). ``∅`` is
    the null label (``y = None``). The combination is affine, so it applies equally to ``x_0``- or
    ``v``-predictions. Only the first ``num_channels`` channels are guided (a learned variance half
    keeps its conditional value). ``w = 0`` (or ``y = None``) is one plain network call; ``w = −1``
    gives the unconditional model.
    """
    if y is None or guidance_scale == 0.0:
        return net(x_t, t, y)
    B = x_t.shape[0]
    out = net(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, -1)]))
    cond, uncond = out[:B], out[B:]  # (B, ...) each
    k = num_channels if num_channels is not None else cond.shape[1]
    guided = (1.0 + guidance_scale) * cond[:, :k] - guidance_scale * uncond[:, :k]
    return torch.cat([guided, cond[:, k:]], dim=1)


@torch.no_grad()
def sample_loop(
    denoise: Callable[[Tensor, Tensor], Tensor],
    scheduler: Scheduler,
    x_T: Tensor,
    *,
    generator: torch.Generator | None = None,
    progress: bool = False,
    **step_kwargs,
) -> Tensor:
    """D2: run the reverse chain ``x_T → x_0`` over ``scheduler.timesteps`` (set them first).

    ``denoise(x_t, t)`` returns the network output for a ``(B,)`` tensor of timesteps;
    ``step_kwargs`` go to ``scheduler.step`` (e.g. ``eta`` for DDIM: ``Sampler.step_kwargs()``).
    """
    x = x_T
    timesteps = scheduler.timesteps.tolist()
    if progress:
        from tqdm.auto import tqdm

        timesteps = tqdm(timesteps, desc="sampling", leave=False)
    for t in timesteps:
        t_batch = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)  # (B,)
        x = scheduler.step(denoise(x, t_batch), t, x, generator=generator, **step_kwargs).prev_sample
    return x


def sample_labels(model: Model, y: Tensor | int | None, n: int, *, num_classes: int) -> Tensor | None:
    """Labels for ``n`` samples of ``model``: ``None`` → ``0, 1, …, num_classes − 1, 0, …`` (a grid row per
    class); an int → that class for all; a tensor → as given (``−1`` = the null class); checked by
    ``check_labels`` (an unconditional model, ``num_classes=0``, refuses any ``y``; it gets ``None``)."""
    if y is None:
        return None if num_classes == 0 else torch.arange(n, device=model.device) % num_classes
    return check_labels(model, y, n, num_classes=num_classes, null_label=True)


def batch_labels(model: Model, y: Tensor | None, n: int, *, num_classes: int) -> Tensor | None:
    """The labels of a batch of ``n`` examples given to ``forward``/``nll_bpd``: checked by ``check_labels``
    (``−1`` = no label) for a conditional model; ``None`` for an unconditional one, which ignores ``y``
    (the model contract: the trainer passes every batch's labels)."""
    if num_classes == 0:
        return None
    return check_labels(model, y, n, num_classes=num_classes, null_label=True)
