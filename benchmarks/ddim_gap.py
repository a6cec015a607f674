"""Why the deterministic DDIM sampler (η = 0) trails ancestral sampling on MNIST (issue: quality gaps, part 2).

One class-conditional DDPM is trained as in ``diffusion.py`` part (a) (U-Net 16·(1, 2, 2), batch 128, Adam
``--lr``, EMA 0.995, gradient clipping 1) for the largest of ``--snapshots`` iterations (that section's
model had 3,179 after 20 minutes on 2 threads; iterations do not depend on the machine). A callback keeps
copies of the model at each snapshot: the EMA-0.995 weights (what the run exports), the raw weights, and EMAs
of the same run at other decays (``--ema-decays``, averaged alongside from step 1 with the same warm-up). Every FID
is at n = ``--fid-n`` samples against the first n test images (LeNet features), next to the floor at the same
n (those test images against random training subsets, mean of 3). Rows:

- against training time: DDIM-50 at η = 0 and η = 1 at each snapshot (does the gap close as the denoiser
  trains?);
- on the final model, one change at a time from the default (EMA 0.995, x̂₀ clipped to [−1, 1], trailing
  spacing): raw weights and other EMA decays; x̂₀ unclipped; x̂₀ clipped but the network's ε̂ kept in the
  direction term (diffusers' default) instead of ε̂ recomputed from the clipped x̂₀; leading and linspace spacing;
  η = 0 at 10/20/100/200 steps; seeds ``1 … --seeds − 1`` of DDIM-50 at η = 0 and 1 (the spread);
- ``--ddpm-1000``: 1000 ancestral steps (the goal's reference); ``--ode-1000``: η = 0 at 1000 steps.

``--prediction v`` trains the network to predict ``v`` instead of ``ε`` (a separate run and section).
``--save DIR`` keeps every snapshot's models (safetensors) and ``--load DIR`` evaluates them without training.

    python benchmarks/ddim_gap.py --snapshots 800 1600 3200 --save runs/ddim-gap --train-only
    python benchmarks/ddim_gap.py --load runs/ddim-gap --fid-n 2000 --ddpm-1000 --ode-1000
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spinning threads on a busy machine

import argparse  # noqa: E402
import copy  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import lightning as L  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record, write_results  # noqa: E402
from fid_floor import draw, fid_floor  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.metrics.fid import fid  # noqa: E402
from genlab.training import TrainConfig, train  # noqa: E402
from genlab.training.callbacks import EMA  # noqa: E402


class Snapshots(L.Callback):
    """Copies of the model after given iterations: ``{iteration: {"ema": …, "raw": …, "ema0.999": …}}``;
    the averages at ``decays`` besides the run's own are ``EMA`` instances this callback drives (they are
    not registered with the trainer, so they never swap themselves in for validation)."""

    def __init__(self, iterations: list[int], decays: list[float], save: str | None = None) -> None:
        self.iterations = sorted(iterations)
        self.save = save  # each snapshot is written as it is taken: a run stopped later keeps the earlier ones
        self.averages = {decay: EMA(decay) for decay in decays}
        self.models: dict[int, dict[str, torch.nn.Module]] = {}

    def on_fit_start(self, trainer, pl_module) -> None:
        for average in self.averages.values():
            average.on_fit_start(trainer, pl_module)

    def on_train_iteration_end(self, trainer, pl_module) -> None:  # after each iteration (systems.base)
        for average in self.averages.values():
            average.on_train_iteration_end(trainer, pl_module)
        if pl_module.iteration in self.iterations:
            self.take(trainer, pl_module, pl_module.iteration)

    def take(self, trainer, pl_module, iteration: int) -> None:
        ema = next(c for c in trainer.callbacks if isinstance(c, EMA))
        models = {"ema": ema.ema_model(pl_module.model).eval(), "raw": copy.deepcopy(pl_module.model).eval()}
        for decay, average in self.averages.items():
            models[f"ema{decay:g}"] = average.ema_model(pl_module.model).eval()
        self.models[iteration] = models
        if self.save:
            for k, m in models.items():
                m.save_pretrained(Path(self.save) / str(iteration) / k)
        print(f"  snapshot at iteration {iteration}", flush=True)


def _draw_part(job) -> torch.Tensor:
    """One worker's share of a draw (``draw_in``), on one thread."""
    model, n, seed, kwargs = job
    torch.set_num_threads(1)
    return draw(model, n, seed=seed, **kwargs)[0]


