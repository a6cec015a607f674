"""docs/equations.md: built from its fragments, and every code and test reference in it resolves."""

import importlib.util
import sys
from pathlib import Path

import pytest

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


def test_equations_md_is_the_build_of_its_fragments():
    b = _builder()
    assert b.build(b.read_fragments()) == b.OUTPUT.read_text(), "run: python docs/build_equations.py"


def test_every_catalogue_id_appears_in_equations_md_with_its_formula_under_its_section():
    b = _builder()
    entries = b.read_catalogue()
    assert len(entries) > 70 and b.CATALOGUE.is_relative_to(ROOT)
    lines = b.OUTPUT.read_text().splitlines()
    for e in entries:
        assert e.text.strip(" :"), f"{e.id}: the catalogue gives no formula"
        assert e.line() in lines, f"{e.id}: formula missing from docs/equations.md"
        assert f"## {e.section}" in lines[: lines.index(e.line())], f"{e.id}: not under ## {e.section}"


def test_rows_follow_their_formula_gaps_are_marked_and_an_unknown_id_is_reported(tmp_path):
    b = _builder()
    (tmp_path / "catalogue.md").write_text(
        "# c\n\n## V — variational autoencoders\n"
        "- **V1 ELBO**: `ELBO ≤ log p(x)`.\n- **V2 loss** `= −ELBO`.\n")
    (tmp_path / "x.md").write_text(
        "| ID | name | code | test |\n|---|---|---|---|\n"
        "| V1 | the bound | src/genlab/models/vae.py:VAE.elbo | tests/test_vae.py::test_a |\n"
        "| Z9 | not catalogued | src/genlab/models/vae.py:VAE.elbo | tests/test_vae.py::test_b |\n")
    catalogue, rows = b.read_catalogue(tmp_path / "catalogue.md"), b.read_fragments(tmp_path)
    text = b.build(rows, catalogue)
    formula, table = "**V1 ELBO**: `ELBO ≤ log p(x)`.", "| the bound | src/genlab/models/vae.py:VAE.elbo |"
    assert text.index("## V — variational autoencoders") < text.index(formula) < text.index(table)
    assert "**V2 loss** `= −ELBO`.\n\n*No code and test yet (a gap).*" in text
    assert text.rstrip().endswith("IDs with no code and test yet: V2")
    assert text.index("## IDs not in the catalogue") < text.index("| Z9 | not catalogued |")
    unknown = [m for m in b.unresolved(rows, catalogue) if "not an ID of docs/catalogue.md" in m]
    assert len(unknown) == 1 and "Z9" in unknown[0]


def test_a_row_with_an_unescaped_bar_is_refused_not_dropped(tmp_path):
    b = _builder()
    (tmp_path / "x.md").write_text(
        "| ID | name | code | test |\n|---|---|---|---|\n"
        "| V1 | `p(y \\| x)` | src/genlab/models/vae.py:VAE.elbo | tests/test_vae.py::test_a |\n")
    assert [r.what for r in b.read_fragments(tmp_path)] == ["`p(y \\| x)`"]  # escaped: one row, 4 cells
    (tmp_path / "x.md").write_text(
        "| ID | name | code | test |\n|---|---|---|---|\n"
        "| V1 | `p(y | x)` | src/genlab/models/vae.py:VAE.elbo | tests/test_vae.py::test_a |\n")
    with pytest.raises(ValueError, match=r"x.md:3: a row has 4 cells .* this one 5"):
        b.read_fragments(tmp_path)


def test_the_repository_does_not_point_outside_itself():
    outside = Path("..", "shared").as_posix()  # the course folder beside the repository; a clone has none
    files = [ROOT / "README.md"] + [f for d in ("docs", "src", "tests", "benchmarks")
                                    for ext in ("*.md", "*.py") for f in (ROOT / d).rglob(ext)]
    assert [str(f.relative_to(ROOT)) for f in files if outside in f.read_text()] == []


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
