"""The EMA of the weights (used by the diffusion models) warms up, so short runs export trained weights."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from genlab.training.callbacks import EMA, ema_decay_at


def test_ema_decay_warms_up_then_stays_at_the_configured_decay():
    assert ema_decay_at(0, 0.999) == pytest.approx(0.1)
    assert ema_decay_at(90, 0.999) == pytest.approx(91 / 100)
    assert ema_decay_at(10000, 0.999) == 0.999
    decays = [ema_decay_at(n, 0.999) for n in range(2000)]
    assert all(a <= b for a, b in zip(decays, decays[1:], strict=False))
    assert ema_decay_at(5, 0.5) == pytest.approx(0.4) and ema_decay_at(20, 0.5) == 0.5


def test_ema_after_a_short_run_is_near_the_trained_weights_not_the_initial_ones():
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    ema = EMA(0.999)
    system = SimpleNamespace(model=model, ema_module=model, iteration=0)
    ema.on_fit_start(None, system)
    for step in range(1, 101):  # the weight moves to 1 at once and stays there for 100 iterations
        model.weight.data.fill_(1.0)
        system.iteration = step
        ema.on_train_iteration_end(None, system)
    # with a fixed decay 0.999 the average would still be 1 − 0.999¹⁰⁰ ≈ 0.095
    assert ema.shadow["weight"].item() > 0.99
    torch.testing.assert_close(ema.ema_model(model).weight, ema.shadow["weight"])
