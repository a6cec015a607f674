"""How evaluation reads a split to a model that carries its state along a stream (``CarriesState``: a recurrent
LM): ``STREAM_LANES`` contiguous lanes side by side, each row once, with the state of the rows before it. Read by
``eval_loss`` (``metrics``) and dynamic evaluation (``dynamic``)."""

from __future__ import annotations

import torch
from torch import nn

from genlab.data.tensors import TensorData
from genlab.models.base import detached

STREAM_LANES = 32  # lanes a carried state reads a split in (evaluation)


def stream_outputs(model: nn.Module, data: TensorData, lanes: int = STREAM_LANES):
    """A ``CarriesState`` model's outputs over ``data`` read as one stream: ``lanes`` contiguous lanes side by side
    (each a batch row), then the rows the lanes leave over, continuing the last lane's state (it ends where they start):
    every row once, each with the state of the rows before it (detached: where a caller takes gradients, they
    stop at the batch's start)."""
    lanes = min(lanes, len(data))
    body = lanes * (len(data) // lanes)  # rows the lanes hold
    state = None
    for batch in data.subset(torch.arange(body)).loader(lanes, order="stream"):
        out = model(**batch, state=state)
        state = detached(out.state)
        yield out
    if body < len(data):
        state = model.state_rows(state, [lanes - 1])
        for batch in data.subset(torch.arange(body, len(data))).loader(1, order="stream"):
            out = model(**batch, state=state)
            state = detached(out.state)
            yield out
