"""The uses of autoencoders (AE6): embedding, retrieval, anomaly detection, denoising."""

import math

import pytest
import torch
from torch import nn

from genlab.evaluation.uses import (
    anomaly_auroc,
    anomaly_scores,
    denoising_psnr,
    embed,
    psnr,
    retrieval_precision,
    score_name,
    without_digit,
)
from genlab.models.autoencoders import Autoencoder
from genlab.models.vae import VAE


class CodeMap(nn.Module):
    """A stand-in autoencoder whose code is a given function of x and which reconstructs with ``rec``."""

    def __init__(self, code=lambda x: x.flatten(1), rec=lambda x: x):
        super().__init__()
        self._unused = nn.Parameter(torch.zeros(()))  # gives the module a device
        self.code, self.rec = code, rec

    def encode(self, x):
        return self.code(x)

    def reconstruct(self, x):
        return self.rec(x)


def _labelled(n, seed=0, noise=4.0):
    """Images whose first pixel holds the label, the rest heavy noise (pixel neighbours are uninformative)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(4, (n,), generator=g)
    x = noise * torch.rand(n, 1, 8, 8, generator=g)
    x[:, 0, 0, 0] = y.float()
    return x, y


def test_psnr_of_identical_images_is_infinite_and_of_noisy_ones_the_closed_form():
    x = torch.rand(2000, 1, 8, 8)
    assert psnr(x, x) == math.inf
    sigma = 0.1
    noisy = x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    assert psnr(noisy, x) == pytest.approx(10 * math.log10(1 / sigma**2), abs=0.05)


def test_denoising_psnr_compares_the_denoiser_with_the_noisy_input(tmp_path):
    x = torch.rand(500, 1, 8, 8)
    kw = {"sigma": 0.2, "out_png": tmp_path / "grid.png"}
    same = denoising_psnr(CodeMap(), x, generator=torch.Generator().manual_seed(0), **kw)
    assert same["psnr_denoised"] == same["psnr_noisy"] == pytest.approx(10 * math.log10(1 / 0.04), abs=0.1)
    assert (tmp_path / "grid.png").is_file()
    clamp = denoising_psnr(CodeMap(rec=lambda v: v.clamp(0, 1)), x,  # projecting onto [0, 1] removes noise
                           generator=torch.Generator().manual_seed(0), **kw)
    assert clamp["psnr_noisy"] == same["psnr_noisy"] and clamp["psnr_denoised"] > clamp["psnr_noisy"] + 0.5


def test_retrieval_precision_is_one_when_the_code_is_the_label():
    x_db, y_db = _labelled(200, seed=0)
    x_q, y_q = _labelled(50, seed=1)
    label_code = CodeMap(code=lambda x: x[:, 0, 0, :1] * 100)
    r = retrieval_precision(label_code, x_db, y_db, x_q, y_q, k=10)
    assert r["precision_code"] == 1.0 and r["precision_pixel"] < 0.6
    identity = retrieval_precision(CodeMap(), x_db, y_db, x_q, y_q, k=10)
    assert identity["precision_code"] == identity["precision_pixel"]


def test_embed_compares_knn_in_code_pca_and_pixel_space(tmp_path):
    x_tr, y_tr = _labelled(200, seed=0)
    x_te, y_te = _labelled(60, seed=1)
    identity = embed(CodeMap(), x_tr, y_tr, x_te, y_te, out_png=tmp_path / "e.png")
    # the identity code is pixel space, and full-dimension PCA is a rotation: distances are kept
    assert identity["knn_code"] == identity["knn_pixel"] == identity["knn_pca"]
    assert identity["code_dim"] == 64 and (tmp_path / "e.png").is_file()
    label = embed(CodeMap(code=lambda x: x[:, 0, 0, :1] * 100), x_tr, y_tr, x_te, y_te)
    assert label["knn_code"] == 1.0 and label["knn_pixel"] < 0.6


def test_anomaly_auroc_is_one_when_anomalies_reconstruct_worse():
    m = Autoencoder(data_shape=(1, 8, 8), hidden=(8,), code_dim=2)
    with torch.no_grad():  # a decoder that always outputs (almost) black images
        out_layer = m.decoder[-2][0]
        out_layer.weight.zero_()
        out_layer.bias.fill_(-5.0)
    normal = 0.05 * torch.rand(20, 1, 8, 8)
    anomalies = torch.ones(5, 1, 8, 8)
    x = torch.cat([normal, anomalies])
    is_anomaly = torch.cat([torch.zeros(20), torch.ones(5)]).bool()
    r = anomaly_auroc(m, x, is_anomaly)
    assert r["auroc"] == 1.0 and r["score"] == "reconstruction error"
    assert anomaly_auroc(m, x, ~is_anomaly)["auroc"] == 0.0
    with pytest.raises(Exception, match="both"):
        anomaly_auroc(m, x, torch.ones(25, dtype=torch.bool))


def test_anomaly_score_of_a_vae_is_minus_its_elbo():
    m = VAE(data_shape=(1, 8, 8), hidden=(8,), latent_dim=2)
    x = torch.rand(6, 1, 8, 8)
    with torch.no_grad():
        ref = -m.elbo(x, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(anomaly_scores(m, x), ref)
    assert score_name(m) == "-ELBO"


def test_without_digit_removes_exactly_that_digit():
    from genlab.data import load

    full = load("digits", split="train")
    held = without_digit("digits", 3)
    assert not (held.y == 3).any() and len(held) == len(full) - int((full.y == 3).sum())
