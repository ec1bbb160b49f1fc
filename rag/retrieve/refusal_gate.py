"""The refusal gate: before anything is drafted, does retrieval give this question a chance?

A question is refused, with a reason, when the best passage is too far from it (dense cosine under
the calibrated threshold), when it names something no indexed document contains ("Crimea", a
"20 kW system", "bcrypt"), or when several of its words appear in no document and retrieval is
unsure ("wind turbine" asked of solar guides). A name the first pass missed but some document
holds gets a second, keyword-led pass instead of a refusal; once drafted, the answer must quote a
passage that names it, as for every name of the question (``unanswered_names``).
Calibrated on both eval sets (README "Refusal threshold" and "What an answer is").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace

from index.embedding import is_common_word
from index.lock import writer_active
from rag.records import Chunk, Hit, Retrieval
from rag.retrieve.hybrid import HybridRetriever, check_sources
from rag.retrieve.keyword import KeywordSnapshot
from rag.retrieve.question_words import absent_words, knows_as_a_term, unknown_terms
from rag.text import (
    content_words,
    initialisms,
    name_present,
    names_in,
    numbers_in,
    stem,
)
from rag.words import fold, is_unspaced, surface_words, words

# Calibrated on evals/datasets/examples.jsonl: the top hit's dense cosine below this means the
# documents do not cover the question (see README "Refusal threshold").
DEFAULT_REFUSAL_THRESHOLD = 0.3
# A question naming something the best keyword match holds may score this much under the threshold.
NAMED_MARGIN = 0.1
# Two or more of the question's words absent from every document ("wind turbine" asked of solar
# guides) refuse unless retrieval is this confident; measured on both eval sets (README).
ABSENT_WORDS_LIMIT = 2
ABSENT_WORDS_TOP_DENSE = 0.6


EMPTY_INDEX_REASON = "the index holds no documents yet: add some first ('rag ingest PATH', or Assistant.add)"
# A first ingest writes its files a batch at a time (up to 2,048 passages, after they are embedded), so
# questions asked while it runs find nothing for a while: they are told it is coming, not to add documents.
INGEST_RUNNING_REASON = ("the index holds no documents yet: an ingest is writing to it now; "
                         "ask again once it has indexed its first files")


@dataclass(frozen=True)
class GateResult:
    """The passages to answer from, why the question must be refused (None: answer it), and the
    keyword index it was checked against (the drafted answer is checked against the same one)."""

    retrieval: Retrieval
    refusal_reason: str | None
    keyword: KeywordSnapshot

    @property
    def refused(self) -> bool:
        return self.refusal_reason is not None


def gate(retriever: HybridRetriever, question: str, k: int, sources: str | Sequence[str] | None = None,
         threshold: float = DEFAULT_REFUSAL_THRESHOLD) -> GateResult:
    """Retrieve for ``question`` and decide whether it can be answered from what was found.

    Many threads call this at once: everything it decides travels in the returned value.
    """
    keyword = retriever.keyword.snapshot()  # every check of this question reads the same index
    retrieval, missing = _retrieve_checking_terms(retriever, keyword, question, k, sources)
    if not retrieval.hits and retriever.store.count() == 0:  # not "never mention": there is nothing to mention it
        folder = retriever.store.folder  # None with a Chroma server: no lock file to look at
        writing = folder is not None and writer_active(folder)
        return GateResult(retrieval, INGEST_RUNNING_REASON if writing else EMPTY_INDEX_REASON, keyword)
    if missing:
        shown = dict.fromkeys(_whole_name(term, question) for term in missing)
        return GateResult(retrieval, f"your documents never mention {', '.join(repr(m) for m in shown)}", keyword)
    # Every hit carries its dense cosine, also one only BM25 or the sentence list found.
    top_dense = max((h.dense_score or 0.0 for h in retrieval.hits), default=0.0)
    named = top_dense >= threshold - NAMED_MARGIN and names_a_match(question, retrieval.hits)
    if top_dense < threshold and not named and not keyword_holds_question(question, retrieval.hits):
        return GateResult(retrieval, "no passage of your documents is close enough to the question", keyword)
    return GateResult(retrieval, None, keyword)


def _retrieve_checking_terms(retriever: HybridRetriever, keyword: KeywordSnapshot, question: str, k: int,
                             sources: str | Sequence[str] | None
                             ) -> tuple[Retrieval, list[str]]:
    """Hybrid retrieval, and the question's terms that rule an answer out: names and numbers no
    retrieved passage holds, and technical terms no indexed document holds.

    A name the first pass missed but some document holds (say "TLS") gets a second, keyword-led
    pass: BM25 searches for the question with the missing names stressed, and never refuses. A
    name or number no indexed document contains is returned, and the question is refused.
    """
    sources = check_sources(sources, keyword.sources)
    retrieval = retriever.search(question, k=k, sources=sources, keyword=keyword)
    knows = knows_as_a_term(keyword.vocabulary.knows, keyword.vocabulary.words.__contains__, is_common_word)
    unknown = unknown_terms(question, knows, is_common_word) + unwritten_literals(question, keyword.contains)
    if unknown:
        return retrieval, unknown
    absent = absent_words(question, knows)
    top_dense = max((h.dense_score or 0.0 for h in retrieval.hits), default=0.0)
    if len(absent) >= ABSENT_WORDS_LIMIT and top_dense < ABSENT_WORDS_TOP_DENSE:
        return retrieval, absent
    missing = unmatched_terms(question, [h.chunk.text for h in retrieval.hits])
    nowhere = [term for term in missing if not any(keyword.search(form, 1, sources) for form in written_forms(term))]
    if nowhere or not missing:
        return retrieval, nowhere
    # Every missing term is in some document: look again, led by those terms, and let the best
    # passages holding them take the last places (the answerer and the relevance check judge them).
    forms = [form for term in missing for form in written_forms(term)]
    second = retriever.search(question, k=4 * k, sources=sources, keyword_query=" ".join(forms),
                              query_vector=retrieval.query_vector, keyword=keyword)
    taken = {h.chunk.chunk_id for h in retrieval.hits}
    # The missing terms as written (any text holding them), their other spellings as words ("mb" is
    # in "number", "tib" in "compatible").
    spelt = re.compile("|".join(rf"\b{re.escape(form)}\b" for term in missing
                                for form in written_forms(term) if form not in plural_forms(term)) or r"(?!)")
    holding = [h for h in second.hits if h.chunk.chunk_id not in taken
               and (any(term in h.chunk.text.lower() for term in missing) or spelt.search(h.chunk.text.lower()))
               ][:max(1, k // 2)]
    hits = [*retrieval.hits[:max(0, k - len(holding))], *holding]
    merged = tuple(replace(h, rank=i) for i, h in enumerate(hits, 1))
    return Retrieval(question, merged, retrieval.query_vector), []


def unanswered_names(question: str, cited: Sequence[Chunk],
                     openings: Callable[[Collection[str]], Iterable[Chunk]], keyword: KeywordSnapshot) -> list[str]:
    """Names of the question that neither the quoted passages (with their section headings) nor
    the openings of their documents hold: the answer is about something else.

    The gate lets a name through once any document holds it, so an unrelated document that
    happens to name it turned a refusal into an answer quoted from the others. On Python's docs
    mixed with 30,000 passages of git, gcc and gnupg documentation, "which function in the random
    module generates a UUID?" was answered with the random module's introduction because a gnupg
    changelog says "UUID"; on the Python docs alone it was refused (README "Refusals in a large,
    mixed index"). A document's opening counts because a title or a first paragraph names what
    the whole document is about ("the Riverside policy"); the rest of it does not, because a long
    changelog names everything ("France" asked of Debian's documentation was answered that way).

    Names with digits ("S3", "IPv6") count whole (``digit_names``). Numbers and hyphenated
    compounds are not required: "a title cut to 40 characters" and
    "3.12.0rc1" are the user's own example values, and the page that answers "my CPU-heavy code"
    says "multi-core" (right answers on the Python-docs sets, refused when these were required).
    A name that many of the indexed documents hold is the collection's own subject, not the
    question's (``domain_name``): "… in Python?" is answered from a library page that never says
    "Python".

    ``openings(sources)`` gives the first chunk of each of those documents; ``keyword`` is the
    index the question was checked against.
    """
    def lacking(chunks: Iterable[Chunk]) -> list[str]:
        texts = [" ".join(chunk.heading) + "\n" + chunk.text for chunk in chunks]
        with_digits = [name for name in digit_names(question) if not any(digit_name_written(name, t) for t in texts)]
        named = [term for term in unmatched_terms(question, texts) if not term[0].isdigit() and "-" not in term
                 and _whole_name(term, question) not in with_digits]  # not "ec" beside "ec2"
        return named + with_digits

    if not lacking(cited):  # the usual case: no look-up of the documents' openings
        return []
    return [name for name in lacking([*cited, *openings({chunk.source for chunk in cited})])
            if not domain_name(name, keyword)]


# A name this share of the indexed documents hold, and at least DOMAIN_MIN_DOCUMENTS of them, is
# the collection's subject. Measured (README "Refusals in a large, mixed index"): "python" is in
# 90% of the 40 Python-docs pages and 12% of the same pages mixed with 555 Debian files, "windows"
# in 30% and 16%; the names whose answers quoted unrelated documents in at most 1% ("uuid",
# "postgresql", "docker", "france", "hamlet"), "post" in 9% of the mixed index.
DOMAIN_SHARE = 0.10
DOMAIN_MIN_DOCUMENTS = 3


def domain_name(name: str, keyword: KeywordSnapshot) -> bool:
    """Whether ``name``, as written, is held by at least ``DOMAIN_SHARE`` of the indexed documents
    and by ``DOMAIN_MIN_DOCUMENTS`` at least: a qualifier of the whole collection ("in Python", "on
    Windows"), which the page that answers need not repeat. Only the form the question wrote counts
    ("windows", not the GUI's "window"). The share is of the whole index, also for a question
    limited to chosen documents. A name one document of seven holds (a club newsletter's "Poland"
    beside six other files) is never one."""
    holders = keyword.documents_holding(name)
    return holders >= max(DOMAIN_MIN_DOCUMENTS, DOMAIN_SHARE * len(keyword.sources))


def names_a_match(question: str, hits: Sequence[Hit]) -> bool:
    """The question names something specific (a name, a rare word) that the best keyword match
    holds: "Who is Jared Kushner?". MiniLM gives such short questions low cosines (0.28 here), so
    these are answered a little under the dense threshold (``NAMED_MARGIN``)."""
    top = next((h for h in hits if h.keyword_rank == 1), None)
    if top is None:
        return False
    text = fold(top.chunk.text)
    found = {w.lower() for w in re.findall(r"[A-Za-z][\w-]+", question)} | \
        {w for w in words(question) if not w.isascii() and not w[0].isdigit()}
    # A bigram of Chinese or Japanese is as specific as a rare word (MiniLM's vocabulary holds
    # single characters only).
    specific = {w for w in found if (len(w) >= 4 or is_unspaced(w)) and not is_common_word(w)} | \
        {n for n in names_in(question) if len(n) >= 4}
    return any(w in text for w in specific)


def keyword_holds_question(question: str, hits: Sequence[Hit]) -> bool:
    """The passage BM25 ranks first holds every content word of the question (two at least): fused
    evidence that the documents answer it, however far its chunk vector is. A unique fact in a long
    document ("the code name on page 1234") sits in a chunk about other things; its dense cosine
    can fall under the threshold while keyword search finds it first. Measured on both eval sets:
    no unanswerable question's best keyword passage held all its words (the most: 4 of 5)."""
    top = next((h for h in hits if h.keyword_rank == 1), None)
    wanted = content_words(question)
    if top is None or len(wanted) < 2:
        return False
    return wanted <= content_words(" ".join(top.chunk.heading) + " " + top.chunk.text)


# Dotted names ("http.server", "os.path.join", "setup.py") and versions with three parts ("3.11.0"). A
# call ("proc.wait()", "items.sort()") is left out: it is the user's own code, on their own variable.
_LITERAL = re.compile(r"(?<![\w.])(?:[A-Za-z_]\w+(?:\.[A-Za-z_]\w+)+|\d+\.\d+\.\d+)(?![\w(])")


# An address given as an example ("www.example.com", "docs.python.org"): data the question is about,
# not a module or a file the documents would have to name.
_HOSTNAME = re.compile(r"^www\.|\.(?:com|org|net|io|edu|gov|co\.uk)$", re.IGNORECASE)


def unwritten_literals(question: str, written: Callable[[str], bool]) -> list[str]:
    """Dotted names and three-part versions of the question that no indexed text contains, as
    written: a module, file or release the documents never name ("http.server" asked of pages that
    only mention "http", "3.11.0" of pages that say "3.11") cannot be answered from them. A name of
    three parts or more also counts when its last two are written ("Path.glob" for
    "pathlib.Path.glob"), and a class's method when the documents write "Class(" and "method("
    (pages document "Template.substitute" as "substitute(mapping)" under "class
    string.Template(template)"). A host name ("www.example.com") is the user's data, never a term
    to find.

    ``written(text)`` says whether any indexed text contains ``text`` (lower-cased) as written
    (``KeywordSnapshot.contains``).

    >>> texts = ["The http module ...", "Path.glob(pattern) globs ..."]
    >>> unwritten_literals("what port does http.server use? is pathlib.Path.glob recursive?",
    ...                    lambda form: any(form in t.lower() for t in texts))
    ['http.server']
    """
    found = [m.group(0) for m in _LITERAL.finditer(question) if not _HOSTNAME.search(m.group(0))]
    classes = {m.lower() for m in found if m[0].isupper() and m.count(".") == 1}
    out = []
    for term in dict.fromkeys(m.lower() for m in found):
        forms = {term} | ({".".join(term.split(".")[-2:])} if term.count(".") >= 2 and term[0].isalpha() else set())
        if any(written(form) for form in forms):
            continue
        if term in classes:
            # "Template.substitute": reference pages document a method under its class's signature
            # ("class string.Template(template)") as "substitute(mapping)".
            owner, method = term.split(".")
            if written(f"{owner}(") and written(f"{method}("):
                continue
        out.append(term)
    return out


def unmatched_terms(question: str, passages: Sequence[str]) -> list[str]:
    """Names and numbers of the question that no passage contains (the words as the question wrote them).

    A question about "Crimea" or a "20 kW system" cannot be answered from passages that never
    mention them, however close the topic: quoting them would answer another question. Numbers
    count from two significant digits on: "the last 3 items" or "0.5 seconds" are the user's own
    example values, "the 1998 World Cup" is a fact the passages must hold.

    >>> unmatched_terms("what did Zelenskyy say about Crimea?", ["Zelenskyy refused to cede Donetsk."])
    ['crimea']
    """
    joined = " ".join(passages)
    # "DVD-ROMs" writes "DVD" and "ROM" too: a hyphenated word's parts and a plural's singular count.
    parts = {part.lower() for w in words(joined) if not w[0].isdigit() for part in (w, *w.split("-")) if part}
    present = {stem(form) for part in parts for form in plural_forms(part)} | initialisms(joined)
    present |= {unit for family in _SIZE_UNIT_STEMS if not family.isdisjoint(present) for unit in family}
    missing_stems = {n for n in names_in(question)
                     if len(n) > 1 and not any(name_present(form, present) for form in written_forms(n))}
    surface = list(dict.fromkeys(fold(w) for w in surface_words(question) if stem(fold(w)) in missing_stems))
    numbers = [n for n in sorted(numbers_in(question) - numbers_in(joined))
               if len(n.replace(".", "").lstrip("0")) >= 2 and _standalone_number(n, question)]
    return surface + numbers


# A name with digits: "S3", "EC2", "IPv6", "Win32", "K8s" (a capital letter, then a digit inside the
# word). ``rag.words`` keeps letters and digits apart ("S3" is "s" and "3"), so the name rules saw
# "S" or "IPv" and never asked whether the documents write the name itself: "upload to S3" was
# answered from pages that only say "upload". A dotted or hyphenated word around it ("x-S3",
# "IPv6-only") is left to the other rules. They are checked once an answer is drafted, against the
# passages it quotes (``unanswered_names``), not at the gate: a check of the whole index for "UTF-8"
# or "Python 3" is a scan of every indexed text per form (130 ms each at 190,000 passages, holding
# the GIL, so every other question waits), where the index terms only hold the joined form.
_DIGIT_NAME = re.compile(r"(?<![\w.-])(?=[a-z0-9]*[A-Z])[A-Za-z]+\d[A-Za-z0-9]*(?![\w-]|\.\w)")


def digit_names(question: str) -> list[str]:
    """The question's names with digits, lower-cased.

    >>> digit_names("can shutil upload to S3 or an EC2 disk over IPv6? is sha256 in Python 3?")
    ['s3', 'ec2', 'ipv6']
    """
    return list(dict.fromkeys(m.group(0).lower() for m in _DIGIT_NAME.finditer(question)))


def _whole_name(term: str, question: str) -> str:
    """The question's name with digits that ``term`` begins ("ipv" of "IPv6"), else ``term``: the
    word rules read only its letters, and a refusal should name what the user wrote."""
    return next((name for name in digit_names(question) if re.fullmatch(rf"{re.escape(term)}\d\w*", name)), term)


def digit_name_written(name: str, text: str) -> bool:
    """Whether ``text`` writes ``name`` as a word, its letters and digits joined or apart by one
    "-", ".", "_" or space: "UTF-8" writes "UTF8", "H.264" "H264", "Python 3" "Python3" and
    "sha3_256" "SHA3"; "items 3" does not write "S3".

    >>> digit_name_written("utf8", "Files are read as UTF-8."), digit_name_written("s3", "see items 3")
    (True, False)
    >>> digit_name_written("mp3", "Convert MP3s first.")
    True
    """
    pattern = r"[-._ ]?".join(map(re.escape, re.findall(r"[a-z]+|\d+", name)))
    return re.search(rf"(?<![a-z0-9]){pattern}(?:s|'s|’s)?(?![a-z0-9])", text, re.IGNORECASE) is not None  # "MP3s"


# Sizes as users write them and as documents do: "bigger than 4 GB" asked of the Python docs, which
# write "4 GiB", was refused ("your documents never mention 'gb'"). One family is one unit to the
# name rules (stemmed forms, as ``present`` holds them).
_SIZE_UNITS = (
    ("kb", "kib", "kilobyte", "kilobytes", "kbyte", "kbytes"),
    ("mb", "mib", "megabyte", "megabytes", "mbyte", "mbytes"),
    ("gb", "gib", "gigabyte", "gigabytes", "gbyte", "gbytes"),
    ("tb", "tib", "terabyte", "terabytes", "tbyte", "tbytes"),
    ("pb", "pib", "petabyte", "petabytes"),
)
_SIZE_UNIT_STEMS = tuple(frozenset(stem(form) for form in family) for family in _SIZE_UNITS)


def written_forms(term: str) -> tuple[str, ...]:
    """The forms that count as ``term`` written: its singular (``plural_forms``), and for a size
    unit every spelling of that unit ("gb": "gib", "gigabytes", …).

    >>> written_forms("gb")[:3], written_forms("dvds")
    (('gb', 'gib', 'gigabyte'), ('dvds', 'dvd'))
    """
    singular = term[:-1] if term.endswith("s") else term  # "gbs", "mibs"
    family = next((f for f, stems in zip(_SIZE_UNITS, _SIZE_UNIT_STEMS, strict=True)
                   if stem(term) in stems or stem(singular) in stems), ())
    return tuple(dict.fromkeys((*plural_forms(term), *family)))


def plural_forms(name: str) -> tuple[str, ...]:
    """The name and, for a plural of three letters or more, its singular: a question's "DVDs" is
    written "DVD" in the documents (the stemmer leaves "dvds" whole). Asked of the Debian
    Reference, "how many DVDs would the full image set take?" was refused.

    >>> plural_forms("dvds"), plural_forms("gpus"), plural_forms("ssh")
    (('dvds', 'dvd'), ('gpus', 'gpu'), ('ssh',))
    """
    if len(name) > 3 and name.endswith("s") and not name.endswith("ss"):
        return name, name[:-1]
    return (name,)


def _standalone_number(number: str, text: str) -> bool:
    """Not part of a word or an escape ("\\u00e9", "x86", "sha256")."""
    return any(not re.match(r"[\w\\]", text[m.start() - 1:m.start()] or " ")
               for m in re.finditer(re.escape(number), text.replace(",", "")))
