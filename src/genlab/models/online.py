"""A classifier that learns from a stream (F7, the online half): updated chunk by chunk as the data arrives.

Batch learning fits a model to a fixed stored dataset; online learning updates it incrementally, one chunk at a
time, and never needs the data again — so it follows a stream whose distribution drifts. ``OnlineClassifier`` is
logistic regression (``hidden=0``) or a one-hidden-layer MLP on standardized inputs, where the standardization
(the running mean and variance of each feature) is itself updated online, by Welford's algorithm merged a chunk
at a time (Chan, Golub & LeVeque, "Updating formulae and a pairwise algorithm for computing sample variances",
1979): no pass over the data is needed to scale it.

``update(x, y)`` folds the chunk into the running moments, then takes ``passes × ⌈n / batch_size⌉`` Adam (or SGD)
steps on the chunk's cross-entropy (F2); ``fit(x, y, epochs)`` is the batch regime on the same model (many passes
over a stored dataset). Inputs are numpy arrays or tensors: ``x`` float ``(n, d)``, ``y`` class indices ``(n,)``.

``save_pretrained(dir)`` / ``OnlineClassifier.from_pretrained(dir)`` (or ``genlab.load``) keep everything the
learner carries between chunks — weights, running moments, the optimizer's moments and step, the row-order
generator — as safetensors, so a reloaded learner continues the stream exactly as if it had never stopped.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.config import Config, require
from genlab.errors import ShapeError, check_shape
from genlab.hub import PretrainedMixin


@dataclasses.dataclass
class OnlineConfig(Config):
    n_features: int = 3  # d, the width of x
    num_classes: int = 2  # K; y holds class indices 0..K−1
    hidden: int = 0  # 0: logistic regression; > 0: one hidden ReLU layer of this width
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = 0.03  # step size of each update step (chosen on SEA and digits streams: 0.01 adapts slowly)
    weight_decay: float = 0.0  # L2 penalty (AdamW-style for adam)
    batch_size: int = 32  # rows per step inside a chunk
    passes: int = 1  # passes over each chunk per update (more: faster adaptation, more forgetting)
    standardize: bool = True  # scale inputs by their running mean / std (Welford), updated before the steps
    seed: int = 0  # initial weights and the order of rows inside each chunk

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_features", "batch_size", "passes"):
            require(getattr(self, name) >= 1, f"{name} must be ≥ 1, got {getattr(self, name)}")
        require(self.num_classes >= 2, f"num_classes must be ≥ 2 (a classifier tells classes apart), got "
                                       f"{self.num_classes}")
        require(self.hidden >= 0, f"hidden must be ≥ 0 (0: logistic regression), got {self.hidden}")
        require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(self.weight_decay >= 0, f"weight_decay must be ≥ 0, got {self.weight_decay}")


class RunningMoments(nn.Module):
    """Per-feature count, mean and sum of squared deviations ``M2``, merged a chunk at a time (Welford / Chan et
    al. 1979): for a new chunk b, ``δ = mean_b − mean``, ``mean += δ·n_b/n``, ``M2 += M2_b + δ²·n_a·n_b/n``.
    ``std`` is the population standard deviation ``sqrt(M2 / n)``: the batch ``x.std(0, unbiased=False)``."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(d, dtype=torch.float64))  # (d,)
        self.register_buffer("m2", torch.zeros(d, dtype=torch.float64))  # (d,)

    @torch.no_grad()
    def update(self, x: Tensor) -> None:
        xb = x.to(torch.float64)  # (n, d)
        n_b = xb.shape[0]
        if n_b == 0:
            return
        mean_b = xb.mean(0)  # (d,)
        m2_b = ((xb - mean_b) ** 2).sum(0)  # (d,)
        n_a, n = self.count.clone(), self.count + n_b
        delta = mean_b - self.mean
        self.mean += delta * (n_b / n)
        self.m2 += m2_b + delta**2 * (n_a * n_b / n)
        self.count.copy_(n)

    @property
    def std(self) -> Tensor:
        return (self.m2 / self.count.clamp(min=1)).sqrt()  # (d,)

    def normalize(self, x: Tensor) -> Tensor:
        """``(x − mean) / std``; a feature with no spread yet (std ≈ 0) is only centred."""
        std = self.std
        std = torch.where(std > 1e-8, std, torch.ones_like(std))
        return ((x - self.mean.to(x.dtype)) / std.to(x.dtype)) if self.count > 0 else x


