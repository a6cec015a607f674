"""The seq2seq datasets: ``cmudict`` (spelling → phonemes, a word's pronunciations one group, split by word) and
``dates`` (written dates → ISO, split by day): the format the seq2seq models read, and the properties of the
splits."""

from __future__ import annotations

import datetime
import functools
import re

import pytest
import torch

from genlab.data import load
from genlab.data.dates import FORMATS, load_dates
from genlab.data.g2p import PHONEMES, cmudict_entries, load_cmudict, parse
from genlab.data.registry import info
from genlab.errors import ConfigError
from genlab.vocab import Vocabulary

FIELDS = {"source", "source_lengths", "target", "target_lengths", "group"}


@functools.cache
def cmu(split: str, seed: int = 0, n_words: int = 0):
    return load_cmudict(split, seed=seed, n_words=n_words)


@functools.cache
def dates(split: str, **options):
    return load_dates(split, **options)


def rows(data, side: str) -> list[str]:
    """Each row of ``side`` decoded by its vocabulary's id → symbol table and joined with the split's joiner."""
    symbols, joiner = data.meta[f"{side}_vocabulary"], data.meta[f"{side}_joiner"]
    ids, lengths = data.fields[side].tolist(), data.fields[f"{side}_lengths"].tolist()
    return [joiner.join(symbols[i] for i in r[:n]) for r, n in zip(ids, lengths, strict=True)]


def check_format(data, name: str) -> None:
    """The layout every seq2seq dataset shares (see the models' ``inputs``)."""
    assert data.kind == "seq2seq" and data.name == name and set(data.fields) == FIELDS
    assert data.lengths == {"source": "source_lengths", "target": "target_lengths"}
    assert all(t.dtype == torch.int64 for t in data.fields.values())
    for side in ("source", "target"):
        ids, lengths = data.fields[side], data.fields[f"{side}_lengths"]
        inside = torch.arange(ids.shape[1]) < lengths[:, None]  # (N, L)
        assert (ids[~inside] == 0).all() and (lengths >= 1).all()  # padded with 0 at the end
        assert ids.shape[1] == int(lengths.max())
    target, lengths = data.fields["target"], data.fields["target_lengths"]
    inside = torch.arange(target.shape[1]) < lengths[:, None]  # (N, T)
    assert (target[inside] >= 4).all()  # symbols only: no <pad>, <unk>, <bos>, <eos> inside a target
    source_vocabulary = Vocabulary.from_list(data.meta["source_vocabulary"])
    target_vocabulary = Vocabulary.from_list(data.meta["target_vocabulary"])
    assert (source_vocabulary.unk_id, source_vocabulary.bos_id) == (1, None)
    assert (target_vocabulary.unk_id, target_vocabulary.bos_id, target_vocabulary.eos_id) == (1, 2, 3)


# --- cmudict ---------------------------------------------------------------------------------------

def test_parse_strips_markers_comments_and_stress_and_skips_words_with_marks():
    text = ("'bout B AW1 T\nread R EH1 D\nread(2) R IY1 D\nread(3) R EH2 D # the same without stress\n"
            "a.m. EY2 EH1 M\nad-hoc AE1 D HH AA1 K\ncat K AE1 T # animal\n")
    assert parse(text) == {"'bout": (("B", "AW", "T"),), "read": (("R", "EH", "D"), ("R", "IY", "D")),
                           "cat": (("K", "AE", "T"),)}


def test_cmudict_splits_have_the_seq2seq_format_and_the_documented_sizes():
    sizes = {}
    for split in ("train", "val", "test"):
        data = cmu(split)
        check_format(data, "cmudict")
        assert data.meta["source_joiner"] == "" and data.meta["target_joiner"] == " "
        sizes[split] = (data.meta["words"], len(data))
    assert sizes == {"train": (112_434, 120_260), "val": (6_246, 6_690), "test": (6_246, 6_717)}  # g2p's docstring
    assert sum(n for _, n in sizes.values()) == info("cmudict").size == 133_667


def test_cmudict_splits_are_disjoint_by_word_and_hold_every_pronunciation():
    entries = cmudict_entries()
    words = {}
    for split in ("train", "val", "test"):
        data = cmu(split)
        spelled, said, group = rows(data, "source"), rows(data, "target"), data.fields["group"].tolist()
        by_group: dict[int, list[int]] = {}
        for i, g in enumerate(group):
            by_group.setdefault(g, []).append(i)
        assert list(by_group) == list(range(data.meta["words"]))  # 0, 1, ... in row order
        for members in by_group.values():
            assert members == list(range(members[0], members[-1] + 1))  # a word's rows are consecutive
            word = spelled[members[0]]
            assert {spelled[i] for i in members} == {word}  # one input per group
            assert [tuple(said[i].split()) for i in members] == list(entries[word])  # all its pronunciations
        words[split] = [spelled[members[0]] for members in by_group.values()]
        assert len(set(words[split])) == len(words[split])  # a word is one group
    assert not set(words["train"]) & set(words["val"]) and not set(words["train"]) & set(words["test"])
    assert not set(words["val"]) & set(words["test"])
    assert set(words["train"]) | set(words["val"]) | set(words["test"]) == set(entries)


