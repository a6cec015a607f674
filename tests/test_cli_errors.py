"""Bad input to the CLI is one line on stderr and exit code 2: no traceback, nothing written."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from genlab.cli.main import app

OLD_VAE = Path(__file__).resolve().parent / "fixtures" / "runs" / "vae-v0"


@pytest.mark.parametrize("args, message", [
    (["train", "vae", "--set", "model.latent_dim=1.5", "--max-steps", "1"], "must be a whole number, got 1.5"),
    (["train", "vae", "--set", "model.hidden=[300,", "--max-steps", "1"], "close the brackets"),
    (["train", "vae", "--set", "model.hidden=300", "--max-steps", "1"], "must be a list such as"),
    (["train", "vae", "--max-steps", "0"], "trains nothing"),
    (["train", "vae", "--max-time", "0s"], "trains nothing"),
    (["train", "vae", "--out", "/proc/no-such/run", "--max-steps", "1"], "cannot write or read"),
    (["eval", str(OLD_VAE), "--limit", "0"], "limit must be ≥ 1"),
    (["embed", str(OLD_VAE), "--neighbors", "0"], "must be ≥ 1"),
    (["sample", str(OLD_VAE), "--out", "/proc/no-such/x.png"], "cannot write or read"),
    (["sample", str(OLD_VAE), "--y", "3"], "takes no y"),
    (["train", "vae", "--seed", "-1", "--max-steps", "1"], "seed must be a whole number from 0 to 4294967295"),
    (["train", "gan", "--set", "model.betas=[0.5]", "--max-steps", "1"], "betas must be two numbers in [0, 1)"),
    (["train", "gan", "--set", "model.betas=[1.5,0.9]", "--max-steps", "1"], "betas must be two numbers in [0, 1)"),
    (["train", "lenet", "--data", "ring8", "--max-steps", "1"], "lenet takes image data, but ring8 is vector data"),
    (["train", "dcgan", "--data", "ring8", "--max-steps", "1"], "dcgan takes image data, but ring8 is vector"),
    (["train", "--config", "."], "is a folder: pass a YAML file"),
    (["eval", "runs/nope"], "no run folder at runs/nope"),
    (["sample", "runs/nope"], "no run folder at runs/nope"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    err = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], result.output
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_sample_out_naming_a_folder_writes_a_new_file_into_it(tmp_path):
    result = CliRunner().invoke(app, ["sample", str(OLD_VAE), "--n", "4", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].name.startswith("sample-") and files[0].suffix == ".png"
