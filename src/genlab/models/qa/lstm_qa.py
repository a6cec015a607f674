"""The memory networks' LSTM baseline (Weston et al. 2015, §5; Sukhbaatar et al. 2015, Table 1): one LSTM (R4) reads
the story's words and then the question's as one sequence, and its last state predicts the answer word:

    (h_t, c_t) = LSTM(E w_t, (h_{t−1}, c_{t−1}))   over story words, then question words
    p(a | story, question) = softmax(W h_T + b)

The story runs packed to its length, the question continues from the story's final state, packed to its own
length, so padding changes nothing. No attention over sentences: what a memory network is measured against.
"""

from __future__ import annotations

import dataclasses

from torch import Tensor, nn

from genlab.blocks.recurrent.layers import LSTM
from genlab.config import Config, require
from genlab.models.qa.common import StoryReader


@dataclasses.dataclass
class LSTMQAConfig(Config):
    vocabulary: tuple[str, ...] = ()  # id → word (``Vocabulary.to_list()``), from the data: saved as JSON
    joiner: str = " "
    embed_dim: int = 50  # the width of E
    hidden: int = 100  # LSTM units
    dropout: float = 0.0  # on the embeddings and the last state

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.vocabulary) >= 3, "the LSTM QA model needs a vocabulary from the data: train on --data babi")
        require(self.embed_dim >= 1 and self.hidden >= 1, "embed_dim and hidden must be ≥ 1")
        require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")


class LSTMQA(StoryReader):
    """Reads ``story`` then ``question`` word by word, predicts the ``answer`` word."""

    config_class = LSTMQAConfig

    def __init__(self, config: LSTMQAConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.embed = nn.Embedding(len(c.vocabulary), c.embed_dim, padding_idx=0)
        self.lstm = LSTM(c.embed_dim, c.hidden)
        self.drop = nn.Dropout(c.dropout)
        self.out = nn.Linear(c.hidden, len(c.vocabulary))

    def logits(self, story: Tensor, question: Tensor) -> Tensor:
        """``W h_T + b`` → ``(B, V)``, ``h_T`` the state after the story's and the question's last words."""
        state = None
        for words in (story, question):
            n = (words != 0).sum(1)  # (B,)
            if bool((n == 0).any()):
                raise ValueError("a story or question without words: every example needs both")
            _, state = self.lstm(self.drop(self.embed(words)), state, lengths=n)
        return self.out(self.drop(state[0][-1]))  # h_T: the last layer's state (h, c)[0], (B, H)
