"""Question answering on story/question/answer data (kind ``"qa"``): the bag-of-words baseline, the LSTM baseline
and the end-to-end memory network (S2), all ``Classifier``s with ``target = "answer"``."""

from genlab.models.qa.bag_of_words import BagOfWordsQA
from genlab.models.qa.lstm_qa import LSTMQA
from genlab.models.qa.memn2n import MemN2N

__all__ = ["BagOfWordsQA", "LSTMQA", "MemN2N"]
