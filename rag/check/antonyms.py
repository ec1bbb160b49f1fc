"""Antonym flips: the sentence says "rose" where its passage sentence says "fell".

Word overlap and MiniLM similarity both score "prices rose" close to "prices fell", so the judge
needs to know which words are opposites. A small curated table of common English antonyms, each
pole listed with its inflections (no lemmatiser ships without a model download). Pure and cheap.
"""

from __future__ import annotations

import re
from collections import Counter

# Each entry: (forms of one pole, forms of the other pole). Common, unambiguous opposites only: a
# pair that also has an unrelated sense ("light" weight / colour, "right" side / correct) stays out.
_PAIRS: tuple[tuple[str, str], ...] = (
    ("increase increases increased increasing", "decrease decreases decreased decreasing"),
    ("rise rises rising rose risen", "fall falls falling fell fallen"),
    ("raise raises raised raising", "lower lowers lowered lowering"),
    ("grow grows growing grew grown", "shrink shrinks shrinking shrank shrunk"),
    ("expand expands expanded expanding expansion", "contract contracts contracted contracting contraction"),
    ("gain gains gained gaining", "lose loses losing lost loss losses"),
    ("win wins winning won winner", "lose loses losing lost loser"),
    ("beat beats beaten defeat defeats defeated", "lost loses lose losing"),
    ("keep keeps kept keeping", "lose loses losing lost"),
    ("profit profits", "loss losses"),
    ("surplus", "deficit"),
    ("higher highest", "lower lowest"),
    ("high", "low"),
    ("more", "less fewer"),
    ("most", "least fewest"),
    ("larger largest bigger biggest", "smaller smallest"),
    ("large big", "small"),
    ("longer longest", "shorter shortest"),
    ("long", "short"),
    ("faster fastest quicker", "slower slowest"),
    ("fast quick quickly", "slow slowly"),
    ("speed speeds speeding", "slow slows slowing slowed"),
    ("earlier earliest", "later latest"),
    ("early", "late"),
    ("before", "after"),
    ("first", "last"),
    ("start starts started starting begin begins began beginning", "end ends ended ending finish finished"),
    ("maximum", "minimum"),
    ("allow allows allowed allowing permit permits permitted permitting", "forbid forbids forbidden forbade "
     "prohibit prohibits prohibited prohibiting ban bans banned"),
    ("accept accepts accepted accepting approve approves approved approving", "reject rejects rejected "
     "rejecting"),
    ("include includes included including", "exclude excludes excluded excluding"),
    ("add adds added adding", "remove removes removed removing"),
    ("enable enables enabled enabling", "disable disables disabled disabling"),
    ("open opens opened", "closes closed shut"),
    ("buy buys bought buying purchase purchased", "sell sells sold selling"),
    ("lend lends lent lending", "borrow borrows borrowed borrowing"),
    ("import imports imported importing", "export exports exported exporting"),
    ("absorb absorbs absorbed absorbing", "release releases released releasing emit emits emitted"),
    ("push pushes pushed", "pull pulls pulled"),
    ("hot hotter hottest warm warmer", "cold colder coldest cool cooler"),
    ("heat heats heated heating", "cool cools cooled cooling"),
    ("north northern northward", "south southern southward"),
    ("east eastern eastward", "west western westward"),
    ("strong stronger strongest", "weak weaker weakest"),
    ("cheap cheaper cheapest", "expensive costly"),
    ("rich richer", "poor poorer"),
    ("safe safer safely", "dangerous unsafe"),
    ("true", "false"),
    ("success successful succeed succeeds succeeded", "failure fail fails failed unsuccessful"),
    ("valid", "invalid"),
    ("visible", "invisible hidden"),
    ("public publicly", "private privately"),
    ("permanent permanently", "temporary temporarily"),
    ("mandatory required compulsory", "optional voluntary"),
    ("synchronous synchronously", "asynchronous asynchronously"),
    ("internal internally", "external externally"),
    ("inner", "outer"),
    ("upper", "lower"),
    ("input inputs", "output outputs"),
    ("positive", "negative"),
    ("wide wider widest", "narrow narrower narrowest"),
    ("thick thicker", "thin thinner"),
    ("wet wetter", "dry drier dries dried"),
    ("full", "empty"),
    ("deep deeper deepest", "shallow shallower"),
    ("old older oldest", "young younger youngest"),
    ("new newer newest", "old older oldest"),
    ("ancient", "modern"),
    ("major majority", "minor minority"),
    ("alive survive survives survived", "dead die dies died dying"),
    ("arrive arrives arrived arrival", "depart departs departed departure"),
    ("enter enters entered entry", "exit exits exited"),
    ("legal legally lawful", "illegal illegally unlawful"),
    ("guilty", "innocent"),
    ("inflation", "deflation"),
    ("acidic acid", "alkaline"),
    ("always", "never"),
    ("everyone everybody everything", "nobody nothing"),
    ("deliberate deliberately intentional intentionally", "accidental accidentally"),
    ("same identical", "different"),
    ("easy easier easiest", "difficult"),
    ("simple simpler", "complex complicated"),
    ("increase", "reduce reduces reduced reducing"),
)


def _poles() -> dict[str, list[tuple[int, int]]]:
    table: dict[str, list[tuple[int, int]]] = {}
    for i, pair in enumerate(_PAIRS):
        for pole, forms in enumerate(pair):
            for form in forms.split():
                table.setdefault(form, []).append((i, pole))
    return table


_POLES = _poles()
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


def _counts(text: str) -> Counter[tuple[int, int]]:
    found: Counter[tuple[int, int]] = Counter()
    for word in _WORD.findall(text.lower()):
        for key in _POLES.get(word, ()):
            found[key] += 1
    return found


def antonym_flips(sentence: str, focus: str) -> list[str]:
    """Opposites the sentence uses where ``focus`` (its passage sentence) uses the other pole.

    Counts, not sets: "higher altitudes ... pressure is higher" against "higher altitudes ...
    pressure is lower" is a flip although both sides say "higher" once.

    >>> antonym_flips("Prices rose in May.", "Prices fell in May.")
    ['rose/fell']
    >>> antonym_flips("Prices rose and costs fell.", "Costs fell while prices rose.")
    []
    """
    said, passage = _counts(sentence), _counts(focus)
    flips = []
    for (pair, pole), n in said.items():
        other = (pair, 1 - pole)
        if n > passage[(pair, pole)] and passage[other] > said[other]:
            flips.append(f"{_first(sentence, pair, pole)}/{_first(focus, pair, 1 - pole)}")
    return flips


def _first(text: str, pair: int, pole: int) -> str:
    forms = set(_PAIRS[pair][pole].split())
    return next((w for w in _WORD.findall(text.lower()) if w in forms), _PAIRS[pair][pole].split()[0])
