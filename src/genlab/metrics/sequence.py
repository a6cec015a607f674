"""Sequence error rates: Levenshtein ``edit_distance`` and the word / phoneme error rates (``error_rates``) of
grapheme-to-phoneme conversion, where a word's alternative pronunciations all count as correct.

On a dataset whose rows share a ``group`` when they are alternative correct outputs for one input (``cmudict``: a
word's pronunciations), one prediction per group is scored against all of them, as G2P toolkits score a
pronouncing dictionary (CMUSphinx g2p-seq2seq's word error rate; the Montreal Forced Aligner's word and phoneme
error rates against the closest pronunciation):

    WER = #{groups g : prediction_g ∉ references_g} / #groups,
    PER = Σ_g min_{r ∈ references_g} d(prediction_g, r) / Σ_g |r*_g|,

``d`` the edit distance and ``r*_g`` the closest reference of group g (the first in row order among equally
close ones), so a prediction is scored against the pronunciation it is nearest to. Pure Python on int sequences
(lists, tuples, 1-D tensors' ``tolist()``); imports neither torch nor numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

from genlab.errors import ConfigError


def edit_distance(a: Sequence[int], b: Sequence[int]) -> int:
    """The Levenshtein distance between ``a`` and ``b``: the fewest insertions, deletions and substitutions (each
    cost 1) that turn ``a`` into ``b``. The O(|a| · |b|) dynamic programme, one row at a time:
    ``D[i][j] = min(D[i-1][j] + 1, D[i][j-1] + 1, D[i-1][j-1] + [a_i ≠ b_j])``."""
    a, b = list(a), list(b)
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a  # the shorter one along the row
    previous = list(range(len(b) + 1))  # D[0][j] = j
    for i, x in enumerate(a, start=1):
        current = [i]  # D[i][0] = i
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def first_rows(groups: Sequence[int]) -> list[int]:
    """The row of each group's first appearance, in that order: the rows to predict from (one per input)."""
    seen: set[int] = set()
    rows = []
    for i, g in enumerate(groups):
        g = int(g)
        if g not in seen:
            seen.add(g)
            rows.append(i)
    return rows


def error_rates(predictions: Sequence[Sequence[int]], references: Sequence[Sequence[int]],
                groups: Sequence[int]) -> dict[str, float | int]:
    """WER and PER of ``predictions``, one per group in the order the groups first appear in ``groups`` (the rows
    of ``first_rows(groups)``), against ``references`` (one per row; row i belongs to group ``groups[i]``, and
    every reference of a group is a correct output). Returns ``{"wer", "per", "words": #groups, "phonemes": Σ_g
    |r*_g|}``; ``per`` is 0 when that sum is 0 and every prediction is empty."""
    if len(references) != len(groups):
        raise ConfigError(f"error_rates got {len(references)} references but {len(groups)} groups: pass one group "
                          f"id per reference row")
    alternatives: dict[int, list[list[int]]] = {}
    for reference, g in zip(references, groups, strict=True):
        alternatives.setdefault(int(g), []).append([int(s) for s in reference])
    if len(predictions) != len(alternatives):
        raise ConfigError(f"error_rates got {len(predictions)} predictions for {len(alternatives)} groups: pass one "
                          f"prediction per group, in the order the groups first appear")
    if not alternatives:
        raise ConfigError("error_rates got no references: pass at least one row")
    wrong = edits = phonemes = 0
    for prediction, options in zip(predictions, alternatives.values(), strict=True):
        prediction = [int(s) for s in prediction]
        if prediction in options:
            distance, length = 0, len(prediction)
        else:
            distances = [edit_distance(prediction, r) for r in options]
            closest = distances.index(min(distances))  # the first of the closest references
            distance, length = distances[closest], len(options[closest])
            wrong += 1
        edits += distance
        phonemes += length
    per = edits / phonemes if phonemes else (0.0 if edits == 0 else float("inf"))
    return {"wer": wrong / len(alternatives), "per": per, "words": len(alternatives), "phonemes": phonemes}
