"""Recurrent cells — one time step of R1, R3 (both forms), R4, R5 and a layer-normalized LSTM.

Each cell splits a step in two so that a layer can project a whole sequence at once:
``project_input(x)`` computes the input terms ``X_t W_x· + b_x·`` of all gates (one matmul for any
number of steps), and ``step(gx, state)`` adds the recurrent terms and applies the gate equations,
which read one gate per line. ``forward(x, state) = step(project_input(x), state)``.

Parameter names, shapes and gate order are PyTorch's: ``weight_ih`` (G·H, D), ``weight_hh`` (G·H, H),
``bias_ih`` (G·H,), ``bias_hh`` (G·H,), so a ``state_dict`` moves to and from ``torch.nn.RNNCell``,
``LSTMCell`` and ``GRUCell``. A state is a tuple: ``(h,)`` or, for LSTMs, ``(h, c)``, each ``(B, H)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.blocks.norm import LayerNorm
from genlab.errors import ConfigError, ShapeError

State = tuple[Tensor, ...]  # (h,) or (h, c); each (B, H)


class RecurrentCell(nn.Module):
    """Base of the cells: holds ``G`` stacked gates' weights and the step contract (see module doc)."""

    num_gates: ClassVar[int]
    num_states: ClassVar[int] = 1  # 1: (h,); 2: (h, c)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ConfigError(f"{type(self).__name__} needs input_size ≥ 1 and hidden_size ≥ 1, "
                              f"got {input_size} and {hidden_size}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        G, H, D = self.num_gates, hidden_size, input_size
        self.weight_ih = nn.Parameter(torch.empty(G * H, D))  # gates' W_x·, stacked
        self.weight_hh = nn.Parameter(torch.empty(G * H, H))  # gates' W_h·, stacked
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(G * H))
            self.bias_hh = nn.Parameter(torch.empty(G * H))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialization: every weight and bias ~ U(−1/√H, 1/√H)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh):
            if p is not None:
                nn.init.uniform_(p, -bound, bound)

    def fused_op(self) -> Callable | None:
        """PyTorch's fused sequence kernel computing exactly these equations, or ``None``."""
        return None

    def project_input(self, x: Tensor) -> Tensor:  # (..., D) -> (..., G·H)
        """Input terms of every gate, ``X_t W_x· + b_x·``, for one step or a whole sequence."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def recurrent_terms(self, h: Tensor) -> Tensor:  # (B, H) -> (B, G·H)
        """Recurrent terms of every gate, ``H_{t−1} W_h· + b_h·``."""
        return F.linear(h, self.weight_hh, self.bias_hh)

    def step(self, gx: Tensor, state: State) -> State:
        """One time step from the input terms ``gx`` (B, G·H) and the previous state."""
        raise NotImplementedError

    def initial_state(self, batch: int, like: Tensor) -> State:
        """The zero state ``H_0 = 0`` (and ``C_0 = 0``), with ``like``'s dtype and device."""
        return tuple(like.new_zeros(batch, self.hidden_size) for _ in range(self.num_states))

    def forward(self, x: Tensor, state: Tensor | State | None = None) -> Tensor | State:  # x: (B, D)
        """One step; returns ``h`` (B, H), or ``(h, c)`` for LSTMs, as ``torch.nn.*Cell`` do."""
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise ShapeError(f"{type(self).__name__} expects x of shape (B, {self.input_size}), got "
                             f"{tuple(x.shape)}: a cell takes one time step; use a layer for (B, T, D)")
        if state is None:
            state = self.initial_state(x.shape[0], x)
        elif isinstance(state, Tensor):
            state = (state,)
        new = self.step(self.project_input(x), tuple(state))
        return new if self.num_states == 2 else new[0]


