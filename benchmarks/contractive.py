"""The contractive autoencoder's λ (AE4): reconstruction and contraction of the default one-layer
sigmoid CAE for a few values of λ, same budget each (issue: autoencoder family, default λ).

Each λ: ``genlab`` training for ``--epochs`` epochs on MNIST (batch 128, Adam 1e-3); on the first
5,000 test images the squared reconstruction error per image and the encoder's ``‖∂f(x)/∂x‖²_F`` (closed
form, Rifai et al. 2011 Eq. (7)) on the first 1,000.

    python benchmarks/contractive.py --lambdas 0 0.1 1 --epochs 5
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record, write_results  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.training import TrainConfig, train  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--lambdas", type=float, nargs="+", default=[0.0, 0.1, 1.0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    test = load("mnist", split="test").x[:5000]
    records = []
    for lam in args.lambdas:
        out = Path(tempfile.mkdtemp(prefix="bench-cae-"))
        try:
            r = train(TrainConfig(model="contractive-ae", data="mnist", epochs=args.epochs, batch_size=128, lr=1e-3,
                                  out=str(out / "run"), quiet=True, num_samples=0,
                                  model_options={"contraction": lam}))
        finally:
            shutil.rmtree(out, ignore_errors=True)
        m = r.model.eval()
        with torch.no_grad():
            sse = (m.reconstruct(test) - test).pow(2).flatten(1).sum(1).mean().item()
            jac = m.jacobian_norm(test[:1000], method="closed_form").mean().item()
        print(f"λ {lam:g}: test SSE {sse:.2f}  ‖J‖²_F {jac:.3f}  ({r.seconds:.0f} s)", flush=True)
        records.append(record(f"λ = {lam:g}", "test reconstruction SSE", sse, "per image", epochs=args.epochs,
                              jacobian_frobenius_sq=round(jac, 3), train_s=round(r.seconds, 1)))
    write_results("contractive", records, notes=(
        f"Default contractive AE (one sigmoid layer, 32 codes, linear decoder, BCE), {args.epochs} epochs of "
        "batch 128, Adam 1e-3; SSE on 5,000 test images, ‖∂f/∂x‖²_F (closed form) on 1,000."))


if __name__ == "__main__":
    main()
