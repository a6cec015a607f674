"""``AdversarialSystem``: two players, two optimizers (G3) — GANs, pix2pix (and CTGAN to come).

It reads the model's ``Adversarial`` declaration, never its config: ``players()`` (D, G), each with its
network and optimizer — Adam with the player's betas (DCGAN's 0.5; WGAN-GP's (0, 0.9)) or RMSProp
(weight-clipped WGAN) —, ``critic_steps`` (k) and ``wasserstein``.

One iteration (Goodfellow et al. 2014, arXiv:1406.2661, Algorithm 1): k discriminator steps, each on its
own mini-batch of real data and fresh ``z``, then one generator step. The iteration is the unit of
``max_steps``, checkpoints, EMA (of the generator) and metric rows (``systems.base``).
Curves: ``d_loss``, ``g_loss``, ``d_real = E D(x)``, ``d_fake = E D(G(z))`` and, for WGANs, the critic's
estimate of the distance.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError, TrainingDiverged
from genlab.models.base import Adversarial, Player
from genlab.training.optim import adam, cosine_schedule
from genlab.training.systems.base import StepClock, System


@contextlib.contextmanager
def frozen(module: nn.Module):
    """``module``'s parameters take no gradient inside the block (the generator step needs none for D)."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


class AdversarialSystem(System):
    """Trains an ``Adversarial`` model: per iteration ``critic_steps`` discriminator steps, then a generator step."""

    find_unused_parameters = True  # D's backward reaches no generator weight (and G's none of D's: frozen)
    #: a run whose discriminator loss stays below ``collapse_loss`` for ``patience`` iterations has diverged
    collapse_loss, patience = 1e-3, 200
    _won = 0  # iterations in a row the discriminator has won outright

    @classmethod
    def clock_for(cls, model: Adversarial) -> StepClock:
        k = model.critic_steps
        if not (isinstance(k, int) and k >= 1):
            raise ConfigError(f"{type(model).__name__}.critic_steps must be a whole number ≥ 1 (discriminator steps "
                              f"per generator step, G3), got {k!r}")
        return StepClock(optimizer_steps=k + 1, batches=k)

    @property
    def players(self) -> tuple[Player, Player]:
        """(D, G) as the model declares them."""
        return self.model.players()

    @property
    def ema_module(self) -> nn.Module:
        return self.players[1].module

    def _player_step(self, opt, loss: Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        self._backward(loss)  # on_before_backward: the NaN guard names the term
        self._clip(opt)
        self._optimizer_step(opt)  # counts trainer.global_step

    def train_iteration(self, batches: list) -> None:
        opt_d, opt_g = self.optimizers()
        d = None
        for batch in batches:  # k discriminator steps, a fresh mini-batch and fresh z each
            d = self.model.discriminator_loss(**batch)
            self.record(_terms("d", d))
            self._player_step(opt_d, d.loss)
            self.model.after_discriminator_step()  # weight clipping (WGAN)
        with frozen(self.players[0].module):
            g = self.model.generator_loss(**batches[-1])
            self.record({**_terms("d", d, stepped=False), **_terms("g", g)})
            self._player_step(opt_g, g.loss)
        for scheduler in self._schedulers():
            scheduler.step()
        self._check_divergence(float(d.loss.detach()))

    def _check_divergence(self, d_loss: float) -> None:
        """Stop a run the discriminator has won: ``J_D ≈ 0`` leaves the generator no gradient (G2), so its loss
        only climbs. Skipped for a ``wasserstein`` critic (G9: its loss has no floor)."""
        if self.model.wasserstein or self.trainer.world_size > 1:  # (per-rank losses differ)
            return
        self._won = self._won + 1 if d_loss < self.collapse_loss else 0
        if self._won >= self.patience:
            g = float(self.last_terms.get("g_loss", float("nan")))
            raise TrainingDiverged(
                f"training stopped at iteration {self.iteration}: the discriminator's loss has stayed below "
                f"{self.collapse_loss:g} for {self.patience} iterations (generator loss {g:.3g}): "
                f"the generator gets no gradient; lower the discriminator's learning rate or raise the "
                f"generator's capacity (the last good checkpoint is kept)")

    def _schedulers(self) -> list:
        s = self.lr_schedulers()
        return [] if s is None else (s if isinstance(s, list) else [s])

    def validation_terms(self, batch) -> dict[str, Tensor]:
        d, g = self.model.discriminator_loss(**batch), self.model.generator_loss(**batch)
        return {**_terms("d", d, stepped=False), **_terms("g", g, stepped=False)}

    def configure_optimizers(self):
        opts = [self.optimizer_for(player) for player in self.players]  # [D's, G's]
        if self.cfg.lr_schedule == "constant":
            return opts
        total = self.total_iterations or 1
        return opts, [{"scheduler": cosine_schedule(o, total), "interval": "step"} for o in opts]

    def optimizer_for(self, player: Player) -> torch.optim.Optimizer:
        """The optimizer of ``player``'s module's parameters at the run's ``lr`` × the player's ``lr_scale`` (F5):
        RMSProp, or Adam with the player's betas and the run's weight decay."""
        params = list(player.module.parameters())
        lr = self.cfg.lr * player.lr_scale
        match player.optimizer:
            case "rmsprop":
                return torch.optim.RMSprop(params, lr=lr)
            case _:  # "adam" (a Player refuses any other)
                return adam(params, lr=lr, weight_decay=self.cfg.weight_decay, betas=tuple(player.betas))


def _terms(player: str, out, *, stepped: bool = True) -> dict[str, Tensor]:
    """``out``'s terms named by player — ``d_loss``, ``d_real``, ``d_fake``, ``d_distance``, ``d_penalty``;
    ``g_loss`` and the generator's own terms (``g_l1``, ``g_d_fake`` ...) — plus ``loss``, the loss being
    stepped (what the NaN guard and the progress bar read)."""
    if player == "g":
        named = {f"g_{k}": v for k, v in out.scalars().items()}
    else:
        named = {(k if k.startswith("d_") else f"d_{k}"): v for k, v in out.scalars().items()}
    return {**named, "loss": out.loss} if stepped else {k: v.detach() for k, v in named.items()}
