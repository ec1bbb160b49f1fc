"""Check the Python-docs evaluation set against the pages our loader extracts.

Usage (from the repo root):
    .venv/bin/python evals/datasets/check_pydocs.py [pydocs.jsonl] [pages.txt] [html_root]

Defaults: evals/datasets/pydocs.jsonl, evals/datasets/pydocs_pages.txt and
/usr/share/doc/python3.11/html (Debian's python3.11-doc package).

Every page in the list is loaded with ``index.loaders.load_file``. Checks: each evidence
span occurs in its source page's extracted text (both sides with whitespace runs collapsed
to one space), each ``source`` is in the page list, ids are unique, required fields are
present (an optional ``qtype`` on answerable cases is one of which/howto/why/number/define),
and the counts are large enough (>= 85 answerable, >= 18 unanswerable of which at
least half are near-topic). Prints a summary; exit status 1 on any problem.
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_DATASET = HERE / "pydocs.jsonl"
DEFAULT_PAGES = HERE / "pydocs_pages.txt"
DEFAULT_ROOT = Path("/usr/share/doc/python3.11/html")

MIN_ANSWERABLE = 85
MIN_UNANSWERABLE = 18
MAX_PER_PAGE = 4
UNANSWERABLE_KINDS = {"near-topic", "off-topic"}
# Optional label on answerable cases: what sort of question it is.
QTYPES = {"which", "howto", "why", "number", "define"}


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def read_pages(path: Path) -> list[str]:
    pages = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            pages.append(line)
    return pages


def main(argv: list[str]) -> int:
    dataset = Path(argv[1]) if len(argv) > 1 else DEFAULT_DATASET
    pages_file = Path(argv[2]) if len(argv) > 2 else DEFAULT_PAGES
    root = Path(argv[3]) if len(argv) > 3 else DEFAULT_ROOT
    sys.path.insert(0, str(REPO))
    from rag.documents import load_file

    problems: list[str] = []

    def fail(message: str) -> None:
        problems.append(message)
        print(f"FAIL {message}")

    pages = read_pages(pages_file)
    if len(pages) != len(set(pages)):
        fail("page list has duplicates: " + ", ".join(p for p, n in Counter(pages).items() if n > 1))
    texts: dict[str, str] = {}
    total_bytes = 0
    for page in pages:
        path = root / page
        try:
            total_bytes += path.stat().st_size
            texts[page] = normalise(load_file(path).text)
        except Exception as exc:  # a missing page or a LoadError both count as problems
            fail(f"page {page}: cannot load: {exc}")

    ids: set[str] = set()
    answerable = 0
    kinds: Counter[str] = Counter()
    per_page: Counter[str] = Counter()
    qtypes: Counter[str] = Counter()
    spans = 0
    for lineno, line in enumerate(dataset.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(f"line {lineno}: invalid JSON: {exc}")
            continue
        cid = case.get("id")
        if not cid:
            fail(f"line {lineno}: missing id")
            cid = f"line {lineno}"
        elif cid in ids:
            fail(f"{cid}: duplicate id")
        ids.add(cid)
        if not str(case.get("question", "")).strip():
            fail(f"{cid}: empty question")
        if case.get("answerable") is False:
            kind = case.get("kind")
            if kind not in UNANSWERABLE_KINDS:
                fail(f"{cid}: unanswerable case needs kind in {sorted(UNANSWERABLE_KINDS)}, got {kind!r}")
            if case.get("evidence") or case.get("source"):
                fail(f"{cid}: unanswerable case must not have evidence or source")
            kinds[kind] += 1
            continue
        if case.get("answerable") is not True:
            fail(f"{cid}: answerable must be true or false")
            continue
        answerable += 1
        if "qtype" in case:
            if case["qtype"] not in QTYPES:
                fail(f"{cid}: qtype must be one of {sorted(QTYPES)}, got {case['qtype']!r}")
            qtypes[case["qtype"]] += 1
        source = case.get("source")
        evidence = case.get("evidence")
        if not str(case.get("answer", "")).strip():
            fail(f"{cid}: answerable case needs a reference answer")
        if source not in texts:
            fail(f"{cid}: source {source!r} is not a loaded page of {pages_file.name}")
            continue
        per_page[source] += 1
        if not isinstance(evidence, list) or not evidence:
            fail(f"{cid}: answerable case needs a non-empty evidence list")
            continue
        for span in evidence:
            spans += 1
            if not isinstance(span, str) or not normalise(span):
                fail(f"{cid}: empty evidence span")
            elif normalise(span) not in texts[source]:
                fail(f"{cid}: evidence not found in {source}: {span[:90]!r}")

    unanswerable = sum(kinds.values())
    if answerable < MIN_ANSWERABLE:
        fail(f"only {answerable} answerable cases (need >= {MIN_ANSWERABLE})")
    if unanswerable < MIN_UNANSWERABLE:
        fail(f"only {unanswerable} unanswerable cases (need >= {MIN_UNANSWERABLE})")
    if kinds["near-topic"] * 2 < unanswerable:
        fail(f"only {kinds['near-topic']} of {unanswerable} unanswerable cases are near-topic (need half)")
    crowded = {page: n for page, n in per_page.items() if n > MAX_PER_PAGE}
    if crowded:
        fail(f"pages with more than {MAX_PER_PAGE} questions: {crowded}")

    unused = [page for page in pages if page in texts and not per_page[page]]
    print(f"pages: {len(pages)} listed, {len(texts)} loaded, {total_bytes:,} bytes of HTML "
          f"({total_bytes / 1e6:.2f} MB), {sum(len(t) for t in texts.values()):,} chars of text")
    print(f"cases: {answerable + unanswerable} ({answerable} answerable with {spans} evidence spans "
          f"over {len(per_page)} pages; {unanswerable} unanswerable: "
          f"{kinds['near-topic']} near-topic, {kinds['off-topic']} off-topic)")
    if qtypes:
        print("answerable by qtype: " + ", ".join(
            f"{name} {n} ({100 * n / answerable:.0f}%)" for name, n in qtypes.most_common()))
    if unused:
        print(f"pages without questions: {', '.join(unused)}")
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
