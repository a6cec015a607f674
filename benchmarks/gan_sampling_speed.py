"""Sampling time per image of the cGAN's generator against DDIM-50 (η = 1), timed on their own in interleaved
rounds (issue: GANs from the equations, goal "≥ 500× less sampling time per image" than the DDPM).

``benchmarks/gan_mnist.py`` times each model once, over its whole FID draw, while the machine may be busy; the
same 48-channel generator timed 0.10, 0.11 and 0.14 ms per image in three such runs. Here, as in
``benchmarks/sampling_speed.py``, every round times each sampler once in the same order, on the batches of the
FID draws (``gan_mnist.draw``: 500 images per call for a GAN, 250 for DDIM), and a sampler's figure is its
fastest round (the one least disturbed by other work; the median is recorded too). The networks are
``gan_mnist.MODELS``' rows built for MNIST, untrained: the same layers run on the same shapes whatever the
weights (``gan_mnist`` times trained ones).

    python benchmarks/gan_sampling_speed.py --rounds 5 --name gan_sampling_speed
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spinning threads on a busy machine

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record, write_results  # noqa: E402
from gan_mnist import LABEL, MODELS, draw  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.registry import get_model  # noqa: E402


def build(row: str):
    """``gan_mnist``'s row ``row`` as an untrained model for MNIST, in eval mode, and its sample options."""
    name, overrides, sample_kwargs = MODELS[row]
    cls = get_model(name).load_class()
    data = load("mnist", split="test")
    return cls(cls.config_for_data(data, overrides.get("model_options", {}))).eval(), sample_kwargs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", nargs="+", default=["cgan-48-fast-r1-0.01-ema", "cgan-fast-ema"],
                   help="gan_mnist rows to time against DDIM-50")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--gan-n", type=int, default=5000, help="images per GAN timing (batches of 500)")
    p.add_argument("--name", default="gan_sampling_speed")
    args = p.parse_args()
    torch.set_num_threads(2)
    samplers = {row: (*build(row), args.gan_n, 500) for row in args.rows}
    samplers["ddpm"] = (*build("ddpm"), 250, 250)
    times: dict[str, list[float]] = {k: [] for k in samplers}
    for r in range(args.rounds):
        for key, (model, kwargs, n, batch) in samplers.items():
            y = torch.arange(10).repeat_interleave(n // 10) if getattr(model.config, "num_classes", 0) else None
            x, per_image = draw(model, n, seed=r, y=y, batch=batch, **kwargs)
            assert torch.isfinite(x).all()
            times[key].append(per_image)
        print(f"round {r + 1}: " + ", ".join(f"{k} {1e3 * t[-1]:.3f} ms" for k, t in times.items()), flush=True)
    ddim = min(times["ddpm"])
    records = [record(LABEL["ddpm"], "seconds per image", ddim, "s", median=statistics.median(times["ddpm"]),
                      rounds=args.rounds, note="fastest of the rounds, batches of 250")]
    for row in args.rows:
        t = min(times[row])
        records.append(record(LABEL[row], "seconds per image", t, "s", median=statistics.median(times[row]),
                              rounds=args.rounds, speedup_vs_ddpm=ddim / t,
                              note=f"fastest of the rounds, {args.gan_n} images in batches of 500; goal: "
                                   f"speedup ≥ 500"))
        print(f"{LABEL[row]}: {1e3 * t:.3f} ms/image, {ddim / t:.0f}× faster than DDIM-50 ({1e3 * ddim:.1f} ms)")
    write_results(args.name, records, notes=f"Sampling time per image on this machine's 2 cores, {args.rounds} "
                  f"interleaved rounds; speedup_vs_ddpm = DDIM-50's fastest round / the GAN's.")


if __name__ == "__main__":
    main()
