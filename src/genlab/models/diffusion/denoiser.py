"""Network options shared by the diffusion models, and the one function that builds the denoiser."""

from __future__ import annotations

import dataclasses
from typing import Literal

from torch import nn

from genlab.config import Config, require
from genlab.models.diffusion.mlp import MLPDenoiser
from genlab.models.diffusion.unet import UNet


@dataclasses.dataclass
class DenoiserConfig(Config):
    """Data shape, denoising network and class conditioning (fields shared by DDPM and VDM)."""

    data_shape: tuple[int, ...] = (1, 28, 28)  # (C, H, W) images in [0, 1], or (D,) vectors
    network: Literal["auto", "unet", "mlp"] = "auto"  # auto: unet for images, mlp for vectors
    # U-Net
    channels: int = 32  # base width; level i has channels * channel_mults[i]
    channel_mults: tuple[int, ...] = (1, 2, 2)  # 28 → 14 → 7
    num_res_blocks: int = 1  # residual blocks per level (down path; up path has one more)
    attn_resolutions: tuple[int, ...] = (7,)  # self-attention at these resolutions (+ the middle)
    num_heads: int = 4
    norm_groups: int = 8  # GroupNorm groups; channels must be a multiple
    dropout: float = 0.0
    # MLP
    hidden_dim: int = 128
    num_layers: int = 3  # residual MLP blocks
    # class conditioning with classifier-free guidance (Ho & Salimans 2022, arXiv:2207.12598)
    num_classes: int = 0  # 0: unconditional
    p_uncond: float = 0.1  # probability of replacing the label by the null class in training

    def __post_init__(self) -> None:
        super().__post_init__()
        require(
            len(self.data_shape) in (1, 3) and all(int(s) > 0 for s in self.data_shape),
            f"data_shape must be (C, H, W) for images or (D,) for vectors, got {self.data_shape}",
        )
        if self.network != "auto":
            want = "unet" if len(self.data_shape) == 3 else "mlp"
            require(
                self.network == want,
                f"data_shape {self.data_shape} needs network={want!r} (or 'auto'), got {self.network!r}",
            )
        require(
            self.channels % self.norm_groups == 0,
            f"channels={self.channels} must be a multiple of norm_groups={self.norm_groups}",
        )
        require(len(self.channel_mults) >= 1, "channel_mults needs at least one level, e.g. (1, 2, 2)")
        require(
            self.num_classes >= 0, f"num_classes must be >= 0 (0 = unconditional), got {self.num_classes}"
        )
        require(0.0 <= self.p_uncond < 1.0, f"p_uncond must be in [0, 1), got {self.p_uncond}")
        require(0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def is_image(self) -> bool:
        return len(self.data_shape) == 3


def denoiser_data_defaults(data) -> dict:
    """Data-dependent defaults of DDPM and VDM: the data's shape; class-conditional on labelled data,
    except on Gaussian-mixture toys (ring8, grid25).

    Their labels name the mixture component; a model conditioned on them would cover every mode by
    construction, and mode coverage would measure nothing. Pass ``--set model.num_classes=8`` to
    condition anyway.
    """
    labels = {} if data.y is None else {"num_classes": int(data.y.max()) + 1}
    return {"data_shape": tuple(data.x.shape[1:]), **labels, **({"num_classes": 0} if data.modes is not None else {})}


def build_denoiser(cfg: DenoiserConfig, *, out_multiplier: int = 1) -> nn.Module:
    """The network ``(x_t, t, y) → output`` of ``cfg``; ``out_multiplier = 2`` for a learned variance."""
    if cfg.is_image:
        c, h, _ = cfg.data_shape
        return UNet(
            in_channels=c,
            out_channels=c * out_multiplier,
            image_size=h,
            channels=cfg.channels,
            channel_mults=tuple(cfg.channel_mults),
            num_res_blocks=cfg.num_res_blocks,
            attn_resolutions=tuple(cfg.attn_resolutions),
            num_heads=cfg.num_heads,
            norm_groups=cfg.norm_groups,
            dropout=cfg.dropout,
            num_classes=cfg.num_classes,
        )
    (d,) = cfg.data_shape
    return MLPDenoiser(
        in_dim=d,
        out_dim=d * out_multiplier,
        hidden_dim=cfg.hidden_dim,
        num_layers=cfg.num_layers,
        num_classes=cfg.num_classes,
    )
