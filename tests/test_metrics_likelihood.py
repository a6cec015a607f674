"""V8: importance-sampled log p(x) against probabilistic PCA, whose log p(x) is exact."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn
from torch.distributions import MultivariateNormal, Normal

from genlab.errors import ConfigError, GenlabError
from genlab.metrics.likelihood import bits_per_dim, iwae_bound, log_likelihood


class PPCA(nn.Module):
    """z ~ N(0, I_L), x|z ~ N(Wz + b, σ² I_D), so p(x) = N(b, WWᵀ + σ²I) and
    p(z|x) = N(M⁻¹Wᵀ(x − b), σ² M⁻¹), M = WᵀW + σ²I (Tipping & Bishop 1999).

    The proposal q(z|x) is the exact posterior with its mean moved by ``shift`` posterior standard
    deviations and its covariance scaled by ``scale`` (``shift=0, scale=1``: q is the posterior).
    """

    def __init__(self, D: int = 5, L: int = 2, sigma: float = 0.5, shift: float = 0.0, scale: float = 1.0,
                 seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W = torch.randn(D, L, generator=g, dtype=torch.float64)
        self.b = torch.randn(D, generator=g, dtype=torch.float64)
        self.sigma, self.shift, self.scale = sigma, shift, scale

    def log_px(self, x: Tensor) -> Tensor:
        cov = self.W @ self.W.T + self.sigma**2 * torch.eye(len(self.b), dtype=torch.float64)
        return MultivariateNormal(self.b, cov).log_prob(x)

    def data(self, n: int, seed: int = 1) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.W.shape[1], generator=g, dtype=torch.float64)
        noise = torch.randn(n, len(self.b), generator=g, dtype=torch.float64)
        return z @ self.W.T + self.b + self.sigma * noise

    def log_importance_weights(self, x: Tensor, k: int, *,
                               generator: torch.Generator | None = None) -> Tensor:
        L = self.W.shape[1]
        M = self.W.T @ self.W + self.sigma**2 * torch.eye(L, dtype=torch.float64)
        post_cov = self.sigma**2 * torch.linalg.inv(M)  # (L, L)
        mean = torch.linalg.solve(M, self.W.T @ (x - self.b).T).T  # (B, L)
        mean = mean + self.shift * post_cov.diagonal().sqrt()
        cov = post_cov * self.scale
        q = MultivariateNormal(mean[:, None, :], cov)  # batch (B, 1)
        eps = torch.randn(len(x), k, L, generator=generator, dtype=torch.float64)
        z = mean[:, None, :] + eps @ torch.linalg.cholesky(cov).T  # (B, k, L)
        log_pz = Normal(0.0, 1.0).log_prob(z).sum(-1)
        log_px_z = Normal(z @ self.W.T + self.b, self.sigma).log_prob(x[:, None, :]).sum(-1)
        return log_px_z + log_pz - q.log_prob(z)  # (B, k)


def test_exact_posterior_proposal_gives_exact_log_px_for_any_k():
    model = PPCA()
    x = model.data(10)
    for k in (1, 7):
        est = log_likelihood(model, x, k=k, batch_size=3, chunk=3, generator=torch.Generator().manual_seed(0))
        assert est.shape == (10,)
        assert torch.allclose(est, model.log_px(x), atol=1e-9)


def test_estimate_converges_to_exact_log_px_as_k_grows():
    model = PPCA(shift=0.5, scale=2.0)
    x = model.data(20)
    exact = model.log_px(x)
    err = {}
    for k in (1, 30, 3000):
        est = log_likelihood(model, x, k=k, batch_size=20, chunk=1000,
                             generator=torch.Generator().manual_seed(0))
        err[k] = (est - exact).abs().mean().item()
    assert err[1] > err[30] > err[3000], err
    assert err[3000] < 0.03 and err[3000] < err[30] / 4, err  # ~ 1/√k


def test_bound_tightens_with_k_and_stays_below_log_px_on_average():
    # E L_1 = ELBO ≤ E L_10 ≤ E L_100 ≤ log p(x) (Burda et al. 2015, Theorem 1), a poor q makes it visible.
    model = PPCA(shift=1.0, scale=0.5)
    x = model.data(200)
    exact = model.log_px(x)
    gaps = [(log_likelihood(model, x, k=k, batch_size=200, chunk=100,
                            generator=torch.Generator().manual_seed(k)) - exact).mean().item()
            for k in (1, 10, 100)]
    assert gaps[0] < gaps[1] < gaps[2] < 0, gaps


def test_chunked_running_logsumexp_equals_one_shot_logsumexp():
    class Fixed(nn.Module):
        """Returns columns of one fixed (B, K) table of log weights, in order, across calls."""

        def __init__(self, table: Tensor) -> None:
            super().__init__()
            self.table, self.pos = table, 0

        def log_importance_weights(self, x: Tensor, k: int) -> Tensor:
            out = self.table[:, self.pos : self.pos + k]
            self.pos += k
            return out

    table = torch.randn(4, 50, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 30
    expected = torch.logsumexp(table, 1) - math.log(50)
    got = log_likelihood(Fixed(table), torch.zeros(4, 1), k=50, batch_size=4, chunk=7)
    assert torch.allclose(got, expected, atol=1e-12)
    assert torch.allclose(iwae_bound(table), expected, atol=1e-12)


def test_model_is_evaluated_in_eval_mode_and_its_mode_restored():
    seen = []

    class Probe(nn.Module):
        def log_importance_weights(self, x: Tensor, k: int) -> Tensor:
            seen.append(self.training)
            return torch.zeros(len(x), k)

    probe = Probe().train()
    log_likelihood(probe, torch.zeros(3, 2), k=4, chunk=2)
    assert seen == [False, False] and probe.training


def test_wrong_weight_shape_and_missing_method_are_reported():
    class Bad(nn.Module):
        def log_importance_weights(self, x: Tensor, k: int) -> Tensor:
            return torch.zeros(k, len(x))

    with pytest.raises(GenlabError, match=r"expected \(3, 5\)"):
        log_likelihood(Bad(), torch.zeros(3, 2), k=5)
    with pytest.raises(GenlabError, match="log_importance_weights"):
        log_likelihood(nn.Linear(2, 2), torch.zeros(3, 2), k=5)
    with pytest.raises(ConfigError):
        log_likelihood(Bad(), torch.zeros(3, 2), k=0)


def test_bits_per_dim_divides_nats_by_dims_times_ln2():
    assert bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0)
    assert torch.allclose(bits_per_dim(torch.tensor([0.0, 2 * math.log(2)]), 2), torch.tensor([0.0, 1.0]))
    with pytest.raises(ConfigError):
        bits_per_dim(1.0, 0)


def test_progress_bar_advances_once_per_batch_and_chunk(capsys):
    model = PPCA()
    log_likelihood(model, model.data(5), k=10, batch_size=2, chunk=4, progress=True)
    err = capsys.readouterr().err
    assert "9/9" in err  # ⌈5/2⌉ batches × ⌈10/4⌉ chunks
