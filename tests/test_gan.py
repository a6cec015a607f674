"""GANs (G1–G3, G5, G9): the losses from logits, the constraints, the model template, and the adversarial
system's iteration (k discriminator steps, then one generator step) through the spine, resumed exactly."""

import subprocess
import sys
import textwrap

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from model_template import check_save_load_identical
from safetensors.torch import load_file

from genlab.errors import ConfigError
from genlab.models.gan import DCGAN, GAN, WGAN, WGANGP, losses
from genlab.training import TrainConfig, train
from genlab.training.checkpoint import read_checkpoint


def test_discriminator_loss_is_half_the_binary_cross_entropy_and_minus_half_the_value_function():
    real, fake = torch.randn(64), torch.randn(64)
    bce = 0.5 * (F.binary_cross_entropy(torch.sigmoid(real), torch.ones(64))
                 + F.binary_cross_entropy(torch.sigmoid(fake), torch.zeros(64)))
    torch.testing.assert_close(losses.discriminator_loss(real, fake), bce)
    v = torch.log(torch.sigmoid(real)).mean() + torch.log(1 - torch.sigmoid(fake)).mean()  # G1
    torch.testing.assert_close(losses.value_function(real, fake), v)
    torch.testing.assert_close(losses.discriminator_loss(real, fake), -0.5 * v)


def test_minimax_generator_loss_is_minus_the_discriminators_and_saturates_where_nonsaturating_does_not():
    real, fake = torch.randn(16), torch.randn(16)
    # J_G = −J_D up to the term G cannot change (G2)
    torch.testing.assert_close(losses.generator_loss_minimax(fake),
                               -losses.discriminator_loss(real, fake) + 0.5 * F.softplus(-real).mean())
    rejected = torch.full((8,), -8.0, requires_grad=True)  # D(G(z)) ≈ 3e-4: the discriminator wins
    (g_mm,) = torch.autograd.grad(losses.generator_loss_minimax(rejected), rejected)
    (g_ns,) = torch.autograd.grad(losses.generator_loss_nonsaturating(rejected), rejected)
    assert g_ns.abs().mean() > 1000 * g_mm.abs().mean()


def test_the_gradient_penalty_is_zero_for_a_unit_norm_linear_critic_and_grows_with_its_norm():
    w = torch.randn(5)
    for scale, expected in ((1.0, 0.0), (2.0, 1.0), (3.0, 4.0)):
        critic = lambda x, s=scale: x @ (s * w / w.norm())  # noqa: E731 — ‖∇D‖ = s everywhere
        torch.testing.assert_close(losses.gradient_penalty(critic, torch.randn(8, 5), torch.randn(8, 5)),
                                   torch.tensor(expected))


def test_r1_is_the_squared_input_gradient_norm_on_real_data_and_enters_the_loss_as_gamma_over_four():
    w = torch.randn(5)
    x = torch.randn(8, 5, requires_grad=True)
    torch.testing.assert_close(losses.r1_penalty(x @ (3 * w / w.norm()), x), torch.tensor(9.0))  # ‖∇D‖ = 3
    x2 = torch.randn(8, 5, requires_grad=True)
    torch.testing.assert_close(losses.r1_penalty((x2 ** 2).sum(1), x2), (2 * x2).pow(2).sum(1).mean())
    torch.manual_seed(0)
    plain = GAN(data_shape=(2,), latent_dim=2, discriminator={"hidden": [8]})
    r1 = GAN(data_shape=(2,), latent_dim=2, discriminator={"hidden": [8]}, r1_weight=2.0)
    r1.load_state_dict(plain.state_dict())
    x = torch.randn(16, 2)
    torch.manual_seed(1)
    a = plain.discriminator_loss(x)
    torch.manual_seed(1)
    b = r1.discriminator_loss(x)
    assert a.penalty is None and b.penalty > 0
    torch.testing.assert_close(b.loss, a.loss + 2.0 / 4 * b.penalty)  # γ/2 on the paper's loss = 2 J_D
    b.loss.backward()  # the penalty's own gradient reaches D (create_graph)
    assert all(p.grad is not None for p in r1.discriminator.parameters())
    with pytest.raises(ConfigError, match="r1_weight"):
        GAN(data_shape=(2,), r1_weight=-1.0)


