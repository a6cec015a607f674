"""The one table that maps CLI model names to classes (imported lazily: ``genlab list`` stays fast).

Adding a model is one row here; nothing else switches on model names.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass

from genlab.errors import UnknownNameError


@dataclass(frozen=True)
class ModelEntry:
    name: str
    target: str  # "module:Class"
    objective: str  # "generative" | "classifier": which Lightning system trains it
    default_data: str
    summary: str

    def load_class(self) -> type:
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module), cls)


MODELS: dict[str, ModelEntry] = {
    e.name: e
    for e in [
        ModelEntry("vae", "genlab.models.vae:VAE", "generative", "mnist-binarized",
                   "variational autoencoder, MLP or conv, Bernoulli/Gaussian decoder (V1–V8)"),
        ModelEntry("lenet", "genlab.models.cnn:LeNet", "classifier", "mnist",
                   "LeNet-style CNN classifier; its features drive FID/KID (C1, C2, C5, F2)"),
        ModelEntry("ddpm", "genlab.models.diffusion:DDPM", "generative", "mnist",
                   "denoising diffusion (DDPM/DDIM sampling), U-Net or MLP denoiser (D1–D4)"),
        ModelEntry("vdm", "genlab.models.diffusion:VDM", "generative", "mnist",
                   "variational diffusion model with a learned noise schedule (D5)"),
    ]
}


def get_model(name: str) -> ModelEntry:
    """The registry entry for ``name``; unknown names list the known ones."""
    if name not in MODELS:
        close = difflib.get_close_matches(name, MODELS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownNameError(f"unknown model {name!r}.{hint} Known models: {', '.join(sorted(MODELS))}")
    return MODELS[name]
