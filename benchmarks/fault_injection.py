"""Fault injection: kill a training run at random moments, resume it each time, and check nothing is lost.

A tiny VAE on digits is trained in a subprocess (`genlab train ...`) that is sent SIGKILL, SIGINT or SIGTERM
after a random delay (uniform between 0.3 s and the uninterrupted run's duration) — during start-up, a step, a
checkpoint write, a validation, a sample grid or the final save — then resumed (`--resume`, or anew when it
died before its first checkpoint), again and again until it finishes; then a new run, until the signals are
all delivered. After every kill, `last.ckpt` must load (weights only); at the end of each run its weights
must equal an uninterrupted run's bit for bit.

Two modes:
- ``--mode every-iteration``: `last.ckpt` every iteration (``checkpoint_every=1``, one step per Lightning call).
- ``--mode default``: the settings a user runs — no ``checkpoint_every``, the default ``steps_per_call``, the
  5-minute timed checkpoint (never reached here) — so `last.ckpt` comes from the validations (every epoch here:
  21 iterations) and the stops. After each kill the harness also finds the last validation the killed process
  had finished (the newest ``samples/epoch_XXX.png`` it wrote at least ``VALIDATION_MARGIN`` before the kill)
  and counts the kills whose `last.ckpt` is older than it (must be 0).

    python benchmarks/fault_injection.py --kills 20 --signal KILL
    python benchmarks/fault_injection.py --kills 20 --signal INT
    python benchmarks/fault_injection.py --kills 20 --signal KILL --mode default
    python benchmarks/fault_injection.py --kills 20 --signal TERM --mode default

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
BASE_ARGS = ["vae", "--data", "digits", "--batch-size", "64", "--epochs", "-1", "--quiet", "--set", "model.hidden=[8]",
             "--set", "model.latent_dim=2", "--set", "num_samples=4"]  # (--epochs -1: --max-steps alone stops it)
MODES = {"every-iteration": [*BASE_ARGS, "--set", "steps_per_call=1", "--set", "checkpoint_every=1"],
         "default": BASE_ARGS}
ARGS = MODES["every-iteration"]
SIGNALS = {"KILL": signal.SIGKILL, "INT": signal.SIGINT, "TERM": signal.SIGTERM}
#: a sample grid this much older than the kill marks a validation the run had finished (the grid is drawn just
#: before that validation's checkpoint is written: milliseconds for this model)
VALIDATION_MARGIN = 0.5


@dataclasses.dataclass
class Outcome:
    kills: int = 0  # signals delivered while the process ran
    unreadable_checkpoints: int = 0  # last.ckpt present but not loadable after a kill (must stay 0)
    restarts_from_scratch: int = 0  # killed before its first checkpoint: trained anew
    exit_codes: dict = dataclasses.field(default_factory=dict)
    progress: list = dataclasses.field(default_factory=list)  # last.ckpt's iteration after each kill (-1: none)
    validated: list = dataclasses.field(default_factory=list)  # the last finished validation's iteration per kill
    stale_checkpoints: int = 0  # kills after which last.ckpt was older than the last finished validation (must be 0)
    runs_lost: int = 0  # runs a restart could not take to their end (a refused resume, exit 2; must be 0)
    refusals: list = dataclasses.field(default_factory=list)  # what each refused restart said
    runs: int = 0  # runs trained to their end (each compared with the uninterrupted one)
    identical: bool | None = None  # final weights equal the uninterrupted run's


def _cmd(*extra: str) -> list[str]:
    return [sys.executable, "-m", "genlab.cli.main", "train", *extra]


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}


def _weights(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run / "model" / "model.safetensors"))


def reference(root: Path, iterations: int, args: list[str]) -> tuple[dict, float, dict[int, int]]:
    """The uninterrupted run's weights, its wall time (start to exit) and the iteration of each epoch's
    validation (``{epoch: iteration}``, from its ``metrics.csv``)."""
    from genlab.runs import read_metrics

    out = root / "reference"
    t0 = time.perf_counter()
    subprocess.run(_cmd(*args, "--max-steps", str(iterations), "--out", str(out)), check=True, env=_env(),
                   capture_output=True, timeout=600)
    seconds = time.perf_counter() - t0
    validations = {int(r["epoch"]): int(r["step"]) + 1 for r in read_metrics(out / "metrics.csv") if "val/loss" in r}
    return _weights(out), seconds, validations


def last_validation(run: Path, after: float, before: float, validations: dict[int, int]) -> int:
    """The iteration of the newest validation whose sample grid this process wrote (after ``after``, its start)
    before ``before`` (time.time() values); 0 when none was. (A grid of an earlier process is not counted: that
    process may have been killed between the grid and its checkpoint, a validation it had not finished.)"""
    done = [validations.get(int(p.stem.split("_")[1]), 0) for p in (run / "samples").glob("epoch_*.png")
            if after < p.stat().st_mtime < before] if (run / "samples").is_dir() else []
    return max(done, default=0)


def _finish(run: Path, iterations: int, outcome: Outcome, rng: random.Random, sig: int, kills: int,
            duration: float, args: list[str], validations: dict[int, int], earliest: float = 0.0) -> bool:
    """Start (or resume) ``run`` until it exits 0 (True), delivering signals at uniform moments in [max(0.3 s,
    ``earliest`` × duration), duration]; False when a restart is refused (the run is lost)."""
    from genlab.training.checkpoint import read_checkpoint

    ckpt = run / "checkpoints" / "last.ckpt"
    while True:
        if ckpt.is_file():
            cmd = _cmd("--resume", str(run), "--quiet")
        else:
            outcome.restarts_from_scratch += run.exists()
            cmd = _cmd(*args, "--max-steps", str(iterations), "--out", str(run), "--overwrite")
        started = time.time()
        p = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        killed_at = None
        if outcome.kills < kills:
            try:
                p.wait(timeout=rng.uniform(max(0.3, earliest * duration), duration))
            except subprocess.TimeoutExpired:
                killed_at = time.time()
                p.send_signal(sig)
                outcome.kills += 1
        code = p.wait(timeout=600)
        last_line = (p.stderr.read().decode(errors="replace").strip().splitlines() or [""])[-1]
        p.stderr.close()
        outcome.exit_codes[code] = outcome.exit_codes.get(code, 0) + 1
        step = -1
        if ckpt.is_file():
            try:
                step = read_checkpoint(ckpt)["global_step"]  # every checkpoint left behind must load
            except Exception:
                outcome.unreadable_checkpoints += 1
                raise
        if killed_at is not None:
            validated = last_validation(run, started, killed_at - VALIDATION_MARGIN, validations)
            outcome.validated.append(validated)
            outcome.stale_checkpoints += max(step, 0) < validated  # (no checkpoint and no validation: not stale)
        if code == 0 or (code == 2 and "has finished" in last_line):  # (killed after its end: nothing to resume)
            return True
        if code == 2:  # a one-line refusal: this run cannot be taken further
            outcome.runs_lost += 1
            outcome.refusals.append(last_line)
            return False
        outcome.progress.append(step)


def run_all(kills: int, sig: int, iterations: int = ITERATIONS, seed: int = 0,
            mode: str = "every-iteration", earliest: float = 0.0) -> Outcome:
    """Runs killed and resumed until ``kills`` signals were delivered, each run to its end; each run's final
    weights are compared with the uninterrupted run's. ``earliest``: no signal before this share of the
    uninterrupted run's wall time (the tests use it to land a kill in training, after some validations)."""
    import torch

    args = MODES[mode]
    root = Path(tempfile.mkdtemp(prefix="genlab-faults-"))
    try:
        ref, duration, validations = reference(root, iterations, args)
        rng = random.Random(seed)
        outcome = Outcome(identical=True)
        cycle = 0
        while outcome.kills < kills:
            run = root / f"run{cycle}"
            if _finish(run, iterations, outcome, rng, sig, kills, duration, args, validations, earliest):
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
    p.add_argument("--signal", choices=sorted(SIGNALS), default="KILL")
    p.add_argument("--mode", choices=sorted(MODES), default="every-iteration",
                   help="every-iteration: last.ckpt every iteration; default: the settings a user runs")
    p.add_argument("--iterations", type=int, default=ITERATIONS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default=None)
    args = p.parse_args()
    t0 = time.perf_counter()
    o = run_all(args.kills, SIGNALS[args.signal], args.iterations, args.seed, args.mode)
    every = args.mode == "every-iteration"
    what = "last.ckpt every iteration" if every else "default settings: last.ckpt at each validation (every epoch)"
    note = (f"tiny VAE on digits, {args.iterations} iterations, {what}; exit codes "
            f"{dict(sorted(o.exit_codes.items()))}; last.ckpt's iteration after each kill {o.progress}; "
            f"last finished validation at each kill {o.validated}; "
            f"{o.restarts_from_scratch} restarts before a first checkpoint; {o.runs} runs trained to the end, "
            f"each compared; {time.perf_counter() - t0:.0f} s")
    name = f"SIG{args.signal} at random moments" + ("" if every else ", default settings")
    records = [record(name, "signals delivered", o.kills, "count", note=note),
               record(name, "unreadable checkpoints", o.unreadable_checkpoints, "count"),
               record(name, "checkpoints older than the last validation", o.stale_checkpoints, "count"),
               record(name, "runs lost", o.runs_lost, "count"),
               record(name, "final weights identical to an uninterrupted run", float(bool(o.identical)), "bool")]
    for r in records:
        print(f"{r['name']:<46} {r['metric']:<48} {r['value']}")
    suffix = "" if every else "_default"
    write_results(args.name or f"fault_injection_{args.signal.lower()}{suffix}", records,
                  notes="Kill, resume, repeat: data lost = 0 means every checkpoint loaded, no kill found last.ckpt "
                        "older than the last finished validation, and the final weights equal the uninterrupted "
                        "run's bit for bit.")


if __name__ == "__main__":
    main()
