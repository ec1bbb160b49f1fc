"""Who did what to whom: role checks that word overlap and MiniLM similarity cannot make.

"Brazil beat Germany" has every word of "Germany beat Brazil" and a cosine near 1. Without a
parser or an NLI model (none ships on PyPI), two cheap, pure signals catch most swaps:

* **mirror**: two words shared by the sentence and its passage sentence stand on opposite sides of
  a shared pivot word in opposite order ("A beat B" / "B beat A", "absorb X ... release Y" /
  "absorb Y ... release X"). A passive pivot ("was beaten by") reverses the order, so a passive on
  exactly one side is expected to mirror; a passive on one side *without* the mirror is a swap.
* **subject**: the word right before a shared verb (its subject: "Kushner serves as envoy") differs
  from the passage's subject for that verb ("Witkoff, who serves as envoy, ... Kushner"), and the
  sentence's subject stands *after* the verb in the passage, i.e. it plays another part there.

Rotations ("In 2014, X beat Y" / "X beat Y in 2014") and clause fronting never mirror around a
pivot, so true paraphrases keep passing; symmetric verbs ("A met B") and converse pairs ("A is
larger than B" / "B is smaller than A") do not, which is a known limit.
"""

from __future__ import annotations

import re

from rag.text import NUMBER_WORDS, STOPWORDS, split_sentences, stem

_TOKEN = re.compile(r"[A-Za-z](?:[A-Za-z'’-]*[A-Za-z])?|\d+(?:[.,]\d+)*|[,;:]")
_BE = frozenset({"is", "are", "was", "were", "be", "been", "being", "get", "gets", "got", "gotten"})
# Between a subject and its verb only these may stand ("Witkoff, who serves", "Panels usually
# need", "William was defeated"); a preposition or an article means the word is no subject.
_SUBJECT_GAP = _BE | frozenset({"who", "which", "that", ",", "has", "have", "had", "will", "would", "can", "could",
                                "should", "may", "might", "must", "do", "does", "did", "not", "also", "still",
                                "often", "then", "now", "soon", "already", "just", "only"})

_NEGATIONS = frozenset({"not", "no", "never", "cannot"})
_RELATIVE = frozenset({"that", "which", "who", "whom"})
Token = tuple[str, str]  # (lower-case surface form, stem)


def tokens(text: str) -> list[Token]:
    """Words (with stems), numbers and clause punctuation, in order; citation markers dropped."""
    text = re.sub(r"\[\d[\d,\s-]*\]", " ", text)
    out: list[Token] = []
    for raw in _TOKEN.findall(text):
        lower = raw.lower().replace("’", "'")
        out.append((lower, stem(lower) if lower[0].isalpha() else _canonical_number(lower)))
    return out


def _canonical_number(raw: str) -> str:
    """As ``rag.text.numbers_in`` writes them: "12,000" -> "12000", "3.50" -> "3.5"."""
    value = raw.replace(",", "")
    return value.rstrip("0").rstrip(".") if "." in value else value


def _is_anchor(token: Token) -> bool:
    lower, _ = token
    return (lower[0].isalpha() and lower not in STOPWORDS and lower not in _NEGATIONS) or lower[0].isdigit()


def _unique_positions(toks: list[Token]) -> dict[str, int]:
    seen: dict[str, list[int]] = {}
    for i, tok in enumerate(toks):
        if _is_anchor(tok):
            seen.setdefault(tok[1], []).append(i)
    return {word: places[0] for word, places in seen.items() if len(places) == 1}


def _passive(toks: list[Token], i: int) -> bool:
    """``toks[i]`` follows a form of "be" (adverbs aside) and an agent "by" follows in its clause;
    or it is a past participle right before "by" with no "be" at all, a reduced relative clause
    ("floods caused by heavy rain", "a mural painted by students"), unless "have" makes it active."""
    j = i - 1
    while j >= 0 and (toks[j][0].endswith("ly") or toks[j][0] in {"not", "also", "then"}):
        j -= 1
    after = _clause_after(toks, i)
    if j >= 0 and toks[j][0] in _BE:  # "was struck by", "is read by"; not "is emailing … by noon"
        return not toks[i][0].endswith("ing") and _agent_by(after)
    # Reduced: "sea levels caused by the Moon", "a mural painted by students"; not a margin ("won by two
    # goals", "rose by 5%") nor a means ("replied by email"), nor "has won by".
    return (bool(after) and after[0] == "by" and _participle(toks[i][0]) and _agent_by(after)
            and not (j >= 0 and toks[j][0] in {"has", "have", "had"}))


