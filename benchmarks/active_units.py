"""How much the VAE's active-unit count depends on the seed and on the form of the Bernoulli loss
(issue: autoencoder family — genlab's VAE had 11 active units where pythae's, trained on the same
networks, had 27).

The same VAE (genlab's default MLP 784-512-256-32) is trained by a plain loop for ``--steps`` steps of
batch 128 (Adam 1e-3, cosine decay) on statically binarized MNIST, once per seed and loss form:
``logits`` — BCE from logits, as genlab computes it; ``sigmoid`` — sigmoid, then BCE on probabilities,
as pythae computes it (its gradient vanishes where the sigmoid saturates). Active units (Burda et al.
2015): ``Cov_x(E_q[z_u]) > 0.01`` on the 10k test images.

    python benchmarks/active_units.py --seeds 0 1 2 3 --steps 4000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import record, write_results  # noqa: E402

from genlab.data import load  # noqa: E402
from genlab.models.gaussian import kl_standard_normal, reparameterize  # noqa: E402
from genlab.models.hvae import count_active_units  # noqa: E402
from genlab.models.vae import VAE  # noqa: E402
from genlab.training.optim import cosine_factor  # noqa: E402


def negative_elbo(model: VAE, x: torch.Tensor, loss_form: str) -> torch.Tensor:
    """−ELBO with one sample; the reconstruction term from logits or from sigmoid probabilities."""
    mu, logvar = model.encode(x)  # (B, L)
    logits = model.decode(reparameterize(mu, logvar))  # (B, 1, 28, 28)
    if loss_form == "logits":
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    else:
        rec = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").flatten(1).sum(1)
    return (rec + kl_standard_normal(mu, logvar)).mean()


def train_one(x: torch.Tensor, *, seed: int, loss_form: str, steps: int) -> VAE:
    torch.manual_seed(seed)
    model = VAE(data_shape=(1, 28, 28), likelihood="bernoulli")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = 1e-3 * cosine_factor(step, steps)
        loss = negative_elbo(model, x[torch.randint(0, len(x), (128,), generator=g)], loss_form)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    x, x_test = load("mnist-binarized", split="train").x, load("mnist-binarized", split="test").x
    records = []
    for seed in args.seeds:
        for loss_form in ("logits", "sigmoid"):
            model = train_one(x, seed=seed, loss_form=loss_form, steps=args.steps)
            with torch.no_grad():
                mu = torch.cat([model.encode(x_test[i:i + 1000])[0] for i in range(0, len(x_test), 1000)])
                elbo = model.elbo(x_test, generator=torch.Generator().manual_seed(0)).mean().item()
            units = count_active_units(mu)
            print(f"seed {seed} {loss_form:8s} active units {units:3d}  test ELBO {elbo:.2f}", flush=True)
            records.append(record(f"seed {seed}, {loss_form}", "active units", units, "units", seed=seed,
                                  loss_form=loss_form, test_elbo=round(elbo, 2), steps=args.steps))
    write_results("active_units", records, notes=(
        f"VAE 784-512-256-32, {args.steps} steps of batch 128, Adam 1e-3 cosine, statically binarized MNIST; "
        "active units = Cov_x(E_q[z_u]) > 0.01 on the 10k test images; test ELBO with one sample."))


if __name__ == "__main__":
    main()
