"""Kill a run at random moments (SIGKILL and Ctrl-C), resume each time: every checkpoint loads and the final
weights equal an uninterrupted run's (benchmarks/fault_injection.py at a small size; its full run is in
benchmarks/RESULTS.md)."""

import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import fault_injection  # noqa: E402


@pytest.mark.parametrize("sig, kills", [(signal.SIGKILL, 2), (signal.SIGINT, 1)], ids=["sigkill", "sigint"])
def test_kills_at_random_moments_lose_nothing(sig, kills):
    o = fault_injection.run_all(kills, sig, iterations=60, seed=1)
    assert o.kills == kills and o.unreadable_checkpoints == 0
    assert o.identical, o
