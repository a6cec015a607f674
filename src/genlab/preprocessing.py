"""Fitted preprocessing: state fitted once on the training split, saved with the model, applied once to the data.

A model that needs its data transformed by something fitted to the data (a table's per-column scalers and
category counts, a vocabulary's cut-off, CTGAN's modes per column) names a ``Preprocessor`` subclass as its
``preprocessor_class``. The spine (``training.run.train``) then, before the model exists:

1. fits it on the training split: ``Preprocessor.fit(train)``;
2. puts its ``spec()`` (a JSON-able dict: what shapes the fitted state has, category names, ...) into the model's
   config as ``preprocessing`` — so ``config_for_data`` can size the networks from it, and ``config.json`` holds
   it: a saved model rebuilds the preprocessor from its config alone;
3. builds the model, which holds the preprocessor as a submodule ``model.preprocessor`` (``from_spec``): its
   fitted tensors are buffers, saved in the model's ``.safetensors`` with the weights — never a pickle;
4. transforms each split once, before the loader: ``model.prepare(data)`` (evaluation and ``genlab sample`` call
   the same method on the test split).

Data-derived state that is not saved (a sampler's index over the training rows) is rebuilt instead by the model's
``at_start(data)`` hook, which runs at every start of training, a resume included (``before_fit`` runs only on a
fresh start). This module imports torch only: ``models/`` may use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from torch import nn

if TYPE_CHECKING:
    from genlab.data.tensors import TensorData


class Preprocessor(nn.Module):
    """Fitted state (``spec()`` JSON + buffers) and the transform it defines on a split's named fields.

    Subclasses implement ``fit`` (a classmethod: fitted from the training split), ``spec`` / ``from_spec`` (JSON
    round trip; ``from_spec`` registers buffers of the right shapes, their values come with the model's weights)
    and ``transform`` (a split's fields → the fields the model reads); ``inverse`` maps fields back to data units
    (a sample written to a file) and is the identity unless overridden.
    """

    #: the data's fields it reads, when its ``transform`` gives the model other fields than the data has (a table's
    #: ``numeric`` / ``categorical`` → CTGAN's encoded ``x``); empty: the model's own ``inputs``
    reads: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def fit(cls, data: TensorData) -> Preprocessor:
        raise NotImplementedError

    def spec(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Preprocessor:
        raise NotImplementedError

    def transform(self, fields: dict) -> dict:
        raise NotImplementedError

    def inverse(self, fields: dict) -> dict:
        return fields

    def apply(self, data: TensorData) -> TensorData:
        """``data`` with its fields transformed (a new ``TensorData``; the split, lengths and meta kept)."""
        return data.replace(fields=self.transform(dict(data.fields)))
