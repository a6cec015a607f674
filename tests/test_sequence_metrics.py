"""``genlab.metrics.sequence``: the Levenshtein distance against a brute-force recursion and its metric properties;
WER / PER where a word's alternative pronunciations all count as correct."""

from __future__ import annotations

import functools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from genlab.errors import ConfigError
from genlab.metrics.sequence import edit_distance, error_rates, first_rows

SEQUENCES = st.lists(st.integers(0, 3), max_size=7)  # a small alphabet: many coincidences


def brute(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """The edit distance by its recursive definition (exponential without the cache)."""
    @functools.cache
    def d(i: int, j: int) -> int:
        if i == 0 or j == 0:
            return i + j
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))

    return d(len(a), len(b))


@pytest.mark.parametrize("a, b, distance", [
    ("kitten", "sitting", 3), ("flaw", "lawn", 2), ("", "abc", 3), ("abc", "", 3), ("", "", 0), ("abc", "abc", 0),
    ("abc", "cba", 2), ("ab", "ba", 2), ("intention", "execution", 5),
])
def test_known_distances(a, b, distance):
    assert edit_distance([ord(c) for c in a], [ord(c) for c in b]) == distance


@settings(max_examples=150, deadline=None)
@given(SEQUENCES, SEQUENCES)
def test_edit_distance_is_the_recursion_symmetric_and_bounded(a, b):
    d = edit_distance(a, b)
    assert d == brute(tuple(a), tuple(b)) == edit_distance(b, a)
    assert abs(len(a) - len(b)) <= d <= max(len(a), len(b))
    assert (d == 0) == (a == b)


@settings(max_examples=100, deadline=None)
@given(SEQUENCES, SEQUENCES, SEQUENCES)
def test_edit_distance_obeys_the_triangle_inequality(a, b, c):
    assert edit_distance(a, c) <= edit_distance(a, b) + edit_distance(b, c)


def test_edit_distance_reads_tensors_and_tuples():
    assert edit_distance(torch.tensor([1, 2, 3]), (1, 3)) == 1


def test_first_rows_are_the_first_appearances_in_order():
    assert first_rows([0, 0, 1, 2, 2, 2, 3]) == [0, 2, 3, 6]
    assert first_rows([5, 7, 5, 9]) == [0, 1, 3]
    assert first_rows(torch.tensor([4, 4, 1])) == [0, 2]


def test_any_alternative_counts_as_correct():
    references = [[1, 2, 3], [1, 2, 4], [5, 6]]  # word 0 has two pronunciations, word 1 one
    groups = [0, 0, 1]
    r = error_rates([[1, 2, 4], [5, 6]], references, groups)  # the second pronunciation of word 0
    assert r == {"wer": 0.0, "per": 0.0, "words": 2, "phonemes": 5}


def test_per_counts_edits_to_the_closest_reference_over_its_length():
    references = [[1, 2, 3, 4, 5, 6], [7, 8], [9, 9, 9]]
    groups = [0, 0, 1]
    # word 0: [7] is 1 edit from [7, 8] (6 from the long one) → 1 / 2; word 1: exact → 0 / 3
    r = error_rates([[7], [9, 9, 9]], references, groups)
    assert r["wer"] == 0.5 and r["words"] == 2
    assert r["phonemes"] == 2 + 3 and r["per"] == pytest.approx(1 / 5)


def test_equally_close_references_score_against_the_first():
    references = [[1, 2], [1, 2, 3, 4]]  # [1, 2, 3] is one edit from both
    r = error_rates([[1, 2, 3]], references, [0, 0])
    assert (r["wer"], r["phonemes"], r["per"]) == (1.0, 2, 0.5)
    r = error_rates([[1, 2, 3]], references[::-1], [0, 0])
    assert (r["phonemes"], r["per"]) == (4, 0.25)


def test_groups_need_not_be_consecutive_and_predictions_follow_first_appearance():
    references = [[1], [2], [3], [4]]
    groups = [7, 3, 7, 5]  # groups in first-appearance order: 7, 3, 5
    r = error_rates([[3], [2], [9]], references, groups)  # 7: [3] is an alternative; 3: right; 5: wrong
    assert r["wer"] == pytest.approx(1 / 3)
    assert r["phonemes"] == 1 + 1 + 1 and r["per"] == pytest.approx(1 / 3)


def test_wer_is_the_share_of_words_not_exactly_right_whatever_the_edits():
    references = [[1, 2, 3, 4]] * 4
    r = error_rates([[1, 2, 3, 4], [1, 2, 3], [], [4, 3, 2, 1]], references, [0, 1, 2, 3])
    assert r["wer"] == 0.75
    assert r["per"] == pytest.approx((0 + 1 + 4 + 4) / 16)


def test_tensors_are_read_as_ids():
    r = error_rates([torch.tensor([1, 2])], [torch.tensor([1, 2])], torch.tensor([0]))
    assert r["wer"] == 0.0 and r["phonemes"] == 2


@pytest.mark.parametrize("predictions, references, groups, message", [
    ([[1]], [[1], [2]], [0], r"2 references but 1 groups"),
    ([[1]], [[1], [2]], [0, 1], r"1 predictions for 2 groups: pass one prediction per group"),
    ([], [], [], r"no references"),
])
def test_mismatched_inputs_are_one_line_errors(predictions, references, groups, message):
    with pytest.raises(ConfigError, match=message):
        error_rates(predictions, references, groups)
