"""The diffusion models through the command line: train → run folder → sample (DDPM/DDIM) → eval."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.models.diffusion import MLPDenoiser, UNet

runner = CliRunner()

# tiny networks, short chains: each run trains in seconds
TINY_MLP = ["--set", "model.hidden_dim=32", "--set", "model.num_layers=1", "--set", "model.num_train_timesteps=100"]
TINY_UNET = ["--set", "model.channels=8", "--set", "model.channel_mults=[1,2]", "--set", "model.attn_resolutions=[]",
             "--set", "model.norm_groups=4"]
FAST_RUN = ["--batch-size", "32", "--quiet", "--set", "val_size=64", "--set", "num_samples=4"]


def _run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _ok(res) -> str:
    assert res.exit_code == 0, res.output
    return res.output


def _clean_error(res, pattern: str) -> None:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert re.search(pattern, res.output), res.output


def _assert_run_folder(run) -> None:
    for f in ("config.yaml", "metrics.csv", "report.md", "checkpoints/last.ckpt", "model/config.json",
              "model/model.safetensors"):
        assert (run / f).is_file(), f
    pngs = sorted((run / "samples").glob("*.png"))
    assert pngs and pngs[-1].read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddpm") / "ring"
    _ok(_run("train", "ddpm", "--data", "ring8", "--max-steps", "20", "--out", str(out), *FAST_RUN, *TINY_MLP))
    return out


@pytest.fixture
def count_calls(monkeypatch):
    """Counts the forward passes of the denoising networks (MLP and U-Net)."""
    calls = {"n": 0}
    for cls in (MLPDenoiser, UNet):
        original = cls.forward

        def counted(self, *args, _original=original, **kwargs):
            calls["n"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "forward", counted)
    return calls


def test_train_ddpm_on_ring8_writes_a_run_folder_with_scatter_plots(ring_run):
    _assert_run_folder(ring_run)
    config = json.loads((ring_run / "model" / "config.json").read_text())["config"]
    assert config["data_shape"] == [2] and config["num_train_timesteps"] == 100
    # ring8's labels name the mode: the default model is unconditional, or coverage would be trivial
    assert config["num_classes"] == 0


@pytest.mark.parametrize("model", ["ddpm", "vdm"])
def test_train_on_mnist_writes_a_run_folder_with_image_grids(model, tmp_path):
    out = tmp_path / model
    extra = ["--set", "model.sample_steps=10"] if model == "vdm" else ["--set", "model.num_train_timesteps=100"]
    text = _ok(_run("train", model, "--data", "mnist", "--max-steps", "2", "--out", str(out), *FAST_RUN,
                    *TINY_UNET, *extra))
    assert "val/loss" in text
    _assert_run_folder(out)
    png = tmp_path / "s.png"
    text = _ok(_run("sample", str(out), "--n", "4", "--sampler", "ddim", "--steps", "3", "--out", str(png)))
    assert "4 samples" in text and png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("args", "calls"), [
    (["--sampler", "ddim", "--steps", "50"], 50),
    (["--sampler", "ddim", "--steps", "7", "--eta", "1"], 7),
    (["--sampler", "ddpm", "--steps", "20"], 20),
    (["--sampler", "ddpm"], 100),  # the full chain: T = 100 for this model
    ([], 100),  # the default sampler is ancestral DDPM
])
def test_sample_runs_the_requested_sampler_for_the_requested_steps(ring_run, count_calls, tmp_path, args, calls):
    png = tmp_path / "s.png"
    text = _ok(_run("sample", str(ring_run), "--n", "16", "--out", str(png), *args))
    assert count_calls["n"] == calls
    assert "16 samples" in text and png.read_bytes()[:4] == b"\x89PNG"


def test_sample_writes_into_the_run_folder_by_default(ring_run):
    before = set((ring_run / "samples").glob("sample-*.png"))
    _ok(_run("sample", str(ring_run), "--n", "8", "--sampler", "ddim", "--steps", "5"))
    assert len(set((ring_run / "samples").glob("sample-*.png")) - before) == 1


def test_ddim_with_eta_0_is_deterministic_given_x_T(ring_run, tmp_path):
    import torch

    from genlab.hub import load

    model = load(ring_run / "model")
    a = model.sample(8, generator=torch.Generator().manual_seed(3), sampler="ddim", steps=10)
    b = model.sample(8, generator=torch.Generator().manual_seed(3), sampler="ddim", steps=10)
    c = model.sample(8, generator=torch.Generator().manual_seed(3), sampler="ddim", steps=10, eta=1.0)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


@pytest.mark.parametrize(("args", "pattern"), [
    (["--sampler", "euler"], r"unknown sampler 'euler'.*'ddpm'.*'ddim'"),
    (["--sampler", "ddim", "--steps", "0"], r"steps must be ≥ 1"),
    (["--sampler", "ddim", "--steps", "101"], r"trained with 100 timesteps; pass steps <= 100"),
    (["--sampler", "ddim", "--eta", "-0.5"], r"eta must be ≥ 0"),
    (["--sampler", "ddpm", "--eta", "0.5"], r"eta is an option of the DDIM sampler.*--sampler ddim"),
])
def test_bad_sampler_options_are_clean_errors(ring_run, args, pattern):
    _clean_error(_run("sample", str(ring_run), "--n", "4", *args), pattern)


def test_diffusion_sampler_options_on_a_vae_say_what_to_do(tmp_path):
    out = tmp_path / "vae"
    _ok(_run("train", "vae", "--data", "digits", "--max-steps", "2", "--quiet", "--out", str(out),
             "--set", "model.hidden=[16]", "--set", "model.latent_dim=2"))
    _clean_error(_run("sample", str(out), "--sampler", "ddim", "--steps", "50"),
                 r"VAE.sample takes no sampler, steps .*drop them")


def test_eval_bpd_and_coverage_write_eval_json_with_their_conditions(ring_run, count_calls):
    text = _ok(_run("eval", str(ring_run), "--metrics", "bpd,coverage", "--terms", "5", "--limit", "64",
                    "--n", "40", "--sampler", "ddim", "--steps", "6"))
    assert "bpd" in text and "coverage_modes" in text
    ev = json.loads((ring_run / "eval.json").read_text())
    assert (ev["bpd_n"], ev["bpd_k"], ev["coverage_n"], ev["coverage_num_modes"]) == (64, 5, 40, 8)
    assert ev["bpd"] > 0 and 0 <= ev["coverage_modes"] <= 1 and 0 <= ev["coverage_samples"] <= 1
    # bpd: 5 denoising terms + the decoder term (one batch); coverage: 6 DDIM steps (one batch)
    assert count_calls["n"] == 6 + 6


def test_eval_coverage_on_data_without_modes_is_a_clean_error(ring_run):
    _clean_error(_run("eval", str(ring_run), "--metrics", "coverage", "--data", "moons", "--n", "4"),
                 r"coverage needs a mixture of Gaussian modes")
