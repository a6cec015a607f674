"""Save and load models as ``model.safetensors`` + ``config.json`` — never pickle.

``config.json`` holds the class path, the config and the genlab version that wrote it.
``save_pretrained`` writes each file atomically and leaves everything else in the folder alone, so an
interrupted save never leaves a half-written file. Every failure to load is a one-line ``LoadError``.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import json
import os
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from genlab.atomic import atomic_file
from genlab.config import Config
from genlab.errors import ConfigError, LoadError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT = 1
#: what an OSError says when the folder itself cannot be written (missing parent, under a file, no permission)
_UNWRITABLE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.EPERM,
                         errno.EROFS})


def _version_tuple(v: str) -> tuple[int, ...]:
    out = []
    for part in v.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


class PretrainedMixin:
    """Adds ``save_pretrained`` / ``from_pretrained`` to an ``nn.Module`` built as ``Cls(config)``."""

    config_class: ClassVar[type[Config]]
    config: Config

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``model.safetensors`` and ``config.json`` into ``directory`` (created if needed).

        Each file is written atomically (``genlab.atomic``), both to temporaries before either is renamed into
        place (weights first), so an interrupted or failed save leaves the previous files intact; nothing else in
        ``directory`` is touched. A folder that cannot be written (under a file, without permission, read-only) is a
        ``ConfigError`` naming it; a failed save (a full disk stays an ``OSError``) leaves no new file or folder.
        """
        from safetensors.torch import save

        from genlab.version import __version__

        assert isinstance(self, nn.Module)
        directory = Path(directory)
        if directory.exists() and not directory.is_dir():
            raise ConfigError(f"{directory} is a file: save the model into a folder")
        # (clone: safetensors refuses tensors that share storage, e.g. tied weights)
        state = {k: v.detach().cpu().clone().contiguous() for k, v in self.state_dict().items()}
        meta = {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "config": self.config.to_dict(),
            "genlab_version": __version__,
            "format": FORMAT,
        }
        weights, config = save(state, metadata={"format": "pt"}), (json.dumps(meta, indent=2) + "\n").encode()
        created = [p for p in (directory, *directory.parents) if not p.exists()]  # the folders this save makes
        try:
            directory.mkdir(parents=True, exist_ok=True)
            # both files written to temporaries first; renamed into place only once both are whole, weights first
            with atomic_file(directory / CONFIG_NAME) as fc, atomic_file(directory / WEIGHTS_NAME) as fw:
                fw.write(weights)
                fc.write(config)
        except BaseException as e:
            for p in created:  # deepest first; only the empty folders this save made
                with contextlib.suppress(OSError):
                    p.rmdir()
            if isinstance(e, OSError) and e.errno in _UNWRITABLE:  # (a full disk stays an OSError)
                raise ConfigError(f"cannot save the model into {directory} ({e.strerror}): choose a writable "
                                  f"folder") from None
            raise
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, *, map_location: str = "cpu") -> Any:
        """Rebuild a model saved by ``save_pretrained``; raises ``LoadError`` saying what is wrong."""
        model = load(directory, map_location=map_location)
        if not isinstance(model, cls):
            raise LoadError(f"{directory} holds a {type(model).__name__}, not a {cls.__name__}: "
                            f"use genlab.load({str(directory)!r}) or {type(model).__name__}.from_pretrained")
        return model


def read_config(directory: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``config.json`` of a saved model folder."""
    from genlab.version import __version__

    directory = Path(directory)
    if not directory.is_dir():
        raise LoadError(f"no model folder at {directory}: pass the folder written by save_pretrained "
                        f"(a run's model/ folder)")
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise LoadError(f"{path} is missing: {directory} is not a genlab model folder")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LoadError(f"{path} is not valid JSON ({e}); the folder is corrupt: save the model again") from None
    if not isinstance(meta, dict) or not {"class", "config", "genlab_version"} <= set(meta):
        raise LoadError(f"{path} lacks 'class', 'config' or 'genlab_version': not written by genlab")
    saved = str(meta["genlab_version"])
    if _version_tuple(saved)[:2] > _version_tuple(__version__)[:2] or meta.get("format", 1) > FORMAT:
        raise LoadError(f"{directory} was saved by genlab {saved}, newer than this genlab {__version__}: "
                        f"upgrade genlab (pip install -U genlab)")
    return meta


def _resolve_class(path: str) -> type:
    if not path.startswith("genlab."):
        raise LoadError(f"config.json names class {path!r}, outside genlab: refusing to import it")
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise LoadError(f"config.json names class {path!r}, which this genlab does not have") from None


def load(directory: str | os.PathLike, *, map_location: str = "cpu") -> nn.Module:
    """Load any genlab model from a folder written by ``save_pretrained`` (no pickle), or from a run folder
    (its ``model/``)."""
    directory = Path(directory)
    if not (directory / CONFIG_NAME).is_file() and (directory / "model" / CONFIG_NAME).is_file():
        directory = directory / "model"  # a run folder
    meta = read_config(directory)
    cls = _resolve_class(meta["class"])
    try:
        config = cls.config_class.from_saved(meta["config"])
    except (ConfigError, TypeError) as e:
        raise LoadError(f"{directory / CONFIG_NAME}: invalid config for {cls.__name__}: {e}") from None
    model = cls(config)
    state = _read_weights(directory, map_location=map_location)
    _check_fits(state, model.state_dict(), f"{directory / WEIGHTS_NAME} does not fit {cls.__name__}",
                "config.json and weights disagree")
    with torch.no_grad():
        model.load_state_dict(state)
    model.eval()
    return model


def _read_weights(directory: Path, *, map_location: str = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of ``directory/model.safetensors``; ``LoadError`` when missing or unreadable."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise LoadError(f"{weights} is missing: the folder is incomplete; save the model again")
    try:
        return load_file(str(weights), device=map_location)
    except (SafetensorError, OSError, ValueError) as e:
        raise LoadError(f"{weights} is unreadable or truncated ({e}); save the model again") from None


def _check_fits(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], what: str, fix: str) -> None:
    """``LoadError`` (``what: …; fix``) unless ``state`` has exactly ``expected``'s keys and shapes."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise LoadError(f"{what}: missing {missing[:3]}, unexpected {unexpected[:3]}; {fix}")
    for k in state:
        if tuple(state[k].shape) != tuple(expected[k].shape):
            raise LoadError(f"{what}: {k} has shape {tuple(state[k].shape)}, the config needs "
                            f"{tuple(expected[k].shape)}; {fix}")


def init_weights_from(model: nn.Module, directory: str | os.PathLike) -> nn.Module:
    """Copy the weights of a saved model folder into ``model`` (in place) and return it.

    The saved model may be of another class with the same networks (a VAE into an IWAE, a warm-up
    β-VAE into a VAE: fine-tuning with another objective, as Burda et al. 2015, §5.2, continue a VAE
    with the IWAE bound); every parameter must match by name and shape. Buffers both have are copied;
    a buffer only one of them has (e.g. a KL warm-up's step counter) belongs to its objective and is
    left alone. Never unpickles.
    """
    source = load(directory)
    params = dict(source.named_parameters())
    expected = dict(model.named_parameters())
    _check_fits(params, expected, f"{directory} ({type(source).__name__}) does not fit {type(model).__name__}",
                "start from a model with the same architecture (hidden widths, latent size, activation)")
    buffers = dict(model.named_buffers())
    shared = {k: b for k, b in source.named_buffers() if k in buffers and b.shape == buffers[k].shape}
    with torch.no_grad():
        model.load_state_dict({**params, **shared}, strict=False)
    return model
