"""The per-model template for DDPM and VDM: build, shapes, save/load bit-identical, a step changes the
weights, overfit one batch with fixed noise, reproducible samples of the right shape and range."""

from __future__ import annotations

import math

import pytest
import torch
from model_template import check_save_load_identical, check_step_changes_weights

import genlab
from genlab.errors import ConfigError, ShapeError
from genlab.models.diffusion import DDPM, VDM, DDPMConfig, DiffusionOutput, VDMConfig, VDMOutput

TINY_UNET = dict(channels=8, norm_groups=4, num_heads=2)

# name → (factory, data shape, number of classes)
MODELS = {
    "ddpm_unet": (lambda: DDPM(**TINY_UNET, num_train_timesteps=100), (1, 28, 28), 0),
    "ddpm_unet_cond_hybrid": (
        lambda: DDPM(
            **TINY_UNET,
            channel_mults=(1, 2),
            attn_resolutions=(14,),
            num_classes=10,
            loss_type="hybrid",
            num_train_timesteps=50,
        ),
        (1, 28, 28),
        10,
    ),
    "ddpm_mlp_v_cosine": (
        lambda: DDPM(data_shape=(2,), prediction_type="v_prediction", beta_schedule="cosine", hidden_dim=32),
        (2,),
        0,
    ),
    "ddpm_mlp_vlb_cond": (
        lambda: DDPM(data_shape=(2,), loss_type="vlb", num_classes=3, hidden_dim=32, num_train_timesteps=100),
        (2,),
        3,
    ),
    "vdm_mlp": (lambda: VDM(data_shape=(2,), hidden_dim=32, schedule_hidden=32), (2,), 0),
    "vdm_unet_cond": (
        lambda: VDM(
            **TINY_UNET,
            channel_mults=(1, 2),
            attn_resolutions=(14,),
            num_classes=10,
            schedule_hidden=32,
            timesteps=100,
        ),
        (1, 28, 28),
        10,
    ),
}


