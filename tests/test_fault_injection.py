"""Kill a run at random moments (SIGKILL, Ctrl-C, SIGTERM), resume each time: every checkpoint loads, none is older
than the last finished validation, no run is lost, and the final weights equal an uninterrupted run's
(benchmarks/fault_injection.py at a small size; its full runs are in benchmarks/RESULTS.md)."""

import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import fault_injection  # noqa: E402


@pytest.mark.parametrize("sig, kills, iterations, mode", [
    pytest.param(signal.SIGKILL, 1, 60, "every-iteration", marks=pytest.mark.slow),  # the default mode's below
    pytest.param(signal.SIGINT, 1, 60, "every-iteration", marks=pytest.mark.slow),  # Ctrl-C: test_run_guards too
    (signal.SIGKILL, 1, 300, "default"),  # last.ckpt only from validations and stops: the user's settings
    # SIGTERM → checkpoint, exit 143, exact resume: test_run_guards (one process) and test_reliability (DDP) in
    # `make test`; this harness's SIGTERM run is the slow suite's and benchmarks/RESULTS.md's
    pytest.param(signal.SIGTERM, 1, 300, "default", marks=pytest.mark.slow),
], ids=["sigkill", "sigint", "sigkill-default", "sigterm-default"])
def test_kills_at_random_moments_lose_nothing(sig, kills, iterations, mode):
    # the signal lands in the last 40 % of the uninterrupted run's wall time: in training, after validations (from
    # the first 0.3 s it mostly hit the interpreter's start-up, before genlab had a handler or a checkpoint)
    o = fault_injection.run_all(kills, sig, iterations=iterations, seed=1, mode=mode, earliest=0.6)
    assert o.kills == kills and o.unreadable_checkpoints == 0 and o.runs_lost == 0, o
    assert o.stale_checkpoints == 0, o  # no kill found last.ckpt older than the last finished validation
    assert o.identical and o.runs >= 1, o
    if sig == signal.SIGTERM:  # a SIGTERM during training exits 143 after writing last.ckpt, never 0 mid-run
        assert set(o.exit_codes) <= {143, -signal.SIGTERM, 0, 2}, o
