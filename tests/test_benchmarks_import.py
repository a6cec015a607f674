"""Every benchmark script imports: a helper it names that the library has renamed or removed fails here,
not at the end of a long measurement (``benchmarks/sampling_speed.py`` and ``autoencoders.py`` once
imported a removed ``training.run.model_config``)."""

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
HELPERS = {"common.py", "pythae_side.py"}  # modules the scripts import: no main() of their own
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py"))
NEEDS = {"pythae_side.py": "pythae"}  # peers of the bench extra, not installed by make test


def _script(name: str, monkeypatch):
    """``benchmarks/NAME.py`` imported (its main() not run), to test its helpers."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"bench_{name}_helpers", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


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

    module = _script("ddim_gap", monkeypatch)
    for flag, kind in module.PREDICTION_TYPE.items():
        model = DDPM(data_shape=(1, 8, 8), channels=8, num_train_timesteps=10, prediction_type=kind)
        assert module.final_model_prediction({"ema": model}) == flag


def test_g2p_decodings_are_greedy_once_and_each_beam_with_each_length_penalty(monkeypatch):
    module = _script("g2p", monkeypatch)
    assert module.decodings("1,5", "0") == [(1, 0.0), (5, 0.0)]
    assert module.decodings("1,5,10", "0,0.6") == [(1, 0.0), (5, 0.0), (5, 0.6), (10, 0.0), (10, 0.6)]


def test_forecasters_validation_origins_stay_between_the_training_and_the_test_parts(monkeypatch):
    """The choice by validation MASE reads no test value: every validation origin's H-step target ends before the
    test part starts, and the test origins are the baselines'."""
    module = _script("forecasters", monkeypatch)
    val = module.part_origins(309, (216, 247), 20, 1, "val")
    assert val == list(range(216, 247 - 20 + 1)) and all(o + 20 <= 247 for o in val)
    assert module.part_origins(309, (216, 247), 20, 1, "test") == list(range(247, 309 - 20 + 1))
    assert module.part_origins(8759, (6131, 7007), 24, 24, "val")[-1] + 24 <= 7007
    plain = argparse.Namespace(candidates=None, options={"highway": -1}, keep="best")
    assert module.candidates_of(plain) == {"": {"options": {"highway": -1}, "keep": "best"}}
    two = argparse.Namespace(candidates={"a": {}, "b": {"keep": "best"}}, options={}, keep="last")
    assert module.candidates_of(two) == {"a": {"options": {}, "keep": "last"}, "b": {"options": {}, "keep": "best"}}
    with pytest.raises(SystemExit, match="'b' must be"):
        module.candidates_of(argparse.Namespace(candidates={"b": {"keep": "first"}}, options={}, keep="last"))


def test_babi_recipes_override_the_flags_and_the_choice_reads_validation_only(monkeypatch):
    """``benchmarks/babi.py --recipes``: each recipe's flags override the run's, an unknown flag is refused, and the
    recipe chosen per task is the one of the highest validation accuracy (the lower validation loss on a tie), whatever
    its test error."""
    module = _script("babi", monkeypatch)
    args = argparse.Namespace(epochs=30, ls_epochs=6, embed_dim=20, lr=1e-2, restarts=3, seed=0,
                              recipes={"ls": {}, "nols": {"ls_epochs": 0, "embed_dim": 50, "restarts": 1}})
    recipes = module.recipes_of(args)
    assert (recipes["ls"].ls_epochs, recipes["ls"].embed_dim, recipes["ls"].restarts) == (6, 20, 3)
    assert (recipes["nols"].ls_epochs, recipes["nols"].embed_dim, recipes["nols"].restarts) == (0, 50, 1)
    assert recipes["nols"].epochs == 30 and args.embed_dim == 20  # the rest kept; the run's own flags untouched
    with pytest.raises(SystemExit, match="'x' must map some of"):
        module.recipes_of(argparse.Namespace(**{**vars(args), "recipes": {"x": {"hops": 2}}}))
    rows = {"ls": {"val_accuracy": 0.91, "error": 2.0}, "nols": {"val_accuracy": 0.95, "error": 9.0}}
    assert module.chosen(rows) == ("nols", rows["nols"])  # validation chooses, not the lower test error
    tied = {"ls": {"val_accuracy": 1.0, "val_loss": 0.02, "error": 2.0},
            "lw": {"val_accuracy": 1.0, "val_loss": 0.01, "error": 0.0}}
    assert module.chosen(tied) == ("lw", tied["lw"])  # a tie in accuracy goes to the lower validation loss
