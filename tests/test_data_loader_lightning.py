"""Lightning's fit loop saves the TensorLoader state in checkpoints and resumes it exactly."""

from __future__ import annotations

import logging
import warnings

import pytest
import torch

from genlab.data import TensorLoader

lightning = pytest.importorskip("lightning")


class Recorder(lightning.LightningModule):
    """Records the labels of every training batch; a one-parameter model so steps are cheap."""

    def __init__(self, loader: TensorLoader) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.loader = loader
        self.seen: list[list[int]] = []

    def train_dataloader(self):
        return self.loader

    def training_step(self, batch, batch_idx):
        self.seen.append(batch["y"].tolist())
        return (self.w * batch["x"].mean()).square()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit(max_steps: int, ckpt_in=None, ckpt_out=None) -> list[list[int]]:
    x = torch.rand(50, 3, generator=torch.Generator().manual_seed(0))
    model = Recorder(TensorLoader({"x": x, "y": torch.arange(50)}, batch_size=8, seed=1))  # 7 batches per epoch
    trainer = lightning.Trainer(max_steps=max_steps, logger=False, enable_checkpointing=False,
                                enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                                devices=1, num_sanity_val_steps=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(model, ckpt_path=ckpt_in)
    if ckpt_out:
        trainer.save_checkpoint(ckpt_out)
    return model.seen


@pytest.mark.parametrize("stop", [4, 7, 10])
def test_lightning_resume_continues_with_the_same_batches(stop, tmp_path):
    logging.getLogger("lightning").setLevel(logging.ERROR)
    reference = fit(17)
    ckpt = tmp_path / "mid.ckpt"
    head = fit(stop, ckpt_out=ckpt)
    assert torch.load(ckpt, weights_only=False)["loops"]["fit_loop"]["state_dict"]["combined_loader"]
    tail = fit(17, ckpt_in=ckpt)
    assert head + tail == reference
    assert sorted(sum(reference[:7], [])) == list(range(50))  # one epoch covers the data once
    assert reference[:7] != reference[7:14]  # and the next epoch is reshuffled
