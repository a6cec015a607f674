"""S2 end-to-end memory network (Sukhbaatar et al. 2015, arXiv:1503.08895) on bAbI-style stories.

Each of a story's sentences ``x_i`` is a memory slot, embedded twice per hop k, with a temporal encoding of its
recency ``r_i`` (0 = the latest sentence):

    m^k_i = Σ_j l_ij ⊙ A^k x_ij + T_A^k(r_i),   c^k_i = Σ_j l_ij ⊙ C^k x_ij + T_C^k(r_i),   u^1 = Σ_j l_j ⊙ B q_j
    p^k_i = softmax_i(u^kᵀ m^k_i),   o^k = Σ_i p^k_i c^k_i,   u^{k+1} = u^k + o^k  (layer-wise: H u^k + o^k)
    â = softmax(W u^{K+1})

``l_ij`` is 1 for the bag-of-words encoding and the position encoding (PE, §4.1)
``l_kj = (1 − j/J) − (k/d)(1 − 2j/J)`` otherwise (word j of J, dimension k of d, both from 1). Weight tying
(§2.2): **adjacent** ``A^{k+1} = C^k``, ``B = A^1``, ``Wᵀ = C^K`` (temporal tables likewise); **layer-wise**
``A^k = A``, ``C^k = C`` with a linear map ``H`` between hops. Training aids (§4.2): **linear start** (the
softmax of every hop left out, ``p = uᵀm`` on the story's slots, for the first ``linear_start`` training steps,
then put back — the paper puts it back when the validation loss stops falling; here a fixed step count, saved with
the weights so a resume continues it exactly), **random noise** (during training, after each sentence an empty
memory is inserted with probability ``random_noise``, 0.1 in the paper: only its temporal encoding, pushing older
sentences' recency back so the model does not overfit the exact T).

The network is an S3 graph (``genlab.blocks.graph``): the question branch (``u^1``) and the memory branch (``m^k``,
``c^k`` of every hop) read their own inputs; the hops node joins them; the answer node reads the last state.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.blocks.graph import Graph, node
from genlab.config import Config, require
from genlab.models.base import ModelOutput
from genlab.models.qa.common import QAModel, unread
from genlab.render import Renderer


@dataclasses.dataclass
class MemN2NConfig(Config):
    vocabulary: tuple[str, ...] = ()  # id → word (``Vocabulary.to_list()``), from the data: saved as JSON
    joiner: str = " "
    embed_dim: int = 20  # d (the paper: 20 per task, 50 jointly)
    hops: int = 3  # K
    encoding: Literal["position", "bow"] = "position"  # l_ij: PE (§4.1) or a plain bag of words
    temporal: bool = True  # T_A, T_C: the recency of each sentence
    tying: Literal["adjacent", "layerwise"] = "adjacent"
    memory_size: int = 50  # slots the temporal tables index (recencies beyond share the last)
    linear_start: int = 0  # training steps with the hops' softmax left out (LS); 0: off
    random_noise: float = 0.0  # RN: probability of an empty memory after each sentence in training (paper: 0.1)
    init_std: float = 0.1  # N(0, σ²) initialization of every embedding (the paper's σ = 0.1)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.vocabulary) >= 3, "MemN2N needs a vocabulary from the data: train it on --data babi")
        require(self.embed_dim >= 1, f"embed_dim must be ≥ 1, got {self.embed_dim}")
        require(1 <= self.hops <= 10, f"hops must be from 1 to 10 (the paper: 1–3), got {self.hops}")
        require(self.memory_size >= 1, f"memory_size must be ≥ 1, got {self.memory_size}")
        require(self.linear_start >= 0, f"linear_start must be ≥ 0 steps (0: off), got {self.linear_start}")
        require(0 <= self.random_noise < 1, f"random_noise must be in [0, 1), got {self.random_noise}")


@dataclasses.dataclass
class MemN2NOutput(ModelOutput):
    accuracy: Tensor | None = None
    support: Tensor | None = None  # share of questions whose first hop attends most to a supporting sentence


def position_weights(lengths: Tensor, width: int, d: int) -> Tensor:
    """PE ``l_kj = (1 − j/J) − (k/d)(1 − 2j/J)`` for sentences of ``lengths`` ``(…)`` words → ``(…, width, d)``,
    0 at padded positions ``j > J``."""
    J = lengths.clamp_min(1).to(torch.float32)[..., None, None]  # (…, 1, 1)
    j = torch.arange(1, width + 1, dtype=torch.float32, device=lengths.device)[:, None]  # (W, 1)
    k = torch.arange(1, d + 1, dtype=torch.float32, device=lengths.device)  # (d,)
    l = (1 - j / J) - (k / d) * (1 - 2 * j / J)  # (…, W, d)
    return l * (j <= J).to(l.dtype)


def noisy_recency(count: Tensor, slots: int, rate: float, generator: torch.Generator | None = None
                  ) -> tuple[Tensor, Tensor, Tensor]:
    """RN: recency of each real slot ``(B, M)`` and of the empty memories inserted after them ``(B, M)`` (one after
    slot i with probability ``rate``), and which empty memories exist ``(B, M)`` bool. Without noise (``rate`` 0):
    recency ``count − 1 − i`` and no empty memories."""
    i = torch.arange(slots, device=count.device)  # (M,)
    real = i < count[:, None]  # (B, M)
    if rate > 0:
        draws = torch.rand(count.shape[0], slots, generator=generator).to(count.device)
        blank = (draws < rate) & real
    else:
        blank = torch.zeros_like(real)
    g = blank.long()
    position = i + g.cumsum(1) - g  # (B, M): chronological position of real slot i among real and empty memories
    last = (count + g.sum(1) - 1)[:, None]  # (B, 1)
    return last - position, last - position - 1, blank


class QuestionBranch(nn.Module):
    """``u^1 = Σ_j l_j ⊙ B q_j`` ``(B, d)`` of ``question`` ``(B, Q)``."""

    def __init__(self, B: nn.Embedding, encoding: str) -> None:
        super().__init__()
        self.B, self.encoding = B, encoding

    def forward(self, question: Tensor) -> Tensor:
        e = self.B(question)  # (B, Q, d)
        lengths = (question != 0).sum(1)  # (B,)
        if self.encoding == "position":
            e = e * position_weights(lengths, question.shape[1], e.shape[-1])
        return (e * (question != 0)[..., None]).sum(1)


class MemoryBranch(nn.Module):
    """``m^k``, ``c^k`` ``(B, K, M', d)`` of every hop for ``sentences`` ``(B, M, W)`` and which slots hold a memory
    ``(B, M')`` (M' = M, or 2M with the empty memories of RN in training)."""

    def __init__(self, A: list[nn.Embedding], C: list[nn.Embedding], TA: list[nn.Embedding] | None,
                 TC: list[nn.Embedding] | None, encoding: str, random_noise: float, memory_size: int) -> None:
        super().__init__()
        self.A, self.C = nn.ModuleList(A), nn.ModuleList(C)
        self.TA = nn.ModuleList(TA) if TA is not None else None
        self.TC = nn.ModuleList(TC) if TC is not None else None
        self.encoding, self.random_noise, self.memory_size = encoding, random_noise, memory_size

    def forward(self, sentences: Tensor, count: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        B, M, W = sentences.shape
        words = sentences != 0  # (B, M, W)
        l = (position_weights(words.sum(-1), W, self.A[0].embedding_dim) if self.encoding == "position"
             else torch.ones(B, M, W, 1, device=sentences.device))  # (B, M, W, d | 1)
        l = l * words[..., None]

        def bag(E: nn.Embedding) -> Tensor:  # Σ_j l_ij ⊙ E x_ij → (B, M, d)
            return (E(sentences) * l).sum(2)

        m = torch.stack([bag(E) for E in self.A], 1)  # (B, K, M, d)
        c = torch.stack([bag(E) for E in self.C], 1)
        rate = self.random_noise if self.training else 0.0
        recency, blank_recency, blank = noisy_recency(count, M, rate)
        valid = torch.arange(M, device=count.device) < count[:, None]  # (B, M)
        if self.TA is not None:
            cap = self.memory_size - 1
            r = recency.clamp(0, cap)
            m = m + torch.stack([T(r) for T in self.TA], 1)
            c = c + torch.stack([T(r) for T in self.TC], 1)
            if blank.any():  # RN's empty memories: their temporal encodings only, as extra slots
                rb = blank_recency.clamp(0, cap)
                m = torch.cat([m, torch.stack([T(rb) for T in self.TA], 1)], 2)  # (B, K, 2M, d)
                c = torch.cat([c, torch.stack([T(rb) for T in self.TC], 1)], 2)
                valid = torch.cat([valid, blank], 1)  # (B, 2M)
        return m, c, valid


class Hops(nn.Module):
    """K hops: ``p^k = softmax(u^kᵀ m^k)`` over the valid slots (or ``u^kᵀ m^k`` unnormalized under linear start),
    ``o^k = Σ p^k c^k``, ``u^{k+1} = H u^k + o^k`` (H the identity under adjacent tying). Returns ``u^{K+1}``
    ``(B, d)`` and the hops' attention ``(B, K, M')``."""

    def __init__(self, H: nn.Linear | None) -> None:
        super().__init__()
        self.H = H
        self.linear = False  # set by the model while linear start lasts

    def forward(self, u: Tensor, memory: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        m, c, valid = memory
        attention = []
        for k in range(m.shape[1]):
            scores = torch.einsum("bd,bmd->bm", u, m[:, k])  # (B, M')
            if self.linear:
                p = scores * valid
            else:
                p = scores.masked_fill(~valid, float("-inf")).softmax(-1)
            o = torch.einsum("bm,bmd->bd", p, c[:, k])  # (B, d)
            u = (self.H(u) if self.H is not None else u) + o
            attention.append(p)
        return u, torch.stack(attention, 1)


class AnswerLayer(nn.Module):
    """``W u^{K+1}`` → logits ``(B, V)``: ``W`` is ``C^K``'s table transposed under adjacent tying."""

    def __init__(self, W: nn.Embedding | nn.Linear) -> None:
        super().__init__()
        self.W = W

    def forward(self, read: tuple[Tensor, Tensor]) -> Tensor:
        u = read[0]
        return u @ self.W.weight.T if isinstance(self.W, nn.Embedding) else self.W(u)


