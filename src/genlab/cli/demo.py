"""``genlab demo``: a small VAE on binarized MNIST, trained and evaluated in about three minutes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def run_demo(*, out: Path | None, minutes: float, quiet: bool, echo: Callable[[str], None]) -> Path:
    """Train ``vae`` on ``mnist-binarized`` for ``minutes``, evaluate ELBO, NLL (k=250, 2k test
    images) and FID/KID (2k samples), and write everything into the run folder."""
    from genlab.evaluation import evaluate
    from genlab.rundir import RunDir
    from genlab.training import TrainConfig, train
    from genlab.training.report import write_report

    out = out or Path("runs") / f"demo-vae-{time.strftime('%Y%m%d-%H%M%S')}"
    cfg = TrainConfig(model="vae", data="mnist-binarized", epochs=30, max_time=f"{int(minutes * 60)}s",
                      batch_size=128, lr=1e-3, out=str(out), quiet=quiet, val_size=5000)
    echo(f"training a VAE on binarized MNIST for up to {minutes:g} min → {out}")
    result = train(cfg, command=f"genlab demo --out {out} --minutes {minutes:g}")
    echo("evaluating on the test set (ELBO, NLL with k=250 on 2,000 images, FID/KID with 2,000 samples)")
    ev = evaluate(result.model, "mnist-binarized", ["elbo", "nll", "fid"], limit=2000, k=250, n=2000,
                  progress=not quiet)
    RunDir(out).write_eval(ev)
    write_report(RunDir(out), cfg, result.model, result.metrics, seconds=result.seconds,
                 command=f"genlab demo --out {out} --minutes {minutes:g}", steps=result.steps, evaluation=ev)
    echo(f"\ntest ELBO {ev['elbo']:.2f} nats, NLL {ev['nll']:.2f} nats (k={ev['nll_k']}), "
         f"FID {ev['fid']:.2f} (n={ev['fid_n']}, LeNet features)")
    echo(f"look at: {out / 'report.html'} or report.md (curves, samples, reconstructions), {out / 'samples'}/, "
         f"{out / 'eval.json'}; live curves: tensorboard --logdir {out}")
    echo(f"next: genlab sample {out} --n 64 ; genlab eval {out} --metrics elbo,nll")
    return out
