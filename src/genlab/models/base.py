"""The model contract: what the spine, the CLI and evaluation may ask of a genlab model — declared, not probed.

A trainable model is a plain ``nn.Module`` (no Lightning) built as ``Model(config)``. The training
system hands it each batch's named fields as keyword arguments (``model(**batch)``: ``x``, ``y``,
``tokens``, ...); ``forward`` returns a ``ModelOutput`` whose ``loss`` is the scalar to minimize and
whose other 0-d tensor fields are named terms the trainer logs. Unconditional models accept ``y``
(labels) and ignore it.

What a model can do beyond that is declared by the capability classes it inherits — the spine checks
``isinstance(model, Generative)``, never ``hasattr``:

==================  =========================================================================
``Generative``      ``sample(n, *, generator=None, **options)``; ``sample_options`` names the
                    options it takes
``Conditional``     a ``Generative`` whose ``sample`` takes ``y=`` (class labels)
``Reconstructs``    ``reconstruct(x)``: the model's reconstruction of inputs, in data space
``Encodes``         ``encode(x)``: a code per input (``code_needs_label``: ``encode(x, y)``)
``LatentVariable``  ``elbo(x, *, generator)`` and ``log_importance_weights(x, k, *, generator)``
``DiffusionBound``  ``nll_bpd(x, y, *, generator, terms)``: a bound in bits/dim, estimated with
                    ``terms`` Monte Carlo terms (default ``bound_terms_default``)
``Adversarial``     ``players()``: (D, G), each a ``Player`` (network, optimizer, betas);
                    ``critic_steps`` (k of G3), ``wasserstein``; ``discriminator_loss`` /
                    ``generator_loss`` (``AdversarialSystem`` reads only these)
``Predicts``        an output per example from named inputs, compared with the data's ``target``
                    field: ``inputs_of(fields)``, ``outputs(fields)`` (the two below)
``Translates``      ``translate(**fields)``: an output image per source (``source`` → ``x``)
``Classifier``      ``predict(**fields)``: class indices (``x`` → ``y``; ``story``, ``question``
                    → ``answer``)
``Transduces``      ``transduce(source, source_lengths, beam=)``: an output sequence per source sequence
                    (``source`` → ``target``: spelling → pronunciation), greedy or by beam search;
                    ``alignment``: the attention each output symbol paid to the source
``ReconstructionScored``  ``reconstruction_error(x)``: per-example error (anomaly scores)
``ClosedForm``      ``fit(data)``: fitted from the whole training split (a ``TensorData``) in one
                    pass, no gradient steps (PCA, PPCA); trained by ``FitSystem``, not the Trainer
==================  =========================================================================

A capability also declares what evaluation and the uses read by default: ``default_metric`` (``elbo`` for a
``LatentVariable``, ``bpd``, ``accuracy`` and ``f1`` for a ``Classifier``, ``translation``, ``wer`` for a
``Transduces``; a ``Generative``
model's depends on the data) and the anomaly score (``anomaly_score_name``, ``anomaly_score(x)``). ``PRECEDENCE``
orders the capabilities and ``declared(model, attribute)`` finds the first that a model declares: no isinstance
chains elsewhere.
Every model's ``renderer()`` says how its samples or outputs become a file (``genlab.render``).

The public methods check what they are given with ``genlab.models.inputs`` (``check_data``,
``check_count``, ``check_labels``): float data of another dtype is converted to the parameters' dtype,
integer data, wrong shapes, empty batches, out-of-range images, ``n < 1`` and bad labels raise genlab
errors that say what to do.

Every model also has the base hooks below (no-ops unless a family needs them): ``config_for_data``
(its config from the training data), ``for_data`` / ``prepare`` (fitted preprocessing: ``genlab.preprocessing``),
``parameter_groups`` (what each optimizer trains), ``before_fit`` (a fresh start) / ``at_start`` (every start, a
resume included) / ``after_fit``, and ``monitor`` (the validation metric that ``best`` checkpoints keep).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from genlab import panels as panel_sets
from genlab.config import Config, deep_merge
from genlab.errors import ConfigError
from genlab.hub import PretrainedMixin
from genlab.models.inputs import check_count, check_labels
from genlab.panels import Panel
from genlab.policy import LoaderPolicy

if TYPE_CHECKING:
    from genlab.data.tensors import TensorData
    from genlab.preprocessing import Preprocessor
    from genlab.render import Renderer


@dataclasses.dataclass
class ModelOutput:
    """Base of structured model outputs: ``loss`` plus named terms.

    ``units``: how many units (tokens, time steps, cells) this batch's ``loss`` and terms average over, when
    that is not its number of rows (padded sequences, masked cells). Validation weights each batch's means by
    it, so the split's figure is the mean over all its units whatever the batches hold; ``None``: the rows."""

    loss: Tensor
    units: Tensor | int | None = dataclasses.field(default=None, kw_only=True)

    def scalars(self) -> dict[str, Tensor]:
        """All 0-d tensor fields (the loss and its named terms, not ``units``), for logging."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name != "units" and isinstance(v, Tensor) and v.dim() == 0:
                out[f.name] = v
        return out


class Model(PretrainedMixin, nn.Module):
    """Base class: stores the validated config; subclasses build layers in ``__init__``."""

    config_class: ClassVar[type[Config]]
    #: the validation metric that ``best.ckpt`` keeps (None: no best checkpoint), and whether lower is better
    monitor: ClassVar[str | None] = "val/loss"
    monitor_mode: ClassVar[str] = "min"
    #: the batch fields ``forward`` reads: ``inputs`` always, ``optional_inputs`` when the data has them (the
    #: spine refuses a dataset with other fields in one line, before training: ``training.run.check_inputs``)
    inputs: ClassVar[tuple[str, ...]] = ("x",)
    optional_inputs: ClassVar[tuple[str, ...]] = ("y",)
    #: the data kinds it takes ("image", "pairs", "vector"; None: any), checked with the fields
    kinds: ClassVar[tuple[str, ...] | None] = None
    #: fitted preprocessing (``genlab.preprocessing.Preprocessor``): fitted on the training split before the model is
    #: built (``for_data``), its spec in the config field ``preprocessing``, applied by ``prepare``; None: none
    preprocessor_class: ClassVar[type[Preprocessor] | None] = None
    #: how its training batches are drawn (e.g. ``LoaderPolicy(order="stream")`` for truncated BPTT), merged over
    #: the dataset's declared policy, the model's choices winning (``genlab.policy``); None: the dataset's or default
    loader_policy: ClassVar[LoaderPolicy | None] = None

    def __init__(self, config: Config | None = None, **overrides) -> None:
        super().__init__()
        if config is None:  # from_dict: checked and coerced as a config file is (nested sections from mappings)
            config = self.config_class.from_dict(overrides)
        elif overrides:
            config = config.replace(**overrides)
        if not isinstance(config, self.config_class):
            name, cfg = type(self).__name__, self.config_class.__name__
            raise ConfigError(f"{name} needs a {cfg}, got {type(config).__name__}: pass {cfg}(...), "
                              f"{cfg}.from_dict(options) or keyword options, {name}(**options)")
        self.config = config
        if self.preprocessor_class is not None:  # its fitted state's shapes are in the config; values come with weights
            self.preprocessor = self.preprocessor_class.from_spec(dict(config.preprocessing))

    # --- built from the data --------------------------------------------------------------------
    @classmethod
    def data_fields(cls) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(required, optional): the fields a dataset must hold for this model — its ``inputs`` and
        ``optional_inputs``, or what its fitted preprocessing ``reads`` when that makes the fields the model reads."""
        pre = cls.preprocessor_class
        return (pre.reads, ()) if pre is not None and pre.reads else (cls.inputs, cls.optional_inputs)

    @classmethod
    def for_data(cls, data: TensorData, options: dict[str, Any] | None = None) -> Model:
        """A new model for the training split ``data``: its ``preprocessor_class`` fitted on ``data`` (its ``spec()``
        in the config as ``preprocessing``, its fitted buffers loaded), then ``config_for_data`` on the prepared
        data with ``options`` (what ``genlab train`` does)."""
        if cls.preprocessor_class is None:
            return cls(cls.config_for_data(data, options))
        fitted = cls.preprocessor_class.fit(data)
        model = cls(cls.config_for_data(fitted.apply(data), {**(options or {}), "preprocessing": fitted.spec()}))
        model.preprocessor.load_state_dict(fitted.state_dict())
        return model

    def prepare(self, data: TensorData) -> TensorData:
        """``data`` as this model reads it: transformed once by its fitted preprocessing (``genlab.preprocessing``),
        before any loader — every split, in training, evaluation and ``genlab sample``; ``data`` itself when the model
        has none."""
        return data if self.preprocessor_class is None else self.preprocessor.apply(data)

    @classmethod
    def data_defaults(cls, data: TensorData) -> dict[str, Any]:
        """Config values read from the training data (shapes, class counts, ...); the user's options win."""
        return {}

    @classmethod
    def config_for_data(cls, data: TensorData, options: dict[str, Any] | None = None) -> Config:
        """This model's config for ``data``: ``data_defaults(data)``, then ``options`` (nested sections
        such as ``{"generator": {"channels": 64}}`` merged key by key)."""
        return cls.config_class.from_dict(deep_merge(cls.data_defaults(data), options or {}))

    # --- what the spine trains ------------------------------------------------------------------
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The parameters each optimizer trains, by name (one group: everything)."""
        return {"model": list(self.parameters())}

    def before_fit(self, data: TensorData) -> None:
        """Called once before a fresh training run with the training split (e.g. a data-dependent init)."""

    def at_start(self, data: TensorData) -> None:
        """Called at every start of training, a resume included, with the (prepared) training split: rebuild
        data-derived state that the checkpoint does not hold (a sampler's index over the rows)."""

    def after_step(self) -> None:
        """Called after each optimizer step of a one-objective run (``ObjectiveSystem``): a projection of the weights
        onto their allowed set (TVAE's σ into its range); nothing by default."""

    def after_fit(self, data: TensorData, *, final: bool = True) -> None:
        """Called when training ends with the training split (e.g. fit a prior), and with ``final=False`` after each
        validation mid-run (the ``model/`` kept current, the sample grid drawn from it): a model whose fit is costly
        may fit more cheaply there, as the final call replaces it."""

    # --- where it lives -------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        """Where the parameters live (a model without parameters, e.g. a closed-form fit: its buffers)."""
        return next(self.parameters(), next(self.buffers(), torch.empty(0))).device

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the floating-point parameters (samples and noise follow it); a model without any: that of
        its floating-point buffers (a closed-form fit's state)."""
        floats = (t.dtype for ts in (self.parameters(), self.buffers()) for t in ts if t.is_floating_point())
        return next(floats, torch.get_default_dtype())

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # --- what it writes -------------------------------------------------------------------------
    def renderer(self) -> Renderer:
        """How its samples or outputs are written to a file (``genlab.render``): by default an image grid for
        ``(C, H, W)`` data, a scatter for 2-D points, a tensor file otherwise; text and tables override it."""
        from genlab.render import TENSOR_FILE, renderer_for_shape

        shape = getattr(self.config, "data_shape", None)
        return TENSOR_FILE if shape is None else renderer_for_shape(tuple(shape))


def num_classes_of(data: TensorData) -> dict[str, int]:
    """``{"num_classes": max label + 1}`` for labelled data, ``{}`` otherwise (a ``data_defaults`` helper)."""
    return {} if data.y is None else {"num_classes": int(data.y.max()) + 1}


def image_shape_of(data: TensorData, model: str, *, otherwise: str = "") -> tuple[int, int, int]:
    """``(C, H, W)`` of image data, for a convolutional model's ``data_defaults``; a one-line ``ConfigError``
    naming the data's kind and the image datasets (and ``otherwise``: what to train on such data) for any
    other data."""
    x = data.x
    if x is not None and x.dim() == 4:
        return tuple(x.shape[1:])
    shape = None if x is None else tuple(x.shape[1:])
    raise ConfigError(f"{model} needs images (C, H, W), but {data.name} is {data.kind} data of shape {shape}: "
                      f"pass an image dataset (--data mnist, mnist-binarized, mnist-dynamic or digits)"
                      + (f", or {otherwise}" if otherwise else ""))


# --- capabilities -----------------------------------------------------------------------------------
class Generative:
    """Draws samples: ``sample(n, *, generator=None, **options)`` → a batch in data space.

    ``sample_options`` names the keyword options ``sample`` takes besides ``generator`` (the CLI
    checks ``--sampler``, ``--steps``, ``--y`` ... against it); ``preview_sample_kwargs`` are the
    options of the cheap preview drawn into ``samples/`` during training.
    """

    sample_options: ClassVar[frozenset[str]] = frozenset()
    preview_sample_kwargs: ClassVar[dict[str, Any]] = {}

    @staticmethod
    def default_metric(data: TensorData) -> str | tuple[str, ...] | None:
        """``coverage`` on a 2-D mixture of modes (ring8, grid25), ``fid`` on MNIST-like ``(1, 28, 28)`` images, a
        synthetic table's ``fidelity``, ``utility`` and ``privacy`` (G10) on a table."""
        if data.modes is not None and data.std is not None:
            return "coverage"
        if data.kind == "table":
            return ("fidelity", "utility", "privacy")
        x = data.fields.get("x")
        return "fid" if data.kind == "image" and x is not None and tuple(x.shape[1:]) == (1, 28, 28) else None

    def sample(self, n: int, *, generator: torch.Generator | None = None, **options: Any) -> Tensor:
        raise NotImplementedError

    def draw(self, n: int, *, generator: torch.Generator | None = None, **options: Any) -> tuple[Any, Tensor | None]:
        """The samples of a picture (``samples/`` during training, ``genlab sample``) and the class of each, ``(N,)``
        or None: ``sample(n, ...)`` and None here; a conditioned model draws a row per class (``Conditional``)."""
        return self.sample(n, generator=generator, **options), None

    def check_sample_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The options that were given (not ``None``); ``ConfigError`` naming any that ``sample`` does not take."""
        given = {k: v for k, v in options.items() if v is not None}
        bad = sorted(set(given) - set(self.sample_options))
        if bad:
            takes = ", ".join(sorted(self.sample_options)) or "no options"
            raise ConfigError(f"{type(self).__name__}.sample takes no {', '.join(bad)} (it takes {takes}): "
                              f"drop them for this model")
        return given


class Conditional(Generative):
    """A ``Generative`` model that can be conditioned on a class label: ``sample(n, y=...)`` (an int or ``(n,)``
    labels). Whether this instance is (a cGAN, a class-conditional DDPM) or not (the same class trained with no
    labels) is ``conditioned``: the one place that decides it."""

    @property
    def num_classes(self) -> int:
        return int(self.config.num_classes)

    @property
    def conditioned(self) -> bool:
        """Whether this instance takes a label (it was built with classes to condition on)."""
        return self.num_classes > 0

    def draw(self, n: int, *, generator: torch.Generator | None = None, y: Tensor | int | None = None,
             **options: Any) -> tuple[Any, Tensor | None]:
        """A picture's samples and their labels ``(N,)``: without ``y``, one grid row per class, class by class
        (``0, 0, …, 1, 1, …``: it shows that the label steers the samples), ``⌊n / K⌋`` samples in each of the ``K``
        classes (``n < K``: one in each of the first ``n``), never more than ``n``; with ``y``, ``n`` samples of the
        labels it names (an int: one class). An unconditioned instance: ``sample``."""
        if not self.conditioned:
            return super().draw(n, generator=generator, y=y, **options)  # its sample refuses a label
        n = check_count(n)
        rows = min(n, self.num_classes)
        labels = (torch.arange(rows, device=self.device).repeat_interleave(n // rows) if y is None
                  else check_labels(self, y, n, num_classes=self.num_classes, null_label=True))  # sample checks it too
        return self.sample(len(labels), generator=generator, y=labels, **options), labels


class Reconstructs:
    """``reconstruct(x)``: the model's reconstruction of ``x``, in data space, same shape."""

    anomaly_score_name: ClassVar[str] = "squared error"

    def reconstruct(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def anomaly_score(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """``‖x − x̂‖²`` per example ``(B,)``."""
        return (self.reconstruct(x) - x).pow(2).flatten(1).sum(1)


class Encodes:
    """``encode(x)``: a code per example (a VAE returns ``(μ, log σ²)``; ``code_needs_label``: ``encode(x, y)``)."""

    code_needs_label: ClassVar[bool] = False

    def encode(self, x: Tensor) -> Any:
        raise NotImplementedError


class LatentVariable:
    """A latent-variable model with a tractable bound: ``elbo(x)`` (V1) and importance weights (V8)."""

    default_metric: ClassVar[str] = "elbo"
    anomaly_score_name: ClassVar[str] = "-ELBO"
    panels: ClassVar[tuple[Panel, ...]] = panel_sets.LATENT_VARIABLE

    def anomaly_score(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """``−ELBO(x)`` per example (one sample from ``generator``)."""
        return -self.elbo(x, generator=generator)

    def elbo(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError

    def log_importance_weights(self, x: Tensor, k: int, *, generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError


class DiffusionBound:
    """``nll_bpd(x, y, *, generator, terms)``: a bound on ``−log p(x)`` in bits/dim estimated with ``terms``
    Monte Carlo terms per example (``None``: ``bound_terms_default``; D4, D5)."""

    bound_terms_default: ClassVar[int | None] = None
    default_metric: ClassVar[str] = "bpd"
    panels: ClassVar[tuple[Panel, ...]] = panel_sets.DIFFUSION


@dataclasses.dataclass(frozen=True, eq=False)
class Player:
    """One player of an adversarial game (G3): its network and the optimizer that trains it (F5).

    ``optimizer``: ``"adam"`` with ``betas`` = (β1, β2), or ``"rmsprop"`` (weight-clipped WGAN; no betas)."""

    name: str  # "discriminator", "generator" ...: names its parameter group and its errors
    module: nn.Module  # its parameters are what its optimizer trains
    optimizer: Literal["adam", "rmsprop"] = "adam"
    betas: tuple[float, float] = (0.9, 0.999)
    lr_scale: float = 1.0  # its learning rate is the run's lr × lr_scale (two time-scale updates)

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "rmsprop"):
            raise ConfigError(f"player {self.name!r}: optimizer must be 'adam' or 'rmsprop', got {self.optimizer!r}: "
                              f"declare one of them in the model's players()")


class Adversarial:
    """Two players trained against each other by ``AdversarialSystem``, which reads this declaration only:

    - ``players()``: (D, G) in step order — the discriminator (a critic) and the generator, each a ``Player``;
    - ``critic_steps``: k, D's steps per G step (G3; 1 by default);
    - ``wasserstein``: D is a critic whose loss estimates a Wasserstein distance (G9) and has no floor, so the
      system's divergence check (``J_D ≈ 0``) skips it (False by default);
    - ``discriminator_loss(**batch)`` / ``generator_loss(**batch)``: ``ModelOutput``s with named terms;
    - ``after_discriminator_step()``: after each D step (weight clipping).

    ``parameter_groups`` gives each player's parameters by its name (a model whose bases put ``Model`` first
    takes it with ``parameter_groups = Adversarial.parameter_groups``)."""

    panels: ClassVar[tuple[Panel, ...]] = panel_sets.ADVERSARIAL

    def players(self) -> tuple[Player, Player]:
        raise NotImplementedError

    @property
    def critic_steps(self) -> int:
        return 1

    @property
    def wasserstein(self) -> bool:
        return False

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {p.name: list(p.module.parameters()) for p in self.players()}

    def discriminator_loss(self, **batch: Tensor) -> ModelOutput:
        raise NotImplementedError

    def generator_loss(self, **batch: Tensor) -> ModelOutput:
        raise NotImplementedError

    def after_discriminator_step(self) -> None:
        """Nothing by default."""


def detached(state: Any) -> Any:
    """``state`` (a tensor, or a tuple / list of them: an LSTM's ``(h, c)``) detached from the graph."""
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple | list):
        return type(state)(detached(s) for s in state)
    return state


class CarriesState:
    """A model that continues from a state carried across the batches of an ordered stream (truncated
    backpropagation through time, R2): ``forward(**batch, state=None)`` returns an output whose ``state`` is where
    the next batch's rows continue (row b of the next batch follows row b of this one: ``LoaderPolicy(order=
    "stream")``, which such a model declares as its ``loader_policy``).

    The system owns the carry (``training.systems``): it passes the previous batch's state, detached (gradients stop
    at the batch boundary), starts from ``None`` where the stream starts (each epoch), keeps a separate carry for
    validation and for evaluation, and saves the training carry in checkpoints, so a run killed mid-epoch resumes
    bit-exactly. ``state_rows(state, rows)`` picks the streams ``rows`` of a state (its tensors' dim 1 by default:
    PyTorch's ``(layers, B, H)``)."""

    def state_rows(self, state: Any, rows: list[int]) -> Any:
        if state is None:
            return None
        if isinstance(state, Tensor):
            return state[:, rows]
        return type(state)(self.state_rows(s, rows) for s in state)


class Predicts:
    """Maps named input fields to an output per example that is compared with the field ``target`` of the data:
    ``outputs(fields, generator=None)`` (a classifier's ``predict``, an image-to-image model's ``translate``).
    ``genlab sample`` shows random test examples as their inputs, the output and the truth
    (``renderer().write`` of named fields); ``inputs_of(fields)`` picks what the model reads (not the target)."""

    target: ClassVar[str] = "y"
    #: whether its outputs are drawn (``samples/`` during training, ``genlab sample``): an image-to-image model's are
    preview: ClassVar[bool] = False

    def inputs_of(self, fields: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """The fields of ``fields`` this model reads to produce its output: its declared ``inputs`` (not the optional
        ones, which only its loss reads) but the ``target``."""
        reads = getattr(type(self), "inputs", None)  # a Model's required inputs; anything else reads every field
        return {k: v for k, v in fields.items() if (reads is None or k in reads) and k != self.target}

    def outputs(self, fields: Mapping[str, Tensor], *, generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError


class Translates(Predicts):
    """``translate(**fields, generator=None)``: the model's output image for each source (pix2pix, G8): its
    inputs are ``inputs_of(fields)`` (e.g. ``source``), compared with the field ``target`` (``x``)."""

    target: ClassVar[str] = "x"
    preview: ClassVar[bool] = True
    default_metric: ClassVar[str] = "translation"

    def translate(self, *, generator: torch.Generator | None = None, **fields: Tensor) -> Tensor:
        raise NotImplementedError

    def outputs(self, fields, *, generator=None) -> Tensor:
        return self.translate(**self.inputs_of(fields), generator=generator)


class Classifier(Predicts):
    """``predict(**fields)``: the most probable class of each example, ``(B,)`` int64, read from the fields it
    declares (``x`` for an image classifier; ``story`` and ``question`` for a QA model) and compared with
    ``target`` (``y``; a QA model's ``answer``)."""

    default_metric: ClassVar[tuple[str, ...]] = ("accuracy", "f1")  # f1: macro-F1, each class weighing the same
    panels: ClassVar[tuple[Panel, ...]] = panel_sets.CLASSIFIER

    def predict(self, **fields: Tensor) -> Tensor:
        raise NotImplementedError

    def outputs(self, fields, *, generator=None) -> Tensor:
        return self.predict(**self.inputs_of(fields))


class Transduces(Predicts):
    """A sequence-to-sequence model (R9's attentive decoder; A6's encoder–decoder): reads a ``source`` sequence of
    symbol ids and writes an output sequence of another vocabulary, compared with the data's ``target`` (rows of the
    same ``group`` are alternative correct outputs of one source: a word's pronunciations).

    - ``transduce(source, source_lengths=None, *, beam=1, max_length=None, length_penalty=0.0)`` → one list of
      output ids per source (no ``<bos>``, cut before ``<eos>``): greedy at ``beam=1``, else beam search with
      ``beam`` hypotheses, the finished ones ranked by log-probability / lp(|y|)^``length_penalty``;
    - ``alignment(source, output, source_lengths=None)`` → ``(B, T, S)``: the attention each output symbol (and the
      final ``<eos>``) paid to each source symbol, the output fed back as the decoder's input;
    - ``outputs(fields)``: the greedy outputs padded with 0 to ``(B, max_output)`` (what ``genlab sample`` draws);
    - ``source_ids(texts)`` / ``output_text(ids)``: a user's texts as a padded source batch (``ConfigError`` naming
      the symbols its vocabulary lacks) and an output as text (``genlab sample RUN --input WORD``).

    Not an image-to-image ``Translates``: its inputs and outputs are sequences of different lengths and
    vocabularies."""

    target: ClassVar[str] = "target"
    preview: ClassVar[bool] = True
    default_metric: ClassVar[str] = "wer"

    @property
    def max_output(self) -> int:
        """The longest output ``transduce`` writes by default (symbols, ``<eos>`` not counted)."""
        return int(self.config.max_output)

    def transduce(self, source: Tensor, source_lengths: Tensor | None = None, *, beam: int = 1,
                  max_length: int | None = None, length_penalty: float = 0.0) -> list[list[int]]:
        raise NotImplementedError

    def alignment(self, source: Tensor, output: Tensor, source_lengths: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def source_ids(self, texts: list[str]) -> Tensor:
        raise NotImplementedError

    def output_text(self, ids: list[int]) -> str:
        raise NotImplementedError

    def outputs(self, fields, *, generator=None) -> Tensor:
        inputs = self.inputs_of(fields)
        rows = self.transduce(inputs["source"], fields.get("source_lengths"))
        out = torch.zeros(len(rows), self.max_output, dtype=torch.int64)  # (B, max_output), 0 = <pad>
        for i, ids in enumerate(rows):
            out[i, : len(ids)] = torch.tensor(ids[: self.max_output], dtype=torch.int64)
        return out


class Forecasts:
    """A forecaster of a time series (S1): ``forecast(context, horizon, *, exogenous=None, samples=0, generator=None)``
    → ``Forecast``: from ``context`` ``(B, L, C)`` in data units (the series in channel 0, then its exogenous
    channels), the point forecast ``(B, H)`` and, with ``samples`` S > 0, S sample paths ``(B, S, H)`` (Monte-Carlo
    dropout, N5) for prediction intervals; ``exogenous`` ``(B, H, E)``: the exogenous channels over the horizon
    (calendar features), needed when C > 1. Evaluated by rolling origin over the test part (``forecast``)."""

    default_metric: ClassVar[str] = "forecast"
    panels: ClassVar[tuple[Panel, ...]] = (Panel("loss (mean squared error, standardized units)", ("loss",)),
                                           Panel("mean absolute error (standardized units)", ("mae",)))

    def forecast(self, context: Tensor, horizon: int, *, exogenous: Tensor | None = None, samples: int = 0,
                 generator: torch.Generator | None = None) -> Any:
        raise NotImplementedError


class ReconstructionScored:
    """``reconstruction_error(x)``: the per-example reconstruction loss ``(B,)`` (anomaly scores, AE6)."""

    anomaly_score_name: ClassVar[str] = "reconstruction error"

    def reconstruction_error(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def anomaly_score(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        return self.reconstruction_error(x)


class ClosedForm:
    """Fitted in closed form: ``fit(data)`` sets the model's state (registered buffers, so ``save_pretrained``
    keeps it) from the whole training split, a ``TensorData``, in one pass — no gradient steps, no optimizer.
    ``training.systems.FitSystem`` trains it instead of the Lightning Trainer; its ``forward`` loss is what
    validation reports. Before ``fit`` its other methods refuse with an error that says to train it first."""

    def fit(self, data: TensorData) -> None:
        raise NotImplementedError


def panels_of(model: object) -> tuple[Panel, ...]:
    """The curves ``model``'s run draws (``genlab.panels``): the ``panels`` its own class (or a model class it derives
    from) declares, else those of the first capability that has some (``Adversarial`` first, then ``PRECEDENCE``),
    else its loss."""
    for klass in type(model).__mro__:
        if klass is Model:
            break
        if "panels" in vars(klass):
            return vars(klass)["panels"]
    for capability in (Adversarial, *PRECEDENCE):
        if isinstance(model, capability) and "panels" in vars(capability):
            return vars(capability)["panels"]
    return panel_sets.LOSS


#: the capabilities from the most to the least specific: a model's default metric (``default_metric``: a name, a
#: tuple of names, or a function of the test data that returns one or None) and its anomaly score
#: (``anomaly_score_name``, ``anomaly_score``) come from the first capability it declares that has one. A new
#: capability takes its place here.
PRECEDENCE: tuple[type, ...] = (LatentVariable, DiffusionBound, Classifier, Transduces, Translates, Forecasts,
                                ReconstructionScored, Reconstructs, Generative)


def declared(model: object, attribute: str) -> tuple[type, Any] | None:
    """``(capability, value)`` of the first capability in ``PRECEDENCE`` that ``model`` declares and that defines
    ``attribute``; None when none does."""
    for capability in PRECEDENCE:
        if isinstance(model, capability) and attribute in vars(capability):
            return capability, vars(capability)[attribute]  # the capability's own, not the model's MRO's
    return None
