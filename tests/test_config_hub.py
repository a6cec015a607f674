import dataclasses
import json
from typing import Literal

import pytest
import torch

import genlab
from genlab.config import Config, require
from genlab.errors import ConfigError, LoadError
from genlab.models.vae import VAE, VAEConfig


@dataclasses.dataclass
class _Cfg(Config):
    width: int = 4
    mode: Literal["a", "b"] = "a"
    sizes: tuple[int, ...] = (1, 2)

    def __post_init__(self):
        super().__post_init__()
        require(self.width > 0, "width must be > 0")


def test_config_rejects_values_outside_literal_options():
    with pytest.raises(ConfigError, match="must be one of"):
        _Cfg(mode="c")


def test_config_from_dict_names_unknown_options_and_lists_known_ones():
    with pytest.raises(ConfigError, match="no option.*'depth'.*known options"):
        _Cfg.from_dict({"depth": 3})


def test_config_round_trips_through_json_with_tuples():
    c = _Cfg(width=7, mode="b", sizes=(3, 4, 5))
    back = _Cfg.from_dict(json.loads(json.dumps(c.to_dict())))
    assert back == c and isinstance(back.sizes, tuple)


def test_config_validation_runs_in_post_init():
    with pytest.raises(ConfigError, match="width must be > 0"):
        _Cfg.from_dict({"width": -1})


def _saved(tmp_path):
    m = VAE(VAEConfig(data_shape=(6,), hidden=(5,), latent_dim=2, likelihood="gaussian"))
    m.save_pretrained(tmp_path / "m")
    return m, tmp_path / "m"


def test_save_load_round_trip_is_bit_exact(tmp_path):
    m, d = _saved(tmp_path)
    loaded = genlab.load(d)
    assert loaded.config == m.config
    for (k, a), (_, b) in zip(m.state_dict().items(), loaded.state_dict().items(), strict=False):
        assert torch.equal(a, b), k
    assert VAE.from_pretrained(d).config == m.config


def test_load_refuses_a_config_from_a_newer_version(tmp_path):
    _, d = _saved(tmp_path)
    meta = json.loads((d / "config.json").read_text())
    meta["genlab_version"] = "99.0.0"
    (d / "config.json").write_text(json.dumps(meta))
    with pytest.raises(LoadError, match="newer than this genlab"):
        genlab.load(d)


def test_load_reports_a_missing_weights_file(tmp_path):
    _, d = _saved(tmp_path)
    (d / "model.safetensors").unlink()
    with pytest.raises(LoadError, match="model.safetensors is missing"):
        genlab.load(d)


def test_load_reports_a_truncated_weights_file(tmp_path):
    _, d = _saved(tmp_path)
    data = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError, match="unreadable or truncated"):
        genlab.load(d)


def test_load_reports_mismatched_shapes(tmp_path):
    _, d = _saved(tmp_path)
    meta = json.loads((d / "config.json").read_text())
    meta["config"]["latent_dim"] = 3
    (d / "config.json").write_text(json.dumps(meta))
    with pytest.raises(LoadError, match="has shape .* the config needs"):
        genlab.load(d)


def test_load_reports_a_missing_folder_and_a_corrupt_config(tmp_path):
    with pytest.raises(LoadError, match="no model folder"):
        genlab.load(tmp_path / "nothing")
    _, d = _saved(tmp_path)
    (d / "config.json").write_text("{not json")
    with pytest.raises(LoadError, match="not valid JSON"):
        genlab.load(d)


def test_load_never_imports_classes_outside_genlab(tmp_path):
    _, d = _saved(tmp_path)
    meta = json.loads((d / "config.json").read_text())
    meta["class"] = "os.system"
    (d / "config.json").write_text(json.dumps(meta))
    with pytest.raises(LoadError, match="outside genlab"):
        genlab.load(d)


def test_save_pretrained_over_an_existing_model_leaves_no_temporary_files(tmp_path):
    m, d = _saved(tmp_path)
    (d / "notes.txt").write_text("mine")
    m.save_pretrained(d)
    assert sorted(p.name for p in d.iterdir()) == ["config.json", "model.safetensors", "notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_init_weights_from_copies_parameters_across_objectives_and_leaves_objective_buffers(tmp_path):
    from genlab.hub import init_weights_from
    from genlab.models.beta_vae import BetaVAE
    from genlab.models.iwae import IWAE

    shape = {"data_shape": (1, 8, 8), "hidden": (16,), "latent_dim": 3}
    warm = BetaVAE(**shape, warmup_steps=10)
    warm.kl_warmup.step.fill_(7)  # a buffer of the warm-up objective only
    warm.save_pretrained(tmp_path / "warm")
    iwae = init_weights_from(IWAE(**shape, k=4), tmp_path / "warm")
    for (name, p), q in zip(warm.named_parameters(), iwae.parameters(), strict=True):
        assert torch.equal(p, q), name
    back = init_weights_from(BetaVAE(**shape, warmup_steps=10), tmp_path / "warm")
    assert int(back.kl_warmup.step) == 7  # a buffer both have is copied
    with pytest.raises(LoadError, match=r"\(BetaVAE\) does not fit IWAE: .*has shape"):
        init_weights_from(IWAE(**{**shape, "latent_dim": 4}), tmp_path / "warm")


def test_save_pretrained_writes_its_two_files_and_leaves_the_rest_of_the_folder_alone(tmp_path):
    import os
    import stat

    from genlab.models.vae import VAE

    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    (folder / ".git").mkdir()
    VAE(hidden=(8,), latent_dim=2).save_pretrained(folder)
    assert sorted(p.name for p in folder.iterdir()) == [".git", "config.json", "model.safetensors", "thesis.tex"]
    assert (folder / "thesis.tex").read_text() == "years of work"
    umask = os.umask(0)
    os.umask(umask)
    for name in ("config.json", "model.safetensors"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o666 & ~umask  # ordinary modes, not 0600
    VAE(hidden=(8,), latent_dim=3).save_pretrained(folder)  # saving again replaces just the two files
    assert genlab.load(folder).config.latent_dim == 3 and (folder / "thesis.tex").is_file()


def test_a_failed_save_leaves_the_previous_model_intact_and_no_temporary_file(tmp_path, monkeypatch):
    import genlab.atomic
    from genlab.models.vae import VAE

    VAE(hidden=(8,), latent_dim=2).save_pretrained(tmp_path / "m")
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(genlab.atomic.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        VAE(hidden=(8,), latent_dim=5).save_pretrained(tmp_path / "m")
    assert {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()} == before


def test_load_finds_the_model_of_a_run_folder(tmp_path):
    from genlab.models.vae import VAE

    VAE(hidden=(8,), latent_dim=2).save_pretrained(tmp_path / "run" / "model")
    assert genlab.load(tmp_path / "run").config.latent_dim == 2