_REACH = 2
_AUXILIARY = frozenset({"to", "will", "would", "can", "could", "should", "may", "might", "must", "do", "does",
                        "did", "has", "have", "had"})


def _verb_like(toks: list[Token], i: int) -> bool:
    """A verb form, or a word after an auxiliary or "to": a pivot the two sides are arguments of,
    rather than a noun inside a phrase ("500 euro stipend" / "stipend of 500 euros")."""
    word = toks[i][0]
    return _finite_verb(word) or word.endswith("ing") or (i > 0 and (toks[i - 1][0] in _AUXILIARY | _BE))


# "by" with these after it says how or when, not who: "replied by email", "by noon", "paid by card".
_NOT_AN_AGENT = frozenset({"email", "e-mail", "mail", "post", "phone", "telephone", "card", "cash", "cheque", "check",
                           "hand", "car", "bus", "train", "air", "road", "rail", "sea", "foot", "noon", "midnight",
                           "default", "far", "then", "now", "monday", "tuesday", "wednesday", "thursday", "friday",
                           "saturday", "sunday", "tomorrow", "tonight", "law", "chance", "mistake", "accident",
                           "design", "itself", "themselves", "percent"})


def _agent_by(after: list[str]) -> bool:
    """A "by" in ``after`` whose next word can be an agent: not a number (a margin: "by two goals"), nor a
    bare means or time ("by email", "by noon"; "by a car" is an agent)."""
    for k, word in enumerate(after):
        if word == "by" and k + 1 < len(after):
            nxt = after[k + 1]
            if not (nxt[0].isdigit() or nxt in NUMBER_WORDS or nxt in _NOT_AN_AGENT):
                return True
    return False


def _clause_after(toks: list[Token], i: int) -> list[str]:
    """The words after ``toks[i]`` up to the clause's end (a comma, semicolon or colon): the agent of a
    passive may stand far from its verb ("Backups are copied to a second disk every night by a job")."""
    out: list[str] = []
    for word, _ in toks[i + 1:]:
        if word in {",", ";", ":"}:
            break
        out.append(word)
    return out


# Not "that" (a relative pronoun before its verb: "the team that defeated Brazil"), nor "no", "some", "any".
_DETERMINERS = frozenset({"a", "an", "the", "this", "these", "those", "its", "their", "his", "her", "our",
                          "your", "my", "every", "each"})


def _adjectival(toks: list[Token], i: int) -> bool:
    """A participle between a determiner and its noun ("an expired token", "the painted wall")."""
    return (0 < i < len(toks) - 1 and toks[i - 1][0] in _DETERMINERS and toks[i][0].endswith(("ed", "en"))
            and _is_anchor(toks[i + 1]))


def _passives(toks: list[Token]) -> set[str]:
    return {t[1] for i, t in enumerate(toks) if t[0][0].isalpha() and _passive(toks, i)}


def mirrored(sentence: str, focus: str) -> str | None:
    """``"A … v … B"`` in the sentence where the passage sentence has ``"B … v … A"`` (passives
    accounted for); returns the three words, or None.

    A and B are both words or both numbers: a date or an amount moved to the front ("In 2012,
    Facebook acquired ...") mirrors around the verb without changing who did what; two numbers
    trading places ("at 230 °C, then at 250 °C") always changes the claim."""
    s, f = tokens(sentence), tokens(focus)
    ps, pf = _unique_positions(s), _unique_positions(f)
    shared = [w for w in ps if w in pf]
    passive_s, passive_f = _passives(s), _passives(f)
    # When only one side is passive, everything around its verb legitimately changes order, so
    # only that verb can show a swap.
    pivots = [v for v in shared if v in passive_s ^ passive_f] if passive_s != passive_f else shared
    order_s, order_f = sorted(shared, key=ps.__getitem__), sorted(shared, key=pf.__getitem__)
    for v in pivots:
        if v[0].isdigit() or not (_verb_like(s, ps[v]) or _verb_like(f, pf[v])):
            continue
        if _adjectival(s, ps[v]) or _adjectival(f, pf[v]):
            continue  # "an expired token" / "the token has expired": the words around it move with the grammar
        flip = _passive(s, ps[v]) != _passive(f, pf[v])
        # Only the two nearest shared words on each side are the verb's arguments; farther ones
        # are adverbials that paraphrases move freely ("In 49 BC, ..." / "... in 49 BC").
        near = {w for w in shared if abs(order_s.index(w) - order_s.index(v)) <= _REACH
                and abs(order_f.index(w) - order_f.index(v)) <= _REACH}
        before = [a for a in near if ps[a] < ps[v]]
        after = [b for b in near if ps[b] > ps[v]]
        for a in before:
            for b in after:
                if a[0].isdigit() != b[0].isdigit():
                    continue
                if pf[a] < pf[v] < pf[b]:
                    same = True
                elif pf[b] < pf[v] < pf[a]:
                    same = False
                else:
                    continue
                if same == flip:
                    return f"{a} … {v} … {b}"
    return None


