"""The extractive answerer's excerpts, question kinds, relevance, and the typed draft through the checker."""

from __future__ import annotations

import pytest

from index.records import Chunk
from rag.answer.extractive import (
    ExtractiveConfig,
    draft_excerpts,
    is_signature,
    looks_like_code,
    passage_sentences,
    refers_back,
)
from rag.answer.generators import ExtractiveGenerator
from rag.answer.question_kinds import carries_answer, question_kind
from rag.check.checker import check_draft, draft_from_text
from rag.check.relevance import judge_relevance
from rag.check.support import HeuristicJudge
from rag.records import Draft, DraftSentence, Hit, QuoteSpan
from tests.fakes import WordEmbedder

BACKUPS = ("Backups run every night at two. Make sure the disk is mounted with the nofail option. "
           "Without this option, boot hangs when the USB disk is unplugged. Old snapshots are pruned weekly.")
BOOT = ("Anyone at the console can edit the boot entries and start a root shell. "
        "To prevent this, you can protect the bootloader itself with a password. "
        "The password is stored as a hash in the configuration file.")


def hit(text: str, rank: int = 1, source: str = "/docs/a.txt", heading: tuple[str, ...] = ()) -> Hit:
    return Hit(Chunk(f"c{rank}", "d", source, text, 100, 100 + len(text), rank, heading=heading), 1.0 / rank, rank,
               dense_score=0.8)


def excerpts(question: str, hits: list[Hit], **config: object) -> list[DraftSentence]:
    embedder = WordEmbedder()
    return draft_excerpts(question, embedder.embed([question])[0], hits, embedder,
                          ExtractiveConfig(**config))  # type: ignore[arg-type]


def test_an_excerpt_is_a_verbatim_span_with_its_offsets_and_focus() -> None:
    [first, *_] = excerpts("why protect the bootloader with a password?", [hit(BOOT)], follow=0)
    assert first.passages == (1,) and first.quote is not None
    span = first.quote
    assert BOOT[span.start:span.end].split() == first.text.split()  # verbatim, whitespace aside
    assert span.start <= span.focus_start < span.focus_end <= span.end
    focus = BOOT[span.focus_start:span.focus_end]
    assert focus == "To prevent this, you can protect the bootloader itself with a password."


def test_a_sentence_that_refers_back_brings_the_one_before() -> None:
    [first, *_] = excerpts("why protect the bootloader with a password?", [hit(BOOT)], follow=0)
    # "To prevent this" points at the reason: the sentence before is quoted with it.
    assert first.text.startswith("Anyone at the console can edit the boot entries")


def test_the_answer_after_a_setup_sentence_is_quoted() -> None:
    text = "The default line width is set as follows: Lines are wrapped at 70 characters. Tabs expand to 8."
    [first, *_] = excerpts("what line width is the default?", [hit(text)], follow=0)
    assert "70 characters" in first.text  # the best sentence ends in a colon: its continuation comes along


EDITOR = ("Debian gives every program one default editor through the editor command. You can change it by the "
          "following.\n$ sudo update-alternatives --config editor\nThe basic vim build is a good first choice.")


def test_the_command_a_setup_sentence_introduces_is_quoted() -> None:
    # The command alone reads as a scrap (no full stop, few words) and as code: it was never quoted.
    for follow in (0, 1):
        [first, *_] = excerpts("how do I change the default editor?", [hit(EDITOR)], follow=follow)
        assert "update-alternatives --config editor" in first.text, follow


def test_a_scrap_is_not_quoted_unless_a_setup_sentence_introduces_it() -> None:
    text = EDITOR.replace("by the following.", "with a tool.")
    [first, *_] = excerpts("how do I change the default editor?", [hit(text)], follow=1)
    assert "update-alternatives" not in first.text


def test_a_sentence_that_asks_is_not_the_answer() -> None:
    # libffi's manual: "1 What is libffi?" led the answer to "what is a closure in libffi?".
    text = ("What is a closure in this library? A closure in libffi is a small piece of code that calls a "
            "function you supply when it is invoked. Closures need writable executable memory.")
    [first, *_] = excerpts("what is a closure in libffi?", [hit(text)], follow=0, max_excerpts=1)
    assert first.quote is not None
    assert text[first.quote.focus_start:first.quote.focus_end].startswith("A closure in libffi is")
    [asked, *_] = excerpts("what is a closure in libffi?", [hit(text)], follow=0, max_excerpts=1,
                           question_penalty=0.0)
    assert asked.quote is not None and text[asked.quote.focus_start:].startswith("What is a closure")  # before


