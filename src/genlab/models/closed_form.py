"""What the closed-form models (PCA, P5; probabilistic PCA, V7/V8) share as genlab ``Model``s.

A closed-form model is fitted once from the whole training split (``ClosedForm.fit``) by
``training.systems.FitSystem``, not by gradient steps. Its fitted state lives in registered buffers sized
from its config, so ``save_pretrained`` / ``genlab.load`` round-trip it through safetensors, together with a
``fitted`` flag: until ``fit`` has run, every method refuses in one line that says to train it first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor

from genlab.errors import ConfigError, GenlabError
from genlab.models.base import ClosedForm, Model
from genlab.models.inputs import check_data

if TYPE_CHECKING:
    from genlab.data.tensors import TensorData


class NotFitted(GenlabError, RuntimeError):
    """A closed-form model's method was called before ``fit``."""


def check_data_shape(data_shape: tuple[int, ...]) -> None:
    """``ConfigError`` unless ``data_shape`` is ``(D,)`` or ``(C, H, W)`` with positive sizes (a config check)."""
    if len(data_shape) not in (1, 3) or any(s < 1 for s in data_shape):
        raise ConfigError(f"data_shape must be (D,) or (C, H, W) with positive sizes, got {tuple(data_shape)}")


class ClosedFormModel(Model, ClosedForm):
    """Base of the closed-form models: the ``fitted`` flag, the refusal before ``fit``, the input check.

    Subclasses set ``trained_as`` (the registry name the refusal names), register their state as buffers
    and implement ``fit`` (ending with ``mark_fitted()``). Inputs: ``x`` ``(B, *data_shape)`` float, converted
    to the buffers' dtype; image data must be in [0, 1] where a loss, code or error is computed.
    """

    inputs: ClassVar[tuple[str, ...]] = ("x",)
    optional_inputs: ClassVar[tuple[str, ...]] = ("y",)  # labels: read by nobody, accepted
    kinds: ClassVar[tuple[str, ...] | None] = ("image", "vector")
    monitor: ClassVar[str | None] = "val/loss"
    #: the name of its registry row (``genlab train NAME``), for the error before ``fit``
    trained_as: ClassVar[str] = ""

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        check_data_shape(tuple(self.config.data_shape))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.uint8))  # 1 once fit() ran

    @classmethod
    def data_defaults(cls, data: TensorData) -> dict[str, Any]:
        return {"data_shape": tuple(data.x.shape[1:])}

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted.item())

    def mark_fitted(self) -> None:
        self.fitted.fill_(1)

    def require_fitted(self) -> None:
        """``NotFitted`` (one line: how to fit it) unless ``fit`` has run."""
        if not self.is_fitted:
            raise NotFitted(f"this {type(self).__name__} is not fitted yet: train it first: genlab train "
                            f"{self.trained_as or 'MODEL'} (or call model.fit(train_data) with a TensorData)")

    def checked(self, x: Tensor, *, unit_interval: bool | None = None) -> Tensor:
        """``x`` checked (``check_data``: shape, dtype, range) in the buffers' dtype, once the model is fitted.
        ``unit_interval`` (default: for image data) refuses values outside [0, 1]."""
        x = self._as_input(x, what="inputs", unit_interval=unit_interval)
        self.require_fitted()
        return x

    def training_x(self, data: TensorData) -> Tensor:
        """The training split's ``x`` as ``fit`` takes it, checked as inputs are ``(m, *data_shape)``."""
        return self._as_input(data.x, what="training data")

    def _as_input(self, x: Tensor, *, what: str, unit_interval: bool | None = None) -> Tensor:
        image = len(self.config.data_shape) == 3
        x = check_data(self, x, what=what, unit_interval=image if unit_interval is None else unit_interval)
        return x.to(self.dtype)  # (check_data converts to the parameters' dtype; this model has buffers only)
