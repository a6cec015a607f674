"""Approximate inference side by side (X2): variational inference, the VAE's amortized encoder, and MCMC.

1. Probabilistic PCA fitted on MNIST (closed form, latent ``--ppca-latent``), on the first ``--ppca-n`` test images:
   each method's posterior against the exact ``p(z|x)`` — per-example VI (exact KL, the diagonal optimum's KL),
   the PPCA's own posterior, HMC and MALA (moment errors, acceptance, ESS) — with wall times.
2. A VAE on statically binarized MNIST (trained here for ``--train-minutes``, or the run folder ``--run``), on the
   first ``--vae-n`` test images: the encoder's ELBO, the per-example optimized ELBO started from it, the
   amortization gap (Cremer et al. 2018, arXiv:1801.03558, report a few nats), the importance-sampled
   ``log p(x)`` (``--k`` draws) with each ``q`` as proposal, HMC on ``--hmc-n`` posteriors.

Writes ``benchmarks/results/inference.json`` and prints the RESULTS.md section (it does not edit RESULTS.md).

    python benchmarks/inference.py --threads 1
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, command_line, record  # noqa: E402


def ppca_part(args) -> tuple[list[dict], dict]:
    from genlab.data import load
    from genlab.evaluation.inference import compare_on_ppca
    from genlab.models.ppca import ProbabilisticPCA

    x_train = load("mnist", split="train").x.flatten(1).double()
    x_test = load("mnist", split="test").x[: args.ppca_n].flatten(1).double()
    t = time.perf_counter()
    ppca = ProbabilisticPCA.fit(x_train, args.ppca_latent)
    fit_s = time.perf_counter() - t
    rows, raw = [], {}
    # The ML W has orthogonal columns, so p(z|x) is diagonal and mean-field VI can be exact. p(x) is the same for
    # W R, R orthogonal (Tipping & Bishop 1999): a random R gives the same model with a correlated posterior.
    g = torch.Generator().manual_seed(args.seed)
    R = torch.linalg.qr(torch.randn(args.ppca_latent, args.ppca_latent, generator=g, dtype=torch.float64))[0]
    for tag, model in (("principal axes", ppca), ("rotated W R", ProbabilisticPCA(ppca.W @ R, ppca.b, ppca.sigma2))):
        r = compare_on_ppca(model, x_test, vi_steps=args.ppca_vi_steps, mcmc_steps=args.mcmc_steps,
                            leapfrog=args.leapfrog, k=args.k, seed=args.seed)
        r["fit_seconds"] = fit_s
        print(f"PPCA ({tag}):", json.dumps({k: round(v, 4) for k, v in r.items()}), flush=True)
        rows += _ppca_rows(args, r, f"PPCA L={args.ppca_latent}, {tag}")
        raw[tag] = r
    return rows, raw


def _ppca_rows(args, r: dict, model: str) -> list[dict]:
    common = {"model": model, "n": args.ppca_n}
    rows = [
        record("PPCA exact log p(x)", "log p(x)", r["log_px"], "nats", **common),
        record("PPCA exact posterior (X1)", "KL(q ‖ p(z|x))", r["exact_kl"], "nats", **common),
        record("PPCA per-example VI", "KL(q ‖ p(z|x))", r["vi_kl"], "nats", reference=r["vi_kl_optimum"],
               seconds=round(r["vi_seconds"], 2), **common,
               note="reference: KL of the best diagonal Gaussian (mean-field floor)"),
        record("PPCA per-example VI", "mean error / posterior sd (RMS)", r["vi_mean_error_sd"], "sd", **common),
        record("PPCA per-example VI", "log σ² error vs the diagonal optimum (RMS)", r["vi_logvar_error"], "", **common),
        record("PPCA per-example VI", f"IS log p(x), k={args.k}", r["vi_is_log_px"], "nats",
               reference=r["log_px"], **common),
    ]
    for name, label in (("hmc", f"HMC ({args.leapfrog} leapfrog)"), ("mala", "MALA")):
        extra = {"accept": round(r[f"{name}_accept"], 3), "ess_min": round(r[f"{name}_ess_min"], 1),
                 "ess_median": round(r[f"{name}_ess_median"], 1), "draws": args.mcmc_steps,
                 "seconds": round(r[f"{name}_seconds"], 2)}
        rows += [record(f"PPCA {label}", "mean error / posterior sd (RMS)", r[f"{name}_mean_error_sd"], "sd",
                        reference=r[f"{name}_mean_error_sd_expected"], **common, **extra,
                        note="reference: the Monte Carlo error sqrt(mean 1/ESS)"),
                 record(f"PPCA {label}", "‖Ĉ − C‖_F / ‖C‖_F", r[f"{name}_cov_error"], "", **common)]
    return rows


def trained_vae(args):
    import genlab
    from genlab.training import TrainConfig, train

    if args.run:
        folder = Path(args.run)
        return genlab.load(folder / "model" if (folder / "model").is_dir() else folder), f"run {args.run}"
    out = Path(tempfile.mkdtemp(prefix="bench-inference-")) / "run"
    cfg = TrainConfig(model="vae", data="mnist-binarized", epochs=-1, max_time=f"{args.train_minutes * 60:.0f}s",
                      seed=args.seed, quiet=True, num_samples=0, out=str(out), val_size=1000)
    t = time.perf_counter()
    r = train(cfg, command=None)
    return r.model, f"trained here for {(time.perf_counter() - t) / 60:.1f} min wall ({out})"


def vae_part(args) -> tuple[list[dict], dict, str]:
    from genlab.data import load
    from genlab.evaluation.inference import compare_on_vae

    vae, origin = trained_vae(args)
    c = vae.config
    x = load("mnist-binarized", split="test").x[: args.vae_n]
    r = compare_on_vae(vae, x, vi_steps=args.vi_steps, vi_lr=args.vi_lr, vi_samples=args.vi_samples,
                       elbo_samples=args.elbo_samples, k=args.k, hmc_examples=args.hmc_n, mcmc_steps=args.mcmc_steps,
                       leapfrog=args.leapfrog, seed=args.seed)
    print("VAE:", json.dumps({k: round(v, 4) for k, v in r.items()}), flush=True)
    model = f"VAE 784-{'-'.join(map(str, c.hidden))}-{c.latent_dim}"
    common = {"model": model, "n": args.vae_n}
    rows = [
        record("VAE encoder q (amortized)", f"ELBO ({args.elbo_samples} draws)", r["encoder_elbo"], "nats",
               seconds=round(r["encoder_seconds"], 3), **common),
        record("VAE per-example VI from the encoder's q", f"ELBO ({args.elbo_samples} draws)", r["optimized_elbo"],
               "nats", seconds=round(r["vi_seconds"], 1), steps=args.vi_steps, **common),
        record("amortization gap", "optimized − encoder ELBO, mean", r["gap"], "nats", reference=None,
               median=round(r["gap_median"], 3), min=round(r["gap_min"], 3),
               negative_share=r["gap_negative_share"], **common,
               note="Cremer et al. 2018 (arXiv:1801.03558): a few nats"),
        record("VAE IS log p(x), encoder's q", f"k={args.k}", r["is_log_px_encoder"], "nats",
               seconds=round(r["is_seconds_encoder"], 1), **common),
        record("VAE IS log p(x), optimized q", f"k={args.k}", r["is_log_px_optimized"], "nats",
               reference=r["is_log_px_encoder"], seconds=round(r["is_seconds_optimized"], 1), **common),
        record(f"VAE HMC ({args.leapfrog} leapfrog, mass from the encoder's σ)", "acceptance", r["hmc_accept"], "",
               ess_min=round(r["hmc_ess_min"], 1), ess_median=round(r["hmc_ess_median"], 1), draws=args.mcmc_steps,
               seconds=round(r["hmc_seconds"], 1), model=model, n=int(r["hmc_examples"])),
        record("encoder's q vs HMC", "mean error / HMC sd (RMS)", r["encoder_mean_error_sd"], "sd",
               log_sd_ratio=round(r["encoder_log_sd_ratio"], 3), model=model, n=int(r["hmc_examples"])),
        record("optimized q vs HMC", "mean error / HMC sd (RMS)", r["optimized_mean_error_sd"], "sd",
               log_sd_ratio=round(r["optimized_log_sd_ratio"], 3), model=model, n=int(r["hmc_examples"])),
    ]
    return rows, r, origin


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--run", default=None, help="a VAE run folder (or its model/ folder) instead of training one")
    p.add_argument("--train-minutes", type=float, default=5.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ppca-latent", type=int, default=16)
    p.add_argument("--ppca-n", type=int, default=500)
    p.add_argument("--ppca-vi-steps", type=int, default=1000)
    p.add_argument("--vae-n", type=int, default=500)
    p.add_argument("--vi-steps", type=int, default=1000)
    p.add_argument("--vi-lr", type=float, default=0.02)
    p.add_argument("--vi-samples", type=int, default=4)
    p.add_argument("--elbo-samples", type=int, default=100)
    p.add_argument("--k", type=int, default=1000, help="importance samples per example and proposal")
    p.add_argument("--hmc-n", type=int, default=100, help="VAE posteriors sampled by HMC")
    p.add_argument("--mcmc-steps", type=int, default=300, help="kept draws per chain (as many burn-in)")
    p.add_argument("--leapfrog", type=int, default=10)
    p.add_argument("--skip-ppca", action="store_true")
    p.add_argument("--name", default="inference")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    rows, raw = [], {}
    if not args.skip_ppca:
        ppca_rows, raw["ppca"] = ppca_part(args)
        rows += ppca_rows
    vae_rows, raw["vae"], origin = vae_part(args)
    rows += vae_rows
    command = command_line()
    for r in rows:
        r["command"] = command
    env = {"torch": torch.__version__, "threads": torch.get_num_threads(), "vae": origin,
           "wall_seconds": round(time.perf_counter() - t0, 1)}
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{args.name}.json"
    path.write_text(json.dumps({"name": args.name, "env": env, "raw": raw, "records": rows}, indent=2) + "\n")
    print(f"wrote {path}; total {env['wall_seconds']} s; VAE {origin}")
    cols = ["model", "name", "metric", "value", "unit", "reference", "seconds", "accept", "ess_min", "ess_median"]
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        cells = [f"{v:.4g}" if isinstance(v := r.get(c), float) else ("" if v is None else str(v)) for c in cols]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