class MemN2N(QAModel):
    """Reads ``sentences`` (a story's memory slots) and ``question``, predicts the ``answer`` word (S2)."""

    config_class = MemN2NConfig
    inputs = ("sentences", "sentence_count", "question", "answer")
    optional_inputs = unread(inputs, "supporting")

    def __init__(self, config: MemN2NConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        V, d, K = len(c.vocabulary), c.embed_dim, c.hops

        def table(n: int) -> nn.Embedding:
            e = nn.Embedding(n, d)
            nn.init.normal_(e.weight, std=c.init_std)
            return e

        if c.tying == "adjacent":  # E_0 … E_K: A^k = E_{k−1}, C^k = E_k, B = E_0, Wᵀ = E_K
            E = [table(V) for _ in range(K + 1)]
            A, C, Bq, W, H = E[:-1], E[1:], E[0], E[-1], None
            T = [table(c.memory_size) for _ in range(K + 1)] if c.temporal else None
            TA, TC = (T[:-1], T[1:]) if T else (None, None)
        else:  # one A, one C for every hop, H between hops
            A1, C1 = table(V), table(V)
            A, C, Bq, W, H = [A1] * K, [C1] * K, table(V), nn.Linear(d, V, bias=False), nn.Linear(d, d, bias=False)
            T = [table(c.memory_size), table(c.memory_size)] if c.temporal else None
            TA, TC = ([T[0]] * K, [T[1]] * K) if T else (None, None)
        self.hops = Hops(H)
        self.graph = Graph(
            inputs=("sentences", "sentence_count", "question"),
            nodes=[node("u", QuestionBranch(Bq, c.encoding), "question"),
                   node("memory", MemoryBranch(A, C, TA, TC, c.encoding, c.random_noise, c.memory_size),
                        "sentences", "sentence_count", join="args"),
                   node("read", self.hops, "u", "memory", join="args"),
                   node("logits", AnswerLayer(W), "read")],
            outputs=("read", "logits"))
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))  # training steps taken (linear start)

    def _run(self, sentences: Tensor, sentence_count: Tensor, question: Tensor) -> tuple[Tensor, Tensor]:
        """Logits ``(B, V)`` and the hops' attention ``(B, K, M')``."""
        self.hops.linear = self.training and int(self.steps) < self.config.linear_start
        out = self.graph(sentences=sentences, sentence_count=sentence_count, question=question)
        return out["logits"], out["read"][1]

    def forward(self, sentences: Tensor, sentence_count: Tensor, question: Tensor, answer: Tensor,
                supporting: Tensor | None = None, **unread_fields: Tensor) -> MemN2NOutput:
        """F2: mean cross-entropy of the answer word; the batch's accuracy and the share of questions whose first hop
        reads a supporting sentence most (the story as one sequence, the task: left alone)."""
        logits, attention = self._run(sentences, sentence_count, question)
        if self.training:
            self.steps += 1
        support = None
        if supporting is not None:
            first = attention[:, 0, : sentences.shape[1]].argmax(-1)  # (B,) the slot hop 1 reads most
            support = (supporting == first[:, None]).any(-1).float().mean()
        return MemN2NOutput(F.cross_entropy(logits, answer), accuracy=(logits.argmax(-1) == answer).float().mean(),
                            support=support)

    @torch.no_grad()
    def predict(self, sentences: Tensor, sentence_count: Tensor, question: Tensor) -> Tensor:
        """The most probable answer word's id per example → ``(B,)`` int64."""
        return self._run(sentences, sentence_count, question)[0].argmax(-1)

    @torch.no_grad()
    def log_probs(self, sentences: Tensor, sentence_count: Tensor, question: Tensor) -> Tensor:
        """``log â``: the log-probability of every word as the answer → ``(B, V)`` (what an ensemble averages)."""
        return self._run(sentences, sentence_count, question)[0].log_softmax(-1)

    @torch.no_grad()
    def attention(self, sentences: Tensor, sentence_count: Tensor, question: Tensor) -> Tensor:
        """``p^k_i`` of each hop over the story's sentences → ``(B, K, M)`` (in eval mode: no RN, no linear start)."""
        was = self.training
        self.eval()
        try:
            return self._run(sentences, sentence_count, question)[1][..., : sentences.shape[1]]
        finally:
            self.train(was)

    def renderer(self) -> Renderer:
        """Stories with each hop's attention over their sentences (``.txt``, or a ``.png`` heat map)."""
        from genlab.models.qa.render import HopAttention

        return HopAttention(vocabulary=tuple(self.config.vocabulary), joiner=self.config.joiner,
                            attend=lambda s, n, q: self.attention(s.to(self.device), n.to(self.device),
                                                                  q.to(self.device)).cpu())
