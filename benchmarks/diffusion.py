"""Diffusion benchmarks (issue: diffusion), measured in one run on the CPU:

(a) MNIST: a class-conditional DDPM (U-Net, ``--channels``) trained through genlab's spine for
    ``--train-minutes``; FID (LeNet features, ``n = --fid-n`` samples against ``n`` test images) of
    1000-step ancestral sampling and of DDIM with 10/20/50/100 steps, and the sampling time per image
    of each (one draw; ``sampling_speed.py`` times them in interleaved rounds); ratios against the
    1000-step FID and against the FID floor (the same test images vs random training images).
(b) bits/dim on MNIST test (``--bpd-n`` images) of that DDPM (D4, ``--bpd-k`` stratified terms) and of
    a VDM trained for ``--vdm-minutes`` (D5, ``--bpd-k`` draws of ``(t, ε)``).
(c) ring8 and grid25: the MLP DDPM trained ``--toy-minutes`` each; mode coverage (3σ) of
    ``--coverage-n`` samples; scatter plots into ``results/diffusion_<data>.png``.
(d) training throughput: genlab's DDPM step against diffusers' ``UNet2DModel`` + ``DDPMScheduler`` of the
    same parameter count, batch 128, interleaved step by step.

    python benchmarks/diffusion.py --train-minutes 20 --vdm-minutes 4 --toy-minutes 2 --fid-n 1000 --etas 0 0.5 1
    python benchmarks/diffusion.py --quick          # a smoke run of every part, ~4 min

The first is the recorded run (RESULTS.md): 54 min on 2 shared cores, of which the 1000-step
sampling of 1000 images takes ~15 min.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spinning threads on a busy machine

import argparse  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, record, write_results  # noqa: E402
from fid_floor import draw, fid_floor  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.evaluation.metrics import eval_bpd, eval_coverage  # noqa: E402
from genlab.metrics.fid import fid  # noqa: E402
from genlab.plots import image_grid, scatter2d  # noqa: E402
from genlab.training import TrainConfig, train  # noqa: E402

BATCH = 128
DDIM_STEPS = (10, 20, 50, 100)


def train_run(model: str, data: str, minutes: float, *, lr: float, ema: float, batch: int = BATCH,
              options: dict | None = None):
    """Train through genlab's spine (Lightning, EMA, clipping) for ``minutes``; the RunResult."""
    out = Path(tempfile.mkdtemp(prefix=f"bench-{model}-"))
    try:
        cfg = TrainConfig(model=model, data=data, epochs=1000, max_time=f"{minutes * 60:.0f}s", batch_size=batch,
                          lr=lr, ema_decay=ema, grad_clip=1.0, val_size=1000, num_samples=16, quiet=True,
                          out=str(out / "run"), model_options=options or {})
        return train(cfg)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def ddim_name(eta: float) -> str:
    """Row name of a DDIM sampler: plain "ddim" for the deterministic η = 0."""
    return "ddim" if eta == 0 else f"ddim η={eta:g}"


