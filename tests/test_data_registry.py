"""The dataset registry: names, suggestions, options, splits, and that listing stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import genlab.data as data
from genlab.errors import ConfigError, UnknownNameError

EXPECTED = {"mnist", "mnist-binarized", "mnist-dynamic", "digits", "ring8", "grid25", "moons", "swissroll",
            "checkerboard", "mnist-masked", "digits-masked", "csv", "kjv", "babi", "bbc-news", "cars",
            "table", "cmudict", "dates", "sunspots", "co2", "nile", "macrodata", "seattle-temps", "series-csv",
            "penguins", "seattle-weather", "fair", "randhie", "breast-cancer", "tabular"}


def test_registry_lists_every_dataset_with_source_and_licence():
    infos = data.datasets()
    assert {d.name for d in infos} == EXPECTED
    for d in infos:
        users_file = d.name in ("csv", "table", "series-csv", "tabular")  # its size is the file's
        assert d.source and d.licence and (d.size > 0 or users_file) and d.kind in ("image", "vector", "pairs",
                                                                                    "tokens", "qa", "documents",
                                                                                    "table", "seq2seq", "series")
        assert ":" in d.loader


def test_every_registered_loader_resolves_to_a_function():
    import importlib

    for d in data.datasets():
        module, _, fn = d.loader.partition(":")
        assert callable(getattr(importlib.import_module(module), fn)), d.loader


def test_unknown_dataset_names_known_ones_and_suggests_closest():
    with pytest.raises(UnknownNameError) as e:
        data.load("mnsit")
    msg = str(e.value)
    assert "did you mean 'mnist'" in msg
    assert all(name in msg for name in EXPECTED)


def test_unknown_option_is_rejected_with_the_options_listed():
    with pytest.raises(ConfigError, match="n_train"):
        data.load("ring8", colour="red")


def test_unknown_split_is_rejected():
    with pytest.raises(ConfigError, match="train-full"):
        data.load("ring8", "validation")


def test_importing_and_listing_does_not_import_torch_numpy_or_sklearn():
    code = ("import sys, genlab.data as d; rows = d.datasets(); "
            "print(sorted(m for m in ('torch', 'numpy', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lazy_exports_resolve():
    assert data.TensorData.__name__ == "TensorData"
    assert data.TensorLoader.__name__ == "TensorLoader"
    with pytest.raises(AttributeError):
        data.NotAThing  # noqa: B018
