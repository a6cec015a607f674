"""Diffusion models (D1–D5): denoising networks, parameter-free noise schedulers, sampling loops.

The roles are kept apart as in diffusers:

- schedulers (no parameters, testable without a network): ``DDPMScheduler`` (D1–D3: ``add_noise``,
  ``q_posterior``, ancestral ``step``) and ``DDIMScheduler`` (few-step ``step`` with ``eta``);
  beta schedules are pure functions (``linear_beta_schedule``, ``cosine_beta_schedule``);
- networks: ``UNet`` (28×28 images) and ``MLPDenoiser`` (2-D data), both ``net(x_t, t, y=None)``;
- the loop: ``sample_loop(denoise, scheduler, x_T)`` and ``guided_output`` (classifier-free guidance);
- trainable models (the ``genlab.models.base.Model`` contract): ``DDPM`` (D1–D4, bound in bits/dim
  via ``nll_bpd``) and ``VDM`` (D5, continuous-time ELBO with a learned schedule).

Timesteps of the discrete schedulers are 0-based: index ``t`` is step ``t + 1`` of Ho et al. 2020.
"""

from genlab.models.diffusion.ddim_scheduler import DDIMScheduler
from genlab.models.diffusion.ddpm import DDPM, BoundTerms, DDPMConfig, DiffusionOutput
from genlab.models.diffusion.ddpm_scheduler import DDPMScheduler, GaussianParams, SchedulerOutput
from genlab.models.diffusion.denoiser import DenoiserConfig, build_denoiser
from genlab.models.diffusion.embeddings import ConditionEmbedding, drop_labels, sinusoidal_embedding
from genlab.models.diffusion.likelihood import bits_per_dim, discretized_gaussian_log_likelihood
from genlab.models.diffusion.mlp import MLPDenoiser
from genlab.models.diffusion.noise_schedule import NoiseSchedule
from genlab.models.diffusion.sampling import guided_output, sample_labels, sample_loop
from genlab.models.diffusion.schedules import cosine_beta_schedule, linear_beta_schedule, spaced_timesteps
from genlab.models.diffusion.unet import UNet
from genlab.models.diffusion.vdm import VDM, VDMConfig, VDMOutput
from genlab.models.diffusion.vdm_schedule import FixedLinearSchedule, LearnedNoiseSchedule, MonotoneLinear

__all__ = [
    "DDIMScheduler",
    "DDPM",
    "BoundTerms",
    "DDPMConfig",
    "DiffusionOutput",
    "DDPMScheduler",
    "GaussianParams",
    "SchedulerOutput",
    "DenoiserConfig",
    "build_denoiser",
    "ConditionEmbedding",
    "drop_labels",
    "sinusoidal_embedding",
    "bits_per_dim",
    "discretized_gaussian_log_likelihood",
    "MLPDenoiser",
    "NoiseSchedule",
    "guided_output",
    "sample_labels",
    "sample_loop",
    "cosine_beta_schedule",
    "linear_beta_schedule",
    "spaced_timesteps",
    "UNet",
    "VDM",
    "VDMConfig",
    "VDMOutput",
    "FixedLinearSchedule",
    "LearnedNoiseSchedule",
    "MonotoneLinear",
]
