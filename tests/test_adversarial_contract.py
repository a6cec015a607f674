"""The adversarial contract (G3, G9): ``AdversarialSystem`` reads a model's ``Adversarial`` declaration —
``players()`` (D, G) with their optimizers, ``critic_steps`` (k) and ``wasserstein`` — never its config names;
each GAN declares what its config says; pix2pix has no GAN options it does not use, and old pix2pix configs
(``optimizer: adam``, ``n_critic: 1``) still load."""

import dataclasses
import json

import pytest
import torch
from torch import Tensor, nn

import genlab.hub
from genlab.config import Config
from genlab.errors import ConfigError, TrainingDiverged
from genlab.models.base import Adversarial, Model, ModelOutput, Player
from genlab.models.gan import losses
from genlab.models.gan.pix2pix import Pix2Pix, Pix2PixConfig
from genlab.registry import ADVERSARIAL, MODELS, ModelEntry
from genlab.training import TrainConfig, train
from genlab.training.checkpoint import read_checkpoint
from genlab.training.systems import AdversarialSystem


# --- a toy game whose config shares no name with the GANs' ----------------------------------------------
@dataclasses.dataclass
class DuelConfig(Config):
    data_shape: tuple[int, ...] = (2,)
    width: int = 8
    rounds: int = 2  # the judge's steps per forger step (k of G3)
    earth_mover: bool = False  # the judge's score estimates W1: its loss has no floor


