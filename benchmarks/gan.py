"""GAN benchmarks (issue: GANs from the equations), measured side by side in one run.

(speed) the adversarial spine (AdversarialSystem through genlab.training.train: checkpoints, logging,
        EMA off, sample grids) against a bare hand-written alternating loop on the same DCGAN, data,
        batch and seed: wall time of the same iterations (goal ≤ 1.05), interleaved repeats; and whether
        the two end with identical weights;
(unroll) the cost of one generator step of the unrolled GAN (G6) against k = 0, on the ring8 MLP GAN;
(toys)  mode collapse on ring8 and grid25 with the protocol of Srivastava et al. 2017 (VEEGAN,
        arXiv:1705.07761): 2,500 samples; a sample is high quality (HQ) within 3σ of its nearest mode; a mode
        is covered when it is the nearest mode of an HQ sample; plus the reverse KL of the modes' histogram
        of HQ samples to uniform (PacGAN); mean ± std over seeds. Rows: GAN (non-saturating), unrolled GAN at
        k = 1, 5, 10, WGAN-GP, GAN + R1 (γ = 0.1), the same MLPs (128, 128) and recipe (``TOY_RECIPE``: batch
        256, Adam 1e-3 decayed by a cosine), each trained for the same wall time (its iterations from a
        calibration run) or for ``--toy-iterations``.

    python benchmarks/gan.py --parts speed unroll --iterations 300 --repeats 3
    python benchmarks/gan.py --parts toys --toy-seconds 30 --seeds 5 --name gan_toys
    python benchmarks/gan.py --parts toys --rows "GAN + R1, γ = 0.1" --toy-iterations 40000 --name gan_toys_r1
    python benchmarks/gan.py --parts toys --toys grid25 --seeds 1 --toy-iterations 20000 \
        --row unrolled-gan '{"unroll_steps": 5, "unroll_lr": 0.01}' '{"lr_schedule": "constant"}'   # one ad-hoc row
    python benchmarks/gan.py --parts toys --toys grid25 --toy-iterations 20000 --workers 2 --threads 1 ...  # 2 at once
    python benchmarks/gan.py --parts toys --toys grid25 --rows "unrolled GAN, k = 5, Adam lookahead, D (128)" \
        --toy-iterations 20000 --seeds 5 --workers 2 --threads 1   # the unrolled GAN's grid25 row (25 of 25 modes)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, in_workers, record, timeit, write_results  # noqa: E402

from genlab.data import TensorLoader, load  # noqa: E402
from genlab.models.gan import DCGAN, UnrolledGAN  # noqa: E402
from genlab.training.optim import adam  # noqa: E402

BATCH, LR = 64, 2e-4


def spine(iterations: int) -> tuple[float, dict]:
    from genlab.training import TrainConfig, train

    out = Path(tempfile.mkdtemp(prefix="bench-gan-"))
    try:
        r = train(TrainConfig(model="dcgan", data="mnist", max_steps=iterations, batch_size=BATCH, lr=LR,
                              out=str(out / "run"), quiet=True))
        return r.seconds, {k: v.clone() for k, v in r.model.state_dict().items()}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def bare_loop(data, iterations: int) -> tuple[float, dict]:
    """The same iteration written out: a D step on the batch (fresh z), then a G step (fresh z)."""
    import lightning as L

    L.seed_everything(0, verbose=False)  # as train(): the model is built right after seeding
    model = DCGAN(DCGAN.config_for_data(data, {}))
    opt_d = adam(model.discriminator.parameters(), lr=LR, betas=(0.5, 0.999))
    opt_g = adam(model.generator.parameters(), lr=LR, betas=(0.5, 0.999))
    loader = TensorLoader(data.fields, batch_size=BATCH, shuffle=True, seed=0, drop_last=True)
    model.train()
    t0 = time.perf_counter()
    done = 0
    while done < iterations:
        for batch in loader:
            for loss, opt, freeze in ((model.discriminator_loss, opt_d, False), (model.generator_loss, opt_g, True)):
                for p in model.discriminator.parameters():
                    p.requires_grad_(not freeze)  # the generator's step takes no gradient for D
                out = loss(**batch)
                opt.zero_grad(set_to_none=True)
                out.loss.backward()
                opt.step()
            for p in model.discriminator.parameters():
                p.requires_grad_(True)
            done += 1
            if done == iterations:
                break
    return time.perf_counter() - t0, {k: v.clone() for k, v in model.state_dict().items()}


def speed(iterations: int, repeats: int) -> list[dict]:
    data = load("mnist", split="train")
    spine(10)  # warm-up: imports, the PNG stack
    bare_loop(data, 10)
    bares, spines, same = [], [], []
    for _ in range(repeats):
        tb, wb = bare_loop(data, iterations)
        ts, ws = spine(iterations)
        bares.append(tb)
        spines.append(ts)
        same.append(all(torch.equal(wb[k], ws[k]) for k in wb))
    each = ", ".join(f"{s / b:.3f}" for s, b in zip(spines, bares, strict=True))
    return [
        record("adversarial spine vs bare loop", "wall time", min(spines), "s", reference=min(bares),
               note=f"DCGAN on MNIST, {iterations} iterations (1 D step + 1 G step each), batch {BATCH}; "
                    f"fastest of {repeats} interleaved runs (per pair: {each}); goal ≤ 1.05"),
        record("adversarial spine vs bare loop", "identical final weights", float(all(same)), "bool",
               note=f"per run: {same}"),
    ]


def unroll_cost(ks=(0, 1, 5, 10)) -> list[dict]:
    x = load("ring8", split="train").x[:BATCH]
    times = {}
    for k in ks:
        torch.manual_seed(0)
        m = UnrolledGAN(data_shape=(2,), unroll_steps=k)

        def step(m: UnrolledGAN = m) -> None:
            m.zero_grad(set_to_none=True)
            m.generator_loss(x).loss.backward()

        times[k] = timeit(step, repeat=20, warmup=3)
    return [record(f"unrolled GAN generator step, k = {k}", "time", times[k] * 1e3, "ms",
                   reference=times[0] * 1e3, note="ring8 MLP GAN (128, 128), batch 64; median of 20; ratio vs k = 0")
            for k in ks]


TOY_ROWS = {  # name → (model, model options[, changes to TOY_RECIPE])
    "GAN (non-saturating)": ("gan", {}),
    "unrolled GAN, k = 1": ("unrolled-gan", {"unroll_steps": 1}),
    "unrolled GAN, k = 5": ("unrolled-gan", {"unroll_steps": 5}),
    "unrolled GAN, k = 10": ("unrolled-gan", {"unroll_steps": 10}),
    "WGAN-GP": ("wgan-gp", {}),  # λ = 0.1 on 2-D data (WGANGP.data_defaults)
    "GAN + R1, γ = 0.1": ("gan", {"r1_weight": 0.1}),
    "GAN, constant lr": ("gan", {}, {"lr_schedule": "constant"}),
    "unrolled GAN, k = 5, η 0.01, constant lr": ("unrolled-gan", {"unroll_steps": 5, "unroll_lr": 0.01},
                                                  {"lr_schedule": "constant"}),
    #: grid25's recipe (25 of 25 modes in every seed, RESULTS.md gan_toys_unrolled_d1_grid25): the Adam lookahead at
    #: D's lr and a discriminator of one hidden layer
    "unrolled GAN, k = 5, Adam lookahead, D (128)": ("unrolled-gan", {"unroll_steps": 5, "unroll_optimizer": "adam",
                                                                     "unroll_lr": 1e-3,
                                                                     "discriminator": {"hidden": [128]}},
                                                    {"lr_schedule": "constant"}),
}
#: the recipe of every toy row (tuned on ring8, seed 0, for the plain GAN: batch 64 / Adam 2e-4 constant gave
#: 6 modes / 18 % HQ after 20,000 iterations, lr 1e-3 8 / 77 %, + cosine decay 8 / 92 %, + batch 256 8 / 97 %).
#: The R1 row's γ (Mescheder et al. 2018) from grid25, seed 0, 20,000 iterations: no R1 21 modes / 83 % HQ,
#: γ = 0.01 24 / 71 %, 0.1 25 / 82 %, 1 25 / 73 %, 10 25 / 78 %; γ = 0.1 at 40,000 iterations 25 / 94 %
#: (wider MLPs (256, 256) 24 / 61 %; batch 512 and lr 3e-4 were worse without R1).
TOY_RECIPE = {"batch_size": 256, "lr": 1e-3, "lr_schedule": "cosine"}


def toy_train(model: str, options: dict, data: str, seed: int, steps: int, recipe: dict | None = None):
    from genlab.training import TrainConfig, train

    out = Path(tempfile.mkdtemp(prefix="bench-toy-"))
    try:
        return train(TrainConfig(model=model, data=data, seed=seed, epochs=-1, max_steps=steps, out=str(out / "r"),
                                 quiet=True, num_samples=0, val_size=1000, model_options=options,
                                 **{**TOY_RECIPE, **(recipe or {})}))
    finally:
        shutil.rmtree(out, ignore_errors=True)


def toy_steps(model: str, options: dict, data: str, seconds: float, recipe: dict | None = None) -> int:
    """Iterations that fill ``seconds`` of training, from the time of a 400-iteration run (start-up included,
    so the real runs come out a little shorter than the budget)."""
    r = toy_train(model, options, data, 0, 400, recipe)
    return max(400, int(seconds / (r.seconds / r.steps)))


def toy_run(model: str, options: dict, data: str, seed: int, steps: int, recipe: dict | None = None) -> dict:
    """Train one toy GAN for ``steps`` iterations and score 2,500 samples (VEEGAN's protocol)."""
    from genlab.metrics.coverage import mode_coverage, mode_kl

    r = toy_train(model, options, data, seed, steps, recipe)
    test = load(data, split="test")
    x = r.model.sample(2500, generator=torch.Generator().manual_seed(seed)).float()
    c = mode_coverage(x, test.modes, test.std)
    if seed == 0:
        from genlab.plots import scatter2d

        tag = (f"{options.get('unroll_steps', '')}{'_r1' if options.get('r1_weight') else ''}"
               f"{'_' + options['unroll_optimizer'] if options.get('unroll_optimizer', 'sgd') != 'sgd' else ''}"
               f"{'_constant' if (recipe or {}).get('lr_schedule') == 'constant' else ''}"
               f"{''.join(f'_d{w}' for w in options.get('discriminator', {}).get('hidden', ()))}")
        scatter2d(x, RESULTS_DIR / f"toys_{data}_{model}{tag}.png", reference=test.x[:2500])
    return {"modes": c.modes_covered, "hq": 100 * c.samples, "kl": mode_kl(x, test.modes, test.std),
            "iterations": r.steps, "seconds": r.seconds}


def toys(datasets: list[str], seeds: int, seconds: float, rows: list[str] | None = None,
         iterations: int | None = None, workers: int = 1) -> list[dict]:
    """Each row for the same wall time ``seconds`` (iterations from a calibration run), or for ``iterations``;
    ``workers`` > 1 trains that many seeds at once, each in its own process (same results as one after another)."""
    records = []
    for data in datasets:
        for name, (model, options, *recipe) in TOY_ROWS.items():
            if rows and name not in rows:
                continue
            recipe = recipe[0] if recipe else {}
            steps = iterations or toy_steps(model, options, data, seconds, recipe)
            jobs = [(model, options, data, seed, steps, recipe) for seed in range(seeds)]
            if workers > 1:
                done = in_workers(toy_run, jobs, workers, torch.get_num_threads())
                runs = [report(data, name, seed, r) for seed, r in enumerate(done)]
            else:
                runs = [report(data, name, seed, toy_run(*job)) for seed, job in enumerate(jobs)]
            t = {k: torch.tensor([float(r[k]) for r in runs]) for k in ("modes", "hq", "kl", "seconds")}
            std = (lambda v: float(v.std()) if len(v) > 1 else float("nan"))  # noqa: E731
            per = "; ".join(f"{r['modes']} / {r['hq']:.1f} %" for r in runs)
            print(f"{data} {name}: {per}", flush=True)
            records += [
                record(f"{data}: {name}", "modes covered", float(t["modes"].mean()), "modes", std=std(t["modes"]),
                       iterations=steps, seconds=round(float(t["seconds"].mean()), 1),
                       note=f"{seeds} seeds, {steps} iterations each ({t['seconds'].mean():.0f} s); per seed "
                            f"modes / HQ: {per}"),
                record(f"{data}: {name}", "high-quality samples", float(t["hq"].mean()), "%", std=std(t["hq"])),
                record(f"{data}: {name}", "reverse KL to uniform modes", float(t["kl"].nanmean()), "nats",
                       std=std(t["kl"])),
            ]
    return records


def report(data: str, name: str, seed: int, run: dict) -> dict:
    """Print one toy seed's result as it ends; ``run``."""
    print(f"  {data} {name}, seed {seed}: {run['modes']} modes, {run['hq']:.1f} % HQ ({run['seconds']:.0f} s)",
          flush=True)
    return run


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--parts", nargs="+", default=["speed", "unroll"], choices=["speed", "unroll", "toys"])
    p.add_argument("--toys", nargs="+", default=["ring8", "grid25"])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--toy-seconds", type=float, default=30.0, help="training wall time of each toy run")
    p.add_argument("--toy-iterations", type=int, help="a fixed number of iterations per toy run (not --toy-seconds)")
    p.add_argument("--rows", nargs="+", choices=list(TOY_ROWS), help="only these toy rows (default: all)")
    p.add_argument("--row", nargs="+", metavar=("MODEL", "JSON"),
                   help="one ad-hoc toy row instead: MODEL, its model options and changes to TOY_RECIPE as JSON")
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--name", default="gan")
    p.add_argument("--threads", type=int, default=2, help="torch threads (1: two runs side by side on 2 cores)")
    p.add_argument("--workers", type=int, default=1,
                   help="toy seeds trained at once, each in its own process of --threads threads")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    records = []
    if "speed" in args.parts:
        records += speed(args.iterations, args.repeats)
    if "unroll" in args.parts:
        records += unroll_cost()
    if "toys" in args.parts:
        if args.row:  # MODEL [OPTIONS [RECIPE]]
            model, options, recipe = (args.row + ["{}", "{}"])[:3]
            name = f"{model} {options} {recipe}"
            TOY_ROWS[name] = (model, json.loads(options), json.loads(recipe))
            args.rows = [name]
        records += toys(args.toys, args.seeds, args.toy_seconds, args.rows, args.toy_iterations, args.workers)
    for r in records:
        print(f"{r['name']:<40} {r['metric']:<24} {r['value']:10.3f} {r['unit']:<6} ratio {r['ratio'] or ''}")
    write_results(args.name, records, notes="GANs: (speed) the adversarial spine vs a bare alternating loop; "
                  "(unroll) the cost of unrolling.")


if __name__ == "__main__":
    main()