def test_a_number_question_prefers_the_sentence_with_the_number() -> None:
    text = ("Daily backups are a good habit for every server. Daily backups are kept for 15 days on the disk. "
            "Backups of the database are a separate job.")
    [first, *_] = excerpts("how long are daily backups kept?", [hit(text)], follow=0, max_excerpts=1)
    assert first.quote is not None
    assert text[first.quote.focus_start:first.quote.focus_end] == "Daily backups are kept for 15 days on the disk."


def test_excerpts_stay_within_the_word_budget_and_do_not_repeat() -> None:
    long_passage = " ".join(f"Backups rotate sentence number {i} of the nightly backup job." for i in range(30))
    drafted = excerpts("how do nightly backups rotate?", [hit(long_passage), hit(long_passage, 2)], max_words=40)
    words = sum(len(d.text.split()) for d in drafted)
    assert words <= 40
    assert len({d.text for d in drafted}) == len(drafted)


def test_code_listings_are_not_preferred_as_the_answer() -> None:
    assert looks_like_code(">>> word[0] = 'J'\nTraceback (most recent call last):")
    assert not looks_like_code("Python strings cannot be changed, they are immutable.")
    # An assignment starts code; a capitalised word before " = " is prose naming the operator.
    assert looks_like_code("total = compute(a, b)") and looks_like_code("Total = 3")
    assert not looks_like_code("The = specifier can be used to expand an expression to the text of the expression.")
    assert refers_back("This option keeps boot going.") and not refers_back("Backups run nightly.")


def test_a_sentence_without_a_subject_of_its_own_refers_back() -> None:
    assert refers_back("Equivalent to td / timedelta(seconds=1).")
    assert refers_back("Like quote(), but also replace spaces with plus signs.")
    assert refers_back("For example, on Linux it's usually /dev/log.") and refers_back("Same as date.strftime().")
    assert not refers_back("Like most tools, grep reads its standard input.")
    assert not refers_back("Equivalence classes are compared by their canonical value.")


def test_an_excerpt_opening_without_a_subject_brings_the_sentence_it_completes() -> None:
    text = ("Durations are stored as days, seconds and microseconds. "
            "Return the total number of seconds contained in the duration. "
            "Equivalent to td divided by timedelta(seconds=1).")
    [first, *_] = excerpts("what is equivalent to td divided by timedelta?", [hit(text)], follow=0, max_excerpts=1)
    assert first.text.startswith("Return the total number of seconds")  # what "Equivalent to" is about


def test_api_signatures_are_recognised() -> None:
    assert is_signature("copy.deepcopy(x[, memo])")
    assert is_signature("class zipfile.ZipFile(file, mode='r', compression=ZIP_STORED, *, strict_timestamps=True)")
    assert is_signature("coroutine asyncio.sleep(delay, result=None)") and is_signature("str.split(sep=None) -> list")
    assert not is_signature("sorted(iterable) returns a new sorted list (see below).")
    assert not is_signature("The key (a function) is called once per element.")


def test_the_sentence_describing_a_function_is_preferred_over_its_signature() -> None:
    text = ("itertools.groupby(iterable, key=None)\n\nMake an iterator that returns consecutive keys and groups "
            "from the iterable. The key is a function computing a key value for each element.")
    question = "what iterator does itertools.groupby make?"

    def focus(penalty: float) -> str:
        [first] = excerpts(question, [hit(text)], signature_penalty=penalty, follow=0, max_excerpts=1)
        assert first.quote is not None
        return text[first.quote.focus_start:first.quote.focus_end]

    assert focus(0.0) == "itertools.groupby(iterable, key=None)"  # it repeats the question's words best
    assert focus(0.1).startswith("Make an iterator that returns consecutive keys")


def test_the_first_excerpt_leaves_room_for_the_runner_up() -> None:
    first = ("Backups are written to the external disk. Nightly backups rotate the snapshots kept on the external "
             "disk. Each snapshot moves into the weekly set after seven nights on the external disk. Nightly backups "
             "also rotate the weekly snapshots into the monthly set on the external disk.")
    runner_up = "Nightly backups rotate snapshots with hard links to the previous snapshot."
    question = "how do nightly backups rotate snapshots?"

    def drafted(room: bool) -> list[str]:
        return [d.text for d in excerpts(question, [hit(first), hit(runner_up, 2)], room_for_runner_up=room,
                                         max_words=45)]

    # Without room, the best excerpt's optional neighbour (it scores nearly as well) takes the last words.
    assert drafted(False) == [first.split(". ", 1)[1]]
    # With room, the sentence after the best one is still quoted, and the runner-up gets the rest.
    kept = drafted(True)
    assert kept[0].startswith("Nightly backups rotate the snapshots") and kept[0].endswith("seven nights on the "
                                                                                           "external disk.")
    assert kept[1] == runner_up
    assert sum(len(t.split()) for t in kept) <= 45


def test_passage_sentences_mark_headings_as_fragments() -> None:
    sentences = passage_sentences("# Backups\n\nBackups run every night at two o'clock sharp.")
    assert [s.fragment for s in sentences] == [True, False]


