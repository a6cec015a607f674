"""S1 forecasters of a time series (kind ``"series"``): one model class, ``Forecaster``, whose causal body is an
AR-MLP, an LSTM or GRU, a TCN or a transformer, trained one step ahead and forecasting by feeding its predictions
back (or H steps at once), with Monte-Carlo dropout sample paths for intervals (N5)."""

from genlab.models.forecast.forecaster import Forecast, Forecaster, ForecasterConfig
from genlab.models.forecast.variants import ARMLP, TCNForecaster, TransformerForecaster

__all__ = ["ARMLP", "Forecast", "Forecaster", "ForecasterConfig", "TCNForecaster", "TransformerForecaster"]