def mnist_fid(args, records: list[dict]) -> tuple[object, dict]:
    """(a) train the DDPM, FID and time per image of each sampler."""
    run = train_run("ddpm", "mnist", args.train_minutes, lr=args.lr, ema=args.ema,
                    options={"channels": args.channels})
    model, n = run.model, args.fid_n
    info = {"steps": run.steps, "train_s": round(run.seconds, 1),
            "params": sum(p.numel() for p in model.parameters())}
    records.append(record("mnist ddpm training", "optimizer steps", run.steps, "steps", **info))
    test, train_x = load("mnist", split="test").x, load("mnist", split="train").x
    floor, floor_std = fid_floor(test[:n], train_x, seeds=3)
    records.append(record("FID floor (test vs train)", "FID", floor, "", n=n, se=floor_std, seeds=3))
    samplers = [("ddpm", 1000, {"sampler": "ddpm"})] + [
        (ddim_name(eta), s, {"sampler": "ddim", "steps": s, "eta": eta}) for eta in args.etas for s in DDIM_STEPS]
    rows = []
    for name, steps, kwargs in samplers:
        x, per_image = draw(model, n, seed=0, **kwargs)
        rows.append((name, steps, float(fid(test[:n], x)), per_image))
        if steps in (1000, 50):
            eta = f"_eta{kwargs['eta']:g}" if kwargs.get("eta") else ""
            image_grid(x[:64], RESULTS_DIR / f"{args.name}_mnist_{kwargs['sampler']}{steps}{eta}.png")
        print(f"  {name}-{steps}: FID {rows[-1][2]:.2f}, {per_image * 1000:.0f} ms/image", flush=True)
    fid_1000, time_1000 = rows[0][2], rows[0][3]
    for name, steps, value, per_image in rows:
        records.append(record(f"{name} {steps} steps", "FID", value, "", reference=fid_1000, n=n,
                              vs_floor=value / floor, s_per_image=per_image, speedup=time_1000 / per_image))
    return model, {"floor": floor, "rows": rows, **info}


def bpd(args, ddpm, records: list[dict]) -> None:
    """(b) the bound in bits/dim on MNIST test: DDPM (D4) and a VDM trained here (D5)."""
    test = load("mnist", split="test")
    test = test.subset(torch.arange(min(args.bpd_n, len(test))))
    vdm = train_run("vdm", "mnist", args.vdm_minutes, lr=args.lr, ema=args.ema,
                    options={"channels": args.channels})
    for name, model, steps in (("ddpm", ddpm, None), ("vdm", vdm.model, vdm.steps)):
        t0 = time.perf_counter()
        r = eval_bpd(model, test, terms=args.bpd_k, seed=0, batch_size=250)
        records.append(record(f"mnist {name} bound", "bits/dim", r["bpd"], "bits/dim", se=r["bpd_se"],
                              n=r["bpd_n"], k=f"{r['bpd_k']} terms", conditional=r["bpd_conditional"],
                              eval_s=round(time.perf_counter() - t0, 1),
                              **({"steps": steps} if steps else {})))
        print(f"  {name}: {r['bpd']:.3f} ± {r['bpd_se']:.3f} bits/dim", flush=True)


def toys(args, records: list[dict]) -> list[str]:
    """(c) the MLP DDPM on ring8 and grid25: mode coverage and scatter plots."""
    from genlab.metrics.coverage import mode_coverage

    lines = []
    for data in ("ring8", "grid25"):
        run = train_run("ddpm", data, args.toy_minutes, lr=1e-3, ema=0.999, batch=256)
        test = load(data, split="test")
        reference = mode_coverage(test.x[: args.coverage_n], test.modes, test.std)
        for sampler, kwargs in (("ddpm 1000", {}), ("ddim 50", {"sampler": "ddim", "steps": 50})):
            c = eval_coverage(run.model, test, n=args.coverage_n, seed=0, sample_kwargs=kwargs)
            extra = {"n": args.coverage_n, "steps": run.steps, "modes_covered": c["coverage_modes_covered"]}
            records.append(record(f"{data} {sampler}", "modes within 3σ", c["coverage_modes"], "share",
                                  reference=reference.modes, **extra))
            records.append(record(f"{data} {sampler}", "samples within 3σ", c["coverage_samples"], "share",
                                  reference=reference.samples, **extra))
        x, _ = draw(run.model, 2000, seed=1)
        scatter2d(x, RESULTS_DIR / f"{args.name}_{data}.png", reference=test.x[:2000],
                  title=f"DDPM (MLP) on {data}, {run.steps} steps")
        lines.append(f"{data}: {run.steps} steps in {run.seconds:.0f} s")
        print(f"  {data}: {records[-4]['value']:.2f} modes, {records[-3]['value']:.2f} samples", flush=True)
    return lines


