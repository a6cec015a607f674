"""Test NLL of the VAE on statically binarized MNIST against CPU training time (foundation §6).

Trains with genlab's spine in segments (each segment resumes the run exactly, so the curve is that of
one run), and after each segment estimates the NLL by importance sampling (V8). The curve points use
k = 500 on the first 2,000 test images; the final point uses k = 5000 on the full test set (10,000).
Goal: ≤ 89.9 nats (pythae reports 89.78 for its VAE on binarized MNIST).

    python benchmarks/vae_nll.py --segments 4 --epochs-per-segment 10
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record, write_results  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.metrics.likelihood import log_likelihood  # noqa: E402
from genlab.training import TrainConfig, train  # noqa: E402
from genlab.training.run import resume_config  # noqa: E402


def nll(model, x: torch.Tensor, k: int) -> float:
    return -log_likelihood(model, x, k=k, generator=torch.Generator().manual_seed(0), batch_size=100).mean().item()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--segments", type=int, default=4)
    p.add_argument("--epochs-per-segment", type=int, default=10)
    p.add_argument("--hidden", type=int, nargs="+", default=[512, 512])
    p.add_argument("--latent", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--final-k", type=int, default=5000)
    p.add_argument("--out", default="runs/bench-vae-nll")
    args = p.parse_args()
    torch.set_num_threads(2)
    x_test = load("mnist-binarized", split="test").x
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    cfg = TrainConfig(model="vae", data="mnist-binarized", epochs=args.epochs_per_segment, batch_size=args.batch_size,
                      lr=args.lr, out=str(out), quiet=True,
                      model_options={"hidden": args.hidden, "latent_dim": args.latent})
    records, train_seconds = [], 0.0
    for s in range(args.segments):
        if s == 0:
            r = train(cfg)
        else:
            r = train(resume_config(out, {"epochs": args.epochs_per_segment * (s + 1)}), resume=True)
        train_seconds += r.seconds
        t0 = time.perf_counter()
        v = nll(r.model, x_test[:2000], 500)
        epochs = args.epochs_per_segment * (s + 1)
        print(f"epochs {epochs:4d}  train {train_seconds / 60:6.1f} min  NLL(k=500, n=2000) {v:.2f}  "
              f"({time.perf_counter() - t0:.0f} s to estimate)", flush=True)
        records.append(record("VAE NLL curve", "test NLL (k=500, n=2000)", v, "nats", epochs=epochs,
                              train_minutes=round(train_seconds / 60, 2)))
    t0 = time.perf_counter()
    final = nll(r.model, x_test, args.final_k)
    print(f"final NLL (k={args.final_k}, n={len(x_test)}): {final:.2f} nats "
          f"({time.perf_counter() - t0:.0f} s to estimate)")
    records.append(record("VAE NLL final", f"test NLL (k={args.final_k}, n={len(x_test)})", final, "nats",
                          reference=89.9, epochs=epochs, train_minutes=round(train_seconds / 60, 2),
                          note="reference: pythae's figure, goal ≤ 89.9"))
    write_results("vae_nll", records, notes=f"MLP 784-{'-'.join(map(str, args.hidden))}-{args.latent}, "
                  f"Bernoulli decoder, Adam lr {args.lr}, batch {args.batch_size}, 2 threads.")


if __name__ == "__main__":
    main()
