"""Matrix-multiply speed in float32 and bfloat16 on this CPU, side by side (explains the bf16-mixed rows
of ``vae``): GFLOP/s of ``A @ B`` for the VAE's layer shapes and one large square product, and the
time of one autocast ``nn.Linear`` forward against float32.

    python benchmarks/matmul.py            # 2 threads, the machine's cores
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record, timeit, write_results  # noqa: E402

SHAPES = ((128, 784, 512), (128, 512, 256), (512, 784, 512), (2048, 2048, 2048))  # (m, k, n)


def gflops(m: int, k: int, n: int, dtype: torch.dtype, repeat: int) -> float:
    a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)  # (m, k), (k, n)
    inner = max(1, int(2e9 // (2 * m * k * n)))  # ~2 GFLOP per timed call
    seconds = timeit(lambda: [a @ b for _ in range(inner)], repeat=repeat, warmup=2)
    return 2 * m * k * n * inner / seconds / 1e9


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=7, help="timed calls per figure (the median counts)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    records = []
    for m, k, n in SHAPES:
        f32 = gflops(m, k, n, torch.float32, args.repeat)
        bf16 = gflops(m, k, n, torch.bfloat16, args.repeat)
        records.append(record(f"matmul {m}×{k} @ {k}×{n}", "bf16 throughput", bf16, "GFLOP/s", reference=f32,
                              note="reference = float32; ratio > 1: bf16 faster"))
    linear, x = torch.nn.Linear(784, 512), torch.randn(128, 784)

    def autocast_forward():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            linear(x)

    with torch.no_grad():
        t32 = timeit(lambda: [linear(x) for _ in range(100)], repeat=args.repeat)
        t16 = timeit(lambda: [autocast_forward() for _ in range(100)], repeat=args.repeat)
    records.append(record("Linear(784, 512), batch 128, autocast bf16", "forward time", t16 / 100 * 1e6, "µs",
                          reference=t32 / 100 * 1e6, note="reference = float32; ratio < 1: autocast faster"))
    for r in records:
        print(f"{r['name']:<44} {r['value']:9.1f} {r['unit']:<8} "
              f"(float32 {r['reference']:.1f}, ratio {r['ratio']:.2f})")
    write_results("matmul", records, notes=f"torch {torch.__version__}, {args.threads} threads; median of "
                  f"{args.repeat} timed calls of ~2 GFLOP each.")


if __name__ == "__main__":
    main()