def test_weight_clipping_puts_every_critic_weight_in_minus_c_c():
    m = WGAN(data_shape=(2,), latent_dim=2, discriminator={"hidden": [8]})
    m.after_discriminator_step()
    assert all(p.abs().max() <= 0.01 for p in m.discriminator.parameters())
    assert any(p.abs().max() > 0.01 for p in m.generator.parameters())  # the generator is not clipped


@pytest.mark.parametrize("cls, shape", [(GAN, (2,)), (DCGAN, (1, 8, 8)), (WGANGP, (1, 8, 8))])
def test_template_save_load_identical_and_each_players_loss_trains_only_its_network(cls, shape, tmp_path):
    m = cls(data_shape=shape, latent_dim=4, generator={"channels": 4, "hidden": [8]},
            discriminator={"channels": 4, "hidden": [8]})
    x = torch.rand(6, *shape)
    draw = lambda mod, b: mod.sample(4, generator=torch.Generator().manual_seed(0))  # noqa: E731
    check_save_load_identical(m, x, tmp_path, call=draw)
    m.train()
    d = m.discriminator_loss(x)
    d.loss.backward()
    assert all(p.grad is None for p in m.generator.parameters())  # fakes are detached for D's step
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.discriminator.parameters())
    m.zero_grad(set_to_none=True)
    m.generator_loss(x).loss.backward()
    assert all(p.grad is not None for p in m.generator.parameters())


@pytest.mark.parametrize("options, message", [
    ({"n_critic": 0}, "n_critic must be ≥ 1"),
    ({"loss": "wasserstein"}, "needs constraint"),
    ({"loss": "wasserstein", "constraint": "gp", "discriminator": {"norm": "batch"}}, "per example"),
    ({"data_shape": (1, 6, 6)}, "divisible by 4"),
    ({"discriminator": {"lr_scale": 0}}, "lr_scale must be > 0"),
    ({"generator": {"activation": "gelu"}}, "activation"),
])
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        GAN(**options)


def _cfg(out, **kw):
    base = dict(model="gan", data="ring8", epochs=50, out=str(out), quiet=True, num_samples=16,
                model_options={"latent_dim": 2, "n_critic": 2, "generator": {"hidden": [16]},
                               "discriminator": {"hidden": [16]}})
    base.update(kw)
    return TrainConfig(**base)


def test_an_iteration_takes_n_critic_discriminator_steps_then_one_generator_step(tmp_path):
    r = train(_cfg(tmp_path / "run", max_steps=6))
    ck = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert r.steps == 6 and ck["global_step"] == 6 * 3
    adam_d, adam_g = (s["state"] for s in ck["optimizer_states"])
    assert {int(v["step"]) for v in adam_d.values()} == {12} and {int(v["step"]) for v in adam_g.values()} == {6}
    assert (tmp_path / "run" / "samples" / "epoch_000.png").is_file() or any((tmp_path / "run" / "samples").iterdir())
    assert {"val/d_loss", "val/g_loss", "val/d_real", "val/d_fake"} <= set(r.metrics)


def test_the_hidden_activation_is_each_networks_own_by_default_and_the_chosen_one_when_set():
    def kinds(net):
        return {type(m) for m in net.modules()} & {torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.Tanh}

    for cls, shape, output in ((GAN, (2,), set()), (DCGAN, (1, 28, 28), {torch.nn.Tanh})):  # DCGAN's tanh output
        plain = cls(data_shape=shape)
        assert kinds(plain.generator) == {torch.nn.ReLU} | output
        assert kinds(plain.discriminator) == {torch.nn.LeakyReLU}
        tanh = cls(data_shape=shape, generator={"activation": "tanh"}, discriminator={"activation": "tanh"})
        assert kinds(tanh.discriminator) == {torch.nn.Tanh}
        assert kinds(tanh.generator) == {torch.nn.Tanh}


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_each_players_learning_rate_is_the_runs_times_its_lr_scale(tmp_path, schedule):
    """Two time-scale updates (Metz et al.'s toy recipe: D at a tenth of G's rate); a schedule decays both."""
    options = {**_cfg(tmp_path).model_options, "discriminator": {"hidden": [16], "lr_scale": 0.1}}
    train(_cfg(tmp_path / "run", max_steps=4, lr=1e-3, lr_schedule=schedule, model_options=options))
    ck = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    (d,), (g,) = (s["param_groups"] for s in ck["optimizer_states"])
    if schedule == "constant":
        assert d["lr"] == pytest.approx(1e-4) and g["lr"] == pytest.approx(1e-3)
    else:  # decayed to 0 at the last iteration, from the scaled starts
        assert d["initial_lr"] == pytest.approx(1e-4) and g["initial_lr"] == pytest.approx(1e-3)


