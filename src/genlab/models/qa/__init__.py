"""Question answering on story/question/answer data (kind ``"qa"``): the bag-of-words baseline; memory networks
build on the same contract (two inputs, a word answer, ``Classifier`` with ``target = "answer"``)."""

from genlab.models.qa.bag_of_words import BagOfWordsQA

__all__ = ["BagOfWordsQA"]