def _batch(shape, num_classes, n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    if len(shape) == 3:
        x = torch.randint(0, 256, (n, *shape), generator=g).float() / 255  # 8-bit images in [0, 1]
    else:
        x = torch.randn(n, *shape, generator=g)
    y = torch.randint(0, num_classes, (n,), generator=g) if num_classes else None
    return x, y


def _build(name):
    factory, shape, k = MODELS[name]
    torch.manual_seed(0)
    return factory(), *_batch(shape, k)


@pytest.mark.parametrize("name", MODELS)
def test_forward_returns_a_scalar_loss_and_named_terms(name):
    model, x, y = _build(name)
    out = model(x, y)
    assert isinstance(out, (DiffusionOutput, VDMOutput))
    scalars = out.scalars()
    assert "loss" in scalars and len(scalars) >= 2
    assert all(v.dim() == 0 and torch.isfinite(v) for v in scalars.values())
    assert out.loss.requires_grad
    with torch.inference_mode():  # how Lightning validates
        assert torch.isfinite(model(x, y).loss)


@pytest.mark.parametrize("name", MODELS)
def test_save_load_gives_identical_weights_outputs_and_samples(name, tmp_path):
    model, x, y = _build(name)
    check_save_load_identical(
        model, x, tmp_path, call=lambda m, b: m(b, y, generator=torch.Generator().manual_seed(0)).loss
    )
    loaded = genlab.load(tmp_path / "m")
    a = model.sample(2, generator=torch.Generator().manual_seed(1), steps=3)
    b = loaded.sample(2, generator=torch.Generator().manual_seed(1), steps=3)
    assert torch.equal(a, b)
    assert loaded.config == model.config


@pytest.mark.parametrize("name", MODELS)
def test_one_optimizer_step_changes_the_weights(name):
    model, x, y = _build(name)
    check_step_changes_weights(model, x, y=y)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_sample_has_the_data_shape_range_and_is_reproducible(name, sampler):
    model, _, _ = _build(name)
    shape = MODELS[name][1]
    kw = dict(sampler=sampler, steps=4, guidance_scale=1.5 if MODELS[name][2] else 0.0)
    a = model.sample(3, generator=torch.Generator().manual_seed(2), **kw)
    b = model.sample(3, generator=torch.Generator().manual_seed(2), **kw)
    c = model.sample(3, generator=torch.Generator().manual_seed(3), **kw)
    assert a.shape == (3, *shape) and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.equal(a, c)
    if len(shape) == 3:
        assert a.min() >= 0 and a.max() <= 1
    assert model.training  # sample restores the mode it found


# small versions for the overfit test (8×8 images keep it fast on two cores)
OVERFIT = {
    "ddpm_unet": (
        lambda: DDPM(
            **TINY_UNET,
            data_shape=(1, 8, 8),
            channel_mults=(1, 2),
            attn_resolutions=(4,),
            num_train_timesteps=100,
        ),
        (1, 8, 8),
        0,
    ),
    "ddpm_mlp_hybrid_cond": (
        lambda: DDPM(
            data_shape=(2,), loss_type="hybrid", num_classes=3, hidden_dim=32, num_train_timesteps=100
        ),
        (2,),
        3,
    ),
    "vdm_mlp": MODELS["vdm_mlp"],
    "vdm_unet": (
        lambda: VDM(
            **TINY_UNET, data_shape=(1, 8, 8), channel_mults=(1, 2), attn_resolutions=(4,), schedule_hidden=32
        ),
        (1, 8, 8),
        0,
    ),
}


@pytest.mark.parametrize("name", OVERFIT)
def test_overfits_one_batch_with_fixed_noise(name):
    factory, shape, k = OVERFIT[name]
    torch.manual_seed(0)
    model = factory()
    x, y = _batch(shape, k, n=8)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        out = model(x, y, generator=torch.Generator().manual_seed(0))  # same t and ε every step
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    first, last = losses[0], losses[-1]
    if isinstance(model, DDPM):
        assert last < 0.3 * first, losses[::5]
    else:  # bits/dim can be negative for continuous data: ask for a large absolute drop
        assert last < first - 1.0, losses[::5]


def test_wrong_input_shape_says_what_to_do():
    model, _, _ = _build("ddpm_unet")
    with pytest.raises(ShapeError, match=r"\(B, 1, 28, 28\).*images in \[0, 1\]"):
        model(torch.rand(2, 784))
    vdm, _, _ = _build("vdm_mlp")
    with pytest.raises(ShapeError, match="vectors"):
        vdm(torch.rand(2, 3))


def test_configs_round_trip_and_reject_bad_options():
    for cfg in (
        DDPMConfig(data_shape=(2,), loss_type="hybrid"),
        VDMConfig(channel_mults=(1, 2), num_classes=10),
    ):
        assert type(cfg).from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="network='mlp'"):
        DDPMConfig(data_shape=(2,), network="unet")
    with pytest.raises(ConfigError, match="loss_type"):
        DDPMConfig(loss_type="l1")
    with pytest.raises(ConfigError, match="gamma_min < gamma_max"):
        VDMConfig(gamma_min=2.0, gamma_max=1.0)
    with pytest.raises(ConfigError, match="sampler"):
        DDPM(data_shape=(2,)).sample(2, sampler="euler")


def test_conditional_sampling_accepts_int_tensor_or_cycles_labels():
    model, _, _ = _build("ddpm_mlp_vlb_cond")
    g = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    by_int = model.sample(3, generator=g(), steps=3, y=2)
    by_tensor = model.sample(3, generator=g(), steps=3, y=torch.tensor([2, 2, 2]))
    assert torch.equal(by_int, by_tensor)
    cycled = model.sample(3, generator=g(), steps=3)
    assert torch.equal(cycled, model.sample(3, generator=g(), steps=3, y=torch.tensor([0, 1, 2])))
    with pytest.raises(ConfigError, match=r"labels in \[-1, 2\]"):
        model.sample(3, y=torch.tensor([0, 1, 5]))


@pytest.mark.parametrize("name", ["ddpm_mlp_v_cosine", "vdm_mlp"])
def test_elbo_is_minus_the_bound_in_nats(name):
    model, x, y = _build(name)
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    kw = {"terms": 10} if isinstance(model, DDPM) else {"terms": 2}
    bpd = model.nll_bpd(x, y, generator=g(), **kw).total
    torch.testing.assert_close(model.elbo(x, y, generator=g(), **kw), -bpd * 2 * math.log(2))


