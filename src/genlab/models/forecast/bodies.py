"""The causal bodies of the forecasters: per-step input features ``(B, L, D)`` → per-step features ``(B, L, F)``,
where step t's features depend on steps ≤ t only (what one-step-ahead training on shifted targets needs, S1).

- ``LagMLP`` (the AR-MLP): at each step the last ``lags`` steps' features, flattened, through an MLP — an
  autoregression of order ``lags`` with a nonlinear map (the steps before the window's first are its first repeated);
- ``RecurrentBody``: a stacked LSTM or GRU (R3, R4, R6);
- ``ConvBody``: a TCN of causal dilated convolutions (C3, C4; receptive field ``1 + Σ_i 2(k − 1)2^i``);
- ``AttentionBody``: a causal transformer (A3, A5) over the steps.

Each ends in dropout, so Monte-Carlo dropout (N5) has a source of randomness whatever the depth.

``Highway`` is not a body: the linear autoregression on the series' last ``p`` values that LSTNet (Lai et al. 2018,
arXiv:1703.07015) adds to a network's forecast, so that the linear AR model (what AutoReg fits) lies inside every
forecaster and the body only has to learn what it misses.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.blocks.causal_conv import TCN
from genlab.blocks.recurrent.layers import GRU, LSTM
from genlab.blocks.transformer import CausalTransformer


def lag_windows(x: Tensor, p: int) -> Tensor:
    """``(B, L, D)`` → ``(B, L, D, p)``: at each step t the steps t − p + 1 … t (before the first, the first
    repeated)."""
    padded = torch.cat([x[:, :1].expand(-1, p - 1, -1), x], 1)  # (B, L + p − 1, D)
    return padded.unfold(1, p, 1)


def last_window(x: Tensor, p: int) -> Tensor:
    """``(B, T, D)`` → ``(B, p, D)``: the last ``p`` steps (``lag_windows(x, p)[:, -1]`` without the others)."""
    window = x[:, -p:]  # (B, ≤ p, D)
    if window.shape[1] < p:
        window = torch.cat([window[:, :1].expand(-1, p - window.shape[1], -1), window], 1)
    return window


class Highway(nn.Module):
    """``a_t = Σ_{i<p} w_i y_{t−i} + b``: a linear autoregression of order ``p`` on the series ``(B, L, 1)`` at
    every step → ``(B, L, 1)``; starts at zero, so a forecaster begins as it would without it."""

    def __init__(self, p: int) -> None:
        super().__init__()
        self.p = p
        self.linear = nn.Linear(p, 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, y: Tensor) -> Tensor:  # (B, L, 1) → (B, L, 1)
        return self.linear(lag_windows(y, self.p)[:, :, 0])

    def last(self, y: Tensor) -> Tensor:
        """The last step's term only ``(B,)`` from the values so far ``(B, T)``."""
        return self.linear(last_window(y[..., None], self.p)[..., 0])[:, 0]


class LagMLP(nn.Module):
    """``h_t = MLP([x_{t−p+1}; …; x_t])``, ``p = lags``."""

    def __init__(self, d_in: int, hidden: int, layers: int, lags: int, dropout: float) -> None:
        super().__init__()
        self.lags = lags
        widths = [d_in * lags] + [hidden] * layers
        mods: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            mods += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout)]
        self.mlp = nn.Sequential(*mods)
        self.out_dim = hidden

    def forward(self, x: Tensor) -> Tensor:  # (B, L, D) → (B, L, F)
        windows = lag_windows(x, self.lags)  # (B, L, D, p): steps t − p + 1 … t
        return self.mlp(windows.transpose(2, 3).flatten(2))

    def last(self, x: Tensor) -> Tensor:
        """The last step's features only ``(B, F)`` (``forward(x)[:, -1]``, without the other steps' windows)."""
        return self.mlp(last_window(x, self.lags).flatten(1))


class RecurrentBody(nn.Module):
    def __init__(self, d_in: int, hidden: int, layers: int, dropout: float, cell: str) -> None:
        super().__init__()
        self.rnn = (LSTM if cell == "lstm" else GRU)(d_in, hidden, num_layers=layers,
                                                     dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.out_dim = hidden

    def forward(self, x: Tensor, state=None, *, with_state: bool = False):
        """Features ``(B, L, F)``; with ``with_state``, also the final state, from which ``forward(x_next, state)``
        continues the sequence step by step (a forecast's rollout then costs one step per value, not the window)."""
        out, final = self.rnn(x, state)
        return (self.drop(out), final) if with_state else self.drop(out)


class ConvBody(nn.Module):
    def __init__(self, d_in: int, hidden: int, layers: int, dropout: float, kernel_size: int) -> None:
        super().__init__()
        self.tcn = TCN(d_in, [hidden] * layers, kernel_size=kernel_size, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.out_dim = hidden

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.tcn(x.transpose(1, 2)).transpose(1, 2))


class AttentionBody(nn.Module):
    def __init__(self, d_in: int, hidden: int, layers: int, dropout: float, heads: int, max_len: int) -> None:
        super().__init__()
        self.inp = nn.Linear(d_in, hidden)
        self.transformer = CausalTransformer(hidden, heads, layers, dropout=dropout, positions="learned",
                                             max_len=max_len)
        self.drop = nn.Dropout(dropout)
        self.out_dim = hidden

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.transformer(self.inp(x)))