def test_wgan_gp_on_points_defaults_to_a_tenth_of_a_penalty_and_keeps_ten_on_images():
    from genlab.data import load

    ring = load("ring8", split="val")
    assert WGANGP.config_for_data(ring, {}).gp_weight == 0.1
    assert WGANGP.config_for_data(ring, {"gp_weight": 3.0}).gp_weight == 3.0  # what the user sets wins
    digits = load("mnist", split="val")
    assert WGANGP.config_for_data(digits, {}).gp_weight == 10.0


KILL = textwrap.dedent("""
    import os, lightning as L
    from genlab.training import TrainConfig, train

    class KillAt(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, *a):
            if pl_module.iteration == 6:
                os._exit(9)

    train(TrainConfig(**{cfg}), callbacks=[KillAt()])
""")


@pytest.mark.parametrize("model", ["gan", "wgan-gp"])
def test_a_gan_run_killed_mid_epoch_resumes_to_identical_weights_of_both_networks(tmp_path, model):
    extra = {"ema_decay": 0.9} if model == "gan" else {}
    ref = train(_cfg(tmp_path / "ref", model=model, max_steps=10, **extra))
    cfg = _cfg(tmp_path / "killed", model=model, max_steps=10, checkpoint_every=3, **extra)
    p = subprocess.run([sys.executable, "-c", KILL.format(cfg=repr(cfg.to_dict()))], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 9, p.stderr[-2000:]
    resumed = train(cfg, resume=True)
    a, b = (load_file(str(r.run_dir / "model" / "model.safetensors")) for r in (ref, resumed))
    assert any(k.startswith("generator.") for k in a) and any(k.startswith("discriminator.") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_a_conditional_gans_label_changes_both_networks_outputs_and_bad_labels_are_refused():
    from genlab.models.gan import CGAN

    m = CGAN(data_shape=(1, 8, 8), latent_dim=4, num_classes=3, generator={"channels": 4},
             discriminator={"channels": 4}).eval()
    z = torch.randn(2, 4)
    assert not torch.equal(m.generator(z, torch.tensor([0, 0])), m.generator(z, torch.tensor([1, 1])))
    x = torch.rand(2, 1, 8, 8)
    torch.nn.init.normal_(m.discriminator.head.embed.weight)
    assert not torch.equal(m.discriminator(x, torch.tensor([0, 0])), m.discriminator(x, torch.tensor([2, 2])))
    g = torch.Generator().manual_seed(0)
    a = m.sample(4, generator=g, y=1)
    assert torch.equal(a, m.sample(4, generator=torch.Generator().manual_seed(0), y=torch.tensor([1, 1, 1, 1])))
    with pytest.raises(ConfigError, match=r"labels must be integers in 0\.\.2"):
        m.sample(2, y=3)
    with pytest.raises(ConfigError, match="unconditional"):
        GAN(data_shape=(2,), latent_dim=2).sample(2, y=1)


def test_cgan_trains_on_digits_and_samples_the_asked_class_from_the_cli(tmp_path):
    from typer.testing import CliRunner

    from genlab.cli.main import app

    r = train(TrainConfig(model="cgan", data="digits", max_steps=4, out=str(tmp_path / "run"), quiet=True,
                          num_samples=10, model_options={"latent_dim": 8, "generator": {"channels": 4},
                                                         "discriminator": {"channels": 4}}))
    assert r.model.config.num_classes == 10 and r.steps == 4
    out = CliRunner().invoke(app, ["sample", str(r.run_dir), "--n", "4", "--y", "3", "--out", str(tmp_path / "s.png")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "s.png").is_file()


def _normal_pdf(x, mu, sigma):
    return torch.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * (2 * torch.pi) ** 0.5)


def test_value_at_the_optimal_discriminator_is_minus_log_4_plus_twice_the_jsd_and_minus_log_4_when_equal():
    from genlab.models.gan import theory

    x = torch.linspace(-12, 14, 200_001, dtype=torch.float64)
    dx = float(x[1] - x[0])
    p_data, p_g = _normal_pdf(x, 0.0, 1.0), _normal_pdf(x, 1.5, 1.5)
    d_star = theory.optimal_discriminator(p_data, p_g)
    c = theory.value_of(d_star, p_data, p_g, dx)
    torch.testing.assert_close(c, -theory.LOG_4 + 2 * theory.jensen_shannon(p_data, p_g, dx), atol=1e-8, rtol=0)
    assert c > -theory.LOG_4 + 0.05  # the generator is not yet right: strictly above the minimum
    for other in (0.9 * d_star + 0.05, torch.full_like(d_star, 0.5)):  # D* is the maximizer
        assert theory.value_of(other, p_data, p_g, dx) < c
    same = theory.optimal_discriminator(p_data, p_data)
    assert torch.allclose(same, torch.full_like(same, 0.5))
    minimum = torch.tensor(-theory.LOG_4, dtype=torch.float64)
    torch.testing.assert_close(theory.value_of(same, p_data, p_data, dx), minimum)


def test_a_discriminator_trained_to_convergence_on_1d_gaussians_is_the_optimal_one():
    """Fixed p_data = N(0, 1) and p_g = N(1.5, 1.5²); the D* logit is a quadratic in x, so a small MLP fits it.
    Tolerance 0.05 on [−2, 3] (where both densities have mass): the fit uses 1,500 Adam steps on batches of
    512 fresh samples per side, so its sampling noise is ~1/√(1.5·10⁶) of the BCE — far below 0.05."""
    from genlab.models.gan import theory
    from genlab.models.gan.networks import MLPDiscriminator

    torch.manual_seed(0)
    d = MLPDiscriminator(1, (32, 32))
    opt = torch.optim.Adam(d.parameters(), lr=3e-3)
    for _ in range(1500):
        real, fake = torch.randn(512, 1), 1.5 + 1.5 * torch.randn(512, 1)
        loss = losses.discriminator_loss(d(real), d(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()
    grid = torch.linspace(-2, 3, 101)
    with torch.no_grad():
        learned = torch.sigmoid(d(grid[:, None]))
    exact = theory.optimal_discriminator(_normal_pdf(grid, 0.0, 1.0), _normal_pdf(grid, 1.5, 1.5))
    assert (learned - exact).abs().max() < 0.05


class _Weights(L.Callback):
    def __init__(self, out):
        self.out = str(out)

    def on_train_end(self, trainer, pl_module):
        torch.save(pl_module.model.state_dict(), f"{self.out}/rank{trainer.global_rank}.pt")


def test_a_gan_in_two_ddp_processes_holds_identical_weights_on_both(tmp_path):
    train(_cfg(tmp_path / "run", max_steps=4, devices=2, strategy="ddp_spawn"), callbacks=[_Weights(tmp_path)])
    r0, r1 = (torch.load(tmp_path / f"rank{i}.pt", weights_only=True) for i in (0, 1))
    assert any(k.startswith("generator.") for k in r0)
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k


def _unrolled(**kw):
    from genlab.models.gan import UnrolledGAN

    torch.manual_seed(0)
    return UnrolledGAN(data_shape=(2,), latent_dim=2, generator={"hidden": [8]}, discriminator={"hidden": [8]}, **kw)


def _generator_grad(m, x, seed=1):
    torch.manual_seed(seed)
    m.zero_grad(set_to_none=True)
    m.generator_loss(x).loss.backward()
    return torch.cat([p.grad.flatten() for p in m.generator.parameters()])


def test_unrolling_zero_steps_is_the_plain_gan_and_k_steps_change_the_generators_gradient_not_d():
    x = torch.randn(32, 2)
    plain = GAN(data_shape=(2,), latent_dim=2, generator={"hidden": [8]}, discriminator={"hidden": [8]})
    m0 = _unrolled(unroll_steps=0)
    m0.load_state_dict(plain.state_dict())
    torch.testing.assert_close(_generator_grad(m0, x), _generator_grad(plain, x))
    m5 = _unrolled(unroll_steps=5, unroll_lr=0.5)
    m5.load_state_dict(plain.state_dict())
    d_before = {k: v.clone() for k, v in m5.discriminator.state_dict().items()}
    g5 = _generator_grad(m5, x)
    assert not torch.allclose(g5, _generator_grad(plain, x), atol=1e-6)
    assert all(torch.equal(v, d_before[k]) for k, v in m5.discriminator.state_dict().items())  # functional


def test_unrolled_parameters_are_k_gradient_steps_of_the_discriminator_loss():
    m = _unrolled(unroll_steps=1, unroll_lr=0.1)
    x = torch.randn(16, 2)
    torch.manual_seed(3)
    theta = m.unrolled_parameters(x, None)
    torch.manual_seed(3)
    fake = m.generator(m.sample_latent(16)).detach()
    scores = m.discriminator(torch.cat([x, fake]))
    loss = losses.discriminator_loss(scores[:16], scores[16:])
    grads = torch.autograd.grad(loss, list(m.discriminator.parameters()))
    for (name, p), g in zip(m.discriminator.named_parameters(), grads, strict=True):
        torch.testing.assert_close(theta[name], p - 0.1 * g)


def test_second_order_unrolling_differs_from_first_order_and_negative_steps_are_refused():
    x = torch.randn(32, 2)
    first = _unrolled(unroll_steps=3, unroll_lr=0.5)
    second = _unrolled(unroll_steps=3, unroll_lr=0.5, second_order=True)
    second.load_state_dict(first.state_dict())
    assert not torch.allclose(_generator_grad(first, x), _generator_grad(second, x), atol=1e-7)
    with pytest.raises(ConfigError, match="unroll_steps must be ≥ 0"):
        _unrolled(unroll_steps=-1)


def _d_step(m, opt, x, seed):
    """One real discriminator step (fresh fakes from ``seed``), then the model's after-step hook."""
    torch.manual_seed(seed)
    opt.zero_grad(set_to_none=True)
    m.discriminator_loss(x).loss.backward()
    opt.step()
    m.after_discriminator_step()


def test_the_adam_lookahead_continues_ds_own_adam_moments_and_takes_its_next_step():
    import copy

    from genlab.training.optim import adam

    m = _unrolled(unroll_steps=1, unroll_lr=1e-3, unroll_optimizer="adam", betas=(0.5, 0.99))
    opt = adam(m.discriminator.parameters(), lr=1e-3, betas=(0.5, 0.99))
    x = torch.randn(32, 2)
    for seed in range(4):
        _d_step(m, opt, x, seed)
    assert int(m.d_moments.t) == 4
    for i, p in enumerate(m.discriminator.parameters()):  # the mirror equals the optimizer's state
        torch.testing.assert_close(getattr(m.d_moments, f"m_{i}"), opt.state[p]["exp_avg"])
        torch.testing.assert_close(getattr(m.d_moments, f"v_{i}"), opt.state[p]["exp_avg_sq"])
    torch.manual_seed(9)
    theta = m.unrolled_parameters(x, None)  # one lookahead step on fresh fakes from seed 9 ...
    ahead, ahead_opt = copy.deepcopy(m), None
    ahead_opt = adam(ahead.discriminator.parameters(), lr=1e-3, betas=(0.5, 0.99))
    ahead_opt.load_state_dict(opt.state_dict())
    torch.manual_seed(9)  # ... is D's next real Adam step on the same fakes
    ahead_opt.zero_grad(set_to_none=True)
    fake = ahead.generator(ahead.sample_latent(32)).detach()
    scores = ahead.discriminator(torch.cat([x, fake]))
    losses.discriminator_loss(scores[:32], scores[32:]).backward()
    ahead_opt.step()
    for name, p in ahead.discriminator.named_parameters():
        torch.testing.assert_close(theta[name], p, atol=1e-6, rtol=1e-5)
    sgd = _unrolled(unroll_steps=1, unroll_lr=1e-3)  # plain steps move D by η·g, not by Adam's normalized step
    sgd.load_state_dict({k: v for k, v in m.state_dict().items() if not k.startswith("d_moments")})
    torch.manual_seed(9)
    plain = sgd.unrolled_parameters(x, None)
    assert not all(torch.allclose(plain[n], theta[n], atol=1e-6) for n in theta)


def test_the_adam_lookahead_moments_are_checkpointed_and_rmsprop_is_refused():
    m = _unrolled(unroll_optimizer="adam")
    assert any(k.startswith("d_moments.") for k in m.state_dict())
    assert not any(k.startswith("d_moments.") for k in _unrolled().state_dict())
    x = torch.randn(16, 2)
    g = _generator_grad(m, x)  # fresh moments (t = 0) still give a finite lookahead
    assert torch.isfinite(g).all()
    with pytest.raises(ConfigError, match="unroll_optimizer='adam'"):
        _unrolled(unroll_optimizer="adam", optimizer="rmsprop")


def _pix2pix(**kw):
    from genlab.models.gan import Pix2Pix

    torch.manual_seed(0)
    return Pix2Pix(data_shape=(1, 8, 8), channels=4, disc_channels=4, **kw)


def test_pix2pix_generator_loss_is_cgan_plus_lambda_l1_and_the_ablation_keeps_one_term():
    x = torch.rand(4, 1, 8, 8)
    source = x.clone()
    source[:, :, 4:] = 0
    full = _pix2pix(l1_weight=100.0)
    torch.manual_seed(1)
    out = full.generator_loss(x, source)
    # λ on the L1 distance in [−1, 1] (Isola et al.'s units), twice the l1 reported in [0, 1]
    torch.testing.assert_close(out.loss, out.adversarial + 100.0 * 2 * out.l1)
    torch.manual_seed(1)
    with torch.no_grad():
        fake = full.generator(source * 2 - 1)  # the same dropout noise as the loss's call
    torch.testing.assert_close(out.l1, ((fake + 1) / 2 - x).abs().mean())
    for mode, expected in (("l1", lambda o: 100.0 * 2 * o.l1), ("cgan", lambda o: o.adversarial)):
        m = _pix2pix(l1_weight=100.0, loss=mode)
        m.load_state_dict(full.state_dict())
        torch.manual_seed(1)
        o = m.generator_loss(x, source)
        torch.testing.assert_close(o.loss, expected(o))
    fake = full.translate(source, generator=torch.Generator().manual_seed(0))
    assert fake.shape == x.shape and 0 <= fake.min() and fake.max() <= 1


def test_pix2pix_patch_discriminator_judges_the_pair_and_its_step_trains_only_d(tmp_path):
    m = _pix2pix()
    x, source = torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8)
    assert m.discriminator(source * 2 - 1, x * 2 - 1).shape == (4, 1, 2, 2)  # one logit per patch
    m.discriminator_loss(x, source).loss.backward()
    assert all(p.grad is None for p in m.generator.parameters())
    check_save_load_identical(m, x, tmp_path, call=lambda mod, b: mod.discriminator_loss(b, source).loss)


def test_pix2pix_noise_is_dropout_at_test_time_seeded_by_the_generator():
    m = _pix2pix(dropout=0.5).eval()
    torch.nn.init.normal_(m.generator.dec2.conv2.weight)  # (zero-initialized: make the noise visible)
    s = torch.rand(2, 1, 8, 8)
    a = m.translate(s, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, m.translate(s, generator=torch.Generator().manual_seed(0)))
    assert not torch.equal(a, m.translate(s, generator=torch.Generator().manual_seed(1)))
    assert not m.generator.dec2.dropout.training  # the noise was switched on for the call only


def test_pix2pix_refuses_mismatched_pairs_and_data_without_sources(tmp_path):
    from genlab.errors import ConfigError, ShapeError

    with pytest.raises(ShapeError, match="same shape"):
        _pix2pix().generator_loss(torch.rand(2, 1, 8, 8), torch.rand(3, 1, 8, 8))
    with pytest.raises(ConfigError, match="pix2pix takes pairs data.*--data mnist-masked, digits-masked"):
        train(TrainConfig(model="pix2pix", data="digits", max_steps=2, out=str(tmp_path / "r"), quiet=True))
    assert not (tmp_path / "r").exists()


def test_pix2pix_trains_on_masked_digits_and_writes_source_output_target_grids(tmp_path):
    r = train(TrainConfig(model="pix2pix", data="digits-masked", max_steps=6, out=str(tmp_path / "run"), quiet=True,
                          num_samples=8, model_options={"channels": 4, "disc_channels": 4}))
    assert r.steps == 6 and {"val/g_l1", "val/d_loss"} <= set(r.metrics)
    assert any((tmp_path / "run" / "samples").glob("epoch_*.png"))


def test_pix2pix_samples_test_translations_and_evaluates_them_from_the_cli(tmp_path):
    import json

    from PIL import Image
    from typer.testing import CliRunner

    from genlab.cli.main import app

    r = train(TrainConfig(model="pix2pix", data="digits-masked", max_steps=4, out=str(tmp_path / "run"), quiet=True,
                          num_samples=0, model_options={"channels": 4, "disc_channels": 4}))
    runner = CliRunner()
    out = runner.invoke(app, ["sample", str(r.run_dir), "--n", "4", "--out", str(tmp_path / "t.png")])
    assert out.exit_code == 0, out.output
    assert "(source, output, truth)" in out.output
    w, h = Image.open(tmp_path / "t.png").size
    assert h > w  # one example a row: 4 rows of (source | output | truth) 8×8 images, under a title and headers
    refused = runner.invoke(app, ["sample", str(r.run_dir), "--y", "3"])
    assert refused.exit_code == 2 and "do not apply" in refused.output
    out = runner.invoke(app, ["eval", str(r.run_dir), "--limit", "50"])
    assert out.exit_code == 0, out.output
    figures = json.loads((r.run_dir / "eval.json").read_text())
    assert 0 < figures["l1"] < 1 and figures["translation_n"] == 50 and "fid" not in figures  # 8×8: no LeNet


def test_the_translation_metric_of_the_identity_is_the_sources_distance_and_lenet_accuracy():
    from torch import nn

    from genlab.data import load
    from genlab.evaluation.metrics import evaluate
    from genlab.models.base import Translates

    class Identity(nn.Module, Translates):  # returns the masked source: no completion at all
        inputs, optional_inputs = ("x", "source"), ("y",)

        def translate(self, source, *, generator=None):
            return source

    test = load("mnist-masked", split="test")
    f = evaluate(Identity(), "mnist-masked", ["translation"], limit=300, n=300)
    s, t = test.fields["source"][:300], test.x[:300]
    assert f["l1"] == pytest.approx((s - t).abs().mean().item(), rel=1e-6) and f["l1"] > 0.01
    assert f["accuracy"] == f["source_accuracy"] < 0.99  # a half digit fools LeNet sometimes
    assert f["fid"] > 1.0  # half digits are far from whole ones in LeNet's features


def test_a_run_the_discriminator_has_won_stops_naming_the_iteration_and_keeps_its_checkpoint(tmp_path, monkeypatch):
    from genlab.errors import TrainingDiverged
    from genlab.training.systems import AdversarialSystem

    monkeypatch.setattr(AdversarialSystem, "collapse_loss", 10.0)  # every iteration "won": the guard fires
    monkeypatch.setattr(AdversarialSystem, "patience", 5)
    with pytest.raises(TrainingDiverged, match="iteration 5: the discriminator's loss has stayed below 10"):
        train(_cfg(tmp_path / "run", max_steps=20, checkpoint_every=2, steps_per_call=1))
    assert read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")["global_step"] == 4 * 3


class _PoisonGenerator(L.Callback):
    def on_train_batch_start(self, trainer, pl_module, *a):
        if pl_module.iteration == 3:
            with torch.no_grad():
                next(pl_module.model.generator.parameters()).fill_(float("nan"))


def test_the_nan_guard_names_the_player_and_the_term(tmp_path):
    from genlab.errors import NonFiniteError

    with pytest.raises(NonFiniteError, match=r"iteration 3: loss term 'd_(loss|real|fake)' is nan"):
        train(_cfg(tmp_path / "run", max_steps=20, steps_per_call=1), callbacks=[_PoisonGenerator()])


def test_a_gan_trains_in_bf16_mixed_precision_with_finite_losses(tmp_path):
    r = train(_cfg(tmp_path / "run", max_steps=4, precision="bf16-mixed"))
    assert all(torch.isfinite(torch.tensor(v)) for v in r.metrics.values())


def test_batch_norm_normalizes_real_and_fake_batches_apart_as_the_generators_step_sees_d():
    torch.manual_seed(0)
    m = DCGAN(data_shape=(1, 8, 8), latent_dim=4, generator={"channels": 4}, discriminator={"channels": 4}).train()
    x = torch.rand(16, 1, 8, 8)
    out = m.discriminator_loss(x)
    alone = torch.sigmoid(m.discriminator(x * 2 - 1)).mean()  # the real batch by its own statistics
    assert torch.allclose(out.d_real, alone, atol=1e-6)  # one pass over [real, fake] would normalize them together
