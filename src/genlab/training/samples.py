"""The sample grids written during training: ``samples/epoch_XXX.*`` each validation, with the model's renderer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import lightning as L
import torch

from genlab.models.base import Generative, Predicts, Reconstructs
from genlab.render import IMAGE_GRID, Labels, caption
from genlab.rundir import RunDir

if TYPE_CHECKING:
    from genlab.data.tensors import TensorData


class SampleGrid(L.Callback):
    """Writes ``samples/epoch_XXX.png`` each epoch (rank 0) with the model's renderer (an image grid, a
    2-D scatter, ...), and ``reconstructions_XXX.png`` (input | output columns) for models that reconstruct images.
    Each is titled with the model, the run and the iteration; a conditioned model draws one row per class
    (``Generative.draw``), named as the data names its classes (``meta["classes"]``) or by index. Uses a fixed
    generator, so the grids of successive epochs show the same latent draws. A model that fits a sampler after
    training (an autoencoder's code prior) has been fitted by ``export.ExportAtValidation``, which runs first."""

    def __init__(self, run: RunDir, n: int, *, reference: TensorData, seed: int = 1234) -> None:
        self.run = run
        self.n = n
        self.reference = reference  # validation examples: the scatter's backdrop, the reconstructions' inputs
        self.seed = seed

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        model = pl_module.model
        drawable = isinstance(model, Generative) or (isinstance(model, Predicts) and model.preview)
        if trainer.sanity_checking or not trainer.is_global_zero or not drawable or self.n <= 0:
            return
        epoch = trainer.current_epoch
        title = caption(self.run, type(model).__name__, f"iteration {pl_module.iteration} (epoch {epoch})")
        was_training = model.training
        model.eval()
        state = torch.get_rng_state()  # drawing samples must not change the training noise
        try:
            g = torch.Generator().manual_seed(self.seed)
            if isinstance(model, Predicts):  # its outputs for validation inputs: (inputs, output, truth)
                self._predictions(model, epoch, g, pl_module.device, title)
                return
            # models whose full sampler is slow (diffusion) name a cheaper preview, e.g. DDIM, 50 steps
            x, y = model.draw(self.n, generator=g, **model.preview_sample_kwargs)
            renderer = model.renderer()  # it, not the spine, knows what (if anything) to draw the samples over
            renderer.write(x, self.run.epoch_samples(epoch), reference=renderer.reference_from(self.reference),
                           title=title, labels=Labels.of(y, self.reference.meta.get("classes")))
            images = self.reference.fields.get("x")
            if isinstance(model, Reconstructs) and images is not None and images.dim() == 4:
                ref = images[:32].to(pl_module.device)
                IMAGE_GRID.write({"input": ref, "output": model.reconstruct(ref)},
                                 self.run.epoch_samples(epoch, "reconstructions"), title=f"{title} · reconstructions")
        finally:
            torch.set_rng_state(state)
            model.train(was_training)

    def _predictions(self, model, epoch: int, g: torch.Generator, device, title: str) -> None:
        """``samples/epoch_XXX.*``: the first validation examples' inputs, the model's output and the truth, as its
        renderer lays them out (an image grid with (source | output | truth) columns; text)."""
        examples = self.reference.subset(torch.arange(min(self.n, len(self.reference))))
        batch = {k: v.to(device) for k, v in examples.fields.items()}
        out = model.outputs(batch, generator=g).cpu()
        fields = {**model.inputs_of(examples.fields), "output": out, "truth": examples.fields[model.target]}
        model.renderer().write(fields, self.run.epoch_samples(epoch), title=title)
