"""DESIGN.md's layers: imports go one way only (blocks ← models ← training ← cli), and
blocks/, models/, data/ and metrics/ never import Lightning."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "genlab"

# For each package: genlab packages it must not import (directly, at any place in the file).
FORBIDDEN = {
    "blocks": {"models", "training", "cli", "data", "metrics", "evaluate", "registry"},
    "models": {"training", "cli"},
    "data": {"models", "training", "cli", "blocks"},
    "metrics": {"training", "cli"},
    "training": {"cli"},
}
HEAVY = {"lightning", "pytorch_lightning"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _files(package: str):
    return sorted((SRC / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_go_one_way(package):
    bad = []
    for f in _files(package):
        for name in _imports(f):
            parts = name.split(".")
            if parts[0] == "genlab" and len(parts) > 1 and parts[1] in FORBIDDEN[package]:
                bad.append(f"{f.relative_to(SRC)} imports {name}")
            if package != "training" and parts[0] in HEAVY:
                bad.append(f"{f.relative_to(SRC)} imports {name}")
    assert not bad, "\n".join(bad)


def test_layering_check_sees_the_files():
    assert len(_files("models")) >= 3 and len(_files("training")) >= 3
