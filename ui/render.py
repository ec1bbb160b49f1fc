"""Render answers, sources and document lists to safe HTML for the web UI.

Everything that comes from a document or a model is untrusted. It is escaped here, character by
character, before it reaches the page: HTML specials become entities, and so do the characters
that Markdown, LaTeX or autolinking would act on. The Chatbot is configured not to render
Markdown at all; the second layer means a configuration slip still cannot turn
``![x](http://evil.example/a.png)`` into an image request. The only tags in the output are the
ones written in this module, and none of them loads anything (no ``img``, no ``a href``).

>>> escape_text('<img src=x> ![t](http://e.example/p.png)')
'&#60;img src=x&#62; &#33;&#91;t&#93;&#40;http&#58;//e.example/p.png&#41;'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.records import Answer, AnswerSentence, Citation, Hit, Verdict

# One pass over the text (str.translate), so an entity we emit is never escaped twice.
_ESCAPES = {ord(c): f"&#{ord(c)};" for c in "&<>\"'[]()!*_`$\\~|#{}:"}
_CONTEXT_CHARS = 320  # context shown around a quote inside its passage
_SNIPPET_CHARS = 360  # length of a "possibly related" passage preview

VERDICT_LABELS: dict[str, str] = {
    "supported": "✓ Supported",
    "weak": "~ Weak support",
    "unsupported": "✗ Not supported",
}
_VERDICT_RANK = {"supported": 0, "weak": 1, "unsupported": 2}


def escape_text(text: str) -> str:
    """``text`` as inert HTML: no tag, entity, Markdown, LaTeX or autolink survives."""
    return text.translate(_ESCAPES)


def display_name(source: str) -> str:
    """The file name shown for an indexed source."""
    return Path(source).name or source


@dataclass(frozen=True)
class Span:
    """A highlighted range of a passage (offsets relative to the passage)."""

    start: int
    end: int
    verdict: str
    title: str = ""


def highlight(text: str, spans: Iterable[Span]) -> str:
    """Escaped ``text`` with each span wrapped in ``<mark class="rag-quote v-...">``.

    Overlapping spans are trimmed so every character is marked at most once.

    >>> highlight("a <b> c", [Span(2, 5, "supported")])
    'a <mark class="rag-quote v-supported">&#60;b&#62;</mark> c'
    """
    out: list[str] = []
    pos = 0
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        start, end = max(span.start, pos, 0), min(span.end, len(text))
        if start >= end:
            continue
        title = f' title="{escape_text(span.title)}"' if span.title else ""
        out.append(escape_text(text[pos:start]))
        out.append(f'<mark class="rag-quote v-{_verdict(span.verdict)}"{title}>{escape_text(text[start:end])}</mark>')
        pos = end
    out.append(escape_text(text[pos:]))
    return "".join(out)


def quote_span(citation: Citation) -> tuple[int, int] | None:
    """Offsets of the quote inside ``citation.passage``, or None when it cannot be located."""
    if not citation.passage or not citation.quote:
        return None
    return locate(citation.passage, citation.passage_start, citation.quote, citation.start, citation.end)


def locate(text: str, text_start: int, quote: str, start: int, end: int) -> tuple[int, int] | None:
    """Where ``quote``, at document offsets ``start``..``end``, is in ``text`` (which starts at document
    offset ``text_start``): by its offsets, else by search (offsets of an older index), else None.

    >>> locate("say hi there", 100, "hi", 104, 106), locate("say hi there", 0, "hi", 50, 52)
    ((4, 6), (4, 6))
    """
    lo, hi = start - text_start, end - text_start
    if 0 <= lo < hi <= len(text) and text[lo:hi] == quote:
        return lo, hi
    found = text.find(quote)
    return (found, found + len(quote)) if found >= 0 else None


def worst(verdicts: Iterable[str]) -> str:
    """The weakest verdict of several (unsupported < weak < supported)."""
    return max(verdicts, key=lambda v: _VERDICT_RANK.get(v, 2), default="unsupported")


def badge(verdict: str) -> str:
    v = _verdict(verdict)
    return f'<span class="rag-badge v-{v}">{escape_text(VERDICT_LABELS[v])}</span>'


# ---- chat messages -----------------------------------------------------------------------------

def render_user(question: str) -> str:
    return f'<div class="rag-question">{escape_text(question)}</div>'


def render_pending(stage: str = "Searching your documents…") -> str:
    return f'<div class="rag-answer rag-pending"><span class="rag-spinner"></span>{escape_text(stage)}</div>'


def render_streaming(text: str) -> str:
    """Text as the generator writes it: markers still raw, citations not yet checked."""
    return ('<div class="rag-answer rag-pending"><div class="rag-body">'
            f'{escape_text(text)}<span class="rag-caret"></span></div>'
            '<div class="rag-status"><span class="rag-spinner"></span>Writing, then checking every citation…</div>'
            '</div>')


def render_error(title: str, detail: str = "") -> str:
    body = f'<div class="rag-error-detail">{escape_text(detail)}</div>' if detail else ""
    return f'<div class="rag-answer rag-error"><strong>{escape_text(title)}</strong>{body}</div>'


def render_answer(answer: Answer, only: int = 0) -> str:
    """The checked answer: sentences with ``[n]`` markers and flags, then the sources panel.

    ``only``: how many documents the question was limited to ("Ask only these documents"; 0: all).
    """
    if answer.refused:
        return _render_refusal(answer, only)
    verdicts = {(c.sentence_index, c.n): c.support for c in answer.citations}
    body = " ".join(_render_sentence(i, s, verdicts) for i, s in enumerate(answer.sentences))
    parts = [f'<div class="rag-answer">{_render_understood(answer)}<div class="rag-body">{body}</div>']
    flagged = [s for s in answer.sentences if s.support != "supported"]
    if flagged:
        parts.append(f'<div class="rag-note v-{worst(s.support for s in flagged)}">'
                     f'{_count(len(flagged), "sentence")} {"is" if len(flagged) == 1 else "are"} not fully '
                     'supported by the cited passages (marked above); read the source before relying on it.</div>')
    if answer.relevance is not None and not answer.relevance.answers:
        why = "; ".join(answer.relevance.reasons)
        parts.append('<div class="rag-note v-weak rag-off-topic">This may not answer your question'
                     f'{": " + escape_text(why) if why else ""}. The quotes are from your documents, but check '
                     'that they address what you asked.</div>')
    if answer.removed:
        items = "".join(f"<li>{escape_text(s.text)}</li>" for s in answer.removed)
        parts.append(f'<details class="rag-removed"><summary>{_count(len(answer.removed), "unsupported sentence")} '
                     f'removed (strict mode)</summary><ul>{items}</ul></details>')
    parts.append(render_sources(answer.citations))
    parts.append(_render_meta(answer))
    parts.append(_render_copy(answer))
    parts.append("</div>")
    return "".join(parts)


def answer_as_text(answer: Answer) -> str:
    """The answer as plain text with its ``[n]`` markers, then one line per source with its quote."""
    if answer.refused:
        return answer.text
    body = " ".join(s.text + "".join(f" [{n}]" for n in s.citations) for s in answer.sentences)
    lines = [body, "", "Sources:"]
    seen: set[int] = set()
    for c in sorted(answer.citations, key=lambda c: c.n):
        if c.n in seen:
            continue
        seen.add(c.n)
        page = f", p. {c.page}" if c.page else ""
        lines.append(f"[{c.n}] {display_name(c.source)}{page}: \u201c{' '.join(c.quote.split())}\u201d "
                     f"({VERDICT_LABELS[_verdict(c.support)][2:].lower()})")
    return "\n".join(lines)


def _render_copy(answer: Answer) -> str:
    # The text to copy travels escaped in a hidden element; the page script puts it on the clipboard.
    return ('<div class="rag-actions"><span class="rag-copy" role="button" tabindex="0" '
            'title="Copy the answer and its sources as text">Copy answer</span>'
            f'<span class="rag-copy-text">{escape_text(answer_as_text(answer))}</span></div>')


def _render_sentence(index: int, sentence: AnswerSentence, verdicts: Mapping[tuple[int, int], str]) -> str:
    markers = "".join(
        f'<span class="rag-cite c-{n} v-{_verdict(verdicts.get((index, n), sentence.support))}" role="button" '
        f'tabindex="0" title="Show source {n}">[{n}]</span>' for n in sentence.citations)
    flag = ""
    if not sentence.citations:
        flag = '<span class="rag-flag v-unsupported">no source</span>'
    elif sentence.support != "supported":
        label = "weak support" if sentence.support == "weak" else "not supported"
        flag = f'<span class="rag-flag v-{_verdict(sentence.support)}">{label}</span>'
    reasons = "; ".join(sentence.reasons)
    title = f' title="{escape_text(reasons)}"' if reasons and sentence.support != "supported" else ""
    return (f'<span class="rag-sent v-{_verdict(sentence.support)}"{title}><span class="rag-sent-text">'
            f'{escape_text(sentence.text)}</span>{markers}{flag}</span>')


def render_sources(citations: Sequence[Citation]) -> str:
    """One card per marker number: file, page, the passage with its quoted span(s), the verdict."""
    groups: dict[int, list[Citation]] = {}
    for c in citations:
        groups.setdefault(c.n, []).append(c)
    if not groups:
        return ""
    cards = "".join(_render_card(n, group) for n, group in sorted(groups.items()))
    return (f'<details class="rag-sources" open><summary>Sources · {_count(len(groups), "passage")}</summary>'
            f'<div class="rag-cards">{cards}</div></details>')


def _render_card(n: int, group: Sequence[Citation]) -> str:
    first = group[0]
    verdict = worst(c.support for c in group)
    spans: list[Span] = []
    unplaced: list[Citation] = []
    for c in group:
        where = quote_span(c)
        if where is None:
            unplaced.append(c)
        else:
            spans.append(Span(where[0], where[1], c.support, f"{VERDICT_LABELS[_verdict(c.support)]} ({c.score:.2f})"))
    preview = " ".join(first.quote.split())
    body = _passage_window(first.passage, spans) if spans else ""
    body += "".join(f'<div class="rag-passage rag-quote-only"><mark class="rag-quote v-{_verdict(c.support)}">'
                    f'{escape_text(c.quote)}</mark></div>' for c in unplaced)
    on_page = f" (page {first.page})" if first.page else ""
    view = ('<span class="rag-view" role="button" tabindex="0" title="Open the quote in its document">'
            f'Show in document{on_page}</span>')
    return (f'<details class="rag-source s-{n} v-{verdict}"><summary>'
            f'<span class="rag-num">[{n}]</span>'
            f'{_file(first.source)}{_page(first.page)}{badge(verdict)}'
            f'<span class="rag-preview">{escape_text(_clip(preview, 140))}</span></summary>{body}{view}</details>')


def _passage_window(passage: str, spans: Sequence[Span]) -> str:
    """The passage around its highlighted spans, cut at word boundaries, with ellipses where cut."""
    lo = max(0, min(s.start for s in spans) - _CONTEXT_CHARS)
    hi = min(len(passage), max(s.end for s in spans) + _CONTEXT_CHARS)
    if lo > 0:
        space = passage.find(" ", lo, min(s.start for s in spans))
        lo = space + 1 if space >= 0 else lo
    if hi < len(passage):
        space = passage.rfind(" ", max(s.end for s in spans), hi)
        hi = space if space >= 0 else hi
    inner = highlight(passage[lo:hi], [Span(s.start - lo, s.end - lo, s.verdict, s.title) for s in spans])
    head = "… " if lo > 0 else ""
    tail = " …" if hi < len(passage) else ""
    return f'<div class="rag-passage">{head}{inner}{tail}</div>'


def _render_refusal(answer: Answer, only: int = 0) -> str:
    # A question limited to chosen documents must not send the user to add a document that is
    # already indexed but was left out of the search.
    hint = (f'Only the {_count(only, "document")} chosen under “Ask only these documents” '
            f'{"was" if only == 1 else "were"} searched: clear that choice to search them all.' if only
            else "Try other words, or add the document that covers it.")
    parts = [f'<div class="rag-answer rag-refused">{_render_understood(answer)}<div class="rag-refusal">'
             f'<span class="rag-refusal-icon">⊘</span><div><strong>{escape_text(answer.text)}</strong>'
             '<div class="rag-refusal-detail">No passage in your documents answers this well enough to quote'
             f'{" (" + escape_text(answer.refusal_reason) + ")" if answer.refusal_reason else ""}. '
             f'{escape_text(hint)}</div></div></div>']
    draft = answer.sentences or answer.removed
    if draft:
        verdicts = {(c.sentence_index, c.n): c.support for c in answer.citations}
        body = " ".join(_render_sentence(i, s, verdicts) if answer.sentences else escape_text(s.text)
                        for i, s in enumerate(draft))
        why = answer.withdrawal_reason or "its sources did not support it"
        parts.append(f'<details class="rag-removed rag-draft"><summary>A draft answer of '
                     f'{_count(len(draft), "sentence")} was withdrawn because {escape_text(why)}'
                     f'</summary><div class="rag-body">{body}</div></details>')
    if answer.related:
        cards = "".join(_render_related(i, h) for i, h in enumerate(answer.related, 1))
        parts.append(f'<details class="rag-sources rag-related"><summary>Possibly related · '
                     f'{_count(len(answer.related), "passage")}</summary>'
                     f'<div class="rag-cards">{cards}</div></details>')
    parts.append(_render_meta(answer))
    parts.append("</div>")
    return "".join(parts)


def _render_related(i: int, hit: Hit) -> str:
    chunk = hit.chunk
    heading = " › ".join(chunk.heading)
    heading_html = f'<span class="rag-heading">{escape_text(_clip(heading, 80))}</span>' if heading else ""
    return (f'<div class="rag-source rag-related-card r-{i}"><div class="rag-card-head">'
            f'{_file(chunk.source)}{_page(chunk.page)}{heading_html}</div>'
            f'<div class="rag-passage">{escape_text(_clip(" ".join(chunk.text.split()), _SNIPPET_CHARS))}</div>'
            '</div>')


def _render_understood(answer: Answer) -> str:
    """How a follow-up was understood, when it was rewritten ("can they recover?" → "can corals
    recover?"): a wrong guess is then seen, and can be asked again in full."""
    asked = answer.understood_as
    return f'<div class="rag-understood">Understood as “{escape_text(asked)}”</div>' if asked else ""


def _render_meta(answer: Answer) -> str:
    total = answer.timings.get("total")
    took = f" · {total:.1f} s" if total is not None else ""
    return (f'<div class="rag-meta">answered by {escape_text(answer.backend)} · checked by '
            f'{escape_text(answer.judge)}{took}</div>')


# ---- documents panel -----------------------------------------------------------------------------

def natural_key(name: str) -> tuple[str | int, ...]:
    """Sort key for file names as people read them: case-insensitive, numbers by value.

    Written here rather than adding natsort for one key function.

    >>> sorted(["doc10.md", "Doc2.md", "doc1.md", "alpha.txt"], key=natural_key)
    ['alpha.txt', 'doc1.md', 'Doc2.md', 'doc10.md']
    """
    # re.split with a group alternates text and digit runs, so equal positions hold equal types.
    return tuple(int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", name.casefold())))


def sorted_sources(sources: Iterable[str]) -> list[str]:
    """Indexed sources in the order the page lists them: by file name (``natural_key``), then by path."""
    return sorted(sources, key=lambda src: (natural_key(display_name(src)), natural_key(src)))


def document_choices(sources: Iterable[str]) -> list[tuple[str, str]]:
    """(label, source) for the document dropdowns, sorted like the list; a name that two folders share
    is labelled with its folder. The value stays the source, so a chosen filter survives re-sorting."""
    ordered = sorted_sources(sources)
    names = [display_name(s) for s in ordered]
    return [(f"{name} ({Path(src).parent.name})" if names.count(name) > 1 else name, src)
            for name, src in zip(names, ordered, strict=True)]


def render_documents(sources: Mapping[str, int]) -> str:
    """The indexed files with their passage counts, sorted by name (``sorted_sources``)."""
    if not sources:
        return ('<div class="rag-docs rag-empty">No documents yet. Drop files above: .txt, .md, .html, .pdf '
                'or .docx.</div>')
    rows = "".join(f'<tr><td class="rag-doc-name" title="{escape_text(src)}">{escape_text(display_name(src))}</td>'
                   f'<td class="rag-doc-count">{sources[src]}</td></tr>' for src in sorted_sources(sources))
    total = sum(sources.values())
    return (f'<div class="rag-docs"><table><thead><tr><th>{_count(len(sources), "document")}</th>'
            f'<th>passages</th></tr></thead><tbody>{rows}</tbody><tfoot><tr><td>total</td><td>{total}</td></tr>'
            '</tfoot></table></div>')


def render_notice(kind: str, lines: Sequence[str]) -> str:
    """A status box (kind: ok, warn, error) with one line per item."""
    items = "".join(f"<li>{escape_text(line)}</li>" for line in lines[1:])
    rest = f"<ul>{items}</ul>" if items else ""
    head = escape_text(lines[0]) if lines else ""
    return f'<div class="rag-notice rag-{kind}"><strong>{head}</strong>{rest}</div>'


def render_status(documents: int, passages: int, backend: str, collection: str) -> str:
    return (f'<div class="rag-statusbar"><span>{_count(documents, "document")}</span>'
            f'<span>{_count(passages, "passage")}</span><span>collection {escape_text(collection)}</span>'
            f'<span>backend {escape_text(backend)}</span></div>')


# ---- helpers -------------------------------------------------------------------------------------

def _verdict(value: str) -> Verdict:
    return value if value in _VERDICT_RANK else "unsupported"  # type: ignore[return-value]


def _file(source: str) -> str:
    return f'<span class="rag-file" title="{escape_text(source)}">{escape_text(display_name(source))}</span>'


def _page(page: int | None) -> str:
    return f'<span class="rag-page">p. {page}</span>' if page else ""


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit] + "…"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