def draw_in(workers: int, model, n: int, seed: int, **kwargs) -> torch.Tensor:
    """``n`` samples of ``model``: in this process (``workers`` 1), or split across ``workers`` processes of one
    thread each, the k-th drawing with seed ``1000·seed + k`` (another set of samples than one process draws)."""
    if workers == 1:
        return draw(model, n, seed=seed, **kwargs)[0]
    sizes = [n // workers + (k < n % workers) for k in range(workers)]
    with torch.multiprocessing.get_context("spawn").Pool(workers) as pool:
        parts = pool.map(_draw_part, [(model, size, 1000 * seed + k, kwargs) for k, size in enumerate(sizes)])
    return torch.cat(parts)


def variant(model, **config):
    """A copy of ``model`` whose config differs in ``config`` (sampling options only: clipping, spacing)."""
    m = copy.deepcopy(model)
    m.config = m.config.replace(**config)
    return m


#: ``--prediction`` → the DDPM's ``prediction_type``
PREDICTION_TYPE = {"epsilon": "epsilon", "v": "v_prediction"}


def final_model_prediction(final: dict) -> str:
    """The ``--prediction`` (ε, v) the final snapshot's models were trained with (a --load run reads it from them)."""
    kind = next(iter(final.values())).config.prediction_type
    return next((flag for flag, k in PREDICTION_TYPE.items() if k == kind), kind)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--snapshots", type=int, nargs="+", default=[800, 1600, 3200], help="iterations; the last ends "
                   "the training")
    p.add_argument("--ema-decays", type=float, nargs="+", default=[0.999, 0.9999])
    p.add_argument("--fid-n", type=int, default=2000)
    p.add_argument("--seeds", type=int, default=3, help="seeds of DDIM-50 η = 0 and 1 on the final model")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--prediction", choices=["epsilon", "v"], default="epsilon",
                   help="the network's target: ε, or v = α_t ε − σ_t x_0 (the model's prediction_type v_prediction)")
    p.add_argument("--etas", type=float, nargs="+", default=[0.0, 1.0], help="η of the curve and weights rows")
    p.add_argument("--ddpm-1000", action="store_true", help="1000 ancestral steps on the final model")
    p.add_argument("--ode-1000", action="store_true", help="η = 0 at 1000 steps on the final model")
    p.add_argument("--save", help="directory to keep the final models in")
    p.add_argument("--load", help="evaluate the models a --save run kept, without training")
    p.add_argument("--iterations", type=int, nargs="+", help="with --load: only these snapshots (the largest is the "
                   "final model)")
    p.add_argument("--train-only", action="store_true", help="train and --save, evaluate later with --load")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=1, help="processes each draw is split across (1 thread each)")
    p.add_argument("--name", default="ddim_gap")
    p.add_argument("--parts", nargs="*", default=["curve", "weights", "sampler", "seeds"],
                   choices=["curve", "weights", "sampler", "seeds"],
                   help="which rows: the gap against training time, the weights sampled, the sampler's options, "
                        "the seeds' spread (the 1000-step rows come with --ddpm-1000 / --ode-1000)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from genlab.models.diffusion import DDPM

    records: list[dict] = []
    if args.load:  # DIR/<iteration>/<weights>/, as --save wrote them
        snapshots = {int(d.name): {k.name: DDPM.from_pretrained(k) for k in sorted(d.iterdir()) if k.is_dir()}
                     for d in Path(args.load).iterdir()
                     if d.name.isdigit() and (not args.iterations or int(d.name) in args.iterations)}
        if not snapshots:
            raise SystemExit(f"{args.load} holds no snapshot{' of ' + str(args.iterations) if args.iterations else ''}")
        final = snapshots[max(snapshots)]
        trained = Path(args.load) / "trained.txt"
        info = (trained.read_text().strip() + "; " if trained.is_file() else "") + f"loaded from {args.load}"
    else:
        snap = Snapshots(args.snapshots, args.ema_decays, save=args.save)
        run_dir = Path("runs") / f"bench-{args.name}"
        cfg = TrainConfig(model="ddpm", data="mnist", epochs=-1, max_steps=max(args.snapshots),
                          batch_size=128, lr=args.lr, ema_decay=0.995, grad_clip=1.0, val_size=1000,
                          num_samples=16, quiet=True, out=str(run_dir),
                          model_options={"channels": args.channels,
                                         "prediction_type": PREDICTION_TYPE[args.prediction]})
        run = train(cfg, callbacks=[snap])
        snapshots = snap.models
        final = snapshots[max(snapshots)]
        info = (f"trained {run.steps} iterations in {run.seconds / 60:.1f} min on {args.threads} threads; snapshots "
                f"at iterations {', '.join(map(str, sorted(snapshots)))}")
        if args.save:
            (Path(args.save) / "trained.txt").write_text(info + "\n")
        if args.train_only:
            print(info)
            return
    print(info, flush=True)

    n = args.fid_n
    test, train_x = load("mnist", split="test").x, load("mnist", split="train").x
    real = test[:n]
    floor, floor_std = fid_floor(real, train_x, seeds=3)
    records.append(record("FID floor (test vs train)", "FID", floor, "", n=n, std=floor_std, seeds=3))
    print(f"  floor {floor:.2f} ± {floor_std:.2f}", flush=True)

    def measure(name: str, model, seed: int = 0, **kwargs) -> float:
        t0 = time.perf_counter()
        x = draw_in(args.workers, model, n, seed, **kwargs)
        value = float(fid(real, x))
        records.append(record(name, "FID", value, "", n=n, seed=seed, vs_floor=value / floor,
                              seconds=round(time.perf_counter() - t0, 1)))
        print(f"  {name} (seed {seed}): FID {value:.2f} ({time.perf_counter() - t0:.0f} s)", flush=True)
        return value

    ddim = {"sampler": "ddim", "steps": 50}
    model = final["ema"]
    if "curve" in args.parts:  # the gap against training time
        for iteration, models in sorted(snapshots.items()):
            for eta in args.etas:
                measure(f"iteration {iteration}: DDIM-50 η = {eta:g}", models["ema"], eta=eta, **ddim)
    if "weights" in args.parts:  # the weights sampled
        seen = {"ema": final["ema"].state_dict()}
        for key in [k for k in final if k != "ema"]:
            state = final[key].state_dict()
            same = next((k for k, v in seen.items() if all(torch.equal(state[n], v[n]) for n in state)), None)
            if same:  # EMA's warm-up min(d, (1 + n) / (10 + n)) binds every decay above 1 − 9/n: one average
                print(f"  final, {key} weights: the same as {same} (the warm-up binds both)", flush=True)
                continue
            seen[key] = state
            for eta in args.etas:
                measure(f"final, {key} weights: DDIM-50 η = {eta:g}", final[key], eta=eta, **ddim)
    if "sampler" in args.parts:  # one sampling option at a time
        measure("final, x̂0 unclipped: DDIM-50 η = 0", variant(model, clip_sample=False), eta=0.0, **ddim)
        measure("final, x̂0 clipped, the network's ε̂ kept: DDIM-50 η = 0", variant(model, clipped_epsilon=False),
                eta=0.0, **ddim)
        for spacing in ("leading", "linspace"):
            measure(f"final, {spacing} spacing: DDIM-50 η = 0", variant(model, timestep_spacing=spacing), eta=0.0,
                    **ddim)
        for steps in (10, 20, 100, 200):
            measure(f"final: DDIM-{steps} η = 0", model, sampler="ddim", steps=steps, eta=0.0)
    if "seeds" in args.parts:  # the spread
        for seed in range(1, args.seeds):
            for eta in (0.0, 1.0):
                measure(f"iteration {max(snapshots)}: DDIM-50 η = {eta:g}", model, seed=seed, eta=eta, **ddim)
    if args.ode_1000:
        measure("final: DDIM-1000 η = 0 (the ODE limit)", model, sampler="ddim", steps=1000, eta=0.0)
    if args.ddpm_1000:
        measure("final: DDPM-1000", model, sampler="ddpm")
    values = {}
    for r in records:
        values.setdefault(r["name"], []).append(r["value"])
    lines = [f"{name}: {statistics.mean(v):.2f}" + (f" ± {statistics.stdev(v):.2f} ({len(v)} seeds)"
                                                     if len(v) > 1 else "") for name, v in values.items()]
    print("\n".join(lines))
    write_results(args.name, records, notes=f"class-conditional DDPM, U-Net {args.channels}·(1, 2, 2), "
                  f"{final_model_prediction(final)}-prediction, lr {args.lr:g}, batch 128, EMA 0.995; {info}; "
                  f"FID at n = {n} "
                  f"{f'(each draw split across {args.workers} processes of 1 thread) ' if args.workers > 1 else ''}"
                  f"against test[:{n}] (LeNet features), `vs_floor` = FID / the floor at the same n.")


if __name__ == "__main__":
    main()