_IRREGULAR_PAST = frozenset({"beat", "fled", "won", "lost", "took", "gave", "made", "led", "sent", "held", "left",
                             "fell", "rose", "bought", "sold", "built", "paid", "met", "told", "began", "became",
                             "ran", "wrote", "brought", "kept", "found", "went", "came", "saw", "chose", "struck",
                             "spent", "lent", "sank", "drove", "flew", "grew", "knew", "threw", "wore"})


_IRREGULAR_PARTICIPLES = frozenset({"written", "given", "taken", "made", "held", "built", "known", "driven", "sent",
                                    "found", "led", "paid", "sold", "bought", "kept", "told", "seen", "shown",
                                    "chosen", "grown", "thrown", "drawn", "spoken", "broken", "stolen", "beaten",
                                    "eaten", "won", "lost", "brought", "taught", "caught", "fed", "run", "hit"})


def _participle(word: str) -> bool:
    """A past participle: "caused", "painted", "written", "led"."""
    return word in _IRREGULAR_PARTICIPLES or (len(word) > 3 and word.endswith("ed"))


def _finite_verb(word: str) -> bool:
    """"refused", "serves", "fled": a verb form, not the head noun of a compound ("NATO bid")."""
    return word in _IRREGULAR_PAST or (len(word) > 3 and (word.endswith("ed") or (
        word.endswith("s") and not word.endswith(("ss", "us", "is")))))


def _subject(toks: list[Token], i: int) -> str | None:
    """The word a verb at ``i`` is said of: right before it, with only auxiliaries, adverbs,
    commas and relative pronouns between. Right before it with nothing between, the pair may be a
    compound noun ("its NATO bid", "a 6 kW system"): then the verb must look finite. A number word
    is a quantity, not a subject ("five unused days")."""
    j = i - 1
    while j >= 0 and (toks[j][0] in _SUBJECT_GAP or toks[j][0].endswith("ly")):
        j -= 1
    if j < 0 or not _is_anchor(toks[j]) or toks[j][0][0].isdigit():
        return None
    if toks[j][0] in NUMBER_WORDS or (j == i - 1 and not _finite_verb(toks[i][0])):
        return None
    # The object closing a relative clause ("the floods that closed the road were caused …") is no
    # subject: a relative word, then a verb, shortly before it ("said that Kushner serves" keeps its subject).
    for r in range(max(0, j - 4), j):
        if toks[r][0] in _RELATIVE and any(_finite_verb(t[0]) for t in toks[r + 1:j]):
            return None
    return toks[j][1]


def subject_moved(sentence: str, passage: str) -> str | None:
    """A verb whose subject in the sentence is another word than in the passage, where the
    sentence's subject appears *after* that verb in the passage ("Kushner serves as envoy" against
    "Witkoff, who serves as envoy, together with Kushner"). Returns "subject verb", or None."""
    s = tokens(sentence)
    ps = _unique_positions(s)
    for _, _, text in split_sentences(passage):
        f = tokens(text)
        pf = _unique_positions(f)
        for v, i in ps.items():
            if v not in pf or v[0].isdigit() or _passive(s, i) != _passive(f, pf[v]):
                continue
            mine, theirs = _subject(s, i), _subject(f, pf[v])
            if not mine or not theirs or mine == theirs:
                continue
            # The sentence's subject plays another part in this passage sentence (after the verb).
            # Looser tests (the subject named anywhere else in the passage) caught more swaps on
            # the development pairs but flagged five true paraphrases for each one.
            if any(t[1] == mine for t in f[pf[v] + 1:]):
                return f"{mine} {v}"
    return None
