"""The notes' hand-derived backward passes (R2, C6) equal autograd."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genlab.blocks.manual import cnn_backprop, rnn_many_to_one_bptt


def test_bptt_of_the_many_to_one_rnn_equals_autograd():
    """R2 on the notes' sentiment example shape: one-hot words (D = 3), T = 3, plus a longer batch."""
    for B, T, D, H in [(3, 3, 3, 1), (4, 6, 5, 3)]:
        x = torch.randn(B, T, D, dtype=torch.float64)
        y = torch.randint(0, 2, (B,)).double()
        W_i, W_h, W_o = (torch.randn(*s, dtype=torch.float64, requires_grad=True)
                         for s in [(D, H), (H, H), (H, 1)])
        manual = rnn_many_to_one_bptt(x, y, W_i.detach(), W_h.detach(), W_o.detach())
        o = torch.zeros(B, H, dtype=torch.float64)
        for t in range(T):
            o = torch.tanh(x[:, t] @ W_i + o @ W_h)
        loss = F.binary_cross_entropy(torch.sigmoid(o @ W_o).squeeze(1), y)
        loss.backward()
        torch.testing.assert_close(manual.loss, loss.detach())
        torch.testing.assert_close(manual.grad_W_i, W_i.grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(manual.grad_W_h, W_h.grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(manual.grad_W_o, W_o.grad, rtol=1e-10, atol=1e-12)


def test_cnn_backprop_of_the_notes_classifier_equals_autograd():
    """C6: conv → ReLU → max-pool → flatten → dense → sigmoid, BCE; odd sizes so pooling crops."""
    B, C, O, k = 4, 2, 3, 2
    X = torch.randn(B, C, 7, 6, dtype=torch.float64)  # Z1: (6, 5) -> P1: (3, 2), a column cropped
    y = torch.randint(0, 2, (B,)).double()
    W1 = torch.randn(O, C, k, k, dtype=torch.float64, requires_grad=True)
    b1 = torch.randn(O, dtype=torch.float64, requires_grad=True)
    W2 = torch.randn(1, O * 3 * 2, dtype=torch.float64, requires_grad=True)
    b2 = torch.randn(1, dtype=torch.float64, requires_grad=True)
    manual = cnn_backprop(X, y, *(p.detach() for p in (W1, b1, W2, b2)))
    P1 = F.max_pool2d(torch.relu(F.conv2d(X, W1, b1)), 2)
    A2 = torch.sigmoid(P1.flatten(1) @ W2.T + b2).squeeze(1)
    loss = F.binary_cross_entropy(A2, y)
    loss.backward()
    torch.testing.assert_close(manual.loss, loss.detach())
    for got, p in zip(manual[1:], (W1, b1, W2, b2), strict=True):
        torch.testing.assert_close(got, p.grad, rtol=1e-10, atol=1e-12)
