"""In-memory datasets as a LightningDataModule, batched by ``genlab.data.TensorLoader``.

Batches are ``genlab.data.Batch``es (named fields) sliced from in-memory tensors (no per-sample
Python); each DDP rank reads a disjoint shard; the train loader's position is saved in checkpoints
so a resumed run sees the same data order. The train loader follows the run's ``LoaderPolicy``
(``train_policy``: the dataset's declared policy merged with the model's — shuffled or contiguous streams,
bucketing, ``drop_last``). With ``steps_per_call > 1`` it hands out chunks of consecutive mini-batches
(``training.chunks``).
"""

from __future__ import annotations

import lightning as L

from genlab.errors import ConfigError
from genlab.policy import LoaderPolicy, merge_policies
from genlab.training.config import TrainConfig


def train_policy(model_cls: type, dataset: str, data, batch_size: int) -> LoaderPolicy:
    """The train loader's policy for a run of ``model_cls`` on the registered ``dataset``: the dataset's declared
    ``policy`` merged with the model class's ``loader_policy`` (the model's choices win: ``merge_policies``),
    checked against the training ``data`` now, before training starts (e.g. a ``bucket_by`` field it lacks)."""
    from genlab.data.registry import info

    policy = merge_policies(info(dataset).policy, model_cls.loader_policy)
    try:
        data.loader(batch_size, **policy.options())  # the loader's own checks, on the run's data and batch size
    except ConfigError as e:
        raise ConfigError(f"the loader policy of {model_cls.__name__} on {dataset} ({policy}) does not fit the "
                          f"data: {e}") from None
    return policy


class TensorDataModule(L.LightningDataModule):
    """Train and validation loaders over two ``TensorData`` splits: the train loader as ``policy`` says
    (default: shuffled, ``drop_last``) and resumable (one instance, so its position is the checkpointed one),
    the validation loader in order, on at most ``cfg.val_size`` rows and, for dynamically binarized data, one
    fixed seeded draw."""

    def __init__(self, train, val, cfg: TrainConfig, steps_per_call: int = 1, *,
                 policy: LoaderPolicy | None = None) -> None:
        super().__init__()
        self.train_data, self.val_data, self.cfg = train, val, cfg
        self.steps_per_call = steps_per_call  # > 1: the train loader yields StepChunks (training.chunks)
        self.policy = policy or LoaderPolicy()
        self._train_loader = None

    def _shard(self) -> tuple[int, int]:
        return (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)

    def train_dataloader(self):
        if self._train_loader is None:
            rank, world = self._shard()
            self._train_loader = self.train_data.loader(self.cfg.batch_size, seed=self.cfg.seed, rank=rank,
                                                        world_size=world, **self.policy.options())
            if self.steps_per_call > 1:
                from genlab.training.chunks import ChunkedLoader

                self._train_loader = ChunkedLoader(self._train_loader, self.steps_per_call)
        return self._train_loader

    def val_dataloader(self):
        import torch

        data = self.val_data
        if data.binarize == "dynamic":  # validate on one fixed, seeded draw (like a static split)
            g = torch.Generator().manual_seed(self.cfg.seed)
            data = data.replace(fields={**data.fields, "x": torch.bernoulli(data.x, generator=g)}, binarize="static")
        if self.cfg.val_size is not None:
            data = data.subset(torch.arange(min(len(data), self.cfg.val_size)))
        rank, world = self._shard()
        if self.policy is not None and self.policy.order == "stream":  # a carried state reads validation as a
            return data.loader(self.cfg.batch_size, order="stream", rank=rank, world_size=world)  # stream too
        return data.loader(max(self.cfg.batch_size, 500), shuffle=False, seed=self.cfg.seed, rank=rank,
                           world_size=world)
