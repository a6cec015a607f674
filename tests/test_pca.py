"""PCA by SVD (P5) against scikit-learn, and its reconstruction error (Eckart–Young)."""

import pytest
import torch

from genlab.errors import ConfigError, GenlabError
from genlab.models.pca import PCA


def _data(m=60, d=7):
    g = torch.Generator().manual_seed(0)
    A = torch.randn(d, d, generator=g, dtype=torch.float64)
    return torch.randn(m, d, generator=g, dtype=torch.float64) @ A + 3


def test_equals_scikit_learn_pca_up_to_the_sign_of_each_component():
    from sklearn.decomposition import PCA as SkPCA

    x = _data()
    ours, ref = PCA(3).fit(x), SkPCA(3, svd_solver="full").fit(x.numpy())
    signs = torch.sign((ours.components_ * torch.from_numpy(ref.components_)).sum(1))  # ±1 per component
    torch.testing.assert_close(ours.components_ * signs[:, None], torch.from_numpy(ref.components_))
    torch.testing.assert_close(ours.explained_variance_, torch.from_numpy(ref.explained_variance_))
    ratio = torch.from_numpy(ref.explained_variance_ratio_)
    torch.testing.assert_close(ours.explained_variance_ratio_, ratio)
    torch.testing.assert_close(ours.singular_values_, torch.from_numpy(ref.singular_values_))
    torch.testing.assert_close(ours.transform(x) * signs, torch.from_numpy(ref.transform(x.numpy())))
    torch.testing.assert_close(ours.mean_, torch.from_numpy(ref.mean_))


def test_reconstruction_error_is_the_sum_of_the_discarded_eigenvalues():
    x = _data()
    m = len(x)
    full = PCA().fit(x)
    for k in (1, 3, 6):
        p = PCA(k).fit(x)
        err = (x - p.inverse_transform(p.transform(x))).pow(2).sum()  # ‖X − X V_k V_kᵀ‖_F²
        torch.testing.assert_close(err, (m - 1) * full.explained_variance_[k:].sum())
        torch.testing.assert_close(err, full.singular_values_[k:].pow(2).sum())


def test_components_are_orthonormal_and_all_components_reconstruct_exactly():
    x = _data()
    p = PCA().fit(x)
    torch.testing.assert_close(p.components_ @ p.components_.T, torch.eye(7, dtype=torch.float64))
    torch.testing.assert_close(p.inverse_transform(p.transform(x)), x)
    assert torch.all(p.explained_variance_[:-1] >= p.explained_variance_[1:])


def test_images_are_flattened_and_reconstructed_in_their_shape():
    x = torch.rand(20, 1, 4, 4)
    p = PCA(5).fit(x)
    assert p.transform(x).shape == (20, 5) and p.inverse_transform(p.transform(x)).shape == (20, 1, 4, 4)


def test_bad_use_says_what_to_do():
    with pytest.raises(ConfigError, match="exceeds"):
        PCA(10).fit(_data(d=7))
    with pytest.raises(GenlabError, match="fit"):
        PCA(2).transform(_data())
