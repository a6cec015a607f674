"""Autoencoders (AE1–AE5) and sampling from them through a code prior (X1).

=====================  ==========================================================
``Autoencoder``        AE1: ``h = f(x)``, ``x̃ = g(h)``, MLP or conv, under/overcomplete
``SparseAE``           AE2: ``+ λ Σ_i |h_i|``
``DenoisingAE``        AE3: encoder sees ``x + z`` (or masked ``x``), loss against ``x``
``ContractiveAE``      AE4: ``+ λ ‖∂f(x)/∂x‖_F²`` (closed form or autograd)
``StackedAE``          AE5: several stages, ``pretrain_layerwise``
``fit_code_prior``     X1: Gaussian mixture on the codes → ``model.sample(n)``
=====================  ==========================================================
"""

from genlab.models.autoencoders.code_prior import (
    CodePriorNotFitted,
    GaussianMixturePrior,
    encode_all,
    fit_code_prior,
)
from genlab.models.autoencoders.core import (
    Autoencoder,
    AutoencoderConfig,
    AutoencoderOutput,
    reconstruction_loss,
)
from genlab.models.autoencoders.stacked import StackedAE, StackedAEConfig, pretrain_layerwise, stage_pairs
from genlab.models.autoencoders.variants import (
    ContractiveAE,
    ContractiveAEConfig,
    DenoisingAE,
    DenoisingAEConfig,
    SparseAE,
    SparseAEConfig,
)

__all__ = [
    "Autoencoder", "AutoencoderConfig", "AutoencoderOutput", "CodePriorNotFitted", "ContractiveAE",
    "ContractiveAEConfig", "DenoisingAE", "DenoisingAEConfig", "GaussianMixturePrior", "SparseAE",
    "SparseAEConfig", "StackedAE", "StackedAEConfig", "encode_all", "fit_code_prior", "pretrain_layerwise",
    "reconstruction_loss", "stage_pairs",
]
