"""The training run's configuration: defaults < the model's defaults < YAML file < flags < ``--set key=value``.

Everything needed to rerun a run is in its ``config.yaml``; ``model.*`` keys override the model's
config (e.g. ``--set model.latent_dim=16``, ``--set model.generator.channels=64`` for a nested
section). A field left at ``None`` takes the model's default from the registry (``train_defaults``)
and then genlab's (``DEFAULTS``): ``complete(cfg)`` does this for ``genlab train`` and for
``genlab.training.train(...)`` alike, so both resolve the same config.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

from genlab.config import Config, deep_merge, require
from genlab.errors import ConfigError


@dataclasses.dataclass
class TrainConfig(Config):
    model: str = "vae"  # a name from `genlab list`
    data: str = ""  # dataset name; "" → the model's default
    epochs: int = 10  # passes over the training split (-1: no limit; stop by max_steps or max_time)
    max_steps: int = -1  # stop after this many optimizer steps (-1: no limit)
    max_time: str | None = None  # wall-clock limit such as "10m", "90s", "1h30m"
    batch_size: int | None = None  # None: the model's default (128)
    lr: float | None = None  # Adam learning rate; None: the model's default (1e-3; ddpm, vdm 2e-4)
    lr_schedule: Literal["constant", "cosine"] = "constant"  # cosine: decay to 0 over the run's steps
    weight_decay: float = 0.0
    grad_clip: float | None = None  # F4: clip the gradient norm to this value; 0: off; None: the model's default
    ema_decay: float | None = None  # average of the weights (diffusion: 0.999); 0: off; None: the model's default
    seed: int = 0
    precision: Literal["32", "bf16-mixed"] = "32"
    devices: int = 1  # processes per machine (CPU: gloo)
    num_nodes: int = 1  # machines (multi-node DDP; see docs/scaling.md)
    strategy: Literal["auto", "ddp", "ddp_spawn"] = "auto"
    out: str | None = None  # run folder; default runs/<model>-<data>-<time>
    checkpoint_every: int | None = None  # also write last.ckpt every N iterations (always: at each validation)
    checkpoint_minutes: float | None = 5.0  # also write last.ckpt every this many minutes of training (None: off)
    overwrite: bool = False  # train into a --out folder that holds other files (never over a resumable run)
    steps_per_call: int = 8  # optimizer steps per Lightning training_step call (same result; see training.chunks)
    val_size: int | None = None  # evaluate on at most this many validation examples
    val_every_epochs: int | None = None  # validate, draw samples/ and write last.ckpt every N epochs; None: auto
    #   (every epoch unless the training split is under 4× the validation examples: training.validation)
    exclude_labels: tuple[int, ...] = ()  # leave these labels out of train/val (anomaly detection, AE6)
    train_per_class: int | None = None  # train on this many examples of each class (low-data regime, G10)
    num_samples: int | None = None  # samples drawn into samples/ each epoch; None: the model's default (64)
    init_from: str | None = None  # start from the weights of a saved model folder (e.g. a VAE run's model/)
    keep: Literal["last", "best"] = "last"  # the weights model/ holds: the last step's, or checkpoints/best.ckpt's
    #   (the best validation metric seen: early stopping's choice, without stopping)
    quiet: bool = False  # no progress bar
    logger: Literal["csv", "tensorboard", "both"] = "both"  # metrics.csv, event files in tensorboard/, or both
    model_options: dict[str, Any] = dataclasses.field(default_factory=dict)  # model config overrides
    data_options: dict[str, Any] = dataclasses.field(default_factory=dict)  # the dataset's options (data.options)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.epochs >= 1 or self.epochs == -1, f"epochs must be ≥ 1 (or -1: no limit), got {self.epochs}")
        require(self.epochs != -1 or self.max_steps >= 0 or self.max_time is not None,
                "epochs=-1 (no limit) needs max_steps or max_time to stop the run")
        require(self.lr_schedule != "cosine" or self.epochs != -1 or self.max_steps >= 0,
                "lr_schedule=cosine needs the run's length: give epochs or max_steps (not only max_time)")
        require(self.batch_size is None or self.batch_size >= 1, f"batch_size must be ≥ 1, got {self.batch_size}")
        require(self.lr is None or self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(isinstance(self.seed, int) and 0 <= self.seed < 2**32,
                f"seed must be a whole number from 0 to {2**32 - 1}, got {self.seed!r}")
        require(self.devices >= 1, f"devices must be ≥ 1, got {self.devices}")
        require(self.num_nodes >= 1, f"num_nodes must be ≥ 1, got {self.num_nodes}")
        require(self.grad_clip is None or self.grad_clip >= 0, "grad_clip must be > 0 (0: off)")
        require(self.ema_decay is None or 0 <= self.ema_decay < 1, "ema_decay must be in (0, 1) (0: off)")
        require(self.num_samples is None or self.num_samples >= 0, "num_samples must be ≥ 0")
        require(self.checkpoint_every is None or self.checkpoint_every >= 1, "checkpoint_every must be ≥ 1")
        require(self.checkpoint_minutes is None or self.checkpoint_minutes > 0,
                "checkpoint_minutes must be > 0 (or null: only at validations, at the end and every checkpoint_every "
                "iterations)")
        require(self.max_steps == -1 or self.max_steps >= 1,
                f"max_steps must be ≥ 1 (or -1: no limit), got {self.max_steps}: a run of 0 iterations trains nothing")
        require(self.val_every_epochs is None or self.val_every_epochs >= 1,
                f"val_every_epochs must be ≥ 1 (or null: chosen from the data's size), got {self.val_every_epochs}")
        require(self.steps_per_call >= 1, f"steps_per_call must be ≥ 1 (1: one step per Lightning batch), "
                                          f"got {self.steps_per_call}")
        require(self.train_per_class is None or self.train_per_class >= 1,
                f"train_per_class must be ≥ 1 (or null: the whole split), got {self.train_per_class}")
        require(all(isinstance(c, int) and not isinstance(c, bool) for c in self.exclude_labels),
                f"exclude_labels must be integer labels such as [7], got {list(self.exclude_labels)}")
        if self.max_time is not None:
            require(parse_duration(self.max_time).total_seconds() > 0,
                    f"max_time must be longer than 0, got {self.max_time!r}: a run of no time trains nothing")
        require(isinstance(self.model_options, dict), "model_options must be a mapping of model options")
        require(isinstance(self.data_options, dict), "data_options must be a mapping of dataset options (path: ...)")


#: what ``--resume`` may change: how long the run goes on and what it prints or samples; anything else
#: (the model, the data, the optimizer, the batch, the processes) would not continue the same run
RESUMABLE = frozenset({"epochs", "max_steps", "max_time", "quiet", "logger", "num_samples", "checkpoint_every",
                       "checkpoint_minutes", "val_every_epochs", "out"})


def check_resumable(overrides: dict[str, Any], current: dict[str, Any] | None = None) -> None:
    """``ConfigError`` naming the options in ``overrides`` that ``--resume`` cannot change (those that differ from
    the run's ``current`` config, when given: restating a value is no change)."""
    current = current or {}

    def changes(key: str, value: Any) -> bool:
        if key in RESUMABLE or value in (None, {}):
            return False
        if key in ("model_options", "data_options"):
            return deep_merge(current.get(key) or {}, value) != (current.get(key) or {})
        return key not in current or _plain(value) != _plain(current[key])

    fixed = sorted(k for k, v in overrides.items() if changes(k, v))
    if fixed:
        prefix = {"model_options": "model.", "data_options": "data."}
        names = ", ".join(prefix[k] + m for k in fixed for m in overrides.get(k) or {}) \
            if set(fixed) <= set(prefix) else ", ".join(fixed)
        raise ConfigError(f"--resume continues a run as it was configured: it cannot change {names}; it may change "
                          f"{', '.join(sorted(RESUMABLE - {'out'}))}. To change the rest, train a new run "
                          f"(--set init_from=RUN/model starts from its weights)")


def _plain(value: Any) -> Any:
    """``value`` as YAML reads it back (tuples become lists): how ``config.yaml`` and a checkpoint compare."""
    import yaml

    return yaml.safe_load(yaml.safe_dump(value))


def check_unedited(written: dict[str, Any], trained: dict[str, Any], where: str) -> None:
    """``ConfigError`` when the run config ``written`` (``config.yaml``) differs from ``trained`` (the config its
    checkpoint was trained with) in an option that ``--resume`` cannot change: training would go on with the
    checkpoint's value while the run folder states the other."""
    changed = sorted(k for k in set(written) & set(trained) - RESUMABLE
                     if _plain(written[k]) != _plain(trained[k]))
    if changed:
        what = ", ".join(f"{k}: {_plain(trained[k])!r} → {_plain(written[k])!r}" for k in changed)
        raise ConfigError(f"{where} was edited since its checkpoint was written ({what}): --resume continues the "
                          f"run as it was trained; undo the edit, or train a new run with the new values")


#: genlab's defaults of the fields a model may set in its registry row (``ModelEntry.train_defaults``)
DEFAULTS: dict[str, Any] = {"batch_size": 128, "lr": 1e-3, "grad_clip": 0.0, "ema_decay": 0.0, "num_samples": 64}


def complete(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with its model's defaults filled in: the dataset, then each field left at ``None`` from the
    registry row's ``train_defaults``, then ``DEFAULTS``. ``genlab train`` and ``train()`` both call it."""
    from genlab.registry import get_model

    entry = get_model(cfg.model)
    fill = {**DEFAULTS, **entry.train_defaults}
    changes: dict[str, Any] = {k: v for k, v in fill.items() if getattr(cfg, k) is None}
    if not cfg.data:
        changes["data"] = entry.default_data
    return dataclasses.replace(cfg, **changes)


_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> dt.timedelta:
    """``"10m"``, ``"90s"``, ``"1h30m"``, ``"2d"`` or a bare number of seconds → ``timedelta``."""
    s = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return dt.timedelta(seconds=float(s))
    parts = re.findall(r"(\d+(?:\.\d+)?)([dhms])", s)
    if not parts or "".join(a + b for a, b in parts) != s:
        raise ConfigError(f"max_time {text!r} is not a duration: write e.g. 10m, 90s or 1h30m")
    return dt.timedelta(seconds=sum(float(a) * _UNITS[b] for a, b in parts))


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["epochs=3", "model.latent_dim=16"]`` → nested dict; values parsed as YAML scalars."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r} is not key=value: write e.g. --set epochs=3 or "
                              f"--set model.latent_dim=16")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            section = {"model": "model_options", "data": "data_options"}.get(p, p) if node is out else p
            node = node.setdefault(section, {})
        node[leaf] = value
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a run config YAML file; malformed files raise ``ConfigError`` naming the line."""
    import yaml

    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config file {path} is a folder: pass a YAML file of options (e.g. a run's config.yaml)")
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path} is not UTF-8 text (byte {e.start}): pass a YAML file of options") from None
    except yaml.YAMLError as e:
        where = ""
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        raise ConfigError(f"{path} is not valid YAML{where}: fix the file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of options (key: value), got {type(data).__name__}")
    unknown = [k for k in data if k not in {f.name for f in dataclasses.fields(TrainConfig)}]
    if unknown:
        import difflib

        known = [f.name for f in dataclasses.fields(TrainConfig)]
        close = difflib.get_close_matches(str(unknown[0]), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{path}: unknown option {unknown[0]!r}{hint}; the options are {', '.join(known)}")
    if "model_options" in data and not isinstance(data["model_options"], dict | None):
        raise ConfigError(f"{path}: model_options must be a mapping of model options (latent_dim: 16, ...), "
                          f"got {data['model_options']!r}")
    if "model_options" not in data and isinstance(data.get("model"), dict):
        raise ConfigError(f"{path}: 'model' is the model name; put model settings under model_options:")
    if isinstance(data.get("data"), dict):  # data: {name: csv, path: points.csv}: the name and its options
        section = dict(data["data"])
        if not isinstance(section.get("name"), str):
            raise ConfigError(f"{path}: a data: section names its dataset (data: {{name: csv, path: FILE}})")
        data = {**data, "data": section.pop("name"), "data_options": {**(data.get("data_options") or {}), **section}}
    if "data_options" in data and not isinstance(data["data_options"], dict | None):
        raise ConfigError(f"{path}: data_options must be a mapping of dataset options (path: FILE, ...), "
                          f"got {data['data_options']!r}")
    return data


def merge_layers(*layers: dict[str, Any]) -> dict[str, Any]:
    """Option layers merged, later winning (a ``None`` does not erase a value; ``model_options`` and its nested
    sections merged key by key)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for k, v in layer.items():
            if k in ("model_options", "data_options") and isinstance(v, dict):
                merged[k] = deep_merge(merged.get(k, {}), v)
            elif v is not None or k not in merged:
                merged[k] = v
    return merged


def resolve(*layers: dict[str, Any]) -> TrainConfig:
    """Merge option layers (later wins; ``model_options`` merged key by key, nested sections too) into a
    ``TrainConfig``.

    A ``max_time`` with no ``epochs`` in any layer means "train for that long": ``epochs = -1``.
    """
    merged = merge_layers(*layers)
    if merged.get("max_time") is not None and merged.get("epochs") is None:
        merged["epochs"] = -1
    try:
        return TrainConfig.from_dict(merged)
    except TypeError as e:
        raise ConfigError(f"invalid run config: {e}") from None


def write_yaml(cfg: TrainConfig, path: str | Path) -> None:
    import yaml

    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