def throughput(args, records: list[dict]) -> None:
    """(d) one training step (batch 128) of genlab's DDPM vs diffusers' UNet2DModel + DDPMScheduler."""
    import torch.nn.functional as F
    from diffusers import DDPMScheduler, UNet2DModel

    from genlab.models.diffusion import DDPM

    torch.manual_seed(0)
    ours = DDPM(num_classes=0)  # the registry's default U-Net: 32·(1, 2, 2) channels, attention at 7×7
    theirs = UNet2DModel(sample_size=28, in_channels=1, out_channels=1, layers_per_block=1,
                         block_out_channels=(32, 64, 64), norm_num_groups=8,
                         down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
                         up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"))
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    x = load("mnist", split="train").x[:BATCH]
    opt_ours = torch.optim.Adam(ours.parameters(), lr=2e-4, fused=True)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=2e-4, fused=True)

    def step_ours():
        loss = ours(x).loss
        opt_ours.zero_grad(set_to_none=True)
        loss.backward()
        opt_ours.step()

    def step_theirs():
        x0 = x * 2 - 1
        noise = torch.randn_like(x0)
        t = torch.randint(0, 1000, (BATCH,))
        loss = F.mse_loss(theirs(scheduler.add_noise(x0, noise, t), t).sample, noise)
        opt_theirs.zero_grad(set_to_none=True)
        loss.backward()
        opt_theirs.step()

    times: dict[str, list[float]] = {"genlab": [], "diffusers": []}
    for i in range(args.rounds + 1):  # interleaved; round 0 warms up
        for name, fn in (("genlab", step_ours), ("diffusers", step_theirs)):
            t0 = time.perf_counter()
            fn()
            if i:
                times[name].append(time.perf_counter() - t0)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    params = {"genlab": sum(p.numel() for p in ours.parameters()),
              "diffusers": sum(p.numel() for p in theirs.parameters())}
    records.append(record("train step, batch 128", "seconds (genlab)", med["genlab"], "s",
                          reference=med["diffusers"], params_genlab=params["genlab"],
                          params_diffusers=params["diffusers"], rounds=args.rounds))
    print(f"  step: genlab {med['genlab']:.3f} s, diffusers {med['diffusers']:.3f} s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--train-minutes", type=float, default=12.0, help="DDPM training on MNIST")
    p.add_argument("--vdm-minutes", type=float, default=4.0)
    p.add_argument("--toy-minutes", type=float, default=2.0, help="each of ring8 and grid25")
    p.add_argument("--fid-n", type=int, default=250, help="samples (and test images) per FID")
    p.add_argument("--bpd-n", type=int, default=500)
    p.add_argument("--bpd-k", type=int, default=50, help="DDPM terms / VDM draws per example")
    p.add_argument("--coverage-n", type=int, default=5000)
    p.add_argument("--channels", type=int, default=16, help="U-Net base width of the trained models")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--ema", type=float, default=0.995)
    p.add_argument("--rounds", type=int, default=5, help="interleaved throughput rounds")
    p.add_argument("--etas", type=float, nargs="+", default=[0.0, 1.0],
                   help="DDIM η of the sampler rows (0: deterministic, Song et al. Eq. (16))")
    p.add_argument("--parts", default="dcab",
                   help="which parts to run, any of a, b, c, d (b needs a's DDPM); default all")
    p.add_argument("--name", default=None, help="RESULTS.md section (default diffusion, or diffusion_quick)")
    p.add_argument("--save-model", default=None, metavar="DIR",
                   help="also save the trained MNIST DDPM here (for sampling_speed.py --model DIR)")
    p.add_argument("--quick", action="store_true", help="a smoke run of every part (minutes)")
    args = p.parse_args()
    if not set(args.parts) <= set("abcd") or ("b" in args.parts and "a" not in args.parts):
        p.error(f"--parts takes letters from 'abcd', and b needs a; got {args.parts!r}")
    args.name = args.name or ("diffusion_quick" if args.quick else "diffusion")
    if args.quick:
        args.train_minutes, args.vdm_minutes, args.toy_minutes = 0.5, 0.3, 0.2
        args.fid_n, args.bpd_n, args.bpd_k, args.coverage_n, args.rounds = 20, 50, 5, 500, 2
    t_start = time.perf_counter()
    records: list[dict] = []
    toy_lines, a = [], None
    if "d" in args.parts:
        print("(d) throughput", flush=True)
        throughput(args, records)
    if "c" in args.parts:
        print("(c) toys", flush=True)
        toy_lines = toys(args, records)
    if "a" in args.parts:
        print("(a) MNIST DDPM + FID", flush=True)
        ddpm, a = mnist_fid(args, records)
        if args.save_model:
            ddpm.save_pretrained(args.save_model)
    if "b" in args.parts:
        print("(b) bits/dim", flush=True)
        bpd(args, ddpm, records)
    write_results(args.name, records,
                  notes=notes(args, a, toy_lines, time.perf_counter() - t_start))


