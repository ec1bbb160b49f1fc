"""Who did what to whom, opposites and dates: the judge's checks that word overlap cannot make."""

from __future__ import annotations

import pytest

from rag.check.antonyms import antonym_flips
from rag.check.roles import mirrored, subject_moved
from rag.check.support import HeuristicJudge
from rag.text import dates_in

MATCH = "In the 2014 semi-final in Belo Horizonte, Germany beat Brazil 7–1."
DEAL = "In 2012, Facebook acquired Instagram for about one billion dollars."
CHESS = "In the 1997 rematch, IBM's Deep Blue defeated Garry Kasparov, the reigning world champion."
ENVOY = ("The American side of the discussions includes Steve Witkoff, who serves as President Trump's "
         "special envoy, together with Jared Kushner.")
PARTS = "Inverters usually need replacing after 10 to 15 years, while the panels carry a 25-year warranty."
OVEN = "Bake with the lid on at 250 °C for 20 minutes, then remove the lid and bake at 230 °C."
BONDS = "When interest rates rise, the prices of existing bonds fall. Long-dated bonds lose more than short-dated ones."
POLICY = "It takes effect on 1 March 2025, and arrangements are reviewed every 12 months."
# A passive without "be" (a reduced relative clause): read as active, the rules called every faithful
# "X is caused by Y" or "Y causes X" a swap, so an LLM's paraphrase of it was marked not supported.
TIDES = "Tides are the rise and fall of sea levels caused by the gravity of the Moon and the Sun."
MURAL = "The lobby has a large mural painted by local students in 2019, and a reading corner."
INVOICES = "Every Friday the finance team checks invoices against the order."
BADGES = "Each badge carries a photo taken at hiring. When the photo has expired, the scanner rejects the badge."


@pytest.fixture
def judge() -> HeuristicJudge:
    return HeuristicJudge()


@pytest.mark.parametrize(("sentence", "passage"), [
    ("In the 2014 semi-final, Brazil beat Germany 7–1.", MATCH),
    ("In 2012, Instagram acquired Facebook for about one billion dollars.", DEAL),
    ("Facebook was acquired by Instagram in 2012.", DEAL),  # passive, roles kept in the wrong order
    ("In the 1997 rematch, Garry Kasparov defeated IBM's Deep Blue.", CHESS),
    ("Jared Kushner serves as President Trump's special envoy.", ENVOY),
    ("Panels usually need replacing after 10 to 15 years, while the inverters carry a 25-year warranty.", PARTS),
    ("Bake with the lid on at 230 °C for 20 minutes, then remove the lid and bake at 250 °C.", OVEN),
    ("Short-dated bonds lose more than long-dated ones.", BONDS),
    ("The Moon is caused by the gravity of tides.", TIDES),
    ("The gravity of tides causes the Moon and the Sun.", TIDES),
    ("The mural painted local students in 2019.", MURAL),
    ("The finance team is checked against the order every Friday by invoices.", INVOICES),  # agent far from verb
    # Found in review of the passive rules: a verb right before "by" alone in its clause is active (a
    # margin, a means), "be" + "-ing" is no passive, "that" before a verb is no determiner, and "said
    # that Kushner serves" keeps its subject. ("Licensees pay the licensor" against "The licensor pays
    # licensees" still passes: "pay" and "pays" are other stems to the role rules, as before.)
    ("Brazil won by two goals against Germany.", "Germany won against Brazil by two goals."),
    ("The tenant replied by email to the landlord.", "The landlord replied to the tenant by email."),
    ("The auditor is emailing the finance manager every Monday by noon.",
     "The finance manager emails the auditor every Monday by noon."),
    ("Germany was the team that defeated Brazil in the final.",
     "Brazil was the team that defeated Germany in the final."),
    # Found in the second review: a passive after "be" is any word but one in -ing, and "by a car" is an agent.
    ("The bus was struck by a cyclist.", "A bus struck the cyclist."),
    ("The train was hit by a car.", "A train hit the car."),
    ("Jared Kushner serves as President Trump's special envoy.",
     "US officials said that Steve Witkoff, who serves as President Trump's special envoy, would travel with Jared "
     "Kushner."),
])
def test_swapped_roles_are_unsupported(judge: HeuristicJudge, sentence: str, passage: str) -> None:
    support = judge.check(sentence, passage)
    assert support.verdict == "unsupported", support.reasons


