"""Normalization (N1–N3), dropout (N4, N5), clipping (F4), losses from logits (F1–F3), embedding (R8)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genlab.blocks import (
    BatchNorm1d,
    BatchNorm2d,
    Dropout,
    Embedding,
    LayerNorm,
    binary_cross_entropy_with_logits,
    clip_grad_norm,
    cross_entropy,
    log_softmax,
    mc_predict,
    softmax,
)
from genlab.errors import ShapeError


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("ours_cls, torch_cls, shape", [
    (BatchNorm1d, nn.BatchNorm1d, (6, 3)),  # N1: (B, C)
    (BatchNorm1d, nn.BatchNorm1d, (4, 3, 5)),  # (B, C, T)
    (BatchNorm2d, nn.BatchNorm2d, (4, 3, 5, 2)),  # N2: per channel over batch, height, width
])
def test_batch_norm_matches_pytorch_in_training_and_evaluation(ours_cls, torch_cls, shape, momentum):
    ref, ours = torch_cls(3, momentum=momentum).double(), ours_cls(3, momentum=momentum).double()
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
           [(k, v.shape) for k, v in ref.state_dict().items()]
    with torch.no_grad():
        ref.weight.normal_(), ref.bias.normal_()
    ours.load_state_dict(ref.state_dict())
    for _ in range(3):  # training: batch statistics, running averages updated
        x = torch.randn(*shape, dtype=torch.float64) * 3 + 1
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        torch.testing.assert_close(ours(x1), ref(x2), rtol=1e-10, atol=1e-12)
        ours(x1).pow(3).sum().backward(), ref(x2).pow(3).sum().backward()
        torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-9, atol=1e-10)
    for name, buf in ref.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[name], buf, rtol=1e-12, atol=1e-12, msg=name)
    ours.eval(), ref.eval()  # evaluation: running statistics
    x = torch.randn(*shape, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-10, atol=1e-12)


def test_batch_norm_rejects_wrong_channels_and_single_values_with_a_hint():
    with pytest.raises(ShapeError, match="channels on axis 1"):
        BatchNorm2d(3)(torch.randn(2, 5, 4, 4))
    with pytest.raises(ShapeError, match="batch of 2"):
        BatchNorm1d(3)(torch.randn(1, 3))


def test_layer_norm_matches_pytorch_and_normalizes_each_sample():
    ref, ours = nn.LayerNorm((4, 5)).double(), LayerNorm((4, 5)).double()
    with torch.no_grad():
        ref.weight.normal_(), ref.bias.normal_()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 2, 4, 5, dtype=torch.float64) * 5
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-10, atol=1e-12)
    plain = LayerNorm(5).double()(x)  # N3: mean 0, variance 1 per sample over the features
    torch.testing.assert_close(plain.mean(-1), torch.zeros(3, 2, 4, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(plain.var(-1, correction=0), torch.ones(3, 2, 4, dtype=torch.float64),
                               rtol=1e-4, atol=0)


def test_dropout_zeroes_a_fraction_p_scales_the_rest_and_is_identity_in_evaluation():
    drop = Dropout(0.3)
    x = torch.ones(200, 500)
    y = drop(x)
    kept = y != 0
    assert abs(1 - kept.float().mean().item() - 0.3) < 0.01  # M ~ Bernoulli(1 − p)
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.7))  # H ⊙ M / (1 − p)
    assert abs(y.mean().item() - 1.0) < 0.02  # E[H̃] = H
    drop.eval()
    assert drop(x) is x


def _mc_model():
    return nn.Sequential(nn.Linear(4, 16), BatchNorm1d(16), nn.ReLU(), Dropout(0.5), nn.Linear(16, 2),
                         nn.Dropout(0.2)).double()


def test_mc_predict_averages_stochastic_passes_with_batch_norm_in_evaluation_mode():
    model = _mc_model()
    model.train()
    model(torch.randn(32, 4, dtype=torch.float64))  # give batch norm non-trivial running statistics
    running_mean = model[1].running_mean.clone()
    x = torch.randn(5, 4, dtype=torch.float64)
    torch.manual_seed(1)
    pred = mc_predict(model, x, n=30)
    torch.manual_seed(1)  # the same 30 masks, by hand: eval mode, dropout modules switched on
    model.eval()
    model[3].train(), model[5].train()
    samples = torch.stack([model(x) for _ in range(30)])
    torch.testing.assert_close(pred.mean, samples.mean(0))
    torch.testing.assert_close(pred.std, samples.std(0))
    assert (pred.std > 0).all()
    torch.testing.assert_close(model[1].running_mean, running_mean)  # batch norm was not updated


def test_mc_predict_restores_every_module_mode_and_has_no_spread_without_dropout():
    model = _mc_model()
    model.train()
    model[4].eval()  # a mixed state must come back exactly
    before = [m.training for m in model.modules()]
    mc_predict(model, torch.randn(3, 4, dtype=torch.float64), n=3)
    assert [m.training for m in model.modules()] == before
    deterministic = nn.Sequential(nn.Linear(4, 2), BatchNorm1d(2)).double()
    pred = mc_predict(deterministic, torch.randn(3, 4, dtype=torch.float64), n=4)
    assert torch.all(pred.std == 0)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # clipped / untouched
def test_clip_grad_norm_matches_pytorch(max_norm, norm_type):
    grads = [torch.randn(3, 4, dtype=torch.float64), torch.randn(5, dtype=torch.float64)]
    ours = [nn.Parameter(torch.zeros_like(g)) for g in grads]
    ref = [nn.Parameter(torch.zeros_like(g)) for g in grads]
    for a, b, g in zip(ours, ref, grads, strict=True):
        a.grad, b.grad = g.clone(), g.clone()
    total = clip_grad_norm(ours, max_norm, norm_type)
    expected = nn.utils.clip_grad_norm_(ref, max_norm, norm_type)
    torch.testing.assert_close(total, expected)
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a.grad, b.grad)
    clipped = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in ours]), norm_type)
    assert clipped <= max_norm * (1 + 1e-6)  # F4: ‖ĝ‖ ≤ G_max


def test_softmax_and_cross_entropies_from_logits_match_pytorch_and_stay_finite():
    logits = torch.randn(6, 5, dtype=torch.float64) * 3
    logits[0, 0] = 1e4  # extreme logits: log-sum-exp keeps them finite
    logits[1, 2] = -1e4
    target = torch.tensor([0, 2, 4, 1, -100, 3])
    torch.testing.assert_close(softmax(logits), torch.softmax(logits, -1))
    torch.testing.assert_close(log_softmax(logits), torch.log_softmax(logits, -1))
    torch.testing.assert_close(cross_entropy(logits, target), F.cross_entropy(logits, target))
    probs = torch.softmax(torch.randn(6, 5, dtype=torch.float64), -1)
    torch.testing.assert_close(cross_entropy(logits, probs, reduction="sum"),
                               F.cross_entropy(logits, probs, reduction="sum"))
    z = torch.tensor([-800.0, -3.0, 0.0, 2.0, 800.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    ours = binary_cross_entropy_with_logits(z, y, reduction="none")
    torch.testing.assert_close(ours, F.binary_cross_entropy_with_logits(z, y, reduction="none"))
    assert torch.isfinite(ours).all()
    (g,) = torch.autograd.grad(ours.sum(), z)
    torch.testing.assert_close(g, torch.sigmoid(z) - y)  # ∂L/∂z = σ(z) − y


def test_embedding_padding_row_stays_zero_and_gets_no_gradient():
    emb = Embedding(10, 4, padding_idx=0)
    assert torch.all(emb.weight[0] == 0)
    tokens = torch.tensor([[3, 0, 5], [0, 0, 9]])
    emb(tokens).pow(2).sum().backward()
    assert torch.all(emb.weight.grad[0] == 0)
    assert torch.all(emb.weight.grad[3] != 0)
    onehot = F.one_hot(tokens, 10).double()  # a lookup is the one-hot product, without building it
    torch.testing.assert_close(emb(tokens).double(), onehot @ emb.weight.double())
    with pytest.raises(ShapeError, match="num_embeddings"):
        emb(torch.tensor([[10]]))
