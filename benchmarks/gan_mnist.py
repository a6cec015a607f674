"""GANs on MNIST against genlab's DDPM at the same training budget (issue: GANs from the equations).

For each model (DCGAN, cGAN, WGAN-clip, WGAN-GP, and the DDPM sampled with DDIM-50 at η = 1), trained through
``genlab.training.train`` for the same wall time on this machine's 2 cores (its process CPU time is reported):

- FID at n = 10,000 against the 10,000 MNIST test images in the feature space of the shipped LeNet, with the
  real-vs-real floor at the same n (10,000 random training images against the test set);
- the classifier score, the Inception-score form with LeNet's softmax: ``exp E_x KL(p(y|x) ‖ p(y))``
  (Salimans et al. 2016, arXiv:1606.03498), real test data's score beside it (10 is the most 10 classes allow);
- for the cGAN, the share of samples ``G(z, y)`` LeNet labels as the asked class ``y`` (1,000 per class);
- seconds per sampled image (batches of 500; DDIM-50: batches of 250);
- FID (n = ``--curve-n``) and the classifier score against training time, from snapshots of the weights
  taken at even intervals during the run (evaluated after training: evaluation takes none of the budget);
- WGAN's claim (Arjovsky et al. 2017, arXiv:1701.07875, Figs. 3–4) that the critic's estimate of the
  distance, ``E D(x) − E D(G(z))`` on held-out data, tracks sample quality: the Spearman rank correlation
  between it and FID over the snapshots; for the standard GANs the same with the discriminator's loss.

    python benchmarks/gan_mnist.py --minutes 10 --name gan_mnist
    python benchmarks/gan_mnist.py --models dcgan --minutes 1 --fid-n 2000 --curve-points 3 --name gan_mnist_quick
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, record, timed_train, write_results  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.metrics.fid import fid  # noqa: E402
from genlab.models.cnn import pretrained_lenet  # noqa: E402
from genlab.plots import image_grid, pyplot, save_figure  # noqa: E402

#: row → (registry model, TrainConfig overrides, sample options); the GANs use their registry defaults (the
#: ``-ema`` rows add an EMA of the generator, ``-cosine`` decays the learning rate to 0 over 6,800 iterations
#: (the cGAN + EMA row made 7,032 in 10 minutes: the wall limit still holds), ``-48`` a narrower DCGAN: 48
#: channels instead of 64), ``-fast`` Adam at 1e-3 instead of Radford et al.'s 2e-4 (`benchmarks/gan_mnist_sweep.py`,
#: 5 minutes: FID at n = 5,000 of 40.3 at 2e-4, 16.1 at 5e-4, 13.1 at 1e-3; 48 channels: 14.8 at 5e-4, 13.1 at
#: 1e-3, 12.8 at 2e-3, flat after 4 minutes; the ``-cosine`` 48-channel row decays 2e-3 to 0 over 10,000
#: iterations, about what 10 minutes allow; ``-r1-γ`` adds the R1 penalty), the DDPM the settings of benchmarks/
#: diffusion.py (16-channel U-Net, Adam 1e-3, EMA 0.995, batch 128: tuned for this CPU)
MODELS = {
    "dcgan": ("dcgan", {}, {}),
    "cgan": ("cgan", {}, {}),
    "cgan-ema": ("cgan", {"ema_decay": 0.999}, {}),
    "cgan-cosine-ema": ("cgan", {"ema_decay": 0.999, "lr_schedule": "cosine", "max_steps": 6800}, {}),
    "cgan-48-ema": ("cgan", {"ema_decay": 0.999, "model_options": {"generator": {"channels": 48},
                                                                   "discriminator": {"channels": 48}}}, {}),
    "cgan-fast-ema": ("cgan", {"ema_decay": 0.999, "lr": 1e-3}, {}),
    "cgan-48-fast-ema": ("cgan", {"ema_decay": 0.999, "lr": 1e-3, "model_options": {
        "generator": {"channels": 48}, "discriminator": {"channels": 48}}}, {}),
    "cgan-48-fast-cosine-ema": ("cgan", {"ema_decay": 0.999, "lr": 2e-3, "lr_schedule": "cosine", "max_steps": 10000,
                                         "model_options": {"generator": {"channels": 48},
                                                           "discriminator": {"channels": 48}}}, {}),
    **{f"cgan-48-fast-r1-{g:g}-ema": ("cgan", {"ema_decay": 0.999, "lr": 1e-3, "model_options": {
        "generator": {"channels": 48}, "discriminator": {"channels": 48}, "r1_weight": g}}, {}) for g in (0.01, 0.1)},
    **{f"cgan-48-fast-r1-0.1-ema-100pc{a}": ("cgan", {"ema_decay": 0.999, "lr": 1e-3, "train_per_class": 100,
                                                    "model_options": {"generator": {"channels": 48},
                                                                      "discriminator": {"channels": 48},
                                                                      "r1_weight": 0.1, "augment": t}}, {})
       for a, t in (("", ()), ("-diffaugment", ("translation", "cutout")))},
    "wgan": ("wgan", {}, {}),
    "wgan-gp": ("wgan-gp", {}, {}),
    "ddpm": ("ddpm", {"lr": 1e-3, "ema_decay": 0.995, "batch_size": 128, "grad_clip": 1.0,
                      "model_options": {"channels": 16}}, {"sampler": "ddim", "steps": 50, "eta": 1.0}),
}
DEFAULT_ROWS = ["dcgan", "cgan", "wgan", "wgan-gp", "ddpm"]
LABEL = {"dcgan": "DCGAN", "cgan": "cGAN (projection)", "cgan-ema": "cGAN, EMA 0.999",
         "cgan-cosine-ema": "cGAN, lr cosine-decayed, EMA 0.999",
         "cgan-48-ema": "cGAN 48 channels, EMA 0.999", "cgan-fast-ema": "cGAN, Adam 1e-3, EMA 0.999",
         "cgan-48-fast-ema": "cGAN 48 channels, Adam 1e-3, EMA 0.999",
         "cgan-48-fast-cosine-ema": "cGAN 48 channels, Adam 2e-3 cosine-decayed, EMA 0.999",
         **{f"cgan-48-fast-r1-{g:g}-ema": f"cGAN 48 channels, Adam 1e-3, R1 γ = {g:g}, EMA 0.999" for g in (0.01, 0.1)},
         "cgan-48-fast-r1-0.1-ema-100pc": "cGAN 48 channels, Adam 1e-3, R1 γ = 0.1, EMA 0.999, on 100 digits per class",
         "cgan-48-fast-r1-0.1-ema-100pc-diffaugment": "cGAN 48 channels, Adam 1e-3, R1 γ = 0.1, EMA 0.999, DiffAugment "
                                                  "(translation, cutout), on 100 digits per class",
         "wgan": "WGAN (clip)", "wgan-gp": "WGAN-GP",
         "ddpm": "DDPM, DDIM-50 η = 1"}


class Snapshots:
    """A Lightning callback (built lazily: no Lightning import at module level) that keeps a copy of the
    model every ``seconds`` of training (EMA weights when EMA is on): ``(seconds, iteration, model)``."""

    def __new__(cls, seconds: float):
        import lightning as L

        class _Snapshots(L.Callback):
            def __init__(self) -> None:
                self.every, self.taken, self.t0, self.pause = seconds, [], None, 0.0

            def on_train_start(self, trainer, pl_module) -> None:
                self.t0 = time.perf_counter()

            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
                elapsed = time.perf_counter() - self.t0 - self.pause
                if elapsed >= self.every * (len(self.taken) + 1):
                    t = time.perf_counter()
                    ema = next((c for c in trainer.callbacks if hasattr(c, "ema_model")), None)
                    model = ema.ema_model(pl_module.model) if ema is not None else copy.deepcopy(pl_module.model)
                    self.taken.append((elapsed, pl_module.iteration, model.eval()))
                    self.pause += time.perf_counter() - t  # the copy is not training time

        return _Snapshots()


def train_model(name: str, minutes: float, points: int, seed: int):
    model, overrides, _ = MODELS[name]
    snaps = Snapshots(minutes * 60 / points)
    r, cpu = timed_train(model, "mnist", minutes, seed=seed, callbacks=[snaps], **overrides)
    return r, cpu, snaps.taken


@torch.no_grad()
def draw(model, n: int, *, seed: int, y: torch.Tensor | None = None, batch: int = 500, **kwargs):
    """``n`` samples in [0, 1] and the seconds per image."""
    g = torch.Generator().manual_seed(seed)
    parts, t0 = [], time.perf_counter()
    for i in range(0, n, batch):
        extra = {} if y is None else {"y": y[i: i + batch]}
        parts.append(model.sample(min(batch, n - i), generator=g, **kwargs, **extra).float())
    return torch.cat(parts).clamp(0, 1), (time.perf_counter() - t0) / n


@torch.no_grad()
def classifier_score(lenet, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    """``exp E_x KL(p(y|x) ‖ p(y))`` with LeNet's softmax, and LeNet's labels of ``x``."""
    logp = torch.cat([torch.log_softmax(lenet.logits(x[i: i + 1000]), -1) for i in range(0, len(x), 1000)])
    p = logp.exp()
    log_marginal = torch.log(p.mean(0))  # (K,)
    kl = (p * (logp - log_marginal)).sum(1)  # (n,)
    return float(kl.mean().exp()), logp.argmax(1)


@torch.no_grad()
def critic_view(model, x: torch.Tensor, y: torch.Tensor | None, *, seed: int) -> float:
    """The critic's distance estimate ``E D(x) − E D(G(z))`` (WGAN) or the discriminator's loss (GAN) on
    held-out images ``x`` (with their labels ``y`` for a conditional model), in batches of 500 with fresh z
    (the snapshot's networks, eval mode)."""
    torch.manual_seed(seed)
    vals = []
    for i in range(0, len(x), 500):
        out = model.discriminator_loss(x[i: i + 500], None if y is None else y[i: i + 500])
        vals.append(float(out.distance if out.distance is not None else out.loss))
    return sum(vals) / len(vals)


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def evaluate_model(name: str, args, lenet, test, held_out, records: list[dict], curves: dict) -> None:
    r, cpu, snaps = train_model(name, args.minutes, args.curve_points, args.seed)
    model, _, sample_kwargs = MODELS[name]
    conditional = model == "cgan"
    n = args.fid_n
    y = torch.arange(10).repeat_interleave(n // 10) if conditional else None
    batch = 250 if name == "ddpm" else 500
    x, per_image = draw(r.model, n, seed=args.seed, y=y, batch=batch, **sample_kwargs)
    value = float(fid(test.x, x))
    score, labels = classifier_score(lenet, x)
    image_grid(x[torch.randperm(n, generator=torch.Generator().manual_seed(0))[:64]] if not conditional
               else x.view(10, n // 10, *x.shape[1:])[:, :8].transpose(0, 1).reshape(-1, *x.shape[1:]),
               RESULTS_DIR / f"{args.name}_{name}.png", nrow=8 if not conditional else 10)
    common = {"iterations": r.steps, "train_s": round(r.seconds, 1), "cpu_min": round(cpu / 60, 1),
              "n": n, "seed": args.seed}
    label = LABEL[name]
    records += [
        record(label, "FID", value, "", reference=args.floor, **common,
               note=f"{r.steps} iterations in {r.seconds / 60:.1f} min ({cpu / 60:.1f} CPU-min); ratio = FID / floor"),
        record(label, "classifier score", score, "", reference=args.real_score, **common),
        record(label, "seconds per image", per_image, "s", **common),
    ]
    if conditional:
        acc = 100 * float((labels == y).float().mean())
        records.append(record(label, "label accuracy (LeNet)", acc, "%", reference=args.real_accuracy, **common,
                              note="1,000 samples per asked class; reference: LeNet on the real test set"))
    # the curve: FID and score of each snapshot; the critic's view on held-out data
    pts = []
    cn = args.curve_n if name != "ddpm" else args.ddpm_curve_n
    for seconds, it, m in snaps:
        ycur = torch.arange(10).repeat_interleave(cn // 10) if conditional else None
        xs, _ = draw(m, cn, seed=args.seed, y=ycur, batch=batch, **sample_kwargs)
        pt = {"seconds": round(seconds, 1), "iteration": it, "fid": float(fid(test.x, xs)),
              "score": classifier_score(lenet, xs)[0]}
        if name != "ddpm":
            pt["critic"] = critic_view(m, held_out.x, held_out.y if conditional else None, seed=args.seed)
        pts.append(pt)
        print(f"  {name} @ {seconds:.0f}s ({it} it): FID {pt['fid']:.2f}, score {pt['score']:.2f}"
              + (f", critic {pt['critic']:.4f}" if "critic" in pt else ""), flush=True)
    curves[name] = pts
    if name != "ddpm" and len(pts) >= 3:
        what = "critic distance estimate" if model.startswith("wgan") else "discriminator loss"
        rho = spearman([p["critic"] for p in pts], [p["fid"] for p in pts])
        records.append(record(label, f"Spearman ρ({what}, FID)", rho, "", points=len(pts), curve_n=cn,
                              note=f"over {len(pts)} snapshots of the run, held-out {len(held_out.x)} validation "
                                   f"images; FID at n = {cn}"))
    print(f"{label}: FID {value:.2f} (floor {args.floor:.2f}), score {score:.2f}, {per_image * 1e3:.3f} ms/image",
          flush=True)


@torch.no_grad()
def ddpm_time(n: int = 250) -> float:
    """Seconds per image of DDIM-50 (η = 1) from the DDPM row's network, untrained, on a batch of ``n``."""
    from genlab.models.diffusion.ddpm import DDPM

    _, overrides, sample_kwargs = MODELS["ddpm"]
    model = DDPM(DDPM.config_for_data(load("mnist", split="test"), overrides["model_options"])).eval()
    _, per_image = draw(model, n, seed=0, batch=n, **sample_kwargs)
    return per_image


def plot_curves(curves: dict, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for name, pts in curves.items():
        t = [p["seconds"] / 60 for p in pts]
        axes[0].plot(t, [p["fid"] for p in pts], marker=".", label=LABEL[name])
        axes[1].plot(t, [p["score"] for p in pts], marker=".", label=LABEL[name])
    axes[0].set_yscale("log")
    axes[0].set_ylabel("FID (LeNet features)")
    axes[1].set_ylabel("classifier score")
    for ax in axes:
        ax.set_xlabel("training minutes")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=DEFAULT_ROWS, choices=list(MODELS))
    p.add_argument("--minutes", type=float, default=10.0, help="wall minutes of training per model")
    p.add_argument("--fid-n", type=int, default=10_000)
    p.add_argument("--curve-points", type=int, default=10)
    p.add_argument("--curve-n", type=int, default=2000, help="samples per curve point (GANs)")
    p.add_argument("--ddpm-curve-n", type=int, default=500, help="samples per curve point (DDPM: DDIM-50)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default="gan_mnist")
    args = p.parse_args()
    torch.set_num_threads(2)
    lenet = pretrained_lenet()
    test, train_full = load("mnist", split="test"), load("mnist", split="train-full")
    val = load("mnist", split="val")
    held_out = val.subset(torch.arange(2000))
    g = torch.Generator().manual_seed(1000)
    real = train_full.x[torch.randperm(len(train_full.x), generator=g)[: args.fid_n]]
    args.floor = float(fid(test.x, real))
    args.real_score, real_labels = classifier_score(lenet, test.x)
    args.real_accuracy = 100 * float((real_labels == test.y).float().mean())
    records = [record("real (train vs test)", "FID", args.floor, "", n=args.fid_n,
                      note="the floor: random training images against the test set at the same n"),
               record("real (test)", "classifier score", args.real_score, ""),
               record("real (test)", "LeNet accuracy", args.real_accuracy, "%")]
    print(f"floor FID {args.floor:.2f}, real score {args.real_score:.2f}, LeNet accuracy {args.real_accuracy:.2f} %",
          flush=True)
    curves: dict[str, list[dict]] = {}
    for name in args.models:
        evaluate_model(name, args, lenet, test, held_out, records, curves)
        (RESULTS_DIR / f"{args.name}_curves.json").write_text(json.dumps(curves, indent=1))
    plot_curves(curves, RESULTS_DIR / f"{args.name}_curves.png")
    ddpm = next((r for r in records if r["name"] == LABEL["ddpm"] and r["metric"] == "seconds per image"), None)
    if ddpm is None and any(r["metric"] == "seconds per image" for r in records):
        ddpm = record("DDPM (untrained, timing only), DDIM-50 η = 1", "seconds per image", ddpm_time(), "s",
                      note="the DDPM row's network and sampler, timed in this run on a batch of 250 (its time "
                           "per image does not depend on the weights): the reference of speedup_vs_ddpm")
        records.append(ddpm)
    if ddpm:
        for r in records:
            if r["metric"] == "seconds per image" and r is not ddpm:
                r["speedup_vs_ddpm"] = ddpm["value"] / r["value"]
    write_results(args.name, records, notes=f"GANs and the DDPM on MNIST, {args.minutes:g} wall minutes of training "
                  f"each (2 threads); FID at n = {args.fid_n} vs the test set (ratio = FID / real-vs-real floor); "
                  f"curves in results/{args.name}_curves.json/.png, samples in results/{args.name}_<model>.png.")


if __name__ == "__main__":
    main()
