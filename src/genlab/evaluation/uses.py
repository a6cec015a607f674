"""What autoencoders are used for (AE6), each returning measured figures (and optionally a PNG).

- ``embed``: dimensionality reduction — kNN accuracy in code space vs PCA space vs pixel space,
  and a 2-D scatter of the codes next to PCA's.
- ``retrieval_precision``: information retrieval — precision@k of same-label neighbours in code space.
- ``anomaly_auroc``: anomaly detection by reconstruction error (``−ELBO`` for VAEs); ``without_digit``
  builds a training set that lacks one digit.
- ``denoising_psnr``: image denoising — PSNR of the denoised vs the noisy images, with a grid PNG.

Codes are ``model.encode(x)`` (its first output, ``μ``, for VAEs).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError
from genlab.models.autoencoders.code_prior import encode_all
from genlab.models.base import declared
from genlab.models.pca import PCA


def _numpy(t: Tensor):
    return t.detach().flatten(1).double().cpu().numpy()


def knn_accuracy(ref: Tensor, y_ref: Tensor, query: Tensor, y_query: Tensor, *, k: int = 5) -> float:
    """Accuracy of a ``k``-nearest-neighbour classifier (Euclidean; scikit-learn) fitted on ``ref``."""
    from sklearn.neighbors import KNeighborsClassifier

    clf = KNeighborsClassifier(n_neighbors=k).fit(_numpy(ref), y_ref.cpu().numpy())
    return float(clf.score(_numpy(query), y_query.cpu().numpy()))


def precision_at_k(db: Tensor, y_db: Tensor, query: Tensor, y_query: Tensor, *, k: int = 10) -> float:
    """Mean fraction of each query's ``k`` nearest database items (Euclidean) that share its label."""
    from sklearn.neighbors import NearestNeighbors

    if k > len(db):
        raise ConfigError(f"k={k} exceeds the database size {len(db)}")
    idx = NearestNeighbors(n_neighbors=k).fit(_numpy(db)).kneighbors(_numpy(query), return_distance=False)
    same = y_db.cpu()[torch.from_numpy(idx)] == y_query.cpu()[:, None]  # (Q, k)
    return same.double().mean().item()


def embed(model: nn.Module, x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor, *,
          out_png: str | os.PathLike | None = None, n_neighbors: int = 5) -> dict[str, Any]:
    """AE6, dimensionality reduction: kNN accuracy (train as reference, test as queries) in code space,
    in PCA space of the same dimension, and in pixel space; optionally a PNG of the test codes in 2-D
    (PCA of the codes when ``dim h > 2``) next to the 2-D PCA of the test images, coloured by label."""
    h_train, h_test = encode_all(model, x_train), encode_all(model, x_test)  # (N, d)
    d = h_train.shape[1]
    pca = PCA(min(d, x_train[0].numel(), len(x_train) - 1)).fit(x_train)
    out = {
        "knn_code": knn_accuracy(h_train, y_train, h_test, y_test, k=n_neighbors),
        "knn_pca": knn_accuracy(pca.transform(x_train), y_train, pca.transform(x_test), y_test,
                                k=n_neighbors),
        "knn_pixel": knn_accuracy(x_train, y_train, x_test, y_test, k=n_neighbors),
        "code_dim": d, "n_neighbors": n_neighbors, "n_reference": len(x_train), "n_query": len(x_test),
    }
    if out_png is not None:
        code_2d = h_test if d <= 2 else PCA(2).fit(h_train).transform(h_test)
        pca_2d = PCA(2).fit(x_train).transform(x_test)
        _scatter_panels([(code_2d, f"codes (dim {d})"), (pca_2d, "PCA of pixels")], y_test, Path(out_png))
    return out


def retrieval_precision(model: nn.Module, x_db: Tensor, y_db: Tensor, x_q: Tensor, y_q: Tensor, *,
                        k: int = 10) -> dict[str, Any]:
    """AE6, information retrieval: precision@``k`` of same-label neighbours in code vs pixel space."""
    return {
        "precision_code": precision_at_k(encode_all(model, x_db), y_db, encode_all(model, x_q), y_q, k=k),
        "precision_pixel": precision_at_k(x_db, y_db, x_q, y_q, k=k),
        "k": k, "n_database": len(x_db), "n_query": len(x_q),
    }


