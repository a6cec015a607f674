"""pythae 0.1.2 models on genlab's own networks, for side-by-side benchmarks (``vae.py``, ``autoencoders.py``).

pythae's encoder and decoder wrap the very modules of a genlab ``VAE`` (``ref``): the architecture is
identical by construction, and after pythae has trained them ``ref`` holds pythae's weights, so both
libraries' models are evaluated by the same estimators (genlab's ELBO and importance-sampled NLL).
The decoder returns ``sigmoid(logits)`` and pythae's loss is its BCE: the same Bernoulli model.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import torch

from genlab.models.vae import VAE

KINDS = ("vae", "beta-vae", "iwae")  # pythae classes benchmarked against genlab's models of these names


def pythae_model(kind: str, ref: VAE, *, beta: float = 1.0, k: int = 5):
    """pythae's ``VAE``/``BetaVAE``/``IWAE`` whose encoder/decoder are ``ref.encoder``/``ref.decoder``."""
    from pythae import models as pm
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    class Enc(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = ref.encoder

        def forward(self, x):
            mu, logvar = self.net(x).chunk(2, dim=-1)  # (B, L) each
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Dec(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = ref.decoder

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))  # (B, *data_shape)

    common = {"input_dim": tuple(ref.config.data_shape), "latent_dim": ref.config.latent_dim,
              "reconstruction_loss": "bce"}
    if kind == "vae":
        cfg = pm.VAEConfig(**common)
        return pm.VAE(cfg, encoder=Enc(), decoder=Dec())
    if kind == "beta-vae":
        return pm.BetaVAE(pm.BetaVAEConfig(**common, beta=beta), encoder=Enc(), decoder=Dec())
    if kind == "iwae":
        return pm.IWAE(pm.IWAEConfig(**common, number_samples=k), encoder=Enc(), decoder=Dec())
    raise ValueError(f"no pythae counterpart for {kind!r}: choose from {KINDS}")


class _Stop(Exception):
    pass


def train_pythae(model, x: torch.Tensor, x_val: torch.Tensor, *, epochs: int, batch_size: int, lr: float,
                 max_seconds: float | None = None, max_steps: int | None = None,
                 cosine_steps: int | None = None) -> dict:
    """pythae's ``BaseTrainer`` (Adam, per-epoch validation); stops after ``max_seconds`` of wall time
    or ``max_steps`` optimizer steps, whichever comes first. ``cosine_steps``: after each step the
    learning rate is set to genlab's cosine decay over that many steps (pythae's own schedulers step
    once per epoch only), so both libraries follow the same schedule. Returns ``{"seconds", "steps"}``."""
    from pythae.data.datasets import BaseDataset
    from pythae.trainers import BaseTrainer, BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainingCallback

    from genlab.training.optim import cosine_factor

    clock = {"t0": 0.0, "steps": 0}
    holder = {}

    class Limit(TrainingCallback):
        def on_train_begin(self, training_config, **kwargs):
            clock["t0"] = time.perf_counter()

        def on_train_step_end(self, training_config, **kwargs):
            clock["steps"] += 1
            if cosine_steps is not None:
                for group in holder["trainer"].optimizer.param_groups:
                    group["lr"] = lr * cosine_factor(clock["steps"], cosine_steps)
            over_time = max_seconds is not None and time.perf_counter() - clock["t0"] >= max_seconds
            if over_time or (max_steps is not None and clock["steps"] >= max_steps):
                raise _Stop

    out = Path(tempfile.mkdtemp(prefix="bench-pythae-"))
    try:
        tcfg = BaseTrainerConfig(output_dir=str(out), num_epochs=epochs, learning_rate=lr,
                                 per_device_train_batch_size=batch_size, per_device_eval_batch_size=500,
                                 optimizer_cls="Adam", no_cuda=True, steps_saving=None)
        trainer = BaseTrainer(model=model, train_dataset=BaseDataset(x, torch.zeros(len(x))),
                              eval_dataset=BaseDataset(x_val, torch.zeros(len(x_val))),
                              training_config=tcfg, callbacks=[Limit()])
        holder["trainer"] = trainer
        t0 = time.perf_counter()
        try:
            trainer.train()
        except _Stop:
            pass
        seconds = time.perf_counter() - t0
    finally:
        shutil.rmtree(out, ignore_errors=True)
    model.eval()
    return {"seconds": seconds, "steps": clock["steps"]}
