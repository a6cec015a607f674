"""Typed model configs: dataclasses with visible defaults, validated in ``__post_init__``.

Every model config subclasses ``Config``; it round-trips through plain dicts (``to_dict`` /
``from_dict``) so it can live in ``config.json`` and ``config.yaml`` and be overridden by ``--set``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, ClassVar, Literal, get_args, get_origin

from genlab.errors import ConfigError


@dataclasses.dataclass
class Config:
    """Base of every config. Subclasses validate their fields in ``__post_init__``.

    Built directly (``VAEConfig(latent_dim="abc")``) or by ``from_dict``, every field is coerced to its
    type by the same rules (``coerce``: ``"16"`` → 16, a list → a tuple, a mapping → a nested section),
    so a wrong type is a ``ConfigError`` naming the option before the subclass's checks compare it. A
    list whose items do not coerce is left as given, for the subclass's own check of that option.

    ``retired``: options an older genlab wrote that the config no longer has, each with the only value it could
    take; ``from_dict`` drops them (an old ``config.json`` or ``config.yaml`` still loads) and refuses another value.
    """

    retired: ClassVar[dict[str, Any]] = {}
    #: options added after models were saved, each with the value that keeps such a model what it was: a saved
    #: ``config.json`` that lacks one loads with that value (``from_saved``), while new configs take the default
    introduced: ClassVar[dict[str, Any]] = {}

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            hint = hints.get(f.name, Any)
            try:
                coerced = coerce(_over_section_default(type(self), f.name, hint, value), hint, f.name)
            except ConfigError:
                if isinstance(value, (list, tuple)) and _is_tuple_hint(hint):
                    continue
                raise
            if coerced is not value:
                object.__setattr__(self, f.name, coerced)
        check_literals(self)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        d = cls._without_retired(d)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(
                f"{cls.__name__} has no option(s) {unknown}; known options: {sorted(names)}"
            )
        hints = typing.get_type_hints(cls)
        d = {k: _over_section_default(cls, k, hints.get(k), v) for k, v in d.items()}
        kwargs = {k: coerce(v, hints.get(k, Any), k) for k, v in d.items()}
        return cls(**kwargs)

    @classmethod
    def from_saved(cls, d: dict[str, Any]) -> Config:
        """``from_dict`` of a config a genlab wrote: options it lacks that were ``introduced`` since take their old
        values."""
        return cls.from_dict({**cls.introduced, **d})

    @classmethod
    def _without_retired(cls, d: dict[str, Any]) -> dict[str, Any]:
        """``d`` without the ``retired`` options that hold their only value; ``ConfigError`` for another value."""
        for name, only in cls.retired.items():
            if name in d and d[name] != only:
                raise ConfigError(f"{cls.__name__} has no option {name!r} any more: it always trains with "
                                  f"{name}={only!r}, got {d[name]!r}; drop the option")
        return {k: v for k, v in d.items() if k not in cls.retired}

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied (a nested section given as a mapping is merged key by key)."""
        return self.from_dict(deep_merge(self.to_dict(), changes))


def _over_section_default(cls: type, name: str, hint: Any, value: Any) -> Any:
    """A mapping given for a nested section (a ``Config``-typed field) is applied over that field's default."""
    if not (isinstance(value, dict) and isinstance(hint, type) and issubclass(hint, Config)):
        return value
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    if field.default_factory is not dataclasses.MISSING:
        default = field.default_factory()
    elif field.default is not dataclasses.MISSING:
        default = field.default
    else:
        return value
    return deep_merge(default.to_dict(), value)


def _is_tuple_hint(hint: Any) -> bool:
    """Whether ``hint`` is ``tuple[...]`` (or an optional one)."""
    if get_origin(hint) in (typing.Union, types.UnionType):
        return any(_is_tuple_hint(a) for a in get_args(hint))
    return hint is tuple or get_origin(hint) is tuple


def deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``changes``; where both hold a mapping the two are merged key by key."""
    out = dict(base)
    for k, v in changes.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: _plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
    return v


def coerce(value: Any, hint: Any, name: str) -> Any:
    """Convert ``value`` (from JSON/YAML/``--set``) to the field type ``hint``; tuples from lists, nested
    sections (a field typed by a ``Config`` subclass, e.g. ``generator: GeneratorConfig``) from mappings."""
    if isinstance(hint, type) and issubclass(hint, Config):
        if isinstance(value, hint):
            return value
        if isinstance(value, dict):
            return hint.from_dict(value)
        raise ConfigError(f"option {name!r} is a section of options ({hint.__name__}): set its fields, "
                          f"e.g. {name}.<option>=VALUE, or give a mapping in YAML")
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if value is None and type(None) in get_args(hint):
            return None
        return coerce(value, args[0], name) if len(args) == 1 else value
    if origin is tuple or hint is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"option {name!r} must be a list such as [300, 300], got {value!r}"
                              + (": close the brackets" if isinstance(value, str) and "[" in value else ""))
        args = get_args(hint)
        inner = args[0] if args else Any
        return tuple(coerce(v, inner, f"{name}[{i}]") for i, v in enumerate(value))
    if hint in (int, float, bool, str):
        return _scalar(value, hint, name)
    return value


def _scalar(value: Any, hint: type, name: str) -> Any:
    """``value`` as an int, float, bool or str option; ``ConfigError`` saying what was expected otherwise."""
    what = {int: "a whole number", float: "a number", bool: "true or false", str: "a string"}[hint]
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    elif hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # e.g. max_time=90 (seconds)
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        return hint(value)
    elif isinstance(value, float):
        if hint is float:
            return value
        if value.is_integer():
            return int(value)
    elif isinstance(value, str):
        try:
            return _scalar(float(value) if hint is float else int(value), hint, name)
        except ValueError:
            pass
    raise ConfigError(f"option {name!r} must be {what}, got {value!r}")


def check_literals(cfg: Any) -> None:
    """Raise ``ConfigError`` for any ``Literal[...]`` field whose value is not one of its options."""
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        hint = hints.get(f.name)
        if get_origin(hint) is Literal:
            options = get_args(hint)
            v = getattr(cfg, f.name)
            if v not in options:
                raise ConfigError(
                    f"{type(cfg).__name__}.{f.name} must be one of {list(options)}, got {v!r}"
                )


def require(cond: bool, message: str) -> None:
    """Validation helper for ``__post_init__``: raise ``ConfigError(message)`` unless ``cond``."""
    if not cond:
        raise ConfigError(message)