def notes(args, a: dict | None, toy_lines: list[str], seconds: float) -> str:
    """What was trained and whether the issue's goals were met at this budget (from the measured rows)."""
    parts = [f"CPU budget: 2 shared cores; whole run {seconds / 60:.1f} min (parts {args.parts})."]
    goals = ""
    if a is not None:
        rows = {f"{name}-{steps}": (value, per_image) for name, steps, value, per_image in a["rows"]}
        fid_1000, t_1000 = rows["ddpm-1000"]
        parts.append(
            f"(a) class-conditional DDPM, U-Net {args.channels}·(1, 2, 2) channels ({a['params']:,} parameters), "
            f"trained {args.train_minutes} min ({a['steps']} steps of batch {BATCH}, lr {args.lr}, EMA {args.ema}, "
            f"grad clip 1), samples cycle through the 10 classes; FID on n = {args.fid_n} samples vs {args.fid_n} "
            f"test images (the first n; LeNet features), `reference` = the 1000-step FID, `vs_floor` = FID / floor, "
            f"the floor being the same test images against random training images (mean of 3 subsets, "
            f"{a['floor']:.2f}), "
            f"`speedup` = 1000-step time per image / this sampler's (one draw each).")
        if args.quick:
            goals = "Quick smoke run: the budgets are too small for the figures to mean anything; goals not assessed."
        else:
            ddim = []
            for eta in args.etas:
                fid_50, t_50 = rows[f"{ddim_name(eta)}-50"]
                ddim.append(f"η = {eta:g}: FID ratio {fid_50 / fid_1000:.3f} "
                            f"({'within' if fid_50 <= 1.15 * fid_1000 else 'NOT within'} 15%), "
                            f"{t_1000 / t_50:.1f}× less time in this run's single draws")
            goal_floor = fid_1000 <= 3 * a["floor"]
            goals = (f"Goal DDIM-50 FID within 15% of the 1000-step FID at ≥ 20× less time, at this budget: "
                     f"{'; '.join(ddim)} (the time ratio of interleaved rounds is `diffusion_sampling_time_trained`). "
                     f"Goal 1000-step FID within 3× of the floor: {'met' if goal_floor else 'NOT met'} at this "
                     f"budget ({fid_1000 / a['floor']:.2f}× the floor).")
    if "b" in args.parts:
        parts.append(f"(b) bounds of the class-conditional models (−log p(x|y)) on the first {args.bpd_n} test "
                     f"images, VDM trained {args.vdm_minutes} min.")
    if "c" in args.parts:
        parts.append("(c) MLP DDPM (unconditional), batch 256, lr 1e-3; " + "; ".join(toy_lines)
                     + "; `reference` = the test data itself.")
    if "d" in args.parts:
        parts.append("(d) `reference` = diffusers' step.")
    return " ".join(parts) + (f"\n\n{goals}" if goals else "")


if __name__ == "__main__":
    main()
