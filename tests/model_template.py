"""The per-model test template (pythae-style): build, shapes, save/load identical, a step changes
weights, overfits one batch. Model test modules call these with their own small model and batch."""

from __future__ import annotations

import torch

import genlab


def check_save_load_identical(model, batch, tmp_path, *, call=None):
    """save_pretrained → genlab.load gives bit-identical weights and outputs."""
    call = call or (lambda m, x: m(x, generator=torch.Generator().manual_seed(0)).loss)
    model.eval()
    model.save_pretrained(tmp_path / "m")
    loaded = genlab.load(tmp_path / "m")
    assert type(loaded) is type(model)
    sd0, sd1 = model.state_dict(), loaded.state_dict()
    assert sd0.keys() == sd1.keys()
    for k in sd0:
        assert torch.equal(sd0[k], sd1[k]), k
    with torch.no_grad():
        assert torch.equal(call(model, batch), call(loaded, batch))


def check_step_changes_weights(model, batch, *, y=None):
    """One Adam step on the loss changes every parameter that receives a gradient."""
    model.train()
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = model(batch, y).loss
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    opt.step()
    changed = [k for k, v in model.named_parameters() if v.grad is not None and not torch.equal(v, before[k])]
    with_grad = [k for k, v in model.named_parameters() if v.grad is not None and v.grad.abs().sum() > 0]
    assert with_grad and set(with_grad) <= set(changed)


def overfit(model, batch, *, y=None, steps=200, lr=3e-3) -> tuple[float, float]:
    """Train on one fixed batch; returns (first loss, last loss)."""
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    first = last = None
    for _ in range(steps):
        opt.zero_grad()
        loss = model(batch, y).loss
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
        last = loss.item()
    return first, last


def binary_batch(n: int = 8, size: int = 8) -> torch.Tensor:
    """A batch of random binary images ``(n, 1, size, size)`` with pixel probability 0.3."""
    return torch.bernoulli(torch.full((n, 1, size, size), 0.3))
