"""The notes' convolutional classifier: a LeNet-style CNN for MNIST (C1, C2, C5, F1, F2, N1/N2, N4; A10).

LeCun, Bottou, Bengio & Haffner, "Gradient-Based Learning Applied to Document Recognition", 1998.

Two blocks ``conv (C1) → batch norm (N2) → ReLU → max-pool (C5)`` and an MLP head
``flatten → linear → ReLU → dropout (N4) → linear`` give the logits (F1); the loss is the
cross-entropy computed from the logits (F2). The 128-d penultimate activations (``features``) are
the feature space of genlab's MNIST FID (``genlab.metrics.fid``); ``pretrained_lenet()`` loads the
weights shipped in ``genlab/assets``.

``non_local=True`` adds the notes' step from convolution to attention (A10) after the first block: a non-local
block (Wang et al. 2018, arXiv:1711.07971) ``z_i = x_i + W_z Σ_j softmax_j(θ(x_i)ᵀφ(x_j)/√d) g(x_j)`` over every
position of the feature map, where a convolution sees only a ``k × k`` neighbourhood; ``W_z`` starts at zero, so
the network starts as the plain LeNet.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from importlib.resources import files
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.blocks.attention import NonLocalBlock  # A10
from genlab.blocks.conv import conv_output_size  # C2, shared with every conv model
from genlab.config import Config, require
from genlab.errors import ConfigError, LoadError, ShapeError
from genlab.models.base import Classifier, Model, ModelOutput, image_shape_of, num_classes_of
from genlab.models.inputs import check_data, check_labels

log = logging.getLogger(__name__)

ASSET_WEIGHTS = "lenet_mnist.safetensors"
ASSET_INFO = "lenet_mnist.json"


@dataclasses.dataclass
class LeNetConfig(Config):
    in_channels: int = 1  # image channels (MNIST: 1)
    image_size: int = 28  # height = width of the input
    num_classes: int = 10
    channels: tuple[int, ...] = (32, 64)  # output channels of each conv block (C1)
    kernel_size: int = 5  # f, the square conv filter
    padding: tuple[int, ...] = (2, 0)  # p per conv block: 2 = 'same' for f=5, 0 = 'valid' (C2)
    stride: int = 1  # s of every conv
    pool: int = 2  # max-pool window = stride (C5)
    batch_norm: bool = True  # N2: per-channel batch norm after each conv
    hidden: int = 128  # width of the penultimate layer = FID feature dimension
    dropout: float = 0.3  # N4 before the output layer
    non_local: bool = False  # A10: a non-local block after the first conv block (attention over all positions)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.channels) >= 1 and all(c >= 1 for c in self.channels),
                f"channels needs at least one positive width, got {self.channels}")
        require(len(self.padding) == len(self.channels),
                f"padding needs one value per conv block ({len(self.channels)}), got {self.padding}")
        require(all(p >= 0 for p in self.padding), f"padding must be ≥ 0, got {self.padding}")
        for name in ("in_channels", "kernel_size", "stride", "pool", "hidden"):
            require(getattr(self, name) >= 1, f"{name} must be ≥ 1, got {getattr(self, name)}")
        require(0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}")
        require(self.num_classes >= 2, f"num_classes must be ≥ 2 (a classifier tells classes apart), got "
                                       f"{self.num_classes}")
        n = self.image_size
        too_small = (f"image_size {self.image_size} is too small for {len(self.channels)} conv blocks "
                     f"with kernel_size {self.kernel_size}: lower kernel_size or add padding")
        for p in self.padding:
            try:
                n = conv_output_size(n, self.kernel_size, self.stride, p)
            except ShapeError:
                raise ConfigError(too_small) from None
            require(n >= self.pool, too_small)
            n = conv_output_size(n, self.pool, self.pool)


@dataclasses.dataclass
class ClassifierOutput(ModelOutput):
    """``loss`` = mean cross-entropy (F2), ``accuracy`` (0-d), ``logits`` ``(B, num_classes)``."""

    accuracy: Tensor
    logits: Tensor


class LeNet(Model, Classifier):
    """LeNet-style CNN classifier (C1 convolutions, C2 sizes, C5 max-pooling, F1 logits, F2 loss)."""

    config_class = LeNetConfig
    inputs = ("x", "y")  # images and their labels (F2)
    optional_inputs = ()
    kinds = ("image",)

    @classmethod
    def data_defaults(cls, data) -> dict:
        """Channels and side of the data's square images, and the number of classes in the labels; other data
        (2-D points, vectors) is refused, naming the image datasets."""
        c, h, _ = image_shape_of(data, cls.__name__)
        return {"in_channels": c, "image_size": h, **num_classes_of(data)}

    def __init__(self, config: LeNetConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        blocks: list[nn.Module] = []
        cin, n = c.in_channels, c.image_size
        for i, (cout, p) in enumerate(zip(c.channels, c.padding, strict=True)):
            blocks += [nn.Conv2d(cin, cout, c.kernel_size, stride=c.stride, padding=p, bias=not c.batch_norm)]
            if c.batch_norm:
                blocks += [nn.BatchNorm2d(cout)]
            blocks += [nn.ReLU(), nn.MaxPool2d(c.pool)]
            if i == 0 and c.non_local:
                blocks += [NonLocalBlock(cout)]  # A10, (B, C, H, W) → same
            n = conv_output_size(conv_output_size(n, c.kernel_size, c.stride, p), c.pool, c.pool)
            cin = cout
        self.conv = nn.Sequential(*blocks)
        self.spatial = n  # side of the last feature map, from C2
        self.flat_dim = cin * n * n  # C·n·n
        self.fc = nn.Linear(self.flat_dim, c.hidden)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden, c.num_classes)
        self._assert_sizes()

    def _assert_sizes(self) -> None:
        # The C2 formula must agree with what the layers actually produce.
        c = self.config
        was_training = self.conv.training
        self.conv.eval()  # no batch-norm statistics update
        with torch.no_grad():
            out = self.conv(torch.zeros(1, c.in_channels, c.image_size, c.image_size))
        self.conv.train(was_training)
        assert tuple(out.shape[1:]) == (c.channels[-1], self.spatial, self.spatial), (
            f"C2 output size {self.spatial} disagrees with the layers' {tuple(out.shape[1:])}")

    def _inputs(self, x: Tensor) -> Tensor:
        """``x`` checked by ``check_data``: float images ``(B, C, H, W)`` in [0, 1], in the parameters' dtype."""
        c = self.config
        return check_data(self, x, what="images", shape=(c.in_channels, c.image_size, c.image_size),
                          unit_interval=True,
                          hint=f"reshape flat vectors with x.view(-1, {c.in_channels}, {c.image_size}, "
                               f"{c.image_size}) or load a {c.image_size}x{c.image_size} dataset such as mnist")

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations ``ReLU(W flatten(conv(x)) + b)`` → ``(B, hidden)`` (FID features).

        ``x``: float images in [0, 1] (other float dtypes are converted to the parameters'; integer
        images are refused: ``x.float() / 255``)."""
        h = self.conv(self._inputs(x))  # (B, C, n, n)
        return F.relu(self.fc(h.flatten(1)))  # (B, hidden)

    def logits(self, x: Tensor) -> Tensor:
        """F1: the values before the softmax, ``(B, num_classes)``."""
        return self.head(self.drop(self.features(x)))

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Most probable class ``argmax softmax(logits)`` → ``(B,)`` int64 (uses the current mode)."""
        return self.logits(x).argmax(-1)

    def forward(self, x: Tensor, y: Tensor | None = None) -> ClassifierOutput:
        """F2: mean cross-entropy from the logits (log-sum-exp), plus accuracy; ``y`` is required."""
        if y is None:
            raise TypeError("LeNet.forward needs labels y to compute the loss: "
                            "call model.logits(x) or model.predict(x) for inference")
        logits = self.logits(x)  # (B, K); checks x
        y = check_labels(self, y, len(logits), num_classes=self.config.num_classes)
        loss = F.cross_entropy(logits, y)
        accuracy = (logits.detach().argmax(-1) == y).float().mean()
        return ClassifierOutput(loss=loss, accuracy=accuracy, logits=logits)


def asset_info() -> dict[str, Any]:
    """The metadata shipped next to the pretrained weights (config, test accuracy, command)."""
    path = files("genlab") / "assets" / ASSET_INFO
    if not path.is_file():
        raise LoadError(f"{ASSET_INFO} is missing from genlab/assets: reinstall genlab or run "
                        f"benchmarks/train_lenet.py to recreate it")
    return json.loads(path.read_text())


def pretrained_lenet(*, map_location: str = "cpu") -> LeNet:
    """The LeNet trained on MNIST shipped with genlab (``genlab/assets/lenet_mnist.*``), in eval mode.

    Loaded with ``safetensors`` (no pickle). Its test accuracy and the command that reproduces it are
    in ``asset_info()``.
    """
    from safetensors.torch import load_file

    info = asset_info()
    weights = files("genlab") / "assets" / ASSET_WEIGHTS
    if not weights.is_file():
        raise LoadError(f"{ASSET_WEIGHTS} is missing from genlab/assets: reinstall genlab or run "
                        f"benchmarks/train_lenet.py to recreate it")
    model = LeNet(LeNetConfig.from_dict(info["config"]))
    model.load_state_dict(load_file(str(weights), device=map_location))
    return model.eval()
