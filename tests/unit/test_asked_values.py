"""A question asking for one typed value (a date, a duration, a size, a port, a price, a count) is
refused when the answer found gives no value of that type; every other answer is shown as before.

The near-topic questions of the Debian set asked for defaults the documents never give ("on what
exact date does security support for bullseye end?") and got on-topic quotes holding no such value
("…at least 5 years of support…"), marked supported."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer.question_kinds import asked_value, gives_value
from rag.assistant import Assistant
from rag.check.relevance import judge_relevance
from rag.cli import format_answer
from rag.settings import Settings
from tests.fakes import ScriptedGenerator, WordEmbedder
from ui.render import render_answer


@pytest.mark.parametrize(("question", "kind"), [
    ("on what exact date does security support for Debian 11 end?", "date"),
    ("When was the ceasefire signed?", "date"),
    ("when will the peace agreement be signed?", "date"),
    ("When will my inverter need to be replaced?", None),  # "after 10 to 15 years": a duration
    ("in what year did the project start?", "date"),
    ("How long does bulk fermentation take?", "duration"),
    ("after a maintainer uploads a package, how long until it reaches testing?", "duration"),
    ("how many seconds does the GRUB menu wait before booting?", "duration"),
    ("how often does watch rerun the command?", "duration"),
    ("how big is squid's on-disk cache by default, in MB?", "size"),
    ("what's the default maximum message size postfix accepts?", "size"),
    ("how much memory does a unicode string use?", "size"),
    ("what port does munin-node listen on?", "port"),
    ("How much does it cost to install a heat pump?", "money"),
    ("how many partitions can I create on a GPT disk?", "count"),
    # Value words that ask for something else:
    ("which clock function should I use to measure how long my code takes?", None),
    ("how long should the salt be when I hash a password?", None),
    ("What size is a typical rooftop solar system?", None),
    ("How do I keep backups for weeks?", None),
    ("when should I use a virtual environment?", None),
    # A question that opens by asking for a name asks for that name, whatever value words follow:
    ("Which Python function tells me how much disk space is free on a drive?", None),
    ("Which config file do I edit to change what port Apache listens on?", None),
    ("How much money did the crowdfunding campaign raise?", "money"),
    ("how much does the US spend on aid to Ukraine?", "money"),
    ("How much did the city invest in the new tram line?", "money"),
    # "how much" that asks for no money, or not only money:
    ("how much aid has Ukraine received?", None),  # tonnes of food are aid too
    ("how much sugar goes into the dough?", None),
    ("How much of the reef has bleached?", None),
])
def test_the_value_a_question_asks_for(question: str, kind: str | None) -> None:
    assert asked_value(question) == kind


@pytest.mark.parametrize(("kind", "text", "gives"), [
    ("date", "Security support ended on 14 August 2024.", True),
    ("date", "Python 3.11 was released in 2022.", True),
    ("date", "Each release benefits from at least 5 years of support.", False),
    ("duration", "Other daily backups are kept for 15 days.", True),
    ("duration", "The menu is shown for five seconds.", True),
    ("duration", "The timeout is set with the GRUB_TIMEOUT variable.", False),
    ("duration", "default-lease-time 600; max-lease-time 7200;", True),  # a setting named for a time
    ("size", "The cache holds 100 MB by default.", True),
    ("size", "The maximum message size is set in main.cf.", False),
    ("port", "munin-node listens on port 4949.", True),
    ("port", "Open the port in the firewall.", False),
    ("money", "Installation costs about $9,000.", True),
    ("money", "Installation costs vary widely.", False),
    ("money", "The package is worth 2 billion dollars over five years.", True),
    ("money", "Parliament approved two million euros for the bridge.", True),
    ("money", "The fund holds USD 40 million.", True),
    ("money", "Europe pledged billions in support, and more is expected.", False),
    ("money", "Twelve volunteers spent two days on the repairs.", False),
    ("count", "GPT allows up to 128 partitions.", True),
    ("count", "GPT allows many partitions.", False),
])
def test_whether_a_text_gives_a_value_of_the_kind(kind: str, text: str, gives: bool) -> None:
    assert gives_value(kind, text) is gives  # type: ignore[arg-type]


def test_relevance_names_the_missing_value() -> None:
    missing = judge_relevance("on what exact date does security support for bullseye end?",
                              ["Each release benefits from at least 5 years of security support."], similarity=0.7)
    given = judge_relevance("on what exact date does security support for bullseye end?",
                            ["Security support for bullseye ended on 14 August 2024."], similarity=0.7)
    assert missing.missing_value == "date" and not missing.answers
    assert any("asks for a date" in r for r in missing.reasons)
    assert given.missing_value is None and given.answers


SUPPORT = ("Each Debian release gets at least 5 years of security support from the LTS team; the exact end date "
           "is announced on the website.")


def _assistant(tmp_path: Path, answer: str) -> Assistant:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "support.txt").write_text(SUPPORT)
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=tmp_path / "none.toml")
    helper = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings,
                       generator=ScriptedGenerator(answer))  # type: ignore[arg-type]
    helper.add(docs)
    return helper


def test_an_answer_without_the_date_asked_for_is_refused_with_its_reason(tmp_path: Path) -> None:
    helper = _assistant(tmp_path, SUPPORT + " [1]")
    asked = helper.ask("on what exact date does security support for the Debian release end?")
    assert asked.refused and asked.related
    assert asked.refusal_reason == "the question asks for a date and the answer found gives none"
    assert asked.sentences and asked.sentences[0].support == "supported"  # what was drafted stays inspectable
    # Presenters say why the supported draft was withdrawn, not that its sources failed it.
    assert "Withdrawn draft (it does not give a date, which the question asks for)" in format_answer(asked)
    shown = render_answer(asked)
    assert "withdrawn because it does not give a date, which the question asks for" in shown
    assert "did not support" not in shown


def test_an_answer_with_the_value_asked_for_is_shown(tmp_path: Path) -> None:
    helper = _assistant(tmp_path, SUPPORT + " [1]")
    asked = helper.ask("how many years of security support does a Debian release get?")
    assert not asked.refused and "5 years" in asked.text


def test_the_cli_says_which_sentences_strict_mode_removed(tmp_path: Path) -> None:
    invented = "The LTS team is paid by the European Union [1]."
    helper = _assistant(tmp_path, SUPPORT + " [1] " + invented)
    kept = helper.ask("how many years of security support does a Debian release get?", strict=True)
    assert not kept.refused and kept.removed and "European Union" not in kept.text
    shown = format_answer(kept)
    assert "Removed by --strict (1 sentence" in shown and "The LTS team is paid by the European Union." in shown
    (tmp_path / "all").mkdir()
    withdrawn = _assistant(tmp_path / "all", invented).ask("who pays the LTS team?", strict=True)
    assert withdrawn.refused and not withdrawn.sentences and withdrawn.removed
    assert "Withdrawn draft" in format_answer(withdrawn) and "European Union" in format_answer(withdrawn)
