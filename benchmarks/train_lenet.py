"""Train genlab's LeNet on MNIST and ship it: ``src/genlab/assets/lenet_mnist.{safetensors,json}``.

    .venv/bin/python benchmarks/train_lenet.py            # train, evaluate on the 10k test set, ship
    .venv/bin/python benchmarks/train_lenet.py --no-ship  # train and report only

Seeded (data order, initialization, dropout); CPU only. The JSON records the config, the measured
test accuracy, the training wall and CPU time and this command; the weights are the model's
``state_dict`` in safetensors (no pickle). The network is the feature extractor of genlab's FID.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command_line, record, write_results  # noqa: E402

from genlab.data import TensorLoader, load  # noqa: E402
from genlab.models.cnn import ASSET_INFO, ASSET_WEIGHTS, LeNet, LeNetConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "src" / "genlab" / "assets"
log = logging.getLogger("train_lenet")


def load_mnist(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST ``split`` as ``x`` float32 ``(N, 1, 28, 28)`` in [0, 1] and ``y`` int64 ``(N,)``."""
    ds = load("mnist", split=split)
    return ds.x, ds.y


@torch.no_grad()
def accuracy(model: LeNet, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    model.eval()
    correct = sum(int((model.predict(x[i : i + batch_size]) == y[i : i + batch_size]).sum())
                  for i in range(0, len(x), batch_size))
    return correct / len(x)


def train(epochs: int, batch_size: int, lr: float, seed: int) -> tuple[LeNet, dict]:
    torch.manual_seed(seed)
    x, y = load_mnist("train")
    model = LeNet(LeNetConfig())
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * math.ceil(len(x) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    loader = TensorLoader({"x": x, "y": y}, batch_size=batch_size, shuffle=True, seed=seed)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for epoch in range(epochs):
        model.train()
        tot, n = 0.0, 0
        for batch in loader:  # a fresh seeded order each epoch
            out = model(**batch)
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            opt.step()
            sched.step()
            tot += out.loss.item() * batch.size
            n += batch.size
        log.info("epoch %d  train loss %.4f  (%.0f s)", epoch + 1, tot / n, time.perf_counter() - wall0)
    stats = {"train_wall_s": time.perf_counter() - wall0, "train_cpu_s": time.process_time() - cpu0,
             "load1": os.getloadavg()[0],  # 1-minute load average at the end (2 cores: > 2 = contended)
             "n_train": len(x), "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
             "optimizer": "Adam + OneCycleLR", "final_train_loss": tot / n}
    return model.eval(), stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-ship", action="store_true", help="do not write src/genlab/assets")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)

    model, stats = train(args.epochs, args.batch_size, args.lr, args.seed)
    val_acc = accuracy(model, *load_mnist("val"))
    xt, yt = load_mnist("test")
    acc = accuracy(model, xt, yt)
    log.info("val accuracy %.4f; test accuracy %.4f on %d images; training %.0f s wall, %.0f s CPU",
             val_acc, acc, len(xt), stats["train_wall_s"], stats["train_cpu_s"])

    info = {
        "model": "genlab.models.cnn.LeNet",
        "config": model.config.to_dict(),
        "dataset": "MNIST via genlab.data.load: trained on split 'train' (60k minus the 5k 'val'), "
                   "evaluated on the 10k 'test' split",
        "test_accuracy": acc,
        "val_accuracy": val_acc,
        "n_test": len(xt),
        **stats,
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()}, torch {torch.__version__}",
        "command": command_line(),
    }
    if not args.no_ship:
        from safetensors.torch import save_file

        ASSETS.mkdir(exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(ASSETS / ASSET_WEIGHTS), metadata={"format": "pt"})
        (ASSETS / ASSET_WEIGHTS).chmod(0o644)  # package data must be world-readable
        (ASSETS / ASSET_INFO).write_text(json.dumps(info, indent=2) + "\n")
        log.info("wrote %s (%d bytes) and %s", ASSETS / ASSET_WEIGHTS,
                 (ASSETS / ASSET_WEIGHTS).stat().st_size, ASSETS / ASSET_INFO)
    records = [
        record("lenet_mnist", "test_accuracy", acc, "fraction", n=len(xt)),
        record("lenet_mnist", "val_accuracy", val_acc, "fraction"),
        record("lenet_mnist", "train_wall", stats["train_wall_s"], "s", epochs=args.epochs,
               threads=torch.get_num_threads(), load1=stats["load1"]),
        record("lenet_mnist", "train_cpu", stats["train_cpu_s"], "s", epochs=args.epochs,
               threads=torch.get_num_threads()),
    ]
    write_results("train_lenet", records)


if __name__ == "__main__":
    main()
