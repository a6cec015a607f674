"""Recurrent layers: deep (stacked) and bidirectional RNN / LSTM / GRU over batch-first sequences (R6).

A layer owns its parameters under PyTorch's flat names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...),
so a ``state_dict`` moves both ways with ``torch.nn.RNN/LSTM/GRU``. It runs on one of two paths:

* **fast**: PyTorch's fused sequence kernel (``torch.lstm`` / ``torch.gru`` / ``torch.rnn_tanh`` /
  ``torch.rnn_relu``, the ops behind ``torch.nn.LSTM`` ...) on the layer's own parameters, with
  ``pack_padded_sequence`` for variable lengths;
* **explicit**: the cells of ``cells.py`` looped over time — the only path for variants PyTorch lacks
  (the notes' GRU form, coupled gates, layer-normalized LSTM).

``path="auto"`` takes the fast path whenever the cell has a fused kernel. Both paths give the same
outputs, final states and gradients (tested). With ``lengths``, padded steps change neither the state
nor the outputs: outputs there are zero and final states are those of each sequence's last real step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from genlab.blocks.recurrent.cells import (
    CoupledGateCell,
    GRUCell,
    LayerNormLSTMCell,
    LSTMCell,
    RecurrentCell,
    ResetBeforeGRUCell,
    RNNCell,
    State,
)
from genlab.errors import ConfigError, ShapeError

Path = Literal["auto", "fast", "explicit"]
CellFactory = Callable[..., RecurrentCell]  # (input_size, hidden_size, bias=...) -> cell


class RecurrentStack(nn.Module):
    """``num_layers`` recurrent layers of ``cell``, optionally bidirectional (R6), batch-first.

    Layer ``l`` reads the hidden sequence of layer ``l − 1`` (with dropout ``p`` between layers in
    training); a bidirectional layer runs a second cell on the reversed sequence and concatenates the
    two hidden sequences. ``forward(x, hx=None, lengths=None)`` with ``x`` (B, T, D) returns
    ``(outputs (B, T, dirs·H), final)`` where ``final`` is ``h_n`` (layers·dirs, B, H), or
    ``(h_n, c_n)`` for LSTM cells — PyTorch's convention.
    """

    def __init__(self, cell: CellFactory, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 path: Path = "auto") -> None:
        super().__init__()
        if num_layers < 1:
            raise ConfigError(f"num_layers must be ≥ 1, got {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout between layers must be in [0, 1), got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.dropout, self.bidirectional = bias, dropout, bidirectional
        self.num_directions = 2 if bidirectional else 1
        # The cells do the math but are not submodules: their parameters are registered here under
        # PyTorch's flat names (cell.weight_ih -> weight_ih_l0, cell.ln_c.weight -> ln_c_weight_l0).
        self._cells: list[RecurrentCell] = []
        self._bindings: list[list[tuple[nn.Module, str, str]]] = []  # (owner, leaf, flat name)
        for layer in range(num_layers):
            for direction in range(self.num_directions):
                in_size = input_size if layer == 0 else hidden_size * self.num_directions
                c = cell(in_size, hidden_size, bias=bias)
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                binding = []
                for name, p in c.named_parameters():
                    flat = name.replace(".", "_") + suffix
                    self.register_parameter(flat, p)
                    owner_name, _, leaf = name.rpartition(".")
                    binding.append((c.get_submodule(owner_name), leaf, flat))
                self._cells.append(c)
                self._bindings.append(binding)
        self._flat_weights_names = [flat for b in self._bindings for _, _, flat in b]
        self.path = path  # validated by the property below

    @property
    def path(self) -> Path:
        """Execution path: ``"auto"`` (fast when possible), ``"fast"`` or ``"explicit"``."""
        return self._path

    @path.setter
    def path(self, value: Path) -> None:
        """Choose the path; ``"fast"`` is refused for cells without a fused kernel."""
        if value not in ("auto", "fast", "explicit"):
            raise ConfigError(f"path must be 'auto', 'fast' or 'explicit', got {value!r}")
        if value == "fast" and self._cells[0].fused_op() is None:
            raise ConfigError(f"{type(self._cells[0]).__name__} has no fused PyTorch kernel: "
                              f"use path='auto' or 'explicit'")
        self._path = value

    @property
    def uses_fast_path(self) -> bool:
        """Whether ``forward`` calls PyTorch's fused kernel."""
        return self._path != "explicit" and self._cells[0].fused_op() is not None

    def reset_parameters(self) -> None:
        """Re-initialize every parameter as the cells do (PyTorch's U(−1/√H, 1/√H))."""
        for k in range(len(self._cells)):
            self._bound_cell(k).reset_parameters()
            for sub in self._cells[k].modules():
                if sub is not self._cells[k] and hasattr(sub, "reset_parameters"):
                    sub.reset_parameters()

    def _bound_cell(self, k: int) -> RecurrentCell:
        # point the cell at this layer's current tensors (they may have been replaced by
        # load_state_dict(assign=True), .to(), or torch.func.functional_call)
        for owner, leaf, flat in self._bindings[k]:
            owner._parameters[leaf] = getattr(self, flat)
        return self._cells[k]

    # -- forward ----------------------------------------------------------------------------------
    def forward(self, x: Tensor, hx: Tensor | tuple[Tensor, ...] | None = None,
                lengths: Tensor | Sequence[int] | None = None) -> tuple[Tensor, Tensor | tuple[Tensor, ...]]:
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ShapeError(f"{type(self).__name__} expects x of shape (B, T, {self.input_size}) "
                             f"(batch first), got {tuple(x.shape)}: add a batch axis with x.unsqueeze(0) "
                             f"or check input_size")
        B, T, _ = x.shape
        state = self._initial_state(hx, B, x)
        lengths = self._check_lengths(lengths, B, T)
        if self.uses_fast_path:
            outputs, final = self._fast(x, state, lengths)
        else:
            outputs, final = self._explicit(x, state, lengths)
        return outputs, (final if self._cells[0].num_states == 2 else final[0])

    def _initial_state(self, hx: Tensor | tuple[Tensor, ...] | None, B: int, x: Tensor) -> State:
        n_states = self._cells[0].num_states
        shape = (self.num_layers * self.num_directions, B, self.hidden_size)
        if hx is None:
            return tuple(x.new_zeros(shape) for _ in range(n_states))
        states = (hx,) if isinstance(hx, Tensor) else tuple(hx)
        if len(states) != n_states or any(tuple(s.shape) != shape for s in states):
            got = [tuple(s.shape) for s in states]
            want = "(h_0, c_0), each" if n_states == 2 else "h_0 of shape"
            raise ShapeError(f"{type(self).__name__} expects initial state {want} {shape} "
                             f"(layers·directions, B, H), got {got}")
        return states

    @staticmethod
    def _check_lengths(lengths: Tensor | Sequence[int] | None, B: int, T: int) -> Tensor | None:
        if lengths is None:
            return None
        lengths = torch.as_tensor(lengths)
        if lengths.shape != (B,) or lengths.is_floating_point():
            raise ShapeError(f"lengths must be an integer tensor of shape ({B},), got "
                             f"{tuple(lengths.shape)} {lengths.dtype}")
        lo, hi = int(lengths.min()), int(lengths.max())
        if lo < 1 or hi > T:
            raise ShapeError(f"lengths must lie in [1, {T}] (the padded length), got min {lo}, max {hi}: "
                             f"drop empty sequences from the batch")
        return lengths

    def _fast(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        op = self._cells[0].fused_op()
        weights = [getattr(self, n) for n in self._flat_weights_names]
        hx = list(state) if len(state) == 2 else state[0]
        args = (weights, self.bias, self.num_layers, self.dropout, self.training, self.bidirectional)
        if lengths is None:
            out, *final = op(x, hx, *args, True)  # batch_first=True
            return out, tuple(final)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        order, unorder = packed.sorted_indices, packed.unsorted_indices
        hx = [s.index_select(1, order) for s in hx] if len(state) == 2 else hx.index_select(1, order)
        data, *final = op(packed.data, packed.batch_sizes, hx, *args)
        out, _ = pad_packed_sequence(PackedSequence(data, packed.batch_sizes, order, unorder),
                                     batch_first=True, total_length=x.shape[1])
        return out, tuple(s.index_select(1, unorder) for s in final)

    def _explicit(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        T = x.shape[1]
        mask = None if lengths is None else torch.arange(T, device=x.device) < lengths.to(x.device)[:, None]
        finals: list[list[Tensor]] = [[] for _ in state]
        layer_input = x  # (B, T, D)
        for layer in range(self.num_layers):
            outs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                cell = self._bound_cell(k)
                start = tuple(s[k] for s in state)
                out, last = _unroll(cell, layer_input, start, mask, reverse=direction == 1)
                outs.append(out)
                for i, s in enumerate(last):
                    finals[i].append(s)
            layer_input = torch.cat(outs, dim=-1) if len(outs) > 1 else outs[0]  # (B, T, dirs·H)
            if layer < self.num_layers - 1 and self.dropout > 0 and self.training:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        return layer_input, tuple(torch.stack(f) for f in finals)

    def extra_repr(self) -> str:
        return (f"{type(self._cells[0]).__name__}, {self.input_size}, {self.hidden_size}, "
                f"num_layers={self.num_layers}, bidirectional={self.bidirectional}, "
                f"dropout={self.dropout}, path={self._path!r}")


def _unroll(cell: RecurrentCell, x: Tensor, state: State, mask: Tensor | None,
            reverse: bool) -> tuple[Tensor, State]:
    """Run ``cell`` over ``x`` (B, T, D) from ``state``; masked (padded) steps keep the state, output 0."""
    T = x.shape[1]
    gx = cell.project_input(x)  # (B, T, G·H): the input terms of every step in one matmul
    outputs: list[Tensor] = [x] * T  # placeholders
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        new = cell.step(gx[:, t], state)
        if mask is None:
            state = new
            outputs[t] = new[0]
        else:
            m = mask[:, t, None]  # (B, 1): is step t a real step of sequence b?
            state = tuple(torch.where(m, n, s) for n, s in zip(new, state, strict=True))
            outputs[t] = torch.where(m, new[0], 0.0)
    return torch.stack(outputs, dim=1), state  # (B, T, H)


class RNN(RecurrentStack):
    """Stacked / bidirectional vanilla RNN (R1, R6); drop-in for ``torch.nn.RNN(batch_first=True)``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: Literal["tanh", "relu"] = "tanh", bias: bool = True, dropout: float = 0.0,
                 bidirectional: bool = False, path: Path = "auto") -> None:
        cell = functools.partial(RNNCell, nonlinearity=nonlinearity)
        super().__init__(cell, input_size, hidden_size, num_layers, bias, dropout, bidirectional, path)


class LSTM(RecurrentStack):
    """Stacked / bidirectional LSTM (R4, R6); drop-in for ``torch.nn.LSTM(batch_first=True)``.

    ``layer_norm=True`` uses ``LayerNormLSTMCell`` (Ba et al. 2016, arXiv:1607.06450) on the explicit path.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 dropout: float = 0.0, bidirectional: bool = False, layer_norm: bool = False,
                 path: Path = "auto") -> None:
        cell = LayerNormLSTMCell if layer_norm else LSTMCell
        super().__init__(cell, input_size, hidden_size, num_layers, bias, dropout, bidirectional, path)


class GRU(RecurrentStack):
    """Stacked / bidirectional GRU (R3, R6); drop-in for ``torch.nn.GRU(batch_first=True)``.

    ``reset_after=True`` is PyTorch's form (fast path); ``False`` is the notes' form
    (``ResetBeforeGRUCell``, explicit path) with the same parameters.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 dropout: float = 0.0, bidirectional: bool = False, reset_after: bool = True,
                 path: Path = "auto") -> None:
        cell = GRUCell if reset_after else ResetBeforeGRUCell
        super().__init__(cell, input_size, hidden_size, num_layers, bias, dropout, bidirectional, path)


class CoupledGateRNN(RecurrentStack):
    """Stacked / bidirectional network of coupled-gate cells (R5, R6); explicit path only."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 dropout: float = 0.0, bidirectional: bool = False) -> None:
        super().__init__(CoupledGateCell, input_size, hidden_size, num_layers, bias, dropout,
                         bidirectional, path="explicit")


def last_valid(outputs: Tensor, lengths: Tensor | Sequence[int] | None = None) -> Tensor:
    """Many-to-one readout (R7): the output at each sequence's last real step, ``(B, T, F) -> (B, F)``.

    With ``lengths=None`` it is ``outputs[:, -1]``. For a bidirectional layer the backward half of that
    vector has seen only the last step; use the final states ``h_n`` to read both directions' summaries.
    """
    if outputs.dim() != 3:
        raise ShapeError(f"last_valid expects outputs (B, T, F), got {tuple(outputs.shape)}")
    if lengths is None:
        return outputs[:, -1]
    lengths = torch.as_tensor(lengths, device=outputs.device)
    if lengths.shape != outputs.shape[:1]:
        raise ShapeError(f"lengths must have shape ({outputs.shape[0]},), got {tuple(lengths.shape)}")
    index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, outputs.shape[-1])  # (B, 1, F)
    return outputs.gather(1, index).squeeze(1)
