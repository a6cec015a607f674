"""Diffusion tests run many small tensor ops in loops: one intra-op thread is faster for them, and
on a shared 2-core machine two spinning OpenMP threads made the sampler loops ~50x slower."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