class RNNCell(RecurrentCell):
    """Vanilla RNN cell (R1): ``H_t = φ(X_t W_xh + H_{t−1} W_hh + b_h)``, ``φ = tanh`` or ``relu``.

    Elman 1990, "Finding Structure in Time". The output layer ``O_t = H_t W_hq + b_q`` is a
    ``nn.Linear`` applied to the hidden states (R7). Drop-in for ``torch.nn.RNNCell``.
    """

    num_gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: Literal["tanh", "relu"] = "tanh") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ConfigError(f"RNNCell nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias)

    def fused_op(self) -> Callable:
        return torch.rnn_tanh if self.nonlinearity == "tanh" else torch.rnn_relu

    def step(self, gx: Tensor, state: State) -> State:
        (h,) = state
        phi = torch.tanh if self.nonlinearity == "tanh" else torch.relu
        h = phi(gx + self.recurrent_terms(h))  # R1: H_t = φ(X_t W_xh + H_{t−1} W_hh + b_h)
        return (h,)


class LSTMCell(RecurrentCell):
    """Long short-term memory cell (R4), Hochreiter & Schmidhuber 1997; drop-in for ``torch.nn.LSTMCell``.

    ``I_t, F_t, O_t = σ(X_t W_x· + H_{t−1} W_h· + b_·)``, ``C̃_t = tanh(X_t W_xc + H_{t−1} W_hc + b_c)``,
    ``C_t = F_t ⊙ C_{t−1} + I_t ⊙ C̃_t``, ``H_t = O_t ⊙ tanh(C_t)``. Gate order (PyTorch's): i, f, g, o.
    """

    num_gates = 4
    num_states = 2

    def fused_op(self) -> Callable:
        return torch.lstm

    def step(self, gx: Tensor, state: State) -> State:
        h, c = state
        x_i, x_f, x_g, x_o = (gx + self.recurrent_terms(h)).chunk(4, dim=-1)  # each (B, H)
        i_t = torch.sigmoid(x_i)  # R4 input gate   I_t = σ(X_t W_xi + H_{t−1} W_hi + b_i)
        f_t = torch.sigmoid(x_f)  # forget gate      F_t = σ(X_t W_xf + H_{t−1} W_hf + b_f)
        c_tilde = torch.tanh(x_g)  # candidate       C̃_t = tanh(X_t W_xc + H_{t−1} W_hc + b_c)
        o_t = torch.sigmoid(x_o)  # output gate      O_t = σ(X_t W_xo + H_{t−1} W_ho + b_o)
        c = f_t * c + i_t * c_tilde  # memory         C_t = F_t ⊙ C_{t−1} + I_t ⊙ C̃_t
        h = o_t * torch.tanh(c)  # hidden             H_t = O_t ⊙ tanh(C_t)
        return h, c


class GRUCell(RecurrentCell):
    """Gated recurrent unit (R3), PyTorch/cuDNN form (reset gate after the matmul, Keras' ``reset_after``).

    Cho et al. 2014, "Learning Phrase Representations using RNN Encoder-Decoder", arXiv:1406.1078.
    ``R_t = σ(X_t W_xr + H_{t−1} W_hr + b_r)``, ``Z_t = σ(X_t W_xz + H_{t−1} W_hz + b_z)``,
    ``H̃_t = tanh(X_t W_xh + b_xh + R_t ⊙ (H_{t−1} W_hh + b_hh))``, ``H_t = Z_t ⊙ H_{t−1} + (1 − Z_t) ⊙ H̃_t``.
    Gate order (PyTorch's): r, z, n. Drop-in for ``torch.nn.GRUCell``; the notes' form is
    ``ResetBeforeGRUCell``.
    """

    num_gates = 3

    def fused_op(self) -> Callable | None:
        return torch.gru

    def step(self, gx: Tensor, state: State) -> State:
        (h,) = state
        x_r, x_z, x_n = gx.chunk(3, dim=-1)  # each (B, H)
        h_r, h_z, h_n = self.recurrent_terms(h).chunk(3, dim=-1)
        r_t = torch.sigmoid(x_r + h_r)  # R3 reset gate   R_t = σ(X_t W_xr + H_{t−1} W_hr + b_r)
        z_t = torch.sigmoid(x_z + h_z)  # update gate      Z_t = σ(X_t W_xz + H_{t−1} W_hz + b_z)
        # candidate H̃_t = tanh(X_t W_xh + b_xh + R_t ⊙ (H_{t−1} W_hh + b_hh))
        h_tilde = torch.tanh(x_n + r_t * h_n)
        h = z_t * h + (1 - z_t) * h_tilde  # H_t = Z_t ⊙ H_{t−1} + (1 − Z_t) ⊙ H̃_t
        return (h,)


class ResetBeforeGRUCell(GRUCell):
    """GRU in the notes' form (R3, Cho et al. 2014, arXiv:1406.1078): reset gate *before* the matmul.

    ``H̃_t = tanh(X_t W_xh + (R_t ⊙ H_{t−1}) W_hh + b_h)``; the other equations as ``GRUCell``. Same
    parameters as ``GRUCell`` (a ``state_dict`` moves between the two forms); PyTorch has no fused
    kernel for it, so layers run it on the explicit path.
    """

    def fused_op(self) -> None:
        return None

    def step(self, gx: Tensor, state: State) -> State:
        (h,) = state
        H = self.hidden_size
        x_r, x_z, x_n = gx.chunk(3, dim=-1)  # each (B, H)
        b_rz, b_n = (None, None) if self.bias_hh is None else self.bias_hh.split([2 * H, H])
        w_rz, w_n = self.weight_hh.split([2 * H, H])  # (2H, H), (H, H)
        h_r, h_z = F.linear(h, w_rz, b_rz).chunk(2, dim=-1)
        r_t = torch.sigmoid(x_r + h_r)  # R3 reset gate   R_t = σ(X_t W_xr + H_{t−1} W_hr + b_r)
        z_t = torch.sigmoid(x_z + h_z)  # update gate      Z_t = σ(X_t W_xz + H_{t−1} W_hz + b_z)
        # candidate H̃_t = tanh(X_t W_xh + (R_t ⊙ H_{t−1}) W_hh + b_h)
        h_tilde = torch.tanh(x_n + F.linear(r_t * h, w_n, b_n))
        h = z_t * h + (1 - z_t) * h_tilde  # H_t = Z_t ⊙ H_{t−1} + (1 − Z_t) ⊙ H̃_t
        return (h,)


class CoupledGateCell(RecurrentCell):
    """Coupled-gate cell (R5, notes 000): one gate both keeps and writes, ``h_t = f ⊙ h_{t−1} + (1 − f) ⊙ g``.

    ``f = σ(X_t W_xf + H_{t−1} W_hf + b_f)``, ``g = tanh(X_t W_xg + H_{t−1} W_hg + b_g)``. Gate order f, g.
    It is a GRU without a reset gate (the "minimal gated unit" of Zhou et al. 2016, arXiv:1603.09420).
    """

    num_gates = 2

    def step(self, gx: Tensor, state: State) -> State:
        (h,) = state
        x_f, x_g = (gx + self.recurrent_terms(h)).chunk(2, dim=-1)  # each (B, H)
        f = torch.sigmoid(x_f)  # R5 coupled gate  f = σ(X_t W_xf + H_{t−1} W_hf + b_f)
        g = torch.tanh(x_g)  # candidate             g = tanh(X_t W_xg + H_{t−1} W_hg + b_g)
        h = f * h + (1 - f) * g  # h_t = f ⊙ h_{t−1} + (1 − f) ⊙ g
        return (h,)


class LayerNormLSTMCell(LSTMCell):
    """LSTM (R4) with layer normalization (N3) of the gate inputs and of the memory.

    Ba, Kiros & Hinton 2016, "Layer Normalization", arXiv:1607.06450, eq. (20)–(22):
    ``[i, f, g, o] = LN(X_t W_x) + LN(H_{t−1} W_h) + b``, ``C_t = σ(f) ⊙ C_{t−1} + σ(i) ⊙ tanh(g)``,
    ``H_t = σ(o) ⊙ tanh(LN(C_t))``. Runs on the explicit path (no fused kernel).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias)
        self.ln_ih = LayerNorm(4 * hidden_size)
        self.ln_hh = LayerNorm(4 * hidden_size)
        self.ln_c = LayerNorm(hidden_size)

    def fused_op(self) -> None:
        return None

    def project_input(self, x: Tensor) -> Tensor:  # (..., D) -> (..., 4H)
        """``LN(X_t W_x) + b_x``: the normalized input terms of the four gates."""
        gx = self.ln_ih(F.linear(x, self.weight_ih))  # LN(X_t W_x)
        return gx if self.bias_ih is None else gx + self.bias_ih

    def recurrent_terms(self, h: Tensor) -> Tensor:  # (B, H) -> (B, 4H)
        """``LN(H_{t−1} W_h) + b_h``: the normalized recurrent terms of the four gates."""
        gh = self.ln_hh(F.linear(h, self.weight_hh))  # LN(H_{t−1} W_h)
        return gh if self.bias_hh is None else gh + self.bias_hh

    def step(self, gx: Tensor, state: State) -> State:
        h, c = state
        x_i, x_f, x_g, x_o = (gx + self.recurrent_terms(h)).chunk(4, dim=-1)  # each (B, H)
        i_t = torch.sigmoid(x_i)  # input gate
        f_t = torch.sigmoid(x_f)  # forget gate
        c_tilde = torch.tanh(x_g)  # candidate memory
        o_t = torch.sigmoid(x_o)  # output gate
        c = f_t * c + i_t * c_tilde  # C_t = F_t ⊙ C_{t−1} + I_t ⊙ C̃_t
        h = o_t * torch.tanh(self.ln_c(c))  # H_t = O_t ⊙ tanh(LN(C_t))
        return h, c
