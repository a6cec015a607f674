"""Several optimizer steps per Lightning call (training.chunks): chunking, the k that keeps every
stop on a chunk boundary, and the progress recount on resume. The training equivalence and resume
tests are in test_training.py."""

import pytest
import torch

from genlab.data import TensorLoader
from genlab.training.chunks import ChunkedLoader, StepChunk, recount_chunks, steps_per_call


def test_chunks_hold_the_loaders_batches_in_order_and_the_last_may_be_short():
    x = torch.arange(50.0).unsqueeze(1)
    plain = TensorLoader({"x": x}, batch_size=4, seed=3, drop_last=True)  # 12 batches
    chunked = ChunkedLoader(TensorLoader({"x": x}, batch_size=4, seed=3, drop_last=True), 5)
    for _ in range(2):  # two epochs: fresh order each, as the plain loader
        chunks = list(chunked)
        assert all(isinstance(c, StepChunk) for c in chunks)
        assert [len(c) for c in chunks] == [5, 5, 2] and len(chunked) == 3
        flat = [b["x"] for c in chunks for b in c]
        for got, want in zip(flat, list(plain), strict=True):
            assert torch.equal(got, want["x"])


def test_chunked_loader_state_is_the_wrapped_loaders_position_in_mini_batches():
    x = torch.arange(40.0).unsqueeze(1)
    chunked = ChunkedLoader(TensorLoader({"x": x}, batch_size=4, seed=0), 2)
    it = iter(chunked)
    next(it)
    assert chunked.state_dict() == {"epoch": 0, "batch": 2, "seed": 0}
    again = ChunkedLoader(TensorLoader({"x": x}, batch_size=4, seed=0), 3)
    again.load_state_dict(chunked.state_dict())
    rest = [b["x"] for c in again for b in c]
    want = [b["x"] for b in TensorLoader({"x": x}, batch_size=4, seed=0)][2:]
    assert len(rest) == len(want) == 8 and all(torch.equal(a, b) for a, b in zip(rest, want, strict=True))
    with pytest.raises(ValueError, match="k must be"):
        ChunkedLoader(TensorLoader({"x": x}, batch_size=4), 0)


@pytest.mark.parametrize(("kw", "k"), [
    (dict(), 8),                                    # epochs only: chunks end at epoch ends
    (dict(max_steps=1000), 2),                      # 1000 = 2·429 + 142: gcd(8, 142) = 2
    (dict(max_steps=429 * 2 + 12), 4),              # the stop is 12 steps into an epoch
    (dict(checkpoint_every=100), 1),                # 429 steps per epoch: gcd(8, 100, 429) = 1
    (dict(resume_step=429 + 6), 2),                 # resumed 6 steps into an epoch
    (dict(world_size=2), 1),                        # DDP: one backward per forward
])
def test_steps_per_call_puts_every_stop_on_a_chunk_boundary(kw, k):
    assert steps_per_call(8, steps_per_epoch=429, **kw) == k
    assert steps_per_call(1, steps_per_epoch=429) == 1
    assert steps_per_call(16, steps_per_epoch=64, checkpoint_every=32) == 16


def test_recount_chunks_converts_the_epoch_progress_to_the_new_chunk_size():
    def checkpoint(ready, completed, batch):
        counts = dict(ready=ready, started=ready, processed=ready, completed=completed)
        return {"loops": {"fit_loop": {
            "state_dict": {"combined_loader": [{"epoch": 1, "batch": batch, "seed": 0}]},
            "epoch_loop.batch_progress": {"current": dict(counts),
                                          "total": {k: v + 10 for k, v in counts.items()},
                                          "is_last_batch": False}}}}

    ck = checkpoint(ready=3, completed=2, batch=12)  # written at the end of the 3rd chunk of 4
    recount_chunks(ck, 2)
    progress = ck["loops"]["fit_loop"]["epoch_loop.batch_progress"]
    assert progress["current"] == dict(ready=6, started=6, processed=6, completed=5)  # offsets kept
    assert progress["total"] == dict(ready=16, started=16, processed=16, completed=15)
    ck = checkpoint(ready=3, completed=3, batch=12)
    recount_chunks(ck, 4)  # the same k: unchanged
    assert ck["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]["ready"] == 3
    recount_chunks({"state_dict": {}}, 4)  # not a training checkpoint: nothing to do
