"""The options of a config dataclass as a person reads them: name, type, default and the one-line description
written beside the field (its trailing ``# ...`` comment, or ``#:`` lines above it), nested sections included.

``genlab train MODEL --help`` lists a model's options from here, so the help is the source: a field documented
in its dataclass is documented on the command line, with no second copy to keep in step.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import textwrap
import tokenize
import typing
from collections.abc import Iterator
from typing import Any, NamedTuple


class OptionDoc(NamedTuple):
    name: str  # dotted from the top: "generator.channels"
    type: str  # the annotation as written: "tuple[int, ...]"
    default: Any
    doc: str


def _comment_text(token: str) -> str:
    return token.lstrip("#:").strip()


def _field_comments(source: str) -> dict[str, str]:
    """``{field: description}`` of the class body in ``source``: a field's trailing comment, continued by
    comment-only lines written ``#   more``, or the ``#:`` lines just above the field."""
    docs: dict[str, str] = {}
    depth, line, above, last = 0, [], [], None  # line: the tokens of the logical line so far
    for tok in tokenize.generate_tokens(io.StringIO(textwrap.dedent(source)).readline):
        if tok.type == tokenize.INDENT:
            depth += 1
        elif tok.type == tokenize.DEDENT:
            depth -= 1
        elif tok.type == tokenize.NEWLINE:
            line = []
        elif tok.type == tokenize.COMMENT and (depth == 1 or (not line and depth == 0 and tok.start[1] > 0)):
            # (comment lines above the first field come before the body's INDENT: depth 0, but indented)
            if line and line[0] == last:  # "name: type = default  # description"
                docs[last] = _comment_text(tok.string)
            elif not line and tok.string.startswith("#:"):
                above.append(_comment_text(tok.string))
            elif not line and tok.string.startswith("#  ") and last in docs:  # "#   (continued)"
                docs[last] += " " + _comment_text(tok.string)
        elif tok.type not in (tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER):
            if not line:
                last = tok.string if depth == 1 and tok.type == tokenize.NAME else None
                if last is not None and above:
                    docs[last] = " ".join(above)
                above = []
            line.append(tok.string)
    return docs


def field_docs(cls: type) -> dict[str, str]:
    """The descriptions of ``cls``'s fields, from its source and its bases' (a subclass's own wins)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass.__module__ == "builtins":
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):  # built at run time, or no source shipped
            continue
        docs.update(_field_comments(source))
    return docs


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def options(cls: type, prefix: str = "", *, instance: Any = None) -> Iterator[OptionDoc]:
    """Every option of the dataclass ``cls`` (or of ``instance``, whose values then are the defaults), nested
    config sections flattened to dotted names after a row for the section itself."""
    docs = field_docs(cls)
    try:
        hints = typing.get_type_hints(cls)  # aliases resolved: Body → Literal["mlp", ...]
    except Exception:  # noqa: BLE001 — an annotation that does not resolve: shown as written
        hints = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.name.startswith("_"):
            continue
        value = getattr(instance, f.name) if instance is not None else _default(f)
        doc = docs.get(f.name, "")
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield OptionDoc(prefix + f.name, type(value).__name__, "(section)", doc)
            yield from options(type(value), prefix + f.name + ".", instance=value)
        else:
            hint = hints.get(f.name)
            literal = typing.get_origin(hint) is typing.Literal
            shown = "|".join(str(a) for a in typing.get_args(hint)) if literal else _type_name(str(f.type))
            yield OptionDoc(prefix + f.name, shown, value, doc)


def _type_name(annotation: str) -> str:
    """``Literal['mlp', 'conv']`` → ``mlp|conv``: the choices are what a person types."""
    if annotation.startswith("Literal[") and annotation.endswith("]"):
        return "|".join(c.strip().strip("'\"") for c in annotation[len("Literal["):-1].split(","))
    return annotation


def show_default(value: Any) -> str:
    """A default as it is written in YAML or ``--set`` (tuples as lists, ``None`` as null)."""
    if value is dataclasses.MISSING:
        return "(required)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return "[" + ", ".join(show_default(v) for v in value) + "]"
    if isinstance(value, str):
        return value if value and value.strip() == value else repr(value)
    return str(value)


def table(rows: list[OptionDoc], prefix: str = "", indent: int = 2) -> list[str]:
    """Aligned lines ``NAME  TYPE  DEFAULT  DESCRIPTION`` (name after ``prefix``, e.g. ``model.``)."""
    cells = [(prefix + r.name, r.type, show_default(r.default), r.doc) for r in rows]
    if not cells:
        return []
    widths = [min(max(len(c[i]) for c in cells), cap) for i, cap in enumerate((34, 30, 18))]
    pad = " " * indent
    return [(pad + "  ".join(f"{c[i]:<{widths[i]}}" for i in range(3)) + "  " + c[3]).rstrip() for c in cells]