@pytest.mark.parametrize(("sentence", "passage"), [
    ("When interest rates rise, the prices of existing bonds rise too.", BONDS),
    ("In the 1997 rematch, IBM's Deep Blue lost to Garry Kasparov.", CHESS),
    ("When interest rates fall, the prices of existing bonds fall.", BONDS),
    ("At higher altitudes the pressure is higher.", "At higher altitudes the pressure is lower."),
    ("Unused days may be carried over, up to a minimum of five days.",
     "Unused days may be carried over, up to a maximum of five days."),
])
def test_antonyms_are_unsupported(judge: HeuristicJudge, sentence: str, passage: str) -> None:
    support = judge.check(sentence, passage)
    assert support.verdict == "unsupported"
    assert any("opposite" in r for r in support.reasons)


@pytest.mark.parametrize(("sentence", "passage"), [
    ("Germany beat Brazil 7–1 in the 2014 semi-final.", MATCH),  # adverbials moved, roles kept
    ("Instagram was acquired by Facebook in 2012.", DEAL),  # passive: the mirror is expected
    ("Garry Kasparov was defeated by IBM's Deep Blue in the 1997 rematch.", CHESS),
    ("Steve Witkoff serves as President Trump's special envoy.", ENVOY),
    ("Long-dated bonds lose more than short-dated ones.", BONDS),
    ("The prices of existing bonds fall when interest rates rise.", BONDS),
    ("The policy takes effect on March 1, 2025.", POLICY),
    ("Tides are caused by the gravity of the Moon and the Sun.", TIDES),
    ("The gravity of the Moon and the Sun causes tides.", TIDES),
    ("The mural in the lobby was painted by local students.", MURAL),
    ("Local students painted the mural in the lobby in 2019.", MURAL),
    # The object that closes a relative clause is not the subject of the verb after it.
    ("The floods that closed the road were caused by heavy rain.", "Floods caused by heavy rain closed the road."),
    ("Invoices are checked against the order every Friday by the finance team.", INVOICES),  # "by" far off
    ("The cyclist was struck by a bus.", "A bus struck the cyclist."),
    ("The pedestrian was hit by a car.", "A car hit the pedestrian."),
    ("Nurses' pay is set by the health board.", "The health board sets how much it pays nurses."),
    ("The scanner rejects a badge that carries an expired photo.", BADGES),  # "an expired photo" is no verb
])
def test_true_paraphrases_stay_supported(judge: HeuristicJudge, sentence: str, passage: str) -> None:
    support = judge.check(sentence, passage)
    assert support.verdict == "supported", support.reasons


def test_changed_date_and_rebound_number_are_unsupported(judge: HeuristicJudge) -> None:
    assert judge.check("It takes effect on 1 May 2025.", POLICY).verdict == "unsupported"
    heat = "Corals died during the 2016 heatwave. Further bleaching followed in 2020 and 2024."
    support = judge.check("Corals died during the 2020 heatwave.", heat)
    assert support.verdict == "unsupported" and any("another number" in r for r in support.reasons)


def test_helpers_name_what_they_found() -> None:
    assert antonym_flips("Prices rose in May.", "Prices fell in May.") == ["rose/fell"]
    assert antonym_flips("Prices rose and costs fell.", "Costs fell while prices rose.") == []
    assert mirrored("Brazil beat Germany.", "Germany beat Brazil.") == "brazil … beat … germany"
    assert mirrored("Germany beat Brazil in 2014.", "In 2014, Germany beat Brazil.") is None
    assert subject_moved("Kushner serves as envoy.", "Witkoff, who serves as envoy, joined Kushner.") \
        == "kushner serv"
    assert subject_moved("Ukraine dropped its NATO bid.", "Ukraine dropped its bid for NATO.") is None
    assert dates_in("on 1 March 2025") == dates_in("on March 1, 2025") == {("1", "march"), ("march", "2025")}
    assert dates_in("employees may work remotely") == set()


def test_a_quote_never_contradicts_its_own_passage(judge: HeuristicJudge) -> None:
    passage = ("Remote work is allowed. Remote work is not allowed for reception staff. "
               "Witkoff serves as envoy. The envoy serves Witkoff and Kushner.")
    for quote in ["Remote work is allowed.", "Witkoff serves as envoy.", "The envoy serves Witkoff and Kushner."]:
        assert judge.check(quote, passage).verdict == "supported", quote
