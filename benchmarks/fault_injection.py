"""Fault injection: kill a training run at random moments, resume it each time, and check nothing is lost.

A tiny VAE on digits is trained in a subprocess (`genlab train ...`) that is sent SIGKILL (or SIGINT) after
a random delay (uniform between 0.3 s and the uninterrupted run's duration) — during start-up, a step, a
checkpoint write (one is written every iteration), a sample grid or the final save — then resumed
(`--resume`, or anew when it died before its first checkpoint), again and again until it finishes; then
a new run, until the signals are all delivered. After every kill, `last.ckpt` must load (weights only);
at the end of each run its weights must equal an uninterrupted run's bit for bit.

    python benchmarks/fault_injection.py --kills 20 --signal KILL
    python benchmarks/fault_injection.py --kills 20 --signal INT

``tests/test_fault_injection.py`` runs the same harness at a small size in `make test`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ITERATIONS = 300
ARGS = ["vae", "--data", "digits", "--batch-size", "64", "--quiet", "--set", "model.hidden=[8]",
        "--set", "model.latent_dim=2", "--set", "num_samples=4", "--set", "steps_per_call=1",
        "--set", "checkpoint_every=1"]


@dataclasses.dataclass
class Outcome:
    kills: int = 0  # signals delivered while the process ran
    unreadable_checkpoints: int = 0  # last.ckpt present but not loadable after a kill (must stay 0)
    restarts_from_scratch: int = 0  # killed before its first checkpoint: trained anew
    exit_codes: dict = dataclasses.field(default_factory=dict)
    progress: list = dataclasses.field(default_factory=list)  # last.ckpt's iteration after each kill (-1: none)
    runs: int = 0  # runs trained to their end (each compared with the uninterrupted one)
    identical: bool | None = None  # final weights equal the uninterrupted run's


def _cmd(*extra: str) -> list[str]:
    return [sys.executable, "-m", "genlab.cli.main", "train", *extra]


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}


def _weights(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run / "model" / "model.safetensors"))


def reference(root: Path, iterations: int) -> tuple[dict, float]:
    """The uninterrupted run's weights and its wall time (start to exit)."""
    out = root / "reference"
    t0 = time.perf_counter()
    subprocess.run(_cmd(*ARGS, "--max-steps", str(iterations), "--out", str(out)), check=True, env=_env(),
                   capture_output=True, timeout=600)
    return _weights(out), time.perf_counter() - t0


def _finish(run: Path, iterations: int, outcome: Outcome, rng: random.Random, sig: int, kills: int,
            duration: float) -> None:
    """Start (or resume) ``run`` until it exits 0, delivering signals at uniform moments in [0.3 s, duration]."""
    from genlab.training.checkpoint import read_checkpoint

    ckpt = run / "checkpoints" / "last.ckpt"
    while True:
        if ckpt.is_file():
            cmd = _cmd("--resume", str(run), "--quiet")
        else:
            outcome.restarts_from_scratch += run.exists()
            cmd = _cmd(*ARGS, "--max-steps", str(iterations), "--out", str(run), "--overwrite")
        p = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if outcome.kills < kills:
            try:
                p.wait(timeout=rng.uniform(0.3, duration))
            except subprocess.TimeoutExpired:
                p.send_signal(sig)
                outcome.kills += 1
        code = p.wait(timeout=600)
        outcome.exit_codes[code] = outcome.exit_codes.get(code, 0) + 1
        step = -1
        if ckpt.is_file():
            try:
                step = read_checkpoint(ckpt)["global_step"]  # every checkpoint left behind must load
            except Exception:
                outcome.unreadable_checkpoints += 1
                raise
        if code == 0:
            return
        outcome.progress.append(step)


def run_all(kills: int, sig: int, iterations: int = ITERATIONS, seed: int = 0) -> Outcome:
    """Runs killed and resumed until ``kills`` signals were delivered, each run to its end; each run's final
    weights are compared with the uninterrupted run's."""
    import torch

    root = Path(tempfile.mkdtemp(prefix="genlab-faults-"))
    try:
        ref, duration = reference(root, iterations)
        rng = random.Random(seed)
        outcome = Outcome(identical=True)
        cycle = 0
        while outcome.kills < kills:
            run = root / f"run{cycle}"
            _finish(run, iterations, outcome, rng, sig, kills, duration)
            got = _weights(run)
            outcome.identical &= ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)
            outcome.runs += 1
            cycle += 1
        return outcome
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    from common import record, write_results

    p = argparse.ArgumentParser()
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--signal", choices=["KILL", "INT"], default="KILL")
    p.add_argument("--iterations", type=int, default=ITERATIONS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default=None)
    args = p.parse_args()
    sig = signal.SIGKILL if args.signal == "KILL" else signal.SIGINT
    t0 = time.perf_counter()
    o = run_all(args.kills, sig, args.iterations, args.seed)
    note = (f"tiny VAE on digits, {args.iterations} iterations, last.ckpt every iteration; exit codes "
            f"{dict(sorted(o.exit_codes.items()))}; last.ckpt's iteration after each kill {o.progress}; "
            f"{o.restarts_from_scratch} restarts before a first checkpoint; {o.runs} runs trained to the end, "
            f"each compared; "
            f"{time.perf_counter() - t0:.0f} s")
    records = [record(f"SIG{args.signal} at random moments", "signals delivered", o.kills, "count", note=note),
               record(f"SIG{args.signal} at random moments", "unreadable checkpoints", o.unreadable_checkpoints,
                      "count"),
               record(f"SIG{args.signal} at random moments", "final weights identical to an uninterrupted run",
                      float(bool(o.identical)), "bool")]
    for r in records:
        print(f"{r['name']:<28} {r['metric']:<48} {r['value']}")
    write_results(args.name or f"fault_injection_{args.signal.lower()}", records,
                  notes="Kill, resume, repeat: data lost = 0 means every checkpoint loaded and the final "
                        "weights equal the uninterrupted run's bit for bit.")


if __name__ == "__main__":
    main()
