"""Shared test settings: few threads (2-core CI), a private cache folder, seeded torch."""

import os

os.environ.setdefault("GENLAB_CACHE", os.path.join(os.path.dirname(__file__), "..", ".cache", "genlab"))

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)  # tiny test models: one thread is as fast and never oversubscribes


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
