"""What the models accept at their public boundary, checked in one place (as scikit-learn's ``check_array``).

``forward``, ``elbo``, ``encode``, ``reconstruct``, ``log_importance_weights``, ``discriminator_loss``,
``nll_bpd`` and ``predict`` pass their data through ``check_data``; ``sample`` passes its count through
``check_count`` and its labels through ``check_labels``. Each refuses with a one-line genlab error that
says what to do. The rules, the same for every model:

- **dtype**: floating-point data of another precision (``float64`` into a float32 model, float32 into a
  ``.double()`` one) is *converted* to the dtype of the model's parameters. Integer and bool tensors are
  *refused*: their scale is ambiguous (0/1 values or 8-bit 0..255), so the caller converts, with
  ``x.float()`` or ``x.float() / 255``.
- **shape**: ``(B, *data_shape)`` with ``B ≥ 1``. One example without its batch dimension is told to add
  it (``x[None]``); an empty batch is refused (its mean loss would be NaN).
- **range**: a model that reads its inputs as intensities in [0, 1] (Bernoulli/BCE likelihoods, images
  of the diffusion models, GANs and LeNet) refuses values outside [0, 1] (``RANGE_TOL`` of slack for
  rounding), with one ``aminmax`` per call. Other data (vectors, Gaussian likelihoods) may be any real
  numbers and is not scanned.
- **counts and labels**: ``n ≥ 1`` samples; labels are integers in ``0..K−1`` (``−1`` too where the model
  has a null label); a model built unconditional (``num_classes=0``) refuses labels to ``sample``.

The checks cost a few scalar comparisons per call (and one reduction over ``x`` where the range matters).
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from genlab.errors import ConfigError, ShapeError, check_shape

if TYPE_CHECKING:
    from genlab.models.base import Model

#: how far data may overshoot [0, 1] (float rounding) before the range check refuses it
RANGE_TOL = 1e-3
_LABEL_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def check_data(model: Model, x: Tensor, *, what: str = "data", shape: tuple[int, ...] | None = None,
               unit_interval: bool = False, hint: str | None = None, range_hint: str = "") -> Tensor:
    """``x`` as ``model`` takes it: a float batch ``(B, *shape)``, ``B ≥ 1``, in the parameters' dtype.

    ``shape`` defaults to ``model.config.data_shape``; ``unit_interval`` also requires values in [0, 1]
    (one ``aminmax``). ``hint`` says what to do about a wrong shape (default: build the model with the
    data's ``data_shape``), ``range_hint`` adds to the advice about the range. Float data of another
    dtype is converted; integer/bool data, wrong shapes, empty batches and out-of-range values raise
    ``ShapeError``.
    """
    name = type(model).__name__
    shape = tuple(model.config.data_shape) if shape is None else tuple(shape)
    want = "(B, " + ", ".join(map(str, shape)) + ")"
    if not isinstance(x, Tensor):
        raise ShapeError(f"{name} takes {what} as a torch.Tensor {want}, got {type(x).__name__}: convert with "
                         f"torch.as_tensor(x, dtype=torch.float32)")
    if not x.is_floating_point():
        raise ShapeError(f"{name} takes floating-point {what}, got {x.dtype}: convert with x.float() / 255 "
                         f"(8-bit images) or x.float() (0/1 or other values)")
    if tuple(x.shape) == shape:
        raise ShapeError(f"expected {what} of shape {want}, got one example of shape {shape}: "
                         f"add a batch dimension: x[None]")
    if hint is None:
        hint = f"pass data of that shape or build the {name} with data_shape={tuple(x.shape[1:])}"
    check_shape(x, (None, *shape), what, hint)
    if x.shape[0] == 0:
        raise ShapeError(f"{name} got an empty batch of {what} {tuple(x.shape)}: pass at least one example")
    weight = next((p for p in model.parameters() if p.is_floating_point()), None)
    if weight is not None and x.dtype != weight.dtype:  # (a model without parameters keeps x's dtype)
        x = x.to(weight.dtype)
    if unit_interval:
        _check_unit_interval(x, "images" if len(shape) == 3 else what, range_hint)
    return x


def _check_unit_interval(x: Tensor, what: str, range_hint: str) -> None:
    lo, hi = (float(v) for v in x.aminmax())
    if lo != lo or hi != hi:
        raise ShapeError(f"{what} contain NaN: drop or repair those examples")
    low, high = lo < -RANGE_TOL, hi > 1 + RANGE_TOL
    if not (low or high):
        return
    if high and not low:
        fix = "divide by 255"
    elif low and not high:
        fix = "map [-1, 1] data to [0, 1] with (x + 1) / 2"
    else:
        fix = "rescale them (8-bit images: divide by 255; [-1, 1] data: (x + 1) / 2)"
    raise ShapeError(f"{what} must be in [0, 1], got values in [{lo:.4g}, {hi:.4g}]: {fix}"
                     + (f"; {range_hint}" if range_hint else ""))


def check_count(n: int, *, what: str = "n") -> int:
    """``n`` as a whole number ``≥ 1`` (samples to draw, importance samples ...); ``ConfigError`` otherwise."""
    try:
        k = operator.index(n)
    except TypeError:
        k = None
    if k is None or isinstance(n, bool):
        raise ConfigError(f"{what} must be a whole number ≥ 1, got {n!r}: pass an int")
    if k < 1:
        raise ConfigError(f"{what} must be ≥ 1, got {k}: ask for at least one")
    return k


def check_labels(model: Model, y: Tensor | int | None, n: int, *, num_classes: int, null_label: bool = False,
                 unconditional_hint: str = "build it with num_classes > 0 (train on labelled data)") -> Tensor | None:
    """``y`` as ``(n,)`` int64 labels on the model's device, or ``None`` when ``y`` is ``None``.

    ``y`` is an int (the same label for all ``n``), a 0-d tensor, or ``n`` labels in ``0..num_classes−1``
    (``−1`` too when the model has a ``null_label``). ``num_classes=0`` (an unconditional model) refuses
    any ``y`` with ``ConfigError`` naming ``unconditional_hint``; wrong lengths raise ``ShapeError``,
    non-integer or out-of-range labels ``ConfigError``.
    """
    if y is None:
        return None
    name = type(model).__name__
    if num_classes == 0:
        raise ConfigError(f"{name} is unconditional (num_classes=0): it takes no labels; drop y (--y), "
                          f"or {unconditional_hint}")
    device = model.device
    if isinstance(y, (list, tuple)):
        y = torch.as_tensor(y)
    if not isinstance(y, Tensor):
        try:
            label = None if isinstance(y, bool) else operator.index(y)
        except TypeError:
            label = None
        if label is None:
            raise ConfigError(f"labels must be an int or a tensor of {n} ints, got {y!r}: pass y=3 or "
                              f"y=torch.tensor([...])")
        y = torch.full((n,), label, dtype=torch.long, device=device)
    elif y.dtype not in _LABEL_DTYPES:
        raise ConfigError(f"labels must be integers, got {y.dtype}: convert with y.long()")
    else:
        y = y.to(device=device, dtype=torch.long)
        y = y.expand(n) if y.dim() == 0 else y
    if tuple(y.shape) != (n,):
        raise ShapeError(f"expected {n} labels (one per example), got shape {tuple(y.shape)}: pass y as an int "
                         f"or a tensor of length {n}")
    lo, hi = (int(v) for v in y.aminmax())
    if lo < (-1 if null_label else 0) or hi >= num_classes:
        span = f"0..{num_classes - 1}" + (f" or -1 (no label): labels in [-1, {num_classes - 1}]" if null_label else "")
        shown = y.tolist() if n <= 8 else f"values in [{lo}, {hi}]"
        more = f", or build the {name} with num_classes={hi + 1}" if hi >= num_classes else ""
        raise ConfigError(f"labels must be integers in {span}, got {shown}: pass labels in that range{more}")
    return y
