"""Diffusion models (D1–D5): denoising networks, parameter-free noise schedulers, sampling loops.

The roles are kept apart as in diffusers:

- schedulers (no parameters, testable without a network), all built from one ``ScheduleConfig``:
  ``DDPMScheduler`` (D1–D3: ``add_noise``, ``q_posterior``, ancestral ``step``) and ``DDIMScheduler``
  (few-step ``step`` with ``eta``); beta schedules are pure functions (``linear_beta_schedule``,
  ``cosine_beta_schedule``); ``VDMScheduler`` discretizes the VDM's continuous-time reverse process;
- samplers as objects: ``SAMPLERS = {"ddpm": DDPMSampler, "ddim": DDIMSampler}``, ``make_sampler``;
- networks: ``UNet`` (28×28 images, built from ``genlab.blocks``) and ``MLPDenoiser`` (2-D data), both
  ``net(x_t, t, y=None)``;
- the loop: ``sample_loop(denoise, scheduler, x_T)`` (DDPM, DDIM and VDM) and ``guided_output``
  (classifier-free guidance);
- trainable models (the ``genlab.models.base.Model`` contract): ``DDPM`` (D1–D4, bound in bits/dim
  via ``nll_bpd``) and ``VDM`` (D5, continuous-time ELBO with a learned schedule).

Timesteps of the discrete schedulers are 0-based: index ``t`` is step ``t + 1`` of Ho et al. 2020.
"""

from genlab.models.diffusion.ddim_scheduler import DDIMScheduler
from genlab.models.diffusion.ddpm import DDPM, BoundTerms, DDPMConfig, DiffusionOutput
from genlab.models.diffusion.ddpm_scheduler import DDPMScheduler, GaussianParams, SchedulerOutput
from genlab.models.diffusion.denoiser import DenoiserConfig, build_denoiser
from genlab.models.diffusion.embeddings import ConditionEmbedding, drop_labels
from genlab.models.diffusion.mlp import MLPDenoiser
from genlab.models.diffusion.noise_schedule import NoiseSchedule, ScheduleConfig
from genlab.models.diffusion.samplers import SAMPLERS, DDIMSampler, DDPMSampler, Sampler, make_sampler
from genlab.models.diffusion.sampling import guided_output, sample_labels, sample_loop
from genlab.models.diffusion.schedules import cosine_beta_schedule, linear_beta_schedule, spaced_timesteps
from genlab.models.diffusion.unet import UNet
from genlab.models.diffusion.vdm import VDM, VDMConfig, VDMOutput
from genlab.models.diffusion.vdm_schedule import FixedLinearSchedule, LearnedNoiseSchedule, MonotoneLinear
from genlab.models.diffusion.vdm_scheduler import VDMScheduler

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
    "MLPDenoiser",
    "NoiseSchedule",
    "ScheduleConfig",
    "SAMPLERS",
    "DDIMSampler",
    "DDPMSampler",
    "Sampler",
    "make_sampler",
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
    "VDMScheduler",
]
