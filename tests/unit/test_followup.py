"""Follow-up questions resolved against the earlier (already standalone) questions."""

from __future__ import annotations

import pytest

from rag.followup import condense, is_follow_up, last_name, plural_phrase, resolve, topic_of

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


@pytest.mark.parametrize(("earlier", "question", "standalone"), [
    ("how do I serialize a dict to JSON?", "and how do I write it to a file?", "and how do I write a dict to a file?"),
    ("how do I read a CSV file in Python?", "and how do I write one?", "and how do I write a CSV file?"),
    ("how do I run an external command from Python?", "and how do I capture its output?",
     "and how do I capture an external command's output?"),
    ("how do I create a temporary file?", "is it deleted when I close it?",
     "is a temporary file deleted when I close it?"),
    ("how do I compile a regular expression?", "and how do I make it ignore case?",
     "and how do I make a regular expression ignore case?"),
])
def test_a_pronoun_takes_the_earlier_questions_topic_phrase(earlier: str, question: str, standalone: str) -> None:
    assert condense(question, [earlier]) == standalone


@pytest.mark.parametrize(("earlier", "question", "standalone"), [
    ("how do I make a shallow copy of a list of lists?", "what about a deep copy?", "how do I make a deep copy?"),
    ("how do I get the smallest item out of a heap?", "and the n largest items?",
     "how do I get the n largest items out of a heap?"),
    ("how do I use a list as a stack?", "and as a queue?", "how do I use a list as a queue?"),
    ("how do I copy a file with shutil?", "what about a whole directory?",
     "how do I copy a whole directory with shutil?"),
    ("what is Steve Witkoff's role?", "and Kushner?", "what is Kushner's role?"),
])
def test_what_about_x_puts_x_in_place_of_the_earlier_topic(earlier: str, question: str, standalone: str) -> None:
    assert condense(question, [earlier]) == standalone


def test_the_search_adds_the_earlier_questions_words_the_follow_up_lacks() -> None:
    resolved = resolve("and how do I write it to a file?", ["how do I serialize a dict to JSON?"])
    assert resolved is not None and resolved.rewritten
    assert resolved.search == "and how do I write a dict to a file? serialize JSON"


def test_what_is_not_a_pronoun_for_the_topic_is_left_alone() -> None:
    earlier = ["how do I save a Python object to a file with pickle?"]
    # "is it safe to …": "it" stands for nothing; the follow-up is joined to the earlier question.
    assert condense("is it safe to load pickles?", earlier) == \
        "how do I save a Python object to a file with pickle; is it safe to load pickles?"
    # "find where an item would go": a clause, not a thing "it" could stand for.
    assert topic_of("how do I find where an item would go in a sorted list?") is None
    # "one of", "that is": not pronouns.
    assert condense("and is one of them faster?", ["how do I sort a list?"]) == "and is one of a list faster?"


@pytest.mark.parametrize("question", ["what happens when it's full?", "what's the default level?", "why not?",
                                      "what if the command fails?", "what is the default for the field names?"])
def test_questions_that_lean_on_the_earlier_one_are_follow_ups(question: str) -> None:
    """Regression: "it's" was not read as "it", and "why not?" or "what's the default level?" were
    answered as questions of their own (the follow-up set: README)."""
    assert is_follow_up(question)
    assert condense(question, ["how do I log a warning message?"]) != question


@pytest.mark.parametrize(("earlier", "question", "standalone"), [
    ("what are sets in Python?", "are they ordered?", "are sets ordered?"),
    ("how do I read CSV files in Python?", "and how do I write them?", "and how do I write CSV files?"),
    ("how do Python generators work?", "how do they stop?", "how do Python generators stop?"),
    ("what did NATO allies promise Ukraine?", "when did they promise it?", "when did NATO allies promise it?"),
    ("what did Zelenskyy tell NATO allies?", "what did they promise him?", "what did NATO allies promise Zelenskyy?"),
    ("are the laptops encrypted with BitLocker?", "who manages their keys?", "who manages the laptops' keys?"),
    ("what security guarantees does Ukraine want; from whom?", "are they legally binding?",
     "are security guarantees legally binding?"),
    ("why do corals bleach?", "can they recover?", "can corals recover?"),
    ("what must remote employees do on public Wi-Fi?", "and if they lose a laptop?",
     "and if remote employees lose a laptop?"),
])
def test_they_takes_the_earlier_plural_phrase_not_a_name(earlier: str, question: str, standalone: str) -> None:
    """Regression: "they"/"them" took the last capitalised name, so "are they ordered?" after
    "what are sets in Python?" became "are Python ordered?"."""
    assert condense(question, [earlier]) == standalone


@pytest.mark.parametrize(("earlier", "question", "standalone"), [
    ("what did NATO promise Ukraine?", "when did they promise it?", "when did NATO promise it?"),  # the subject
    ("what did Zelenskyy reject?", "and what did he offer instead?", "and what did Zelenskyy offer instead?"),
])
def test_without_a_plural_phrase_they_keeps_the_name_rule(earlier: str, question: str, standalone: str) -> None:
    """With no plural phrase a name still stands for "they" (an organisation): the first, the
    subject, where "he" takes the last."""
    assert condense(question, [earlier]) == standalone


@pytest.mark.parametrize("question", ["what happens when Python exits?", "what causes tides?",
                                      "Which tools does the team use?", "What happens when Python exits?",
                                      "Who approves expense reports?", "what is the reason Python uses a GIL?",
                                      "what command lists files in a directory?",
                                      "which version supports pattern matching?",
                                      "how do I stop it when the user presses Ctrl-C?",
                                      "what does Python do with this?", "what did Zelenskyy reject?"])