class OnlineClassifier(PretrainedMixin, nn.Module):
    """Logistic regression or a small MLP on running-standardized inputs, trained by ``update`` as chunks arrive
    (F7 online) or by ``fit`` on a stored dataset (F7 batch). ``forward(x)`` gives the logits ``(n, K)``."""

    config_class = OnlineConfig
    #: the optimizer's per-parameter state saved with the weights (AdamW's; plain SGD keeps none)
    _OPTIMIZER_STATE = {"adam": ("step", "exp_avg", "exp_avg_sq"), "sgd": ()}

    def __init__(self, config: OnlineConfig | None = None, **overrides) -> None:
        super().__init__()
        config = config or OnlineConfig()
        self.config = config = config.replace(**overrides) if overrides else config
        gen = torch.Generator().manual_seed(config.seed)  # the weights: seeded, not the global RNG
        d, k, h = config.n_features, config.num_classes, config.hidden
        layers = [nn.Linear(d, k)] if h == 0 else [nn.Linear(d, h), nn.ReLU(), nn.Linear(h, k)]
        self.net = nn.Sequential(*layers)
        with torch.no_grad():  # PyTorch's default init, drawn from our seeded generator
            for layer in self.net:
                if isinstance(layer, nn.Linear):
                    bound = layer.in_features ** -0.5
                    layer.weight.uniform_(-bound, bound, generator=gen)
                    layer.bias.uniform_(-bound, bound, generator=gen)
        self.moments = RunningMoments(d)
        self._order = torch.Generator().manual_seed(config.seed + 1)  # row order inside each chunk
        opt = torch.optim.AdamW if config.optimizer == "adam" else torch.optim.SGD
        self.optimizer = opt(self.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    # --- saving: the learner's whole state as tensors ---------------------------------------------------------
    def state_dict(self, *args, **kwargs) -> dict[str, Tensor]:
        """The modules' tensors plus ``optimizer.{i}.{name}`` (the state of parameter ``i``; zeros before the first
        step, which is what the optimizer starts from) and ``order_state`` (the row-order generator)."""
        out = super().state_dict(*args, **kwargs)
        for i, param in enumerate(self.parameters()):
            state = self.optimizer.state.get(param, {})
            for name in self._OPTIMIZER_STATE[self.config.optimizer]:
                default = torch.zeros(()) if name == "step" else torch.zeros_like(param)
                out[f"optimizer.{i}.{name}"] = state.get(name, default).detach().clone()
        out["order_state"] = self._order.get_state()
        return out

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """The inverse of ``state_dict``: the modules' tensors, then the optimizer's state and the row order."""
        state = dict(state_dict)
        names = self._OPTIMIZER_STATE[self.config.optimizer]
        params = list(self.parameters())
        extra = {k: state.pop(k) for k in [k for k in state if k.startswith("optimizer.") or k == "order_state"]}
        result = super().load_state_dict(state, strict=strict, assign=assign)
        for i, param in enumerate(params):
            saved = {n: extra[f"optimizer.{i}.{n}"] for n in names if f"optimizer.{i}.{n}" in extra}
            if saved and float(saved.get("step", torch.ones(()))) > 0:  # a step was taken: resume its moments
                self.optimizer.state[param] = {n: v.clone().to(param.device if v.dim() else "cpu")
                                               for n, v in saved.items()}
            else:
                self.optimizer.state.pop(param, None)
        if "order_state" in extra:
            self._order.set_state(extra["order_state"].to(torch.uint8))
        return result

    def _inputs(self, x) -> Tensor:
        x = torch.as_tensor(x).to(torch.float32)
        check_shape(x, (None, self.config.n_features), "x", "one row of n_features values per example")
        return x

    def forward(self, x) -> Tensor:
        return self.net(self.moments.normalize(self._inputs(x)) if self.config.standardize else self._inputs(x))

    @torch.no_grad()
    def predict_proba(self, x) -> Tensor:
        """Class probabilities ``softmax(logits)``, ``(n, K)``."""
        return F.softmax(self(x), dim=-1)

    @torch.no_grad()
    def predict(self, x) -> Tensor:
        """The most probable class of each row, ``(n,)`` int64."""
        return self(x).argmax(-1)

    def update(self, x, y) -> float:
        """Learn from one chunk: its rows join the running moments, then ``passes`` passes of minibatch steps on
        its cross-entropy (rows shuffled). Returns the mean loss of the steps."""
        return self._train(x, y, self.config.passes)

    def fit(self, x, y, epochs: int = 20) -> float:
        """Batch learning on a stored dataset: ``epochs`` shuffled passes (the standardization sees it all first)."""
        return self._train(x, y, epochs)

    def _train(self, x, y, passes: int) -> float:
        x = self._inputs(x)
        y = torch.as_tensor(y).to(torch.int64)
        check_shape(y, (x.shape[0],), "y", "one class index per row of x")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.config.num_classes):
            raise ShapeError(f"labels must be class indices 0..{self.config.num_classes - 1}, got values from "
                             f"{int(y.min())} to {int(y.max())}: map the labels to indices or raise num_classes")
        if self.config.standardize:
            self.moments.update(x)
        self.train()
        losses = []
        b = self.config.batch_size
        for _ in range(passes):
            order = torch.randperm(len(x), generator=self._order)
            for i in range(0, len(x), b):
                idx = order[i:i + b]
                loss = F.cross_entropy(self(x[idx]), y[idx])  # F2 on the minibatch
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                losses.append(loss.item())
        self.eval()
        return sum(losses) / max(1, len(losses))