def score_name(model: nn.Module) -> str:
    """What ``anomaly_scores`` measures for ``model``: the score its capabilities declare
    (``genlab.models.base.declared``: ``-ELBO`` for a latent-variable model, else a reconstruction error)."""
    found = declared(model, "anomaly_score_name")
    if found is None:
        raise ConfigError(f"{type(model).__name__} neither reconstructs its inputs nor has a bound: anomaly scores "
                          f"need an autoencoder or a VAE")
    return found[1]


@torch.no_grad()
def anomaly_scores(model: nn.Module, x: Tensor, *, batch_size: int = 1000, seed: int = 0) -> Tensor:
    """Per-example anomaly score → ``(N,)``: the ``anomaly_score`` of the capability that names ``score_name``
    (``−ELBO`` with one seeded sample for likelihood models, else the reconstruction error ``L(x, g(f(x)))``)."""
    score_name(model)  # a clear error for a model without one
    capability, _ = declared(model, "anomaly_score_name")
    model.eval()
    g = torch.Generator().manual_seed(seed)
    score = capability.anomaly_score  # the declaring capability's, whatever the model's other bases define
    return torch.cat([score(model, x[i: i + batch_size], generator=g) for i in range(0, len(x), batch_size)])


def anomaly_auroc(model: nn.Module, x: Tensor, is_anomaly: Tensor) -> dict[str, Any]:
    """AE6, anomaly detection: AUROC (scikit-learn) of ``anomaly_scores`` against ``is_anomaly``."""
    from sklearn.metrics import roc_auc_score

    labels = is_anomaly.bool().cpu()
    if labels.all() or not labels.any():
        raise ConfigError("is_anomaly must contain both anomalies and normal examples")
    scores = anomaly_scores(model, x).double().cpu()
    return {"auroc": float(roc_auc_score(labels.numpy(), scores.numpy())), "score": score_name(model),
            "n_anomalies": int(labels.sum()), "n_normal": int((~labels).sum())}


def without_digit(name: str, digit: int, split: str = "train", **options: Any):
    """``genlab.data.load(name, split)`` without the examples labelled ``digit`` (a training set for
    anomaly detection, where ``digit`` is the anomaly)."""
    from genlab.data import load

    return load(name, split=split, **options).without_labels([digit])


def psnr(x: Tensor, reference: Tensor, *, max_value: float = 1.0) -> float:
    """Peak signal-to-noise ratio ``10 log10(MAX² / MSE)`` over all values (dB; ``inf`` if identical)."""
    mse = (x.double() - reference.double()).pow(2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(max_value**2 / mse)


@torch.no_grad()
def denoising_psnr(model: nn.Module, x_clean: Tensor, sigma: float, *,
                   generator: torch.Generator | None = None, out_png: str | os.PathLike | None = None,
                   n_show: int = 8) -> dict[str, Any]:
    """AE6, image denoising: ``x̃ = x + σ ε``; PSNR of ``x̃`` and of the denoised ``g(f(x̃))`` against
    ``x`` (for ``x̃`` it is ``10 log10(1/σ²)`` in expectation); a PNG grid of clean / noisy / denoised rows."""
    from genlab.models.autoencoders.noise import gaussian_noise

    model.eval()
    noisy = gaussian_noise(x_clean, sigma, generator=generator)
    denoised = model.reconstruct(noisy)
    out = {"psnr_noisy": psnr(noisy, x_clean), "psnr_denoised": psnr(denoised, x_clean), "sigma": sigma,
           "n": len(x_clean)}
    if out_png is not None:
        from genlab.plots import image_grid

        n = min(n_show, len(x_clean))
        image_grid(torch.cat([x_clean[:n], noisy[:n].clamp(0, 1), denoised[:n]]).cpu(), out_png, nrow=n)
    return out


def _scatter_panels(panels: list[tuple[Tensor, str]], labels: Tensor, path: Path) -> Path:
    from genlab.plots import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4))
    for ax, (pts, title) in zip(axes, panels, strict=True):
        p = pts.detach().cpu()
        p = torch.cat([p, torch.zeros(len(p), 2 - p.shape[1])], 1) if p.shape[1] < 2 else p
        sc = ax.scatter(p[:, 0], p[:, 1], c=labels.cpu(), cmap="tab10", s=3)
        ax.set_title(title)
    fig.colorbar(sc, ax=list(axes), label="label")
    out = save_figure(fig, path)
    plt.close(fig)
    return out
