"""Citation markers: every form parsed, malformed and out-of-range markers reported."""

from __future__ import annotations

import pytest

from rag.check.citations import parse_markers, strip_markers


@pytest.mark.parametrize(("sentence", "numbers"), [
    ("Kyiv refused [1].", (1,)),
    ("Kyiv refused [1, 2].", (1, 2)),
    ("Kyiv refused [1,2].", (1, 2)),
    ("Kyiv refused [1][3].", (1, 3)),
    ("Kyiv refused [1] [3].", (1, 3)),
    ("Kyiv refused [2-4].", (2, 3, 4)),
    ("Kyiv refused [2–4].", (2, 3, 4)),  # en dash
    ("Kyiv refused [2-3, 5].", (2, 3, 5)),
    ("Kyiv refused [ 1 ; 3 ].", (1, 3)),
    ("Kyiv refused [3-3].", (3,)),
    ("Kyiv [2] refused [1].", (2, 1)),  # order of first appearance
    ("Kyiv refused [1] and [1, 1].", (1,)),  # no duplicates
    ("Kyiv refused.", ()),
])
def test_marker_forms(sentence: str, numbers: tuple[int, ...]) -> None:
    parsed = parse_markers(sentence, n_sources=5)
    assert parsed.numbers == numbers
    assert parsed.problems == ()
    assert parsed.text == sentence
    assert "[" not in parsed.clean


def test_clean_text_closes_the_gap_before_punctuation() -> None:
    assert parse_markers("Kyiv refused [1], then left [2].").clean == "Kyiv refused, then left."
    assert parse_markers("A   [1]   B.").clean == "A B."
    assert strip_markers("It rose [1]. It fell [2, 3].") == "It rose. It fell."


@pytest.mark.parametrize(("sentence", "problem"), [
    ("It rose [7].", "cites [7], but there are only 5 sources"),
    ("It rose [0].", "cites [0], but citations are numbered from 1"),
    ("It rose [4-6].", "cites [6], but there are only 5 sources"),
    ("It rose [4-2].", "malformed citation range [4-2]"),
    ("It rose [1-100].", "malformed citation range [1-100]"),
    ("It rose [1-2-3].", "malformed citation range [1-2-3]"),
    ("It rose [1,].", "malformed citation marker '[1,]'"),
    ("It rose [].", "malformed citation marker '[]'"),
    ("It rose [1 2].", "malformed citation marker '[1 2]'"),
])
def test_bad_markers_are_reported_not_cited(sentence: str, problem: str) -> None:
    parsed = parse_markers(sentence, n_sources=5)
    assert problem in parsed.problems
    assert all(1 <= n <= 5 for n in parsed.numbers)


def test_partly_valid_group_keeps_the_valid_numbers() -> None:
    parsed = parse_markers("It rose [2, 9].", n_sources=3)
    assert parsed.numbers == (2,)
    assert parsed.problems == ("cites [9], but there are only 3 sources",)
    assert parse_markers("It rose [4-6].", n_sources=5).numbers == (4, 5)


def test_without_a_source_count_any_positive_number_is_kept() -> None:
    assert parse_markers("It rose [42].").numbers == (42,)


def test_brackets_that_are_not_markers_are_left_alone() -> None:
    parsed = parse_markers("See [Smith 2020] and [a] for details [1].", n_sources=2)
    assert parsed.numbers == (1,)
    assert parsed.problems == ()
    assert parsed.clean == "See [Smith 2020] and [a] for details."
