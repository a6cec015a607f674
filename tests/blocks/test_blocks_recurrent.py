"""Recurrent cells and layers (R1, R3–R7): agreement with torch.nn on both paths, padding, variants."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from genlab.blocks import (
    GRU,
    LSTM,
    RNN,
    CoupledGateCell,
    CoupledGateRNN,
    GRUCell,
    LayerNormLSTMCell,
    LSTMCell,
    ResetBeforeGRUCell,
    RNNCell,
    last_valid,
)
from genlab.errors import ConfigError, ShapeError

B, T, D, H = 3, 5, 4, 6
LENGTHS = torch.tensor([5, 2, 3])  # unsorted on purpose

# (ours, torch's, kwargs) for the configurations PyTorch has fused kernels for
FUSED = {
    "lstm": (LSTM, nn.LSTM, {}),
    "gru": (GRU, nn.GRU, {}),
    "rnn_tanh": (RNN, nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNN, nn.RNN, {"nonlinearity": "relu"}),
}
# every layer kind, explicit-only variants included
ALL_LAYERS = {
    **{k: (lambda cls=v[0], kw=v[2], **a: cls(**kw, **a)) for k, v in FUSED.items()},
    "gru_reset_before": lambda **a: GRU(reset_after=False, **a),
    "lstm_layer_norm": lambda **a: LSTM(layer_norm=True, **a),
    "coupled_gate": lambda **a: CoupledGateRNN(**a),
}


def _pair(kind: str, num_layers: int = 2, bidirectional: bool = True):
    ours_cls, torch_cls, kw = FUSED[kind]
    ref = torch_cls(D, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True, **kw).double()
    ours = ours_cls(D, H, num_layers=num_layers, bidirectional=bidirectional, **kw).double()
    ours.load_state_dict(ref.state_dict())
    return ours, ref


def _as_tuple(s):
    return s if isinstance(s, tuple) else (s,)


@pytest.mark.parametrize("kind", list(FUSED))
def test_parameter_names_and_shapes_equal_pytorch_and_state_dicts_move_both_ways(kind):
    ours_cls, torch_cls, kw = FUSED[kind]
    ref = torch_cls(D, H, num_layers=2, bidirectional=True, batch_first=True, **kw)
    ours = ours_cls(D, H, num_layers=2, bidirectional=True, **kw)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
           [(k, v.shape) for k, v in ref.state_dict().items()]
    assert "weight_hh_l1_reverse" in dict(ours.named_parameters())
    ref.load_state_dict(ours.state_dict())  # ours -> torch
    ours2 = ours_cls(D, H, num_layers=2, bidirectional=True, **kw)
    ours2.load_state_dict(ref.state_dict())  # torch -> ours
    assert all(torch.equal(a, b) for a, b in zip(ours.parameters(), ours2.parameters(), strict=True))


@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("kind", list(FUSED))
def test_fast_and_explicit_paths_match_pytorch_outputs_final_states_and_all_gradients(kind, with_lengths):
    ours, ref = _pair(kind)
    x = torch.randn(B, T, D, dtype=torch.float64)
    n_states = 2 if kind == "lstm" else 1
    hx = tuple(torch.randn(4, B, H, dtype=torch.float64) for _ in range(n_states))
    lengths = LENGTHS if with_lengths else None
    w_out = torch.randn(B, T, 2 * H, dtype=torch.float64)  # random read-out weights: a generic loss
    w_state = torch.randn(4, B, H, dtype=torch.float64)

    def loss_and_grads(module, run):
        module.zero_grad()
        xx, hh = x.clone().requires_grad_(), tuple(h.clone().requires_grad_() for h in hx)
        out, final = run(module, xx, hh if n_states == 2 else hh[0])
        loss = (out * w_out).sum() + sum((s * w_state).sum() for s in _as_tuple(final))
        loss.backward()
        grads = {n: p.grad.clone() for n, p in module.named_parameters()}
        return out.detach(), tuple(s.detach() for s in _as_tuple(final)), grads, xx.grad, [h.grad for h in hh]

    def run_ref(m, xx, hh):
        if lengths is None:
            return m(xx, hh)
        packed, final = m(pack_padded_sequence(xx, lengths, batch_first=True, enforce_sorted=False), hh)
        return pad_packed_sequence(packed, batch_first=True, total_length=T)[0], final

    expected = loss_and_grads(ref, run_ref)
    for path in ("fast", "explicit"):
        ours.path = path
        assert ours.uses_fast_path == (path == "fast")
        got = loss_and_grads(ours, lambda m, xx, hh: m(xx, hh, lengths=lengths))
        torch.testing.assert_close(got[0], expected[0], rtol=1e-10, atol=1e-12)  # outputs
        for a, b in zip(got[1], expected[1], strict=True):  # final states
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
        assert got[2].keys() == expected[2].keys()
        for name in got[2]:  # every parameter's gradient
            torch.testing.assert_close(got[2][name], expected[2][name], rtol=1e-9, atol=1e-11, msg=name)
        torch.testing.assert_close(got[3], expected[3], rtol=1e-9, atol=1e-11)  # d loss / d x
        for a, b in zip(got[4], expected[4], strict=True):  # d loss / d initial state
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kind, path", [(k, "explicit") for k in ALL_LAYERS] + [(k, "fast") for k in FUSED])
def test_padded_steps_change_neither_the_state_nor_the_outputs(kind, path):
    layer = ALL_LAYERS[kind](input_size=D, hidden_size=H, num_layers=2, bidirectional=True).double()
    layer.path = path
    x = torch.randn(B, T, D, dtype=torch.float64)
    x_padded = x.clone()
    for b, n in enumerate(LENGTHS.tolist()):
        x_padded[b, n:] = 1e3  # garbage in the padding must not leak
    out, final = layer(x_padded, lengths=LENGTHS)
    for b, n in enumerate(LENGTHS.tolist()):
        alone, alone_final = layer(x[b : b + 1, :n])  # the sequence on its own, unpadded
        torch.testing.assert_close(out[b : b + 1, :n], alone, rtol=1e-10, atol=1e-12)
        assert torch.all(out[b, n:] == 0), "outputs at padded steps must be zero"
        for s, s_alone in zip(_as_tuple(final), _as_tuple(alone_final), strict=True):
            torch.testing.assert_close(s[:, b : b + 1], s_alone, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", list(ALL_LAYERS))
def test_final_state_fed_back_continues_the_sequence_exactly(kind):
    """Stateful processing: running T steps equals running T1 steps then T − T1 from the final state."""
    layer = ALL_LAYERS[kind](input_size=D, hidden_size=H, num_layers=2).double()
    x = torch.randn(B, T, D, dtype=torch.float64)
    out, final = layer(x)
    out1, state1 = layer(x[:, :2])
    out2, final2 = layer(x[:, 2:], state1)
    torch.testing.assert_close(torch.cat([out1, out2], 1), out, rtol=1e-10, atol=1e-12)
    for a, b in zip(_as_tuple(final2), _as_tuple(final), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ours_cls, torch_cls, kw", [
    (RNNCell, nn.RNNCell, {"nonlinearity": "tanh"}), (RNNCell, nn.RNNCell, {"nonlinearity": "relu"}),
    (LSTMCell, nn.LSTMCell, {}), (GRUCell, nn.GRUCell, {}),
])
def test_cells_equal_pytorch_cells(ours_cls, torch_cls, kw):
    ref = torch_cls(D, H, **kw).double()
    ours = ours_cls(D, H, **kw).double()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(B, D, dtype=torch.float64)
    state = (torch.randn(B, H, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64))
    state = state if ours_cls is LSTMCell else state[0]
    for a, b in zip(_as_tuple(ours(x, state)), _as_tuple(ref(x, state)), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_reset_before_gru_follows_the_notes_equations():
    """R3, notes' form: H̃ = tanh(X W_xh + (R ⊙ H) W_hh + b_h), with the weights split by name."""
    cell = ResetBeforeGRUCell(D, H).double()
    x, h = torch.randn(B, D, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    W_xr, W_xz, W_xh = cell.weight_ih.T.chunk(3, dim=1)  # (D, H) each
    W_hr, W_hz, W_hh = cell.weight_hh.T.chunk(3, dim=1)
    b = cell.bias_ih + cell.bias_hh
    b_r, b_z, b_h = b.chunk(3)
    R = torch.sigmoid(x @ W_xr + h @ W_hr + b_r)
    Z = torch.sigmoid(x @ W_xz + h @ W_hz + b_z)
    H_tilde = torch.tanh(x @ W_xh + (R * h) @ W_hh + b_h)
    torch.testing.assert_close(cell(x, h), Z * h + (1 - Z) * H_tilde, rtol=1e-12, atol=1e-12)


def test_both_gru_forms_agree_when_the_reset_gate_is_open_and_differ_otherwise():
    after, before = GRUCell(D, H).double(), ResetBeforeGRUCell(D, H).double()
    before.load_state_dict(after.state_dict())  # same parameters, two equations
    x, h = torch.randn(B, D, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    assert not torch.allclose(after(x, h), before(x, h))
    with torch.no_grad():  # R_t = σ(50) = 1: R ⊙ (H W + b) == (R ⊙ H) W + b
        for cell in (after, before):
            cell.bias_ih[:H] = 50.0
    torch.testing.assert_close(after(x, h), before(x, h), rtol=1e-12, atol=1e-12)


def test_coupled_gate_cell_follows_r5_and_keeps_its_state_when_the_gate_is_closed():
    cell = CoupledGateCell(D, H).double()
    x, h = torch.randn(B, D, dtype=torch.float64), torch.rand(B, H, dtype=torch.float64) * 2 - 1
    pre = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    f, g = torch.sigmoid(pre[:, :H]), torch.tanh(pre[:, H:])
    torch.testing.assert_close(cell(x, h), f * h + (1 - f) * g, rtol=1e-12, atol=1e-12)
    assert cell(x, h).abs().max() < 1  # a convex combination of values in (−1, 1)
    with torch.no_grad():
        cell.bias_ih[:H] = 60.0  # f = 1: h_t = h_{t−1}
    torch.testing.assert_close(cell(x, h), h, rtol=0, atol=1e-12)


def test_layer_norm_lstm_is_invariant_to_rescaling_its_input_weights():
    """Ba et al. 2016: LN(X (αW)) = LN(X W) up to ε, so scaling W_x barely changes the output; a plain
    LSTM's output changes a lot."""
    x = torch.randn(B, D, dtype=torch.float64)
    state = (torch.randn(B, H, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64))

    def change_when_input_weights_scaled(cell):
        before = cell(x, state)[0]
        with torch.no_grad():
            cell.weight_ih.mul_(7.0)
        return (cell(x, state)[0] - before).abs().max().item()

    assert change_when_input_weights_scaled(LayerNormLSTMCell(D, H).double()) < 1e-4
    assert change_when_input_weights_scaled(LSTMCell(D, H).double()) > 1e-2


@pytest.mark.parametrize("path", ["fast", "explicit"])
def test_dropout_between_layers_acts_in_training_only(path):
    layer = LSTM(D, H, num_layers=2, dropout=0.5, path=path).double()
    x = torch.randn(B, T, D, dtype=torch.float64)
    layer.train()
    a, _ = layer(x)
    b, _ = layer(x)
    assert not torch.allclose(a, b)
    layer.eval()
    no_dropout = LSTM(D, H, num_layers=2, path=path).double()
    no_dropout.load_state_dict(layer.state_dict())
    torch.testing.assert_close(layer(x)[0], no_dropout(x)[0], rtol=0, atol=0)


def test_sequence_shapes_for_stacked_bidirectional_layers_and_many_to_one_readout():
    """R6/R7: outputs (B, T, 2H) for many-to-many; h_n (layers·2, B, H); last_valid for many-to-one."""
    layer = GRU(D, H, num_layers=3, bidirectional=True).double()
    x = torch.randn(B, T, D, dtype=torch.float64)
    out, h_n = layer(x, lengths=LENGTHS)
    assert out.shape == (B, T, 2 * H) and h_n.shape == (6, B, H)
    last = last_valid(out, LENGTHS)  # (B, 2H)
    assert last.shape == (B, 2 * H)
    torch.testing.assert_close(last[:, :H], h_n[-2])  # forward direction of the top layer
    torch.testing.assert_close(last_valid(out), out[:, -1])


def test_explicit_path_uses_parameters_swapped_in_by_functional_call():
    layer = LSTM(D, H, path="explicit").double()
    x = torch.randn(B, T, D, dtype=torch.float64)
    zeros = {n: torch.zeros_like(p) for n, p in layer.named_parameters()}
    out, _ = torch.func.functional_call(layer, zeros, (x,))
    assert torch.all(out == 0)  # all-zero weights: c stays 0, h = σ(0)·tanh(0) = 0
    assert not torch.all(layer(x)[0] == 0)  # the module's own parameters are untouched


def test_bad_inputs_raise_errors_that_say_what_to_do():
    layer = LSTM(D, H)
    with pytest.raises(ShapeError, match="batch first"):
        layer(torch.randn(T, D))
    with pytest.raises(ShapeError, match="initial state"):
        layer(torch.randn(B, T, D), torch.zeros(1, B, H))
    with pytest.raises(ShapeError, match="lengths"):
        layer(torch.randn(B, T, D), lengths=torch.tensor([5, 0, 3]))
    with pytest.raises(ConfigError, match="no fused PyTorch kernel"):
        GRU(D, H, reset_after=False, path="fast")
    with pytest.raises(ConfigError, match="dropout"):
        RNN(D, H, dropout=1.5)
