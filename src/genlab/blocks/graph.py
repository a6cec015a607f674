"""S3 functional model graphs: a network built from named inputs and named nodes, branch features concatenated.

The notes' "functional model" (the idea of Keras' functional API): instead of one chain of layers, a model reads
several named inputs (a story and a question; a series and its calendar features), runs a branch on each, and
joins the branches' features by concatenation before a head:

    h_n = f_n([h_{a_1}; h_{a_2}; …])   for each node n in order, its sources a_i named inputs or earlier nodes

``Graph`` holds the nodes in the order they run; a node with several sources receives their features concatenated
along the last dimension (``join="concat"``, S3), or as separate arguments (``join="args"``, for a module such as
an attention hop that reads ``(query, memory)``). The graph's ``forward(**inputs)`` returns the output node's
value (or a dict of several). Names are checked when the graph is built: a source that is neither an input nor an
earlier node is a ``ConfigError`` naming the known ones, so a graph cannot have a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError


class Node(NamedTuple):
    name: str
    module: nn.Module
    sources: tuple[str, ...]  # named inputs or earlier nodes
    join: Literal["concat", "args"] = "concat"


def node(name: str, module: nn.Module, *sources: str, join: Literal["concat", "args"] = "concat") -> Node:
    """``Node(name, module, sources, join)``: ``module`` applied to the features of ``sources``."""
    return Node(name, module, tuple(sources), join)


class Graph(nn.Module):
    """Nodes run in order on named ``inputs``; ``outputs``: the node (a name) or nodes (names) ``forward`` returns.
    The nodes' modules are submodules under their names (``graph.nodes[name]``), so parameters keep their names."""

    def __init__(self, inputs: Sequence[str], nodes: Sequence[Node], outputs: str | Sequence[str]) -> None:
        super().__init__()
        self.input_names = tuple(inputs)
        self.order: list[tuple[str, tuple[str, ...], str]] = []
        known = list(self.input_names)
        if len(set(known)) != len(known):
            raise ConfigError(f"graph inputs must have distinct names, got {list(inputs)}")
        for n in nodes:
            if n.name in known:
                raise ConfigError(f"graph node {n.name!r}: the name is already an input or an earlier node")
            if n.join not in ("concat", "args"):
                raise ConfigError(f"graph node {n.name!r}: join must be 'concat' or 'args', got {n.join!r}")
            unknown = [s for s in n.sources if s not in known]
            if unknown or not n.sources:
                raise ConfigError(f"graph node {n.name!r} reads {unknown or 'nothing'}: its sources must be inputs or "
                                  f"earlier nodes, one of {known}")
            self.order.append((n.name, n.sources, n.join))
            known.append(n.name)
        self.nodes = nn.ModuleDict({n.name: n.module for n in nodes})
        self.outputs = outputs
        missing = [o for o in ([outputs] if isinstance(outputs, str) else outputs) if o not in known]
        if missing:
            raise ConfigError(f"graph outputs {missing} are not nodes or inputs: choose among {known}")

    def forward(self, **inputs: Tensor) -> Tensor | dict[str, Tensor]:
        missing = [k for k in self.input_names if k not in inputs]
        if missing:
            raise ConfigError(f"the graph needs the inputs {list(self.input_names)}; missing {missing}")
        values: dict[str, Tensor] = {k: inputs[k] for k in self.input_names}
        for name, sources, join in self.order:
            features = [values[s] for s in sources]
            module = self.nodes[name]
            if join == "args":
                values[name] = module(*features)
            else:  # S3: the branches' features side by side, (…, Σ d_i)
                values[name] = module(features[0] if len(features) == 1 else torch.cat(features, -1))
        return values[self.outputs] if isinstance(self.outputs, str) else {o: values[o] for o in self.outputs}