class Duel(Model, Adversarial):
    """A forger ``F(z)``, ``z ∈ R³``, against a judge ``J(x)``; the judge by RMSProp, the forger by Adam (0.5, 0.9)."""

    config_class = DuelConfig
    monitor = None

    def __init__(self, config: DuelConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        d, w = self.config.data_shape[0], self.config.width
        self.forger = nn.Sequential(nn.Linear(3, w), nn.Tanh(), nn.Linear(w, d))  # z (B, 3) → x̂ (B, D)
        self.judge = nn.Sequential(nn.Linear(d, w), nn.Tanh(), nn.Linear(w, 1))  # x (B, D) → score (B, 1)

    @classmethod
    def data_defaults(cls, data) -> dict:
        return {"data_shape": tuple(data.x.shape[1:])}

    def players(self) -> tuple[Player, Player]:
        return Player("judge", self.judge, "rmsprop"), Player("forger", self.forger, betas=(0.5, 0.9))

    @property
    def critic_steps(self) -> int:
        return self.config.rounds

    @property
    def wasserstein(self) -> bool:
        return self.config.earth_mover

    def _fake(self, n: int) -> Tensor:
        return self.forger(torch.randn(n, 3))  # (n, D)

    def discriminator_loss(self, x: Tensor, y: Tensor | None = None) -> ModelOutput:
        r, f = self.judge(x).squeeze(1), self.judge(self._fake(len(x)).detach()).squeeze(1)  # (B,), (B,)
        return ModelOutput(loss=f.mean() - r.mean() if self.config.earth_mover else losses.discriminator_loss(r, f))

    def generator_loss(self, x: Tensor, y: Tensor | None = None) -> ModelOutput:
        f = self.judge(self._fake(len(x))).squeeze(1)
        return ModelOutput(loss=-f.mean() if self.config.earth_mover else losses.generator_loss_nonsaturating(f))

    def forward(self, x: Tensor, y: Tensor | None = None) -> ModelOutput:
        return self.discriminator_loss(x)


GAN_NAMES = {"loss", "optimizer", "betas", "n_critic", "generator", "discriminator"}
ENTRY = ModelEntry("duel", f"{__name__}:Duel", "ring8", "a toy game (adversarial contract test)",
                   system=ADVERSARIAL, train_defaults={"lr": 1e-3, "batch_size": 32})


@pytest.fixture
def duel():
    MODELS[ENTRY.name] = ENTRY
    yield ENTRY
    MODELS.pop(ENTRY.name, None)


def _cfg(out, **kw):
    base = dict(model="duel", epochs=1, out=str(out), quiet=True, num_samples=0, steps_per_call=1)
    return TrainConfig(**{**base, **kw})


def _ids(params) -> set[int]:
    return {id(p) for p in params}


def test_a_toy_game_without_gan_names_trains_through_its_declaration(duel, tmp_path):
    assert not GAN_NAMES & ({f.name for f in dataclasses.fields(DuelConfig)} | set(dict(Duel().named_children())))
    r = train(_cfg(tmp_path / "run", max_steps=4, ema_decay=0.9))
    ck = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert r.steps == 4 and ck["global_step"] == 4 * (2 + 1)  # k = rounds = 2 judge steps, 1 forger step
    judge, forger = ck["optimizer_states"]
    assert all("square_avg" in s and int(s["step"]) == 8 for s in judge["state"].values())  # RMSProp, 2 × 4 steps
    assert all("exp_avg" in s and int(s["step"]) == 4 for s in forger["state"].values())  # Adam, 4 steps
    assert forger["param_groups"][0]["betas"] == (0.5, 0.9)
    assert [len(o["param_groups"][0]["params"]) for o in (judge, forger)] == [4, 4]  # each its module's 4 tensors
    (shadow,) = [s["shadow"] for k, s in ck["callbacks"].items() if "EMA" in k]  # EMA of the forger
    assert {k: v.shape for k, v in shadow.items()} == {k: v.shape for k, v in r.model.forger.state_dict().items()}
    assert all(p.requires_grad for p in r.model.judge.parameters())  # frozen only during the forger's step


def test_critic_steps_must_be_a_whole_number_of_at_least_one():
    with pytest.raises(ConfigError, match=r"Duel.critic_steps must be a whole number ≥ 1 .* got 0"):
        AdversarialSystem.clock_for(Duel(rounds=0))


def test_a_player_refuses_an_optimizer_the_system_cannot_build():
    with pytest.raises(ConfigError, match="player 'judge': optimizer must be 'adam' or 'rmsprop', got 'sgd'"):
        Player("judge", nn.Linear(2, 1), "sgd")


# --- each GAN's declaration: the optimizers the system builds ---------------------------------------------
@pytest.mark.parametrize("name, kind, betas, k", [
    ("gan", torch.optim.Adam, (0.5, 0.999), 1),
    ("cgan", torch.optim.Adam, (0.5, 0.999), 1),
    ("dcgan", torch.optim.Adam, (0.5, 0.999), 1),
    ("unrolled-gan", torch.optim.Adam, (0.5, 0.999), 1),
    ("wgan", torch.optim.RMSprop, None, 5),
    ("wgan-gp", torch.optim.Adam, (0.0, 0.9), 5),
    ("pix2pix", torch.optim.Adam, (0.5, 0.999), 1),
])
def test_each_players_optimizer_trains_exactly_its_network(name, kind, betas, k, tmp_path):
    model = MODELS[name].load_class()()
    system = AdversarialSystem(model, TrainConfig(model=name, lr=1e-4, out=str(tmp_path)))
    opt_d, opt_g = system.configure_optimizers()
    for opt, net in ((opt_d, model.discriminator), (opt_g, model.generator)):
        assert type(opt) is kind and opt.defaults["lr"] == 1e-4
        assert betas is None or opt.defaults["betas"] == betas
        assert _ids(p for g in opt.param_groups for p in g["params"]) == _ids(net.parameters())
    assert _ids(model.discriminator.parameters()) | _ids(model.generator.parameters()) == _ids(model.parameters())
    assert system.clock.batches == model.critic_steps == k and system.ema_module is model.generator
    assert model.wasserstein == name.startswith("wgan")
    assert {n: _ids(p) for n, p in model.parameter_groups().items()} == {
        "discriminator": _ids(model.discriminator.parameters()), "generator": _ids(model.generator.parameters())}


# --- the divergence check reads ``wasserstein`` ---------------------------------------------------------
@pytest.mark.parametrize("earth_mover", [False, True])
def test_the_divergence_check_fires_for_a_floored_loss_and_skips_a_wasserstein_critic(
        duel, tmp_path, monkeypatch, earth_mover):
    monkeypatch.setattr(AdversarialSystem, "collapse_loss", 1e9)  # every iteration "won"
    monkeypatch.setattr(AdversarialSystem, "patience", 3)
    cfg = _cfg(tmp_path / "run", max_steps=5, model_options={"rounds": 1, "earth_mover": earth_mover})
    if earth_mover:
        assert train(cfg).steps == 5  # a critic's loss has no floor: never checked
    else:
        with pytest.raises(TrainingDiverged, match="iteration 3: the discriminator's loss has stayed below"):
            train(cfg)


# --- pix2pix: only its own options; old configs load --------------------------------------------------------
#: Pix2PixConfig.to_dict() as genlab wrote it before pix2pix dropped the GAN options it never used
OLD_PIX2PIX = {"data_shape": [1, 8, 8], "channels": 4, "disc_channels": 4, "dropout": 0.5, "l1_weight": 100.0,
               "loss": "l1+cgan", "n_critic": 1, "optimizer": "adam", "betas": [0.5, 0.999]}


def test_pix2pix_has_no_gan_options_it_does_not_use():
    names = {f.name for f in dataclasses.fields(Pix2PixConfig)}
    assert "optimizer" not in names and "n_critic" not in names and "betas" in names
    assert "optimizer" not in Pix2PixConfig().to_dict() and Pix2Pix().critic_steps == 1


def test_an_old_pix2pix_config_loads_and_only_its_only_values_do():
    cfg = Pix2PixConfig.from_dict(OLD_PIX2PIX)
    assert cfg == Pix2PixConfig(data_shape=(1, 8, 8), channels=4, disc_channels=4)
    assert Pix2Pix(**OLD_PIX2PIX).config == cfg  # keyword options (and --set, config.yaml) go through from_dict
    for key, value in (("optimizer", "rmsprop"), ("n_critic", 2)):
        with pytest.raises(ConfigError, match=rf"no option '{key}' any more: it always trains with {key}="):
            Pix2PixConfig.from_dict({**OLD_PIX2PIX, key: value})
    with pytest.raises(ConfigError, match=r"has no option\(s\) \['optimiser'\]"):  # unknown keys stay refused
        Pix2PixConfig.from_dict({"optimiser": "adam"})


def test_an_old_pix2pix_model_folder_loads_with_its_weights(tmp_path):
    model = Pix2Pix(Pix2PixConfig.from_dict(OLD_PIX2PIX))
    model.save_pretrained(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["config"] = OLD_PIX2PIX  # as an older genlab wrote it
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    loaded = genlab.hub.load(tmp_path / "m")
    assert isinstance(loaded, Pix2Pix) and loaded.config == model.config
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    g = torch.Generator().manual_seed(0)
    assert loaded.translate(torch.rand(2, 1, 8, 8), generator=g).shape == (2, 1, 8, 8)
