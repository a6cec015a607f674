"""The registry's forecasters: ``Forecaster`` with another body by default (``--set model.body=...`` still wins)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from genlab.models.forecast.forecaster import Forecaster, ForecasterConfig

Body = Literal["mlp", "lstm", "gru", "tcn", "transformer"]


@dataclasses.dataclass
class ARMLPConfig(ForecasterConfig):
    body: Body = "mlp"
    layers: int = 2


@dataclasses.dataclass
class TCNConfig(ForecasterConfig):
    body: Body = "tcn"
    layers: int = 4  # dilations 1, 2, 4, 8: a receptive field of 31 steps at kernel 3


@dataclasses.dataclass
class TransformerForecasterConfig(ForecasterConfig):
    body: Body = "transformer"


class ARMLP(Forecaster):
    """AR-MLP: each prediction from the last ``lags`` steps through an MLP."""

    config_class = ARMLPConfig


class TCNForecaster(Forecaster):
    """A TCN of causal dilated convolutions (C3, C4)."""

    config_class = TCNConfig


class TransformerForecaster(Forecaster):
    """A causal transformer over the steps (A3, A5)."""

    config_class = TransformerForecasterConfig