def test_a_pdf_sub_item_is_quoted_without_its_dash_and_brings_what_it_refers_to() -> None:
    """LaTeX and DocBook PDFs open a second-level list item with "– ": the dash hid "This" from the
    refers-back check, and was quoted ("– This can be resolved by …", the Debian Reference)."""
    text = "• Type su from any user shell prompt.\n– This preserves some of the environment of the current user."
    sentences = passage_sentences(text)
    assert [s.text for s in sentences] == ["Type su from any user shell prompt.",
                                           "This preserves some of the environment of the current user."]
    assert refers_back(sentences[1].text)


def test_an_excerpt_never_runs_into_a_question_used_as_a_heading() -> None:
    text = ("Talks resumed in the spring.\nThe minister rejected any deal that would give up the northern "
            "valleys.\nWhy It's Important?\nThe shift could change the region's security for years.")
    sentences = passage_sentences(text)
    assert [s.heading_line for s in sentences] == [False, False, True, False]
    assert not any(s.heading_line for s in passage_sentences("Is it safe? Yes. The tank holds 40 litres.\n"))
    hits = [hit(text)]
    vector = WordEmbedder().embed(["what did the minister reject?"])[0]
    excerpt = draft_excerpts("what did the minister reject?", vector, hits, WordEmbedder())[0].text
    assert "rejected any deal" in excerpt and "Why It" not in excerpt


@pytest.mark.parametrize(("question", "kind"), [
    ("Which mount option stops boot hanging?", "name"),
    ("How long are daily backups kept?", "number"),
    ("How many days can I work remotely?", "number"),
    ("Why protect the bootloader with a password?", "reason"),
    ("What's the point of a virtual environment?", "reason"),
    ("How can I make subprocess.run raise when the command fails?", "other"),
    ("When was the library released?", "number"),
])
def test_question_kinds(question: str, kind: str) -> None:
    assert question_kind(question) == kind


def test_carries_answer_by_kind() -> None:
    assert carries_answer("number", "They are kept for two weeks.")
    assert not carries_answer("number", "They are kept on a separate disk.")
    assert carries_answer("reason", "This prevents anyone from editing the entries.")
    # A purpose is a reason: "Why does Ukraine want guarantees?" was flagged "gives no reason".
    assert carries_answer("reason", "By seeking guarantees outside of NATO, Ukraine aims to secure its sovereignty.")
    assert carries_answer("name", "Add the nofail option to the fstab line.")
    assert carries_answer("other", "anything at all")


def test_relevance_flags_an_answer_without_what_the_question_asks_for() -> None:
    off = judge_relevance("How much does a home wind turbine cost?",
                          ["Small turbines are quiet enough for gardens."], similarity=0.55)
    on = judge_relevance("How much does a home wind turbine cost?",
                         ["A home wind turbine costs about 9,000 dollars installed."], similarity=0.8)
    assert not off.answers and off.reasons and on.answers and on.score > off.score


def test_the_checker_keeps_the_located_quote_instead_of_searching_again() -> None:
    passage = hit(BACKUPS)
    # The quote spans two sentences; a search by shared words would pick a single sentence.
    start = BACKUPS.index("Make sure")
    end = BACKUPS.index(" Old snapshots")
    focus_end = BACKUPS.index(" Without")
    drafted = DraftSentence(" ".join(BACKUPS[start:end].split()), (1,), QuoteSpan(start, end, start, focus_end))
    checked = check_draft(Draft((drafted,), drafted.text), [passage], HeuristicJudge())
    [citation] = checked.citations
    assert citation.quote == BACKUPS[start:end]
    assert (citation.start, citation.end) == (100 + start, 100 + end)  # document offsets
    assert (citation.focus_start, citation.focus_end) == (100 + start, 100 + focus_end)
    assert checked.sentences[0].support == "supported" and not checked.refused


def test_only_model_text_is_parsed_for_markers() -> None:
    draft = draft_from_text("Backups run nightly [1]. The documents do not say more.", 1)
    assert [s.passages for s in draft.sentences] == [(1,), ()]
    assert draft.declined  # the model itself said the documents do not say
    assert not draft_from_text("Backups run nightly [1].", 1).declined


def test_the_extractive_generator_yields_text_then_its_draft() -> None:
    embedder = WordEmbedder()
    question = "which option stops boot hanging when the usb disk is unplugged?"
    items = list(ExtractiveGenerator(embedder).stream(question, [hit(BACKUPS)], embedder.embed([question])[0]))
    *texts, draft = items
    assert all(isinstance(t, str) for t in texts) and isinstance(draft, Draft)
    assert draft.text == "".join(texts) and "nofail" in draft.text
    assert all(s.quote is not None for s in draft.sentences)
