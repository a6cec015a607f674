"""Recurrent cells and layers (R1, R3–R7)."""

from genlab.blocks.recurrent.cells import (
    CoupledGateCell,
    GRUCell,
    LayerNormLSTMCell,
    LSTMCell,
    RecurrentCell,
    ResetBeforeGRUCell,
    RNNCell,
)
from genlab.blocks.recurrent.layers import GRU, LSTM, RNN, CoupledGateRNN, RecurrentStack, last_valid

__all__ = [
    "GRU", "LSTM", "RNN", "CoupledGateCell", "CoupledGateRNN", "GRUCell", "LSTMCell", "LayerNormLSTMCell",
    "RNNCell", "RecurrentCell", "RecurrentStack", "ResetBeforeGRUCell", "last_valid",
]
