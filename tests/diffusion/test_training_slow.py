"""Slow: train DDPM and VDM for real on a 2-D ring of 8 Gaussians and check the samples."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.models.diffusion import DDPM, VDM


def _ring(n: int, g: torch.Generator) -> torch.Tensor:
    angles = torch.randint(0, 8, (n,), generator=g).float() * (2 * math.pi / 8)
    centres = 2.0 * torch.stack([angles.cos(), angles.sin()], 1)
    return centres + 0.1 * torch.randn(n, 2, generator=g)


# differential entropy of the ring (modes far apart): log 8 + log(2πe σ²) nats over 2 dims, in bits/dim
ENTROPY = (math.log(8) + math.log(2 * math.pi * math.e * 0.1**2)) / (2 * math.log(2))


def _train(model, steps: int, g: torch.Generator) -> None:
    # ~1 min on one core: 4000 steps of batch 256 (2000 steps are not enough for σ = 0.1 modes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(steps):
        loss = model(_ring(256, g), generator=g).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()


def _ring_quality(x: torch.Tensor) -> tuple[float, int]:
    """Fraction of samples within 0.5 of a mode, and how many of the 8 modes get ≥ 5 % of them."""
    angles = torch.arange(8).float() * (2 * math.pi / 8)
    centres = 2.0 * torch.stack([angles.cos(), angles.sin()], 1)
    d = torch.cdist(x, centres)  # (n, 8)
    near = d.min(1).values < 0.5
    counts = torch.bincount(d.argmin(1)[near], minlength=8)
    return float(near.float().mean()), int((counts > 0.05 * len(x)).sum())


@pytest.mark.slow
def test_ddpm_learns_the_ring_of_gaussians_with_both_samplers():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = DDPM(data_shape=(2,), hidden_dim=128, num_layers=3)
    _train(model, 4000, g)
    for sampler, steps in (("ddpm", None), ("ddim", 50)):
        x = model.sample(2000, generator=g, sampler=sampler, steps=steps)
        near, modes = _ring_quality(x)
        assert near > 0.9 and modes == 8, (sampler, near, modes)
    # the bound (D4) on held-out data cannot beat the data entropy (0.225 bits/dim) and gets near it
    bound = model.nll_bpd(_ring(2000, torch.Generator().manual_seed(1)), generator=g, terms=100).total.mean()
    assert ENTROPY - 0.05 < float(bound) < ENTROPY + 1.0, float(bound)


@pytest.mark.slow
def test_vdm_learns_the_ring_of_gaussians_and_its_bound_beats_the_untrained_one():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = VDM(data_shape=(2,), hidden_dim=128, num_layers=3, schedule_hidden=64)
    test = _ring(2000, torch.Generator().manual_seed(1))
    before = model.nll_bpd(test, generator=torch.Generator().manual_seed(2), terms=4).total.mean()
    _train(model, 4000, g)
    after = model.nll_bpd(test, generator=torch.Generator().manual_seed(2), terms=4).total.mean()
    x = model.sample(2000, generator=g, steps=200)
    near, modes = _ring_quality(x)
    assert near > 0.9 and modes == 8, (near, modes)
    # the data's differential entropy (modes far apart): log 8 + log(2πe σ²) nats = 0.225 bits/dim.
    # The bound on held-out data is a cross-entropy, so it lies above it, and training gets close.
    assert float(before) > ENTROPY + 3.0, float(before)
    assert ENTROPY - 0.05 < float(after) < ENTROPY + 0.25, float(after)
