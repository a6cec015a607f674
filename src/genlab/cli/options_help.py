"""What `genlab train MODEL --help` adds to the command's help, and what `genlab train ... --print-config` prints.

Both read the config dataclasses (``genlab.config_docs``): the model's config with its nested sections, the
dataset's options, and ``TrainConfig`` (every field, also those with no flag of their own, set with ``--set``).
"""

from __future__ import annotations

from genlab import config_docs


def model_help(name: str, data: str | None = None) -> str:
    """The options of model ``name`` (``--set model.NAME=VALUE``), of its dataset (``data`` or its default,
    ``--set data.NAME=VALUE``), its training defaults and the run options without a flag of their own."""
    from genlab.data.registry import info as dataset_info
    from genlab.registry import get_model as get
    from genlab.training.config import TrainConfig

    entry = get(name)  # an unknown name: the registry's error, with the closest names
    cls = entry.load_class()
    config_cls = cls.config_class
    data_name = data or entry.default_data
    lines = [f"{entry.name}: {entry.summary}",
             f"  class {cls.__module__}.{cls.__name__}, config {config_cls.__name__}, "
             f"default data {entry.default_data}",
             "", f"Model options (--set model.NAME=VALUE, or under model_options: in a --config file; the fields the "
                 f"data decides, such as data_shape or num_classes, are set from {data_name} unless given):"]
    lines += config_docs.table(list(config_docs.options(config_cls)), "model.")
    dataset = dataset_info(data_name)
    lines += ["", f"Options of the dataset {data_name} (--set data.NAME=VALUE):"]
    lines += [f"  {row}" for row in _data_rows(dataset.options)] or ["  (none)"]
    if entry.train_defaults:
        lines += ["", f"Training defaults of {entry.name} (flags and --set win): "
                      + ", ".join(f"{k} {v}" for k, v in entry.train_defaults.items())]
    flagged = {"model", "data", "epochs", "max_steps", "max_time", "batch_size", "lr", "ema_decay", "grad_clip",
               "num_samples", "seed", "precision", "devices", "num_nodes", "strategy", "out", "logger", "quiet",
               "overwrite", "model_options", "data_options"}
    rest = [o for o in config_docs.options(TrainConfig) if o.name not in flagged]
    lines += ["", "Run options without a flag of their own (--set NAME=VALUE):", *config_docs.table(rest)]
    return "\n".join(lines)


def _data_rows(dataset_options) -> list[str]:
    rows = [config_docs.OptionDoc(o.name, o.type.__name__ if isinstance(o.type, type) else str(o.type),
                                  o.default, o.help + (f" (one of {', '.join(map(str, o.choices))})"
                                                       if o.choices else "")) for o in dataset_options]
    return [line.strip() for line in config_docs.table(rows, "data.")]


def resolved_yaml(cfg) -> str:
    """``cfg`` (a resolved ``TrainConfig``) as the YAML a run's ``config.yaml`` holds, then the model's whole config
    (its defaults < ``model_options``) as a commented section: what a run started now would use."""
    import yaml

    from genlab.registry import get_model as get

    config_cls = get(cfg.model).load_class().config_class
    model = config_docs.options(config_cls)
    merged = {o.name: o.default for o in model if o.default != "(section)"}
    merged.update(_flatten(cfg.model_options))
    body = yaml.safe_dump(cfg.to_dict(), sort_keys=False)
    note = ["", f"# the model's config ({config_cls.__name__}: its defaults < model_options; the fields the data",
            "# decides, such as data_shape, are set when the run loads its data):"]
    note += [f"#   {k}: {config_docs.show_default(v)}" for k, v in merged.items()]
    return body + "\n".join(note) + "\n"


def _flatten(options: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in options.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out
