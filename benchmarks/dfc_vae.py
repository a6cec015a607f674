"""The deep feature consistent VAE against the pixel-loss VAE at the same budget (issue 28, part 4; Hou et al. 2016).

Both are the same MLP VAE (784-512-256-32, Bernoulli decoder) trained on MNIST (grey levels in [0, 1]) for the same
wall time; the DFC-VAE's reconstruction is the distance of the shipped LeNet's conv-block features (``dfc-vae``),
the VAE's the pixels' binary cross-entropy. Judged on the decoder means of ``n`` prior samples:

- FID against ``n`` test images in the LeNet's *penultimate* features (``genlab.metrics.fid``: a layer the DFC loss
  never reads), with the floor (``n`` training images against the same test images);
- sharpness: the mean variance of each image's discrete Laplacian (a blur measure: blurrier images score lower),
  beside that of the test images.

    python benchmarks/dfc_vae.py --minutes 5 --n 2000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record, timed_train, write_results  # noqa: E402

ARCH = {"hidden": [512, 256], "latent_dim": 32}


def laplacian_variance(x):
    """The variance of the 4-neighbour Laplacian of each image (B, 1, H, W) → (B,)."""
    import torch

    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    return torch.nn.functional.conv2d(x, kernel).flatten(1).var(1)


def main(argv: list[str] | None = None) -> None:
    import torch

    from genlab.data import load
    from genlab.metrics.fid import fid

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=5.0, help="training wall time of each model")
    p.add_argument("--n", type=int, default=2000, help="samples and test images for FID")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    test = load("mnist", split="test").x[: args.n]
    train_x = load("mnist", split="train").x[: args.n]
    floor = float(fid(test, train_x))
    sharp_real = float(laplacian_variance(test).mean())
    records = [record("test images", "fid_floor", floor, "", n=args.n),
               record("test images", "sharpness", sharp_real, "var(∇²x)")]
    print(f"FID floor {floor:.2f}; test sharpness {sharp_real:.4f}")
    for model in ("vae", "dfc-vae"):
        r, cpu = timed_train(model, "mnist", args.minutes, model_options=dict(ARCH))
        with torch.no_grad():
            x = r.model.sample(args.n, generator=torch.Generator().manual_seed(0))
        f = float(fid(test, x))
        s = float(laplacian_variance(x).mean())
        print(f"{model}: {r.steps} iterations, FID {f:.2f}, sharpness {s:.4f} ({s / sharp_real:.2f} of the test's)")
        records += [record(model, "fid", f, "", reference=floor, iterations=r.steps, cpu_min=round(cpu / 60, 1)),
                    record(model, "sharpness", s, "var(∇²x)", reference=sharp_real)]
    write_results("dfc_vae", records, notes=(
        "The pixel-loss VAE and the DFC-VAE (reconstruction in the shipped LeNet's conv-block features) with the "
        "same MLP (784-512-256-32), trained for the same wall time on MNIST; FID of the decoder means of n prior "
        "samples in the LeNet's penultimate features (a layer the DFC loss never reads) against n test images; "
        "sharpness = mean variance of each image's Laplacian (ratio: against the test images'). reference of fid: "
        "the floor, n training images against the same test images."))


if __name__ == "__main__":
    main()
