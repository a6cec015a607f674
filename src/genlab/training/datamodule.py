"""In-memory datasets as a LightningDataModule, batched by ``genlab.data.TensorLoader``.

Batches are sliced from one tensor (no per-sample Python); each DDP rank reads a disjoint shard;
the train loader's position is saved in checkpoints so a resumed run sees the same data order.
With ``steps_per_call > 1`` the train loader hands out chunks of consecutive mini-batches
(``training.chunks``).
"""

from __future__ import annotations

import lightning as L

from genlab.training.config import TrainConfig


class TensorDataModule(L.LightningDataModule):
    def __init__(self, train, val, cfg: TrainConfig, steps_per_call: int = 1) -> None:
        super().__init__()
        self.train_data, self.val_data, self.cfg = train, val, cfg
        self.steps_per_call = steps_per_call  # > 1: the train loader yields StepChunks (training.chunks)
        self._train_loader = None

    def _tensors(self, data):
        return (data.x,) if data.y is None else (data.x, data.y)

    def train_dataloader(self):
        from genlab.data import TensorLoader

        if self._train_loader is None:
            rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
            self._train_loader = TensorLoader(
                *self._tensors(self.train_data), batch_size=self.cfg.batch_size, shuffle=True,
                seed=self.cfg.seed, drop_last=True, rank=rank, world_size=world,
                binarize="dynamic" if self.train_data.binarize == "dynamic" else "none")
            if self.steps_per_call > 1:
                from genlab.training.chunks import ChunkedLoader

                self._train_loader = ChunkedLoader(self._train_loader, self.steps_per_call)
        return self._train_loader

    def val_dataloader(self):
        import torch

        from genlab.data import TensorLoader

        data = self.val_data
        tensors = self._tensors(data)
        if data.binarize == "dynamic":  # validate on one fixed, seeded draw (like a static split)
            g = torch.Generator().manual_seed(self.cfg.seed)
            tensors = (torch.bernoulli(tensors[0], generator=g), *tensors[1:])
        if self.cfg.val_size is not None:
            tensors = tuple(t[: self.cfg.val_size] for t in tensors)
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        return TensorLoader(*tensors, batch_size=max(self.cfg.batch_size, 500), shuffle=False,
                            seed=self.cfg.seed, rank=rank, world_size=world)
