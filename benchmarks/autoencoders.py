"""The autoencoder/VAE family on MNIST, each model under the same CPU budget (issue: autoencoders).

Every model trains through genlab's spine (``genlab.training.train``) for ``--minutes`` of wall time
(``max_time``), with a cosine learning-rate decay whose length is sized from a measured step time so
that it ends near the budget. Autoencoders train on ``mnist`` (grey levels), likelihood models on the
static binarization ``mnist-binarized``. Reported per model on the test split: reconstruction error
(squared error per image, ``Σ_pixels (x − x̂)²``), ELBO (V1), importance-sampled NLL (V8; the ``k`` and
``n`` used are in every row), FID with its sample count (LeNet features), active units (Burda et al.
2015: ``Cov_x(E_q[z]) > 0.01``, per stochastic layer for the HVAE) and training time (wall and process
CPU). pythae 0.1.2 trains VAE, β-VAE and IWAE side by side on the same networks, data and budget
(``pythae_side.py``); both are evaluated by genlab's estimators.

Goals (reference column): VAE NLL ≤ 89.9 nats; IWAE (k = 50) ≤ 87.1; HVAE ≥ 1 nat better than the
VAE of the same budget. ``met`` says whether this run reached them at its budget.

    python benchmarks/autoencoders.py --minutes 2 --nll-k 5000 --nll-n 1000
    python benchmarks/autoencoders.py --models vae,ae --minutes 0.2 --nll-k 50 --nll-n 100 --fid-n 500  # smoke
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import lightning as L
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record, timeit, write_results  # noqa: E402
from pythae_side import KINDS as PYTHAE_KINDS  # noqa: E402
from pythae_side import pythae_model, train_pythae  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.evaluation.metrics import evaluate  # noqa: E402
from genlab.models.autoencoders import encode_all  # noqa: E402
from genlab.models.hvae import HVAE, count_active_units  # noqa: E402
from genlab.models.vae import VAE  # noqa: E402
from genlab.registry import get_model  # noqa: E402
from genlab.training import TrainConfig, train  # noqa: E402

AE_DATA, LIKELIHOOD_DATA = "mnist", "mnist-binarized"
FAMILY = {"ae": AE_DATA, "sparse-ae": AE_DATA, "denoising-ae": AE_DATA, "contractive-ae": AE_DATA,
          "stacked-ae": AE_DATA, "vae": LIKELIHOOD_DATA, "beta-vae": LIKELIHOOD_DATA,
          "conv-vae": LIKELIHOOD_DATA, "cvae": LIKELIHOOD_DATA, "iwae": LIKELIHOOD_DATA,
          "hvae": LIKELIHOOD_DATA}
NLL_GOALS = {"vae": 89.9, "iwae": 87.1}  # nats; HVAE: the VAE's NLL − 1 (``hvae_goal``)
# the spine's cost per step on top of the optimizer step (logging, validation, sample grids, checkpoints):
# 6.8 ms, from benchmarks/vae.py (spine 38.69 s vs bare loop 29.93 s for 3 × 429 steps)
SPINE_SECONDS_PER_STEP = 0.0068


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class CPUClock(L.Callback):
    """Process CPU seconds over ``trainer.fit`` (the span ``RunResult.seconds`` measures in wall time)."""

    def __init__(self) -> None:
        self.start = self.seconds = 0.0

    def on_train_start(self, trainer, pl_module) -> None:
        self.start = cpu_seconds()

    def on_train_end(self, trainer, pl_module) -> None:
        self.seconds = cpu_seconds() - self.start


def model_options(name: str, args) -> dict:
    return {"beta-vae": {"beta": args.beta}, "iwae": {"k": args.iwae_k}}.get(name, {})


def step_seconds(name: str, data, options: dict, batch_size: int) -> float:
    """Median wall seconds of one Adam step of a fresh ``name`` model on one batch (the budget's unit)."""
    cls = get_model(name).load_class()
    torch.manual_seed(0)
    model = cls(cls.config_for_data(data, options)).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xb, yb = data.x[:batch_size], (data.y[:batch_size] if data.y is not None else None)

    def step():
        loss = model(xb, yb).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return timeit(step, repeat=5, warmup=2)


def schedule(name: str, data, options: dict, args) -> tuple[int, int]:
    """``(epochs, max_steps)`` so that a cosine schedule over ``max_steps`` ends near the budget."""
    per_step = step_seconds(name, data, options, args.batch_size) + SPINE_SECONDS_PER_STEP
    steps = max(10, int(args.minutes * 60 / per_step))
    steps_per_epoch = len(data) // args.batch_size
    return math.ceil(steps / steps_per_epoch), steps


@torch.no_grad()
def reconstruction_sse(model, x: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean over images of ``Σ_pixels (x − reconstruct(x))²`` (CVAE: with its predicted label)."""
    model.eval()
    sse = [(model.reconstruct(x[i:i + batch_size]) - x[i:i + batch_size]).pow(2).flatten(1).sum(1)
           for i in range(0, len(x), batch_size)]
    return torch.cat(sse).mean().item()


@torch.no_grad()
def active_units(model, x: torch.Tensor, y: torch.Tensor) -> list[int] | None:
    """Burda et al. 2015 active units per stochastic layer; ``None`` for deterministic autoencoders."""
    if isinstance(model, HVAE):
        return model.active_units(x, generator=torch.Generator().manual_seed(0))
    if not hasattr(model, "elbo"):
        return None
    if "y" in inspect.signature(model.encode).parameters:  # CVAE: q(z|x, y) with the true label
        mu = torch.cat([model.encode(x[i:i + 1000], y[i:i + 1000])[0] for i in range(0, len(x), 1000)])
    else:
        mu = encode_all(model, x)  # E_q[z|x] = μ_φ(x), (N, L)
    return [count_active_units(mu)]


def evaluate_model(model, data_name: str, args, *, nll: bool) -> dict:
    """Test-split figures of one trained model (see the module docstring); the NLL when ``nll``."""
    test = load(data_name, split="test")
    out = {"recon_sse": reconstruction_sse(model, test.x), "active_units": active_units(model, test.x, test.y)}
    if hasattr(model, "elbo"):
        out.update(evaluate(model, data_name, ["elbo"]))
    out.update(evaluate(model, data_name, ["fid"], n=args.fid_n))
    if nll:
        out.update(evaluate(model, data_name, ["nll"], k=args.nll_k, limit=args.nll_n))
    return out


def train_genlab(name: str, args) -> tuple[object, dict]:
    data_name = FAMILY[name]
    options = model_options(name, args)
    epochs, max_steps = schedule(name, load(data_name, split="train"), options, args)
    out = Path(args.out) / name
    shutil.rmtree(out, ignore_errors=True)
    cfg = TrainConfig(model=name, data=data_name, epochs=epochs, max_steps=max_steps,
                      max_time=f"{round(args.minutes * 60)}s", batch_size=args.batch_size, lr=args.lr,
                      lr_schedule="cosine", out=str(out), quiet=True, model_options=options)
    clock = CPUClock()
    r = train(cfg, callbacks=[clock], command=None)
    return r.model, {"wall_s": r.seconds, "cpu_s": clock.seconds, "steps": r.steps, "planned_steps": max_steps,
                     "epochs": round(r.steps * args.batch_size / len(load(data_name, split="train")), 2)}


def train_with_pythae(kind: str, genlab_timing: dict, args) -> tuple[VAE, dict]:
    """pythae's ``kind`` on the networks of a fresh genlab VAE, same data, batch, lr, budget and steps."""
    train_x, val_x = load(LIKELIHOOD_DATA, split="train").x, load(LIKELIHOOD_DATA, split="val").x
    torch.manual_seed(args.seed)
    ref = VAE(data_shape=tuple(train_x.shape[1:]), likelihood="bernoulli")  # the genlab models' MLP
    model = pythae_model(kind, ref, beta=args.beta, k=args.iwae_k)
    epochs = math.ceil(genlab_timing["planned_steps"] * args.batch_size / len(train_x))
    c0 = cpu_seconds()
    t = train_pythae(model, train_x, val_x, epochs=epochs, batch_size=args.batch_size, lr=args.lr,
                     max_seconds=args.minutes * 60, max_steps=genlab_timing["planned_steps"],
                     cosine_steps=genlab_timing["planned_steps"])
    return ref.eval(), {"wall_s": t["seconds"], "cpu_s": cpu_seconds() - c0, "steps": t["steps"],
                        "planned_steps": genlab_timing["planned_steps"],
                        "epochs": round(t["steps"] * args.batch_size / len(train_x), 2)}


def model_rows(name: str, data_name: str, ev: dict, timing: dict, args, goal: float | None) -> list[dict]:
    """One row per figure of one model; the NLL row carries the goal and whether it was met."""
    budget = {"data": data_name, "budget_min": args.minutes}
    sps = timing["steps"] * args.batch_size / timing["wall_s"]
    rows = [record(name, "train throughput", sps, "samples/s", **budget, wall_s=round(timing["wall_s"], 1),
                   cpu_s=round(timing["cpu_s"], 1), steps=timing["steps"], planned_steps=timing["planned_steps"],
                   epochs=timing["epochs"]),
            record(name, "test reconstruction SSE", ev["recon_sse"], "per image", **budget)]
    if "elbo" in ev:
        rows.append(record(name, "test ELBO", ev["elbo"], "nats", **budget, n=ev["elbo_n"]))
    if "nll" in ev:
        met = None if goal is None else ("yes" if ev["nll"] <= goal else "no")
        rows.append(record(name, "test NLL", ev["nll"], "nats", reference=goal, **budget, k=ev["nll_k"],
                           n=ev["nll_n"], goal=None if goal is None else f"≤ {goal:.1f}", met=met))
    if "fid" in ev:
        rows.append(record(name, "FID", ev["fid"], "LeNet features", **budget, n=ev["fid_n"]))
    if ev.get("active_units") is not None:
        rows.append(record(name, "active units", sum(ev["active_units"]), "units", **budget,
                           per_layer="/".join(map(str, ev["active_units"]))))
    return rows


def hvae_goal(records: list[dict]) -> None:
    """Set the goal of the HVAE's NLL row, in place: at least 1 nat below the VAE's NLL of this run."""
    nll = {r["name"]: r for r in records if r["metric"] == "test NLL" and r["name"] in ("vae", "hvae")}
    if {"vae", "hvae"} <= set(nll):
        goal = nll["vae"]["value"] - 1.0
        nll["hvae"].update(reference=goal, ratio=nll["hvae"]["value"] / goal, goal=f"≤ VAE − 1 = {goal:.2f}",
                           met="yes" if nll["hvae"]["value"] <= goal else "no")


def side_by_side(kind: str, g: dict, p: dict, args) -> list[dict]:
    """genlab vs pythae: NLL (ratio < 1: genlab better) and training samples/s (ratio > 1: genlab faster)."""
    extra = {"budget_min": args.minutes}
    g_sps = g["timing"]["steps"] * args.batch_size / g["timing"]["wall_s"]
    p_sps = p["timing"]["steps"] * args.batch_size / p["timing"]["wall_s"]
    return [record(f"genlab vs pythae {kind}", "test NLL", g["eval"]["nll"], "nats", reference=p["eval"]["nll"],
                   **extra, k=args.nll_k, n=args.nll_n),
            record(f"genlab vs pythae {kind}", "train throughput", g_sps, "samples/s", reference=p_sps, **extra)]


def notes(args) -> str:
    return (f"Each model: {args.minutes} min wall-clock training budget (max_time), cosine learning-rate decay "
            f"sized from a measured step time, Adam lr {args.lr}, batch {args.batch_size}, seed {args.seed}, "
            f"{args.threads} threads, run with `nice -n 5` on a 2-core machine shared with other jobs "
            f"(1-min load average at start: {os.getloadavg()[0]:.1f}), so wall times are upper bounds; cpu_s is "
            f"process CPU time over the same span. Autoencoders on mnist, likelihood models on mnist-binarized "
            f"(static). Model configs are genlab's defaults (VAE family: MLP 784-512-256-32), β = {args.beta} "
            f"for beta-vae (pythae BetaVAE the same), k = {args.iwae_k} for iwae training. NLL: importance "
            f"sampling (V8) with k samples on the first n test images. FID: n samples vs n test images, "
            f"LeNet features (binary samples for binary data). Active units: Cov_x(E_q[z]) > 0.01 on the test "
            f"set (HVAE: per layer, z_1/z_2). pythae rows: pythae 0.1.2 trained the genlab VAE's own networks "
            f"(same data, batch, lr, planned steps, per-step cosine schedule and time budget), evaluated by "
            f"genlab's estimators. reference = goal where one is stated (met: reached at this budget or not); "
            f"for 'genlab vs pythae' rows reference = pythae and ratio = genlab / pythae.")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=",".join(FAMILY), help="comma-separated subset of " + ",".join(FAMILY))
    p.add_argument("--minutes", type=float, default=2.0, help="training budget per model (wall clock)")
    p.add_argument("--nll-k", type=int, default=5000)
    p.add_argument("--nll-n", type=int, default=10000, help="NLL on the first n test images")
    p.add_argument("--nll-models", default="vae,beta-vae,iwae,hvae")
    p.add_argument("--fid-n", type=int, default=2000)
    p.add_argument("--beta", type=float, default=2.0)
    p.add_argument("--iwae-k", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip-pythae", action="store_true")
    p.add_argument("--out", default="runs/bench-autoencoders", help="folder of the runs' folders")
    p.add_argument("--name", default="autoencoders", help="results name (results/<name>.json, RESULTS.md)")
    args = p.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(FAMILY))
    if unknown:
        p.error(f"unknown model(s) {unknown}: choose from {', '.join(FAMILY)}")
    args.nll_models = {m.strip() for m in args.nll_models.split(",")}
    torch.set_num_threads(args.threads)
    text = notes(args)

    records, results = [], {}
    for name in models:
        t0 = time.perf_counter()
        model, timing = train_genlab(name, args)
        ev = evaluate_model(model, FAMILY[name], args, nll=name in args.nll_models)
        results[name] = {"eval": ev, "timing": timing}
        records += model_rows(name, FAMILY[name], ev, timing, args, NLL_GOALS.get(name))
        hvae_goal(records)
        print(f"{name}: {ev} {timing} ({time.perf_counter() - t0:.0f} s in all)", flush=True)
        if name in PYTHAE_KINDS and not args.skip_pythae:
            ref, p_timing = train_with_pythae(name, timing, args)
            p_ev = evaluate_model(ref, LIKELIHOOD_DATA, args, nll=True)
            records += model_rows(f"pythae {name}", LIKELIHOOD_DATA, p_ev, p_timing, args, None)
            records += side_by_side(name, results[name], {"eval": p_ev, "timing": p_timing}, args)
            print(f"pythae {name}: {p_ev} {p_timing}", flush=True)
        write_results(args.name, records, notes=text)  # after each model: a partial run still reports


if __name__ == "__main__":
    main()
