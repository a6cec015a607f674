"""Sampling time per image of DDPM (1000 steps) and DDIM (10/20/50/100 steps, η = 0 and 1), timed on
their own in interleaved rounds (issue: diffusion, goal "DDIM-50 at ≥ 20× less time").

The network is the class-conditional MNIST U-Net of ``benchmarks/diffusion.py`` (``--channels``, built
for MNIST as ``genlab train ddpm --data mnist`` builds it), untrained, or a trained one (``--model
RUN/model``). The same layers run on the same shapes with no data-dependent branch whatever the
weights, but the values they compute can still change the speed of the CPU's arithmetic (e.g. subnormal
numbers), so the recorded figure uses a trained network; the samples are checked to be finite. Every round
times each sampler once on the same batch (``--batch``, 250 as in the FID draws of diffusion.py), in the
same order; a sampler's figure is its fastest round (the one least disturbed by other work on the
shared machine; the median is recorded too), and ``speedup`` = the 1000-step time / the sampler's.
DDIM-50 makes 1000 / 50 = 20× fewer network calls than DDPM-1000, so a speedup ≥ 20 needs its steps to
cost no more than DDPM's.

    genlab train ddpm --data mnist --max-time 5m --lr 1e-3 --set model.channels=16 --set ema_decay=0.995 \
        --out runs/ddpm-speed --quiet                                                # as diffusion.py trains it
    python benchmarks/sampling_speed.py --rounds 3 --model runs/ddpm-speed/model   # ~16 min on 2 cores
    python benchmarks/sampling_speed.py --quick             # a smoke run, ~1 min
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spinning threads on a busy machine

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record, timeit, write_results  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.models.diffusion.ddpm import DDPM  # noqa: E402
from genlab.models.diffusion.samplers import make_sampler  # noqa: E402

DDIM_STEPS = (10, 20, 50, 100)


def samplers(etas: list[float], ddpm_steps: int, ddim_steps: tuple[int, ...]) -> list[tuple[str, dict]]:
    """(row name, ``DDPM.sample`` options): DDPM first, then DDIM per η and step count."""
    rows = [(f"ddpm {ddpm_steps} steps", {"sampler": "ddpm", "steps": ddpm_steps})]
    for eta in etas:
        name = "ddim" if eta == 0 else f"ddim η={eta:g}"
        rows += [(f"{name} {s} steps", {"sampler": "ddim", "steps": s, "eta": eta}) for s in ddim_steps]
    return rows


def time_once(model: DDPM, n: int, options: dict) -> float:
    """Seconds per image of one ``model.sample(n, ...)`` call; fails on non-finite samples."""
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    x = model.sample(n, generator=g, **options)
    seconds = time.perf_counter() - t0
    if not bool(torch.isfinite(x).all()):
        raise RuntimeError(f"{options}: non-finite samples")
    return seconds / n


@torch.no_grad()
def network_cost(model: DDPM, n: int, calls: int = 5) -> float:
    """Seconds of one network call on a batch of ``n`` (median of ``calls``, one timestep)."""
    cfg = model.config
    x = torch.randn((n, *cfg.data_shape), generator=torch.Generator().manual_seed(0))  # (n, C, H, W)
    labels = torch.arange(n) % cfg.num_classes if cfg.num_classes else None
    t_batch = torch.full((n,), cfg.num_train_timesteps - 1, dtype=torch.long)  # (n,)
    return timeit(lambda: model.net(x, t_batch, labels), repeat=calls)


@torch.no_grad()
def step_cost(model: DDPM, n: int, options: dict) -> float:
    """Seconds of one scheduler ``step`` of a sampler on a batch of ``n``: the mean over its whole chain,
    fed a fixed network output. A sampler's time is ``steps × (network call + step)`` plus a fixed part,
    so DDPM-1000 / DDIM-50 = 20 × (network + DDPM step) / (network + DDIM step)."""
    sampler = make_sampler(**options)
    scheduler = model.make_scheduler(sampler)
    scheduler.set_timesteps(sampler.num_steps(model.config.num_train_timesteps))
    g = torch.Generator().manual_seed(0)
    x = torch.randn((n, *model.config.data_shape), generator=g)  # (n, C, H, W)
    out = torch.randn(x.shape, generator=g)
    kwargs = sampler.step_kwargs()
    timesteps = scheduler.timesteps.tolist()
    t0 = time.perf_counter()
    for t in timesteps:
        scheduler.step(out, t, x, generator=g, **kwargs)
    return (time.perf_counter() - t0) / len(timesteps)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=250, help="images per sample() call (diffusion.py draws 250)")
    p.add_argument("--channels", type=int, default=16, help="U-Net base width (diffusion.py's default)")
    p.add_argument("--etas", type=float, nargs="+", default=[0.0, 1.0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--model", default=None,
                   help="a trained DDPM's model folder (a run's model/) to time instead of the untrained network")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round, batch 8, DDPM 100 steps")
    p.add_argument("--name", default="diffusion_sampling_time")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ddpm_steps, rounds, batch = (100, 1, 8) if args.quick else (1000, args.rounds, args.batch)
    if args.model:
        from genlab.hub import load as load_model

        model = load_model(args.model)
        if not isinstance(model, DDPM):
            p.error(f"{args.model} holds a {type(model).__name__}, not a DDPM")
    else:
        model = DDPM(DDPM.config_for_data(load("mnist", split="test"), {"channels": args.channels})).eval()
    weights = f"trained ({args.model})" if args.model else "untrained (a sampler's time does not depend on the weights)"
    params = sum(q.numel() for q in model.parameters())
    rows = samplers(args.etas, ddpm_steps, DDIM_STEPS)
    time_once(model, batch, rows[1][1])  # warm-up: allocator, kernels
    times: dict[str, list[float]] = {name: [] for name, _ in rows}
    for r in range(rounds):
        for name, options in rows:
            times[name].append(time_once(model, batch, options))
            print(f"round {r + 1}/{rounds}  {name:22s} {times[name][-1] * 1000:8.2f} ms/image", flush=True)
    ddpm_name = rows[0][0]
    ref = min(times[ddpm_name])
    ref_median = statistics.median(times[ddpm_name])
    network, ddpm_step = network_cost(model, batch), step_cost(model, batch, rows[0][1])
    records = []
    for name, options in rows:
        best, median = min(times[name]), statistics.median(times[name])
        paired = [a / b for a, b in zip(times[ddpm_name], times[name], strict=True)]  # same round
        step = step_cost(model, batch, options)
        predicted = ddpm_steps * (network + ddpm_step) / (options["steps"] * (network + step))
        records.append(record(name, "seconds per image (fastest round)", best, "s", batch=batch, rounds=rounds,
                              median_s=median, speedup=ref / best, speedup_median=ref_median / median,
                              speedup_paired=statistics.median(paired), speedup_paired_min=min(paired),
                              speedup_paired_max=max(paired), network_ms=network * 1000,
                              scheduler_step_ms=step * 1000, speedup_predicted=predicted, params=params))
    ddim50 = [r for r in records if r["name"].endswith(" 50 steps")]
    verdict = "; ".join(
        f"{r['name']}: {r['speedup']:.2f}× fastest rounds, {r['speedup_paired']:.2f}× median of the paired rounds "
        f"({r['speedup_paired_min']:.2f}–{r['speedup_paired_max']:.2f}), {r['speedup_predicted']:.3f}× from the "
        f"per-step costs" for r in ddim50)
    write_results(args.name, records, notes=(
        f"Class-conditional MNIST U-Net, {model.config.channels}·(1, 2, 2) channels ({params:,} parameters; the "
        f"network of `diffusion`), {weights}, batch "
        f"{batch}, {rounds} interleaved rounds, {args.threads} threads; value = fastest round, median_s = "
        f"median round; speedup = DDPM-{ddpm_steps} time / this sampler's (fastest rounds), speedup_median "
        f"the same from the medians, speedup_paired = median over rounds of the DDPM time / this sampler's in the "
        f"same round (min–max over rounds alongside). network_ms = one network call on the batch, "
        f"scheduler_step_ms = one scheduler step (timed apart), speedup_predicted = DDPM steps × (network + DDPM "
        f"step) / (steps × (network + this step)): the speed-up the per-step costs allow, free of the machine's "
        f"load. DDIM-50 vs DDPM-1000 (goal ≥ 20×): {verdict}."))


if __name__ == "__main__":
    main()
