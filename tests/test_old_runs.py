"""Run folders written by genlab before the spine was reshaped (tests/fixtures/runs, see its README) still
sample, evaluate and resume."""

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.runs import read_metrics
from genlab.training.checkpoint import read_checkpoint

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "runs"


@pytest.fixture
def old_run(tmp_path, request):
    dst = tmp_path / request.param
    shutil.copytree(FIXTURES / request.param, dst)
    return dst


def _cli(*args):
    out = CliRunner().invoke(app, [str(a) for a in args])
    assert out.exit_code == 0, out.output
    return out.output


@pytest.mark.parametrize("old_run", ["vae-v0", "ddpm-v0"], indirect=True)
def test_an_old_run_samples(old_run, tmp_path):
    out = _cli("sample", old_run, "--n", 8, "--out", tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 0 and "8 samples" in out


@pytest.mark.parametrize("old_run", ["vae-v0"], indirect=True)
def test_an_old_vae_run_evaluates(old_run):
    out = _cli("eval", old_run, "--metrics", "elbo,nll", "--k", 5, "--limit", 20)
    assert "nll = " in out and (old_run / "eval.json").is_file()


@pytest.mark.parametrize("old_run", ["ddpm-v0"], indirect=True)
def test_an_old_ddpm_run_evaluates_its_coverage(old_run):
    out = _cli("eval", old_run, "--metrics", "coverage", "--n", 200, "--sampler", "ddim", "--steps", 10)
    assert "coverage_modes = " in out


@pytest.mark.parametrize("old_run", ["vae-v0", "ddpm-v0"], indirect=True)
def test_an_old_run_resumes_where_it_stopped(old_run):
    before = load_file(str(old_run / "model" / "model.safetensors"))
    assert read_checkpoint(old_run / "checkpoints" / "last.ckpt")["global_step"] == 24
    _cli("train", "--resume", old_run, "--max-steps", 30, "--quiet")
    assert read_checkpoint(old_run / "checkpoints" / "last.ckpt")["global_step"] == 30
    after = load_file(str(old_run / "model" / "model.safetensors"))
    assert before.keys() == after.keys() and any(not torch.equal(before[k], after[k]) for k in before)
    steps = [r["step"] for r in read_metrics(old_run / "metrics.csv") if "train/loss" in r]
    assert steps == sorted(set(steps)) and steps[-1] == 29
