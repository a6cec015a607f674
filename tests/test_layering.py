"""DESIGN.md's layers: imports go one way only (blocks ← models ← training ← cli), blocks/, models/,
data/, metrics/ and evaluation/ never import Lightning, and no genlab module imports itself back
through others (no import circles, counting the imports inside functions too)."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "genlab"

# For each package: genlab packages it must not import (directly, at any place in the file).
FORBIDDEN = {
    "blocks": {"models", "training", "cli", "data", "metrics", "evaluate", "registry"},
    "models": {"training", "cli", "metrics", "evaluation", "data"},
    "data": {"models", "training", "cli", "blocks", "metrics", "evaluation"},
    "metrics": {"training", "cli", "evaluation"},
    "evaluation": {"training", "cli"},
    "training": {"cli", "evaluation"},
}
HEAVY = {"lightning", "pytorch_lightning"}


def _walk(tree: ast.AST):
    """``ast.walk`` without the ``if TYPE_CHECKING:`` blocks (type hints only: nothing runs them)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in _walk(tree):
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
            if package not in ("training",) and parts[0] in HEAVY:
                bad.append(f"{f.relative_to(SRC)} imports {name}")
    assert not bad, "\n".join(bad)


def _module(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """genlab module → the genlab modules it imports (``from genlab.x import y`` counts ``genlab.x.y``
    when that is a module, else ``genlab.x``)."""
    files = {_module(f): f for f in SRC.rglob("*.py")}
    graph = {}
    for mod, f in files.items():
        deps = set()
        tree = ast.parse(f.read_text())
        for node in _walk(tree):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in files}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module in files:
                subs = {f"{node.module}.{a.name}" for a in node.names} & set(files)
                deps |= subs or {node.module}
        graph[mod] = deps - {mod}
    return graph


def test_no_import_circles():
    """A package ``__init__`` that re-exports its submodules is not a circle with them: edges from a
    module into its own package's ``__init__`` are left out."""
    graph = _graph()
    for mod, deps in graph.items():
        graph[mod] = {d for d in deps if not mod.startswith(d + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                circles.append(" → ".join(stack[stack.index(d):] + [d]))
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_layering_check_sees_the_files():
    assert len(_files("models")) >= 3 and len(_files("training")) >= 3


@pytest.mark.parametrize("leaf, allowed", [("vocab.py", {"genlab.errors"}), ("version.py", set())])
def test_leaf_modules_import_no_genlab_package(leaf, allowed):
    # a model may import genlab.vocab (a prompt's encoding, its vocabulary in config.json) and hub records
    # genlab.version: neither may pull data/, models/ or anything that imports them back
    genlab_imports = {n for n in _imports(SRC / leaf) if n.split(".")[0] == "genlab"}
    assert genlab_imports <= allowed, genlab_imports


def test_vocabulary_lives_below_models_and_data_re_exports_it():
    import genlab.data
    import genlab.vocab

    assert genlab.data.Vocabulary is genlab.vocab.Vocabulary


def test_the_package_version_is_written_in_one_place():
    import importlib.metadata

    import genlab

    assert importlib.metadata.version("genlab") == genlab.__version__
    assert 'version = "' not in (SRC.parents[1] / "pyproject.toml").read_text().split("[tool.setuptools.dynamic]")[0]
