"""Follow-up questions resolved against the earlier (already standalone) questions."""

from __future__ import annotations

import pytest

from rag.followup import condense, is_follow_up, last_name

HISTORY = ["what did Zelenskyy reject?"]


@pytest.mark.parametrize(("question", "standalone"), [
    ("and what did he offer instead?", "and what did Zelenskyy offer instead?"),
    ("what about his offer?", "what about Zelenskyy's offer?"),
    ("And she?", "And Zelenskyy?"),
    ("what did he say in the Kyiv talks?", "what did Zelenskyy say in the Kyiv talks?"),
])
def test_pronouns_take_the_last_name(question: str, standalone: str) -> None:
    assert condense(question, HISTORY) == standalone


def test_standalone_questions_are_untouched() -> None:
    assert condense("what is a coral reef?", HISTORY) == "what is a coral reef?"
    assert condense("what did he do?", []) == "what did he do?"


def test_follow_up_without_a_pronoun_target_carries_the_previous_question() -> None:
    assert condense("why?", HISTORY) == "what did Zelenskyy reject; why?"
    assert condense("and the Donetsk region?", HISTORY) == "what did Zelenskyy reject; and the Donetsk region?"
    assert condense("Is it expensive?", ["How big is a 6 kW system?"]) == "How big is a 6 kW system; Is it expensive?"


def test_only_the_latest_turn_supplies_the_name() -> None:
    """Regression: a name two turns back replaced "they" in a question about coral reefs."""
    history = ["what did Zelenskyy reject?", "how big are coral reefs?"]
    assert condense("how do they form?", history) == "how big are coral reefs; how do they form?"


def test_possessive_is_not_part_of_the_name() -> None:
    """Regression: "Zelenskyy's" was taken as the name, giving "what did Zelenskyy's reject?"."""
    assert condense("what did he reject?", ["what was Zelenskyy's offer?"]) == "what did Zelenskyy reject?"
    assert condense("what did he reject?", ["what was Zelenskyy’s offer?"]) == "what did Zelenskyy reject?"


def test_chained_follow_ups_keep_the_name() -> None:
    first = condense("and what did he offer instead?", HISTORY)
    assert condense("why did he offer that?", [*HISTORY, first]) == "why did Zelenskyy offer that?"


def test_last_name_skips_question_words_and_takes_full_names() -> None:
    assert last_name(["What did Steve Witkoff say?"]) == "Steve Witkoff"
    assert last_name(["What is NATO?"]) == "NATO"
    assert last_name(["how big are coral reefs?"]) is None
    assert last_name([]) is None


def test_short_question_with_its_own_topic_is_standalone() -> None:
    """Regression: any question of three words or fewer was a follow-up, so "what is bleaching?"
    after a question about Zelenskyy became "what did Zelenskyy reject; what is bleaching?"."""
    for question in ("what is bleaching?", "who is Kushner?", "what is NATO?"):
        assert condense(question, HISTORY) == question


@pytest.mark.parametrize(("question", "expected"), [
    ("and what did he offer?", True), ("what about the cost?", True), ("why?", True), ("tell me more", True),
    ("what else?", True), ("how did they respond to it", True), ("what is bleaching?", False),
    ("what is the payback period of a solar system?", False),
])
def test_is_follow_up(question: str, expected: bool) -> None:
    assert is_follow_up(question) is expected