def test_a_verb_in_s_is_not_a_plural_phrase(question: str) -> None:
    assert plural_phrase(question) is None


@pytest.mark.parametrize("question", ["from whom?", "since when?", "how long?", "how much?", "to whom?", "by when?",
                                      "at what temperature?", "in which file?"])
def test_a_preposition_or_a_measure_alone_asks_about_the_earlier_answer(question: str) -> None:
    """Regression: "from whom?" after "what security guarantees does Ukraine want?" was asked alone
    and refused ("no passage of your documents is close enough to the question")."""
    assert is_follow_up(question)
    assert condense(question, ["what security guarantees does Ukraine want?"]) == \
        f"what security guarantees does Ukraine want; {question}"


def test_a_longer_question_opening_with_a_preposition_stands_alone() -> None:
    assert not is_follow_up("in which year was the json module added to the standard library?")


def test_then_at_the_end_leans_on_the_earlier_question() -> None:
    assert is_follow_up("how fast must I answer messages then?")
    assert not is_follow_up("if I pass None, then what happens to the default?")


@pytest.mark.parametrize(("earlier", "question", "standalone"), [
    # An auxiliary is not part of the phrase (was "do do users need approval?").
    ("what do users need to do before travel?", "do they need approval?", "do users need approval?"),
    ("what must employees do?", "how fast must they answer?", "how fast must employees answer?"),
    ("what are lists and tuples?", "how do they differ?", "how do lists and tuples differ?"),
    # "they" and "them" stand for different things: only the first is replaced.
    ("which files did the users delete?", "can they restore them?", "can the users restore them?"),
    # "who are they?" asks about people: a plural phrase is not taken (was "who are the meetings?").
    ("who attends the meetings?", "who are they?", "who attends the meetings; who are they?"),
    ("what is Steve Witkoff's role?", "and Kushner's?", "what is Kushner's role?"),
    ("how do I install the package?", "and then?", "how do I install the package; and then?"),
    ("how do I make sure my script runs at startup?", "does it need root?",
     "how do I make sure my script runs at startup; does it need root?"),
])
def test_rewrites_found_wrong_in_review_read_as_meant(earlier: str, question: str, standalone: str) -> None:
    assert condense(question, [earlier]) == standalone


def test_a_chain_of_short_follow_ups_keeps_the_topic_and_the_last_question() -> None:
    """Regression: each joined follow-up was joined again, one part more a turn."""
    history = ["why do corals bleach?"]
    for question in ("why?", "and then?", "how long?", "since when?"):
        history.append(condense(question, history))
    assert history[-1] == "why do corals bleach; how long; since when?"


@pytest.mark.parametrize(("earlier", "question", "standalone"), [
    # "it" agrees in number: the deque, not the items (was "… when only the last 5 items is full?").
    ("how do I keep only the last 5 items in a deque?", "what happens when it is full?",
     "what happens when a deque is full?"),
    ("how do I compute a SHA-256 hash of some bytes?", "and how do I get it as a hex string?",
     "and how do I get a SHA-256 hash of some bytes as a hex string?"),  # the head is "hash", not "bytes"
    # An adverb says how, not what (was "does a list randomly return a new list?").
    ("how do I shuffle a list randomly?", "does it return a new list?", "does a list return a new list?"),
    ("how do I shuffle a list randomly?", "what about a tuple?", "how do I shuffle a tuple randomly?"),
    # "the ones" are the earlier question's files (was "… list only the ones ending in .txt …").
    ("how do I list the files in a folder with pathlib?", "and only the ones ending in .txt?",
     "how do I list only the files ending in .txt in a folder with pathlib?"),
])
def test_the_topic_phrase_agrees_and_keeps_its_head_noun(earlier: str, question: str, standalone: str) -> None:
    assert condense(question, [earlier]) == standalone


@pytest.mark.parametrize(("earlier", "question", "standalone"), [
    # The tail's noun ends at the next preposition (was "what if the server with is down?").
    ("how do I send requests to the server with a timeout?", "what if it is down?", "what if the server is down?"),
    # "it" that may be the action is not guessed (was "does a list keep the order?"), nor one left
    # unresolved marked as rewritten (was "what if it is empty?").
    ("how do I remove duplicates from a list?", "does it keep the order?",
     "how do I remove duplicates from a list; does it keep the order?"),
    ("how do I split strings by commas?", "what if it's empty?",
     "how do I split strings by commas; what if it's empty?"),
    ("how do I get the keys of a dict?", "can I sort it?", "can I sort the keys of a dict?"),
    # A capitalised word in -ly is a name, not an adverb (was "the capital of's population").
    ("what is the capital of Italy?", "and its population?", "and the capital of Italy's population?"),
    ("what is the capital of Italy?", "what about France?", "what is the capital of France?"),
    # An adverb asked about takes the earlier adverb's place (was "copy safely quickly").
    ("how do I copy files quickly?", "and safely?", "how do I copy files safely?"),
    ("how do I list the files in a folder?", "and the hidden ones?", "how do I list the hidden files in a folder?"),
    ("how do I list the files in a folder?", "what about those ones with a dot?",
     "how do I list those files with a dot in a folder?"),
])
def test_rewrites_found_wrong_in_the_second_review_read_as_meant(earlier: str, question: str,
                                                                 standalone: str) -> None:
    assert condense(question, [earlier]) == standalone
