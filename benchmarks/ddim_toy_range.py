"""Deterministic DDIM on a 2-D toy: samples beyond the data's range with and without x̂_0 clipped to it (issue 28).

``genlab train ddpm --data ring8 --max-time 1m`` (through ``genlab.training.train``), then 10,000 samples from each
sampler — DDIM-50 at η = 0 and η = 1, DDPM-1000 — from the same seed, once with x̂_0 clipped to the training data's
range (``data_range``, the default since issue 28) and once unclipped (``clip_sample=False``, as before): the share
of samples farther than 3 from the origin (ring8's modes lie at radius 2; no training point is farther than 2.1)
and the largest |x|.

    python benchmarks/ddim_toy_range.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import command_line, record, write_results  # noqa: E402

from genlab.models.diffusion import DDPM  # noqa: E402
from genlab.training.config import TrainConfig  # noqa: E402
from genlab.training.run import train  # noqa: E402

SAMPLERS = {"DDIM-50, η = 0": {"sampler": "ddim", "steps": 50, "eta": 0.0},
            "DDIM-50, η = 1": {"sampler": "ddim", "steps": 50, "eta": 1.0}, "DDPM-1000": {"sampler": "ddpm"}}


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        model = train(TrainConfig(model="ddpm", data="ring8", epochs=-1, max_time="1m", quiet=True,
                                  out=str(Path(tmp) / "run"))).model.eval()
    unclipped = DDPM(model.config.replace(clip_sample=False)).eval()
    unclipped.load_state_dict(model.state_dict())
    rows, lines = [], ["| sampler | x̂_0 | share with \\|x\\| > 3 | max \\|x\\| |", "|---|---|---|---|"]
    for name, kw in SAMPLERS.items():
        for label, m in (("unclipped (before)", unclipped), (f"clipped to ±{model.config.data_range:.3f}", model)):
            s = m.sample(10000, generator=torch.Generator().manual_seed(0), **kw)
            r = s.norm(dim=1)
            far, top = 100 * (r > 3).float().mean().item(), r.max().item()
            lines.append(f"| {name} | {label} | {far:.2f} % | {top:.2f} |")
            rows.append(record(f"ring8 ddpm 1 min, {name}, {label}", "share |x| > 3", far, "%", max_norm=round(top, 3)))
    notes = "\n".join(lines)
    print(notes)
    write_results("ddim_toy_range", rows, command_line(), notes=notes)


if __name__ == "__main__":
    main()