@pytest.mark.parametrize("name", ["ddpm_unet_cond_hybrid", "ddpm_mlp_v_cosine", "vdm_mlp", "vdm_unet_cond"])
@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_samples_follow_the_dtype_of_the_parameters(name, sampler):
    model, _, _ = _build(name)
    kw = dict(sampler=sampler, steps=3, eta=1.0 if sampler == "ddim" else None)
    single = model.sample(2, generator=torch.Generator().manual_seed(6), **kw)
    double = model.double().sample(2, generator=torch.Generator().manual_seed(6), **kw)
    assert single.dtype == torch.float32 and double.dtype == torch.float64 and double.shape == single.shape
    assert torch.isfinite(double).all()


def test_a_float64_vdm_evaluates_its_bound_in_float64():
    model, x, y = _build("vdm_mlp")
    model.double()
    assert model.nll_bpd(x.double(), generator=torch.Generator().manual_seed(0)).total.dtype == torch.float64


def test_preview_samples_work_with_fewer_than_50_training_timesteps():
    model = DDPM(data_shape=(2,), hidden_dim=16, num_train_timesteps=10)
    x = model.sample(4, generator=torch.Generator().manual_seed(0), **model.preview_sample_kwargs)
    assert x.shape == (4, 2) and torch.isfinite(x).all()


def test_sample_takes_a_sampler_object_as_well_as_its_name():
    from genlab.models.diffusion import DDIMSampler

    model, _, _ = _build("ddpm_mlp_v_cosine")
    by_name = model.sample(3, generator=torch.Generator().manual_seed(1), sampler="ddim", steps=4, eta=0.3)
    by_object = model.sample(3, generator=torch.Generator().manual_seed(1), sampler=DDIMSampler(steps=4, eta=0.3))
    assert torch.equal(by_name, by_object)


def test_vdm_bound_with_k_terms_averages_k_draws_of_t_and_noise():
    model, x, y = _build("vdm_mlp")
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        model.eval()
        draws = [model.bound(x, generator=g).total for _ in range(3)]
    three = model.nll_bpd(x, generator=torch.Generator().manual_seed(3), terms=3).total
    torch.testing.assert_close(three, torch.stack(draws).mean(0))
    one = model.nll_bpd(x, generator=torch.Generator().manual_seed(3)).total  # terms=None: bound_terms_default
    assert VDM.bound_terms_default == 1 and torch.equal(one, draws[0])
    with pytest.raises(ConfigError, match="terms must be a positive"):
        model.nll_bpd(x, terms=0)


def test_ddpm_bound_defaults_to_its_declared_number_of_terms():
    model = DDPM(data_shape=(2,), hidden_dim=16, num_train_timesteps=200).eval()
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    g = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    assert DDPM.bound_terms_default == 50
    torch.testing.assert_close(model.nll_bpd(x, generator=g()).total, model.nll_bpd(x, generator=g(), terms=50).total)


def test_vector_samples_never_leave_the_training_datas_range_whatever_the_sampler():
    """x̂_0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t magnifies ε̂'s error ~156× at t = T: unclipped, deterministic DDIM sent ~0.5 %
    of a 1-minute ring8 model's samples to |x| ≈ 100 (issue 28). x̂_0 is now clipped to the data's range."""
    from genlab.data import load

    data = load("ring8", split="train")
    data = data.subset(torch.arange(2000))
    model = DDPM.for_data(data, {"hidden_dim": 16}).eval()  # untrained: ε̂ is noise, the worst case
    r = float(data.x.abs().max())
    assert model.config.data_range == pytest.approx(r)
    for kw in ({"sampler": "ddim", "steps": 20, "eta": 0.0}, {"sampler": "ddim", "steps": 20, "eta": 1.0},
               {"sampler": "ddpm"}):
        s = model.sample(500, generator=torch.Generator().manual_seed(0), **kw)
        assert s.abs().max() <= r + 1e-5, kw
    loose = DDPM(model.config.replace(clip_sample=False)).eval()
    loose.load_state_dict(model.state_dict())
    far = loose.sample(500, generator=torch.Generator().manual_seed(0), sampler="ddim", steps=20, eta=0.0)
    assert far.abs().max() > 2 * r  # the same network unclipped: the bug this guards against
    old = DDPM(model.config.replace(data_range=None))  # a model saved before data_range: vectors not clipped
    assert not old.schedule_config.clip_sample