def test_cmudict_vocabularies_are_the_training_letters_and_39_stressless_phonemes_in_every_split():
    vocabularies = {(tuple(cmu(s).meta["source_vocabulary"]), tuple(cmu(s).meta["target_vocabulary"]))
                    for s in ("train", "val", "test")} | {(tuple(cmu("val", n_words=5).meta["source_vocabulary"]),
                                                           tuple(cmu("val", n_words=5).meta["target_vocabulary"]))}
    assert len(vocabularies) == 1
    source, target = vocabularies.pop()
    assert source == ("<pad>", "<unk>", "'", *"abcdefghijklmnopqrstuvwxyz")
    assert target == ("<pad>", "<unk>", "<bos>", "<eos>", *sorted(PHONEMES)) and len(PHONEMES) == 39
    assert not any(re.search(r"\d", p) for p in target)  # no stress digit
    for split in ("val", "test"):
        assert (cmu(split).fields["source"] != 1).all() and (cmu(split).fields["target"] != 1).all()  # no <unk>


def test_cmudict_is_determined_by_its_seed_and_n_words_caps_each_split_by_a_prefix():
    again = load_cmudict("val")
    assert all(torch.equal(again.fields[k], cmu("val").fields[k]) for k in FIELDS)
    other = cmu("val", seed=1)
    assert set(rows(other, "source")) != set(rows(cmu("val"), "source"))
    few = cmu("val", n_words=25)
    assert few.meta["words"] == 25 and few.fields["group"].max() == 24
    full = cmu("val").fields
    n = len(few)
    assert torch.equal(few.fields["group"], full["group"][:n]) and full["group"][n] == 25
    width = few.fields["source"].shape[1]
    assert torch.equal(few.fields["source"], full["source"][:n, :width])


# --- dates -----------------------------------------------------------------------------------------

MONTH_PREFIXES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAY_PREFIXES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def read_written(text: str) -> tuple[datetime.date, int | None]:
    """An independent reading of a written date: (the date, the weekday it names or None)."""
    year = int(re.search(r"\b(\d{4})\b", text).group(1))
    day = int(re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", text).group(1))
    words = re.findall(r"[a-z]+", text.lower())
    months = [i for i, m in enumerate(MONTH_PREFIXES, start=1) if any(w.startswith(m) for w in words)]
    weekdays = [i for i, d in enumerate(WEEKDAY_PREFIXES) if any(w.startswith(d) for w in words)]
    assert len(months) == 1 and len(weekdays) <= 1, text
    return datetime.date(year, months[0], day), (weekdays[0] if weekdays else None)


def test_dates_targets_are_the_iso_form_of_the_written_date():
    for split in ("train", "val", "test"):
        data = dates(split)
        check_format(data, "dates")
        assert data.meta["source_joiner"] == data.meta["target_joiner"] == ""
        assert torch.equal(data.fields["group"], torch.arange(len(data)))
        assert (data.fields["target_lengths"] == 10).all()
        for source, target in zip(rows(data, "source"), rows(data, "target"), strict=True):
            date = datetime.date.fromisoformat(target)
            assert datetime.date(1900, 1, 1) <= date <= datetime.date(2099, 12, 31)
            written, weekday = read_written(source)
            assert written == date, (source, target)
            assert weekday is None or weekday == date.weekday(), source
    assert {len(dates(s)) for s in ("train", "val", "test")} == {10_000, 500, 1_000}


def test_dates_use_every_format_and_years_across_the_range():
    data = dates("train")
    sources = rows(data, "source")
    years = {int(t[:4]) for t in rows(data, "target")}
    assert min(years) < 1905 and max(years) > 2094
    assert any(s.startswith("the ") for s in sources) and any(re.search(r"\b[A-Z]{3}\b", s) for s in sources)
    assert len(FORMATS) == 15 and len({re.sub(r"\d+", "#", s) for s in sources}) > 100


def test_dates_splits_are_disjoint_by_day_seeded_and_independent_of_each_others_size():
    days = {s: set(rows(dates(s), "target")) for s in ("train", "val", "test")}
    assert not days["train"] & days["val"] and not days["train"] & days["test"] and not days["val"] & days["test"]
    again = load_dates("val")
    assert all(torch.equal(again.fields[k], dates("val").fields[k]) for k in FIELDS)
    assert rows(load_dates("val", n_train=7, n_test=3), "source") == rows(dates("val"), "source")
    assert rows(load_dates("val", seed=1), "source") != rows(dates("val"), "source")
    assert rows(load_dates("test", n_test=10), "source") == rows(dates("test"), "source")[:10]


def test_dates_vocabularies_are_the_same_for_every_split_seed_and_size():
    small = load_dates("val", n_val=3, seed=5)
    for split in ("train", "val", "test"):
        assert dates(split).meta["source_vocabulary"] == small.meta["source_vocabulary"]
        assert dates(split).meta["target_vocabulary"] == small.meta["target_vocabulary"]
        assert (dates(split).fields["source"] != 1).all()  # no <unk>
    assert small.meta["target_vocabulary"] == ["<pad>", "<unk>", "<bos>", "<eos>", "-", *"0123456789"]


# --- the registry ------------------------------------------------------------------------------------

def test_both_are_registered_with_their_options_and_bucketed_by_source_length():
    for name in ("cmudict", "dates"):
        d = info(name)
        assert d.kind == "seq2seq" and set(d.fields) == FIELDS and d.splits == ("train", "val", "test")
        assert d.policy is not None and d.policy.bucket_by == "source_lengths"
    assert load("cmudict", "test", n_words=10).meta["words"] == 10
    assert len(load("dates", "val", n_val=7)) == 7
    with pytest.raises(ConfigError, match=r"dataset 'cmudict' option 'n_words' must be ≥ 0, got -1"):
        load("cmudict", "val", n_words=-1)
    with pytest.raises(ConfigError, match=r"dataset 'dates' has no option 'n_word'"):
        load("dates", "val", n_word=3)
