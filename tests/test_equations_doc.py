"""docs/equations.md: built from its fragments, and every code and test reference in it resolves."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _builder():
    spec = importlib.util.spec_from_file_location("build_equations", ROOT / "docs" / "build_equations.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_every_code_and_test_reference_resolves():
    b = _builder()
    rows = b.read_fragments()
    assert len(rows) > 100
    assert b.unresolved(rows) == []


def test_equations_md_is_the_build_of_its_fragments(monkeypatch):
    b = _builder()
    monkeypatch.setattr(b, "CATALOGUE", ROOT / "no-such-catalogue.md")  # CI has no ../shared
    assert b.build(b.read_fragments()) == b.OUTPUT.read_text(), "run: python docs/build_equations.py"


def test_a_missing_symbol_or_test_is_reported(tmp_path):
    b = _builder()
    (tmp_path / "x.md").write_text(
        "| ID | name | code | test |\n|---|---|---|---|\n"
        "| V1 | ok | src/genlab/models/vae.py:VAE.elbo | tests/test_vae.py::test_no_such_test |\n"
        "| V2 | bad | src/genlab/models/vae.py:VAE.no_such_method | tests/test_vae.py::test_no_such_test |\n")
    bad = b.unresolved(b.read_fragments(tmp_path))
    assert any("VAE.no_such_method" in m for m in bad)
    assert not any("VAE.elbo" in m for m in bad)
    assert sum("test_no_such_test" in m for m in bad) == 2
