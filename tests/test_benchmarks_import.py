"""Every benchmark script imports: a helper it names that the library has renamed or removed fails here,
not at the end of a long measurement (``benchmarks/sampling_speed.py`` and ``autoencoders.py`` once
imported a removed ``training.run.model_config``)."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
HELPERS = {"common.py", "pythae_side.py"}  # modules the scripts import: no main() of their own
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py"))
NEEDS = {"pythae_side.py": "pythae"}  # peers of the bench extra, not installed by make test


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_script_imports(path, monkeypatch):
    if path.name in NEEDS:
        pytest.importorskip(NEEDS[path.name])
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)  # the script's imports and definitions; main() is not run
    assert path.name in HELPERS or callable(getattr(module, "main", None)), f"{path.name} has no main()"


def test_ddim_gap_prediction_flags_build_a_ddpm(monkeypatch):
    """Each ``ddim_gap.py --prediction`` maps to a ``prediction_type`` the DDPM accepts (``--prediction v`` once
    passed ``"v"`` and failed at the config, before any training), and the section names it back by its flag."""
    from genlab.models.diffusion import DDPM

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("bench_ddim_gap_flags", BENCHMARKS / "ddim_gap.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    for flag, kind in module.PREDICTION_TYPE.items():
        model = DDPM(data_shape=(1, 8, 8), channels=8, num_train_timesteps=10, prediction_type=kind)
        assert module.final_model_prediction({"ema": model}) == flag


def test_g2p_decodings_are_greedy_once_and_each_beam_with_each_length_penalty(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("bench_g2p_decodings", BENCHMARKS / "g2p.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    assert module.decodings("1,5", "0") == [(1, 0.0), (5, 0.0)]
    assert module.decodings("1,5,10", "0,0.6") == [(1, 0.0), (5, 0.0), (5, 0.6), (10, 0.0), (10, 0.6)]
