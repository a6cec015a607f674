"""Fault injection: kill a training run at random moments, resume it each time, and check nothing is lost.

A tiny VAE on digits is trained in a subprocess (`genlab train ...`) that is sent SIGKILL (or SIGINT) after a
random delay — during a step, a checkpoint write (one is written every iteration), a sample grid or the
final save — then resumed (`--resume`, or anew when it died before its first checkpoint), again and again
until it finishes. After every kill, `last.ckpt` must load (weights only); at the end the model's weights
must equal an uninterrupted run's bit for bit.

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

ITERATIONS = 150
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
    identical: bool | None = None  # final weights equal the uninterrupted run's


def _cmd(*extra: str) -> list[str]:
    return [sys.executable, "-m", "genlab.cli.main", "train", *extra]


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}


def _weights(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run / "model" / "model.safetensors"))


def reference(root: Path, iterations: int) -> dict:
    out = root / "reference"
    subprocess.run(_cmd(*ARGS, "--max-steps", str(iterations), "--out", str(out)), check=True, env=_env(),
                   capture_output=True, timeout=600)
    return _weights(out)


def inject(root: Path, *, kills: int, sig: int, iterations: int = ITERATIONS, seed: int = 0,
           max_delay: float = 12.0) -> Outcome:
    """Train ``iterations`` iterations in ``root/run`` while delivering ``kills`` signals ``sig`` at random
    moments (uniform in [0.5, max_delay] s after each start), then finish the run; compare with a reference."""
    from genlab.errors import LoadError
    from genlab.training.checkpoint import read_checkpoint

    rng = random.Random(seed)
    run = root / "run"
    ckpt = run / "checkpoints" / "last.ckpt"
    outcome = Outcome()
    delivered = 0
    while True:
        if ckpt.is_file():
            cmd = _cmd("--resume", str(run), "--quiet")
        else:
            cmd = _cmd(*ARGS, "--max-steps", str(iterations), "--out", str(run), "--overwrite")
            outcome.restarts_from_scratch += run.exists()
        p = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if delivered < kills:
            try:
                p.wait(timeout=rng.uniform(0.5, max_delay))
            except subprocess.TimeoutExpired:
                p.send_signal(sig)
                delivered += 1
                outcome.kills += 1
        try:
            code = p.wait(timeout=600)
        finally:
            p.stderr.close()
        outcome.exit_codes[code] = outcome.exit_codes.get(code, 0) + 1
        step = -1
        if ckpt.is_file():
            try:
                step = read_checkpoint(ckpt)["global_step"]
            except LoadError:
                outcome.unreadable_checkpoints += 1
                raise
        if code != 0:
            outcome.progress.append(step)
        if code == 0 and delivered >= kills:
            break
    return outcome


def run_all(kills: int, sig: int, iterations: int = ITERATIONS, seed: int = 0, max_delay: float = 12.0) -> Outcome:
    import torch

    root = Path(tempfile.mkdtemp(prefix="genlab-faults-"))
    try:
        ref = reference(root, iterations)
        outcome = inject(root, kills=kills, sig=sig, iterations=iterations, seed=seed, max_delay=max_delay)
        got = _weights(root / "run")
        outcome.identical = ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)
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
            f"{o.restarts_from_scratch} restarts before a first checkpoint; "
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
