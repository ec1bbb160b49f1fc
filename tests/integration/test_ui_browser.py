"""The web UI end to end: ``rag ui`` in a subprocess on 127.0.0.1, driven by headless Chromium.

Upload a document, wait for indexing, ask, read the streamed answer, open a citation's source and
see the quoted span highlighted; rejected uploads say why; a document's outside image is never
requested. Every request that would leave the machine is aborted and recorded. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, expect, sync_playwright

from tests.integration import slow_llm
from tests.integration.conftest import free_port
from tests.integration.slow_llm import SlowLLM
from ui.app import ANSWER_CONCURRENCY

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
OUTSIDE = "203.0.113.9"  # TEST-NET-3: never routed; the page must not even try
MAX_FILE_MB = 0.05
DOC = f"""# Axolotls

The axolotl is a salamander that keeps its larval gills and fins for its whole life.
Axolotls eat worms, insect larvae, small crustaceans and small fish, which they suck in with a quick gulp.
Wild axolotls live only in the canals of Xochimilco, near Mexico City.

![tracking pixel](http://{OUTSIDE}/pixel.png)

<img src="http://{OUTSIDE}/raw.png"> <script>window.__pwned = 1</script>
"""
TIDES = """Tides are the rise and fall of sea levels caused by the gravity of the Moon and the Sun.
Most coasts see two high tides and two low tides every lunar day of about 24 hours and 50 minutes.
"""


class Server:
    """``rag ui`` in a subprocess; collects its output so a failure can show it."""

    def __init__(self, index: Path, port: int, workdir: Path, paths: list[Path], max_file_mb: float = MAX_FILE_MB,
                 settings: dict[str, str] | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "GRADIO_"))}
        env.update(RAG_MAX_FILE_MB=str(max_file_mb), GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1",
                   TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1", **(settings or {}))
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "ui", *map(str, paths), "--index", str(index), "--port", str(port),
             "--no-browser"],
            cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if "serving on http://127.0.0.1:" in line:
                self.ready.set()
        self.ready.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines[-40:])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


@pytest.fixture(scope="module")
def server(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    work = tmp_path_factory.mktemp("ui")
    preloaded = work / "preloaded"
    preloaded.mkdir()
    (preloaded / "tides.txt").write_text(TIDES)
    port = free_port()
    srv = Server(work / "index", port, work, [preloaded])
    try:
        srv.ready.wait(timeout=150)
        if srv.proc.poll() is not None or not srv.ready.is_set():
            pytest.fail(f"rag ui did not start:\n{srv.output}")
        assert "[1/1] tides.txt" in srv.output and "1 added" in srv.output  # PATHs are indexed before serving
        yield f"http://127.0.0.1:{port}/", work
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A page that records every request and lets only loopback ones through."""

    def __init__(self, browser: Browser, url: str, width: int = 1400, height: int = 950,
                 context: BrowserContext | None = None) -> None:
        """A page of its own browser, or a tab of ``context`` (tabs share localStorage, not sessionStorage)."""
        self.requests: list[str] = []
        self.page = context.new_page() if context else browser.new_page(
            viewport={"width": width, "height": height}, permissions=["clipboard-read", "clipboard-write"])
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.route("**/*", lambda route: route.continue_() if _local(route.request.url) else route.abort())
        self.page.set_default_timeout(60_000)
        self.page.goto(url)
        self.page.wait_for_selector("#rag-chat")
        self.page.wait_for_selector("#rag-docs .rag-docs")

    def upload(self, *paths: Path) -> None:
        self.page.locator("#rag-upload input[type=file]").set_input_files([str(p) for p in paths])

    def ask(self, question: str) -> Locator:
        """Ask and wait until the checked answer replaced the streamed text; returns the answer element."""
        before = self.page.locator(".rag-answer").count()
        box = self.page.locator("#rag-question textarea")
        box.fill(question)
        box.press("Enter")
        return self.answer(before)

    def ask_at(self, question: str, when_ms: float) -> int:
        """Type ``question`` now and press Ask at ``when_ms`` (``Date.now()`` time, shared by every page of
        this machine), so that several pages submit at the same moment; returns the answer's index."""
        before = self.page.locator(".rag-answer").count()
        self.page.locator("#rag-question textarea").fill(question)
        self.page.evaluate(
            "when => setTimeout(() => document.querySelector('#rag-question textarea')"
            ".dispatchEvent(new KeyboardEvent('keypress', {key: 'Enter', bubbles: true, cancelable: true})), "
            "Math.max(0, when - Date.now()))", when_ms)
        return before

    def answer(self, index: int) -> Locator:
        """The ``index``-th answer once the checked answer replaced the streamed text."""
        answer = self.page.locator(".rag-answer").nth(index)
        answer.wait_for()
        self.page.wait_for_function(
            "n => { const a = document.querySelectorAll('.rag-answer'); "
            "return a.length > n && !a[n].classList.contains('rag-pending'); }", arg=index)
        return answer

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)

    def outside_requests(self) -> list[str]:
        return [u for u in self.requests if not _local(u)]


def _local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in {"data", "blob", "about"} or parsed.hostname in {"127.0.0.1", "localhost"}


def test_upload_ask_and_open_the_highlighted_source(server: tuple[str, Path], browser: Browser) -> None:
    url, work = server
    doc = work / "axolotl-facts.md"
    doc.write_text(DOC)
    ui = Page(browser, url)
    page = ui.page
    expect(page.locator("#rag-docs tbody tr")).to_have_count(1)  # the PATH given to `rag ui`
    expect(page.locator("#rag-docs")).to_contain_text("tides.txt")
    ui.shot("ui-0-start.png")

    ui.upload(doc)
    expect(page.locator("#rag-notice")).to_contain_text("Indexed 1 of 1 file", timeout=90_000)
    row = page.locator("#rag-docs tr", has_text="axolotl-facts.md")
    expect(row).to_have_count(1)
    assert int(row.locator(".rag-doc-count").inner_text()) >= 1
    expect(page.locator("#rag-status")).to_contain_text("2 documents")
    ui.shot("ui-1-uploaded.png")

    answer = ui.ask("What do axolotls eat?")
    expect(answer).to_contain_text("worms")
    marker = answer.locator(".rag-cite").first
    expect(marker).to_have_text(re.compile(r"^\[\d+\]$"))
    n = re.sub(r"\D", "", marker.inner_text())
    card = answer.locator(f".rag-source.s-{n}")
    expect(card).not_to_have_attribute("open", "")
    marker.click()
    expect(card).to_have_attribute("open", "")
    quote = card.locator("mark.rag-quote").first
    expect(quote).to_be_visible()
    assert "worms" in quote.inner_text()
    assert " ".join(quote.inner_text().split()) in " ".join(DOC.split())  # verbatim from the document
    expect(card.locator(".rag-badge")).to_have_text(re.compile("Supported|Weak|Not supported"))
    expect(card).to_contain_text("axolotl-facts.md")
    # The document's image and raw HTML are shown as text, never as elements.
    expect(card).to_contain_text(f"![tracking pixel](http://{OUTSIDE}/pixel.png)")
    expect(card).to_contain_text(f'<img src="http://{OUTSIDE}/raw.png">')
    ui.shot("ui-2-answer-source.png")

    refusal = ui.ask("What is the boiling point of tungsten in kelvin?")
    expect(refusal).to_have_class(re.compile("rag-refused"))
    expect(refusal).to_contain_text("The documents do not say.")
    expect(refusal.locator(".rag-related .rag-related-card").first).to_contain_text(re.compile(r"\.(md|txt)"))
    expect(refusal.locator("details.rag-related")).not_to_have_attribute("open", "")  # folded: they do not answer
    ui.shot("ui-3-refusal.png")

    assert page.locator(f"img[src*='{OUTSIDE}']").count() == 0
    assert page.evaluate("() => window.__pwned === undefined")
    assert not [u for u in ui.requests if OUTSIDE in u], "the document's outside image was requested"
    assert ui.outside_requests() == [], "the page tried to reach hosts other than 127.0.0.1"

    page.locator("#rag-new-chat").click()
    expect(page.locator(".rag-answer")).to_have_count(0)

    page.locator("#rag-remove-choice input").click()
    page.get_by_role("option", name="axolotl-facts.md").click()
    page.locator("#rag-remove").click()
    expect(page.locator("#rag-confirm")).to_contain_text("Remove axolotl-facts.md from the index?")
    page.locator("#rag-cancel-remove").click()  # asks first; Cancel keeps the document
    expect(page.locator("#rag-confirm")).to_be_hidden()
    expect(page.locator("#rag-docs")).to_contain_text("axolotl-facts.md")
    page.locator("#rag-remove").click()
    page.locator("#rag-confirm-remove").click()
    expect(page.locator("#rag-notice")).to_contain_text("Removed axolotl-facts.md")
    expect(page.locator("#rag-docs")).not_to_contain_text("axolotl-facts.md")
    expect(page.locator("#rag-docs tbody tr")).to_have_count(1)


def test_rejected_uploads_and_bad_settings_say_why(server: tuple[str, Path], browser: Browser) -> None:
    url, work = server
    exe = work / "tool.exe"
    exe.write_bytes(b"MZ\x90\x00")
    big = work / "huge-notes.txt"
    big.write_text("lorem ipsum dolor sit amet " * int(MAX_FILE_MB * 1024 * 1024 / 20))
    ui = Page(browser, url)
    page = ui.page

    ui.upload(exe)
    expect(page.get_by_text(re.compile(r"Invalid file type.*tool\.exe|tool\.exe.*not supported"))).to_be_visible()
    ui.shot("ui-4-rejected-type.png")

    page.reload()
    page.wait_for_selector("#rag-docs .rag-docs")
    ui.upload(big)
    expect(page.get_by_text(re.compile(r"huge-notes\.txt|exceed|too large|maximum", re.I)).first).to_be_visible()
    ui.shot("ui-5-rejected-size.png")
    expect(page.locator("#rag-docs")).not_to_contain_text("huge-notes.txt")
    expect(page.locator("#rag-docs")).not_to_contain_text("tool.exe")

    page.get_by_role("tab", name="Settings").click()
    page.get_by_label("OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenAI)").check()
    page.locator("#rag-apply").click()
    expect(page.locator("#rag-settings-notice")).to_contain_text("needs a model name")
    expect(page.locator("#rag-status")).to_contain_text("backend extractive")
    ui.shot("ui-6-settings-error.png")
    assert ui.outside_requests() == []


# ---- each page its own settings, conversations kept in the browser -------------------------------

def _apply(page: Any, backend: str, collection: str, base_url: str = "", model: str = "") -> None:
    page.get_by_role("tab", name="Settings").click()
    page.get_by_label(backend).check()
    if base_url:
        page.locator("#rag-base-url textarea").fill(base_url)
        page.locator("#rag-model textarea").fill(model)
    page.locator("#rag-collection input").fill(collection)
    page.locator("#rag-apply").click()


def test_two_pages_with_different_backends_and_collections_do_not_affect_each_other(
        server: tuple[str, Path], browser: Browser) -> None:
    url, _ = server
    first, second = Page(browser, url), Page(browser, url)
    a, b = first.page, second.page

    # Apply asks the server for real: one that is down is reported and nothing changes.
    dead = f"http://127.0.0.1:{free_port()}/v1"
    _apply(a, "OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenAI)", "docs", dead, "qwen2.5:3b")
    expect(a.locator("#rag-settings-notice")).to_contain_text("did not answer", timeout=60_000)
    expect(a.locator("#rag-settings-notice")).to_contain_text("cannot reach the LLM server")
    expect(a.locator("#rag-status")).to_contain_text("backend extractive")

    _apply(a, "Extractive: quotes the passages, no model", "scratch-notes")
    expect(a.locator("#rag-settings-notice")).to_contain_text("collection 'scratch-notes' (new", timeout=60_000)
    expect(a.locator("#rag-status")).to_contain_text("collection scratch-notes")
    expect(a.locator("#rag-status")).to_contain_text("0 documents")
    b.reload()
    b.wait_for_selector("#rag-docs .rag-docs")
    expect(b.locator("#rag-status")).to_contain_text("collection docs")  # the other page is not switched
    expect(b.locator("#rag-docs")).to_contain_text("tides.txt")

    question = "How many high tides do most coasts see each lunar day?"
    on_b = second.ask(question)
    expect(on_b).to_contain_text("two high tides")
    expect(on_b.locator(".rag-file").first).to_have_text("tides.txt")
    on_a = first.ask(question)  # the same question on the empty collection
    expect(on_a).to_have_class(re.compile("rag-refused"))
    expect(on_a).not_to_contain_text("tides.txt")
    first.shot("ui-8-two-pages-a.png")
    assert first.outside_requests() == [] and second.outside_requests() == []
    for ui in (first, second):
        ui.page.context.close()


def test_a_page_on_an_llm_backend_streams_while_another_stays_extractive(server: tuple[str, Path],
                                                                         browser: Browser) -> None:
    url, _ = server
    stop_clicked = threading.Event()
    answers_begun: list[SlowLLM] = []

    class StoppableLLM(SlowLLM):
        def pause(self, i: int) -> None:
            if i == 0 and b"Rewrite the follow-up" not in self.body:
                answers_begun.append(self)
            if i == 2 and len(answers_begun) == 2 and answers_begun[-1] is self:
                stop_clicked.wait(30)  # the second answer, three words shown, waits for Stop
            else:
                super().pause(i)

    llm = slow_llm.start(StoppableLLM)
    first, second = Page(browser, url), Page(browser, url)
    a, b = first.page, second.page
    try:
        _apply(a, "OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenAI)", "docs",
               f"http://127.0.0.1:{llm.server_port}/v1", "fake-model")
        expect(a.locator("#rag-settings-notice")).to_contain_text("answers with the openai backend", timeout=60_000)
        expect(a.locator("#rag-status")).to_contain_text("backend openai")
        expect(b.locator("#rag-status")).to_contain_text("backend extractive")

        a.evaluate("""() => {
            window.__streamed = [];
            new MutationObserver(() => {
                const body = document.querySelector('#rag-chat .rag-pending .rag-body');
                if (body) window.__streamed.push(body.textContent);
            }).observe(document.querySelector('#rag-chat'), {subtree: true, childList: true, characterData: true});
        }""")
        answer = first.ask("What causes tides?")
        expect(answer).to_contain_text("gravity of the Moon")
        expect(answer.locator(".rag-meta")).to_contain_text("answered by openai:fake-model")
        streamed = [t for t in dict.fromkeys(a.evaluate("() => window.__streamed")) if t.strip()]
        assert len(streamed) >= 3 and all(streamed[i] in streamed[i + 1] or streamed[i + 1].startswith(
            streamed[i].rstrip()) for i in range(len(streamed) - 1)), streamed  # growing text, piece by piece
        first.shot("ui-12-llm-backend.png")

        box = a.locator("#rag-question textarea")  # Stop while the model is writing
        box.fill("What else causes tides?")
        box.press("Enter")
        expect(a.locator("#rag-chat .rag-caret")).to_have_count(1)
        expect(a.locator("#rag-chat .rag-pending .rag-body")).to_contain_text("Tides are caused", timeout=60_000)
        a.locator("#rag-stop").click()
        stop_clicked.set()
        stopped = a.locator(".rag-answer").nth(1)
        expect(stopped).to_contain_text("Stopped: the answer was not finished.")
        expect(a.locator(".rag-caret")).to_have_count(0)
        for _ in range(100):  # Stop stops the model too: it used to write the answer to its end, unread
            if any(e.client_left for e in llm.ended):
                break
            a.wait_for_timeout(100)
        assert [e for e in llm.ended if e.client_left and e.words_sent < e.words], llm.ended

        # Stop while the model is still silent, reading the prompt (minutes for a large model on a
        # CPU): the page showed "Searching your documents…" for 60 s after Stop, Gradio gave up
        # closing the blocked answer, and the model read on and wrote it whole.
        llm.read_s, ended = 60.0, len(llm.ended)
        box.fill("What causes tides at night?")
        box.press("Enter")
        expect(a.locator(".rag-answer").nth(2)).to_contain_text("Waiting for the model", timeout=60_000)
        a.locator("#rag-stop").click()
        expect(a.locator(".rag-answer").nth(2)).to_contain_text("Stopped: the answer was not finished.")
        for _ in range(100):
            if len(llm.ended) > ended:
                break
            a.wait_for_timeout(100)
        assert llm.ended[ended:] and llm.ended[ended].client_left and llm.ended[ended].words_sent == 0, llm.ended

        other = second.ask("What causes tides?")
        expect(other.locator(".rag-meta")).to_contain_text("answered by extractive")
    finally:
        stop_clicked.set()
        llm.shutdown()
        for ui in (first, second):
            ui.page.context.close()


def test_a_reload_keeps_the_pages_settings_and_says_when_they_cannot_come_back(server: tuple[str, Path],
                                                                                 browser: Browser) -> None:
    """A reload used to start the page from the server's settings: the backend, collection, k and strict
    mode chosen under Settings were gone without a word, and a question asked again went elsewhere."""
    url, _ = server
    llm = slow_llm.start(SlowLLM)
    first, second = Page(browser, url), Page(browser, url)
    a, b = first.page, second.page
    try:
        _apply(a, "OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenAI)", "docs", llm.url, "fake-model")
        expect(a.locator("#rag-settings-notice")).to_contain_text("answers with the openai backend", timeout=60_000)
        a.locator("#rag-k input[type=number]").fill("3")
        a.locator("#rag-k input[type=number]").press("Enter")
        a.locator("#rag-strict input").check()
        a.wait_for_function("() => JSON.parse(sessionStorage.getItem('rag-settings') || '{}').strict === true")
        stored = a.evaluate("() => JSON.parse(sessionStorage.getItem('rag-settings'))")
        assert stored["k"] == 3 and stored["llm_base_url"] == llm.url and "llm_api_key" not in stored, stored

        a.reload()
        a.wait_for_selector("#rag-docs .rag-docs")
        expect(a.locator("#rag-status")).to_contain_text("backend openai")
        a.get_by_role("tab", name="Settings").click()
        expect(a.locator("#rag-base-url textarea")).to_have_value(llm.url)
        expect(a.locator("#rag-k input[type=number]")).to_have_value("3")
        expect(a.locator("#rag-strict input")).to_be_checked()
        answer = first.ask("What causes tides?")
        expect(answer.locator(".rag-meta")).to_contain_text("answered by openai:fake-model")
        b.reload()  # another page keeps its own settings: the tab keeps them, not the browser
        b.wait_for_selector("#rag-docs .rag-docs")
        expect(b.locator("#rag-status")).to_contain_text("backend extractive")

        llm.shutdown()
        llm.server_close()  # the backend is gone: the reload says so and the page answers as the server does
        a.reload()
        a.wait_for_selector("#rag-docs .rag-docs")
        expect(a.locator(".toast-body")).to_contain_text("were not restored", timeout=60_000)
        expect(a.locator(".toast-body")).to_contain_text("Cannot reach the LLM server")
        first.shot("ui-reload-settings-not-restored.png")
        expect(a.locator("#rag-status")).to_contain_text("backend extractive")
        expect(first.ask("What causes tides?").locator(".rag-meta")).to_contain_text("answered by extractive")

        _apply(a, "Extractive: quotes the passages, no model", "kept-notes")
        expect(a.locator("#rag-settings-notice")).to_contain_text("collection 'kept-notes' (new", timeout=60_000)
        a.reload()
        a.wait_for_selector("#rag-docs .rag-docs")
        expect(a.locator("#rag-status")).to_contain_text("collection kept-notes")
        expect(a.locator(".toast-body")).to_have_count(0)
        assert first.outside_requests() == [] and second.outside_requests() == []
    finally:
        llm.shutdown()
        llm.server_close()
        for ui in (first, second):
            ui.page.context.close()


def test_stop_while_an_llm_judge_checks_the_citations_stops_the_judge(browser: Browser, tmp_path: Path) -> None:
    """With ``RAG_JUDGE=llm`` the page stayed on "Writing, then checking every citation…" after Stop
    until every verdict had come (20 s and more with this judge, silent for 60 s)."""
    llm = slow_llm.start(slow_llm.SilentJudge)
    llm.read_s = 60.0  # the judge's requests only
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "reef.txt").write_text("The Great Barrier Reef is the largest coral reef system in the world.")
    port = free_port()
    srv = Server(tmp_path / "index", port, tmp_path, [docs], settings={
        "RAG_BACKEND": "openai", "RAG_LLM_BASE_URL": f"http://127.0.0.1:{llm.server_port}/v1",
        "RAG_LLM_MODEL": "fake-model", "RAG_JUDGE": "llm"})
    try:
        srv.ready.wait(timeout=150)
        if srv.proc.poll() is not None or not srv.ready.is_set():
            pytest.fail(f"rag ui did not start:\n{srv.output}")
        ui = Page(browser, f"http://127.0.0.1:{port}/")
        page = ui.page
        box = page.locator("#rag-question textarea")
        box.fill("What is the Great Barrier Reef?")
        box.press("Enter")
        expect(page.locator("#rag-chat .rag-pending .rag-body")).to_contain_text("largest coral reef", timeout=60_000)
        for _ in range(100):  # the answer is written and the judge has it
            if llm.judged:
                break
            page.wait_for_timeout(100)
        assert llm.judged
        page.locator("#rag-stop").click()
        expect(page.locator(".rag-answer").nth(0)).to_contain_text("Stopped: the answer was not finished.",
                                                                   timeout=10_000)
        for _ in range(100):
            if llm.judges_left == llm.judged:
                break
            page.wait_for_timeout(100)
        assert llm.judges_left == llm.judged  # every request of the judge was closed
        assert ui.outside_requests() == []
        ui.page.context.close()
    finally:
        srv.stop()
        llm.shutdown()


def test_conversations_survive_a_reload_and_answers_copy_with_their_sources(server: tuple[str, Path],
                                                                            browser: Browser) -> None:
    url, _ = server
    ui = Page(browser, url)
    page = ui.page
    answer = ui.ask("What causes tides?")
    expect(answer).to_contain_text("gravity of the Moon")
    answer.locator(".rag-copy").click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert "gravity of the Moon" in copied and re.search(r"\[1\] tides\.txt: \u201c.*Moon", copied), copied
    ui.ask("How long is a lunar day?")

    # The extractive answer comes back the same: the old one is marked, so that the wait is for the new
    # one (a reload while it is still on its way rightly keeps it as interrupted).
    page.evaluate("() => { document.querySelectorAll('.rag-answer')[1].dataset.before = '1'; }")
    page.locator("#rag-regenerate").click()  # asks the last question again in its place
    expect(page.locator(".rag-question")).to_have_count(2)
    page.wait_for_function("() => { const a = document.querySelectorAll('.rag-answer')[1]; "
                           "return a && !a.dataset.before && !a.classList.contains('rag-pending'); }")
    expect(page.locator(".rag-answer").nth(1)).to_contain_text("24 hours and 50 minutes")

    page.reload()
    page.wait_for_selector("#rag-docs .rag-docs")
    expect(page.locator(".rag-question")).to_have_text(["What causes tides?", "How long is a lunar day?"])
    expect(page.locator(".rag-answer").nth(1)).to_contain_text("24 hours and 50 minutes")
    page.locator("#rag-new-chat").click()
    expect(page.locator(".rag-answer")).to_have_count(0)
    ui.ask("What is a tide?")
    page.get_by_role("tab", name="Chats").click()
    chats = page.locator("#rag-chats label")
    expect(chats).to_have_text(["What is a tide?", "What causes tides?"])
    ui.shot("ui-9-chats.png")
    chats.nth(1).click()  # reopen the first conversation
    expect(page.locator(".rag-question")).to_have_text(["What causes tides?", "How long is a lunar day?"])
    page.locator("#rag-delete-chat").click()
    page.locator("#rag-confirm-delete-chat").click()
    expect(page.locator(".rag-answer")).to_have_count(0)
    expect(chats).to_have_text(["What is a tide?"])
    page.reload()
    page.wait_for_selector("#rag-docs .rag-docs")
    page.get_by_role("tab", name="Chats").click()
    expect(page.locator("#rag-chats label")).to_have_text(["What is a tide?"])  # the deletion is kept too
    assert ui.outside_requests() == []
    page.context.close()


def test_a_reload_the_moment_an_answer_is_drawn_keeps_the_answer(server: tuple[str, Path],
                                                                 browser: Browser) -> None:
    """Gradio runs the change event that stores the chat a moment after it drew the answer; a reload in
    between (made certain here by holding that event back) must still keep the answer, not show it as
    interrupted."""
    url, _ = server
    ui = Page(browser, url)
    page = ui.page
    page.evaluate("""() => {
        const real = window.ragSaveChats;
        window.ragSaveChats = (command) => setTimeout(() => real(command), 30_000);
    }""")
    ui.ask("How long is a lunar day?")
    page.reload()
    page.wait_for_selector("#rag-docs .rag-docs")
    expect(page.locator(".rag-question")).to_have_text(["How long is a lunar day?"])
    expect(page.locator(".rag-answer").nth(0)).to_contain_text("24 hours and 50 minutes")
    page.context.close()


def test_the_page_lists_its_stored_chats_as_the_server_measures_them(server: tuple[str, Path],
                                                                      browser: Browser) -> None:
    """The page sends the server each stored chat's id, title and size (``READ_CHATS``), not the chats:
    the sizes must be the ones ``ui.history`` bounds the store by (an emoji is two UTF-16 units)."""
    from ui import history
    from ui.assets import READ_CHATS
    from ui.controller import ChatState

    url, _ = server
    ui = Page(browser, url)
    ui.ask("What causes tides? 🌊")
    ui.ask("How long is a lunar day?")
    ui.page.locator("#rag-new-chat").click()
    expect(ui.page.locator(".rag-answer")).to_have_count(0)  # the new chat is shown before asking in it
    ui.ask("What is a tide … “exactly”?")
    ui.page.wait_for_function("() => JSON.parse(localStorage.getItem('rag-conversations') || '[]').length == 2")
    stored = json.loads(ui.page.evaluate("() => localStorage.getItem('rag-conversations')"))
    listing = history.parse_listing(ui.page.evaluate(f"({READ_CHATS})()"))
    assert listing == [history.entry(ChatState.from_json(c)) for c in stored]
    assert [e["title"] for e in listing] == ["What is a tide … “exactly”?", "What causes tides? 🌊"]
    ui.page.context.close()


def test_deleting_a_conversation_asks_first(server: tuple[str, Path], browser: Browser) -> None:
    url, _ = server
    ui = Page(browser, url)
    page = ui.page
    ui.ask("What causes tides?")
    page.get_by_role("tab", name="Chats").click()
    chats, confirm = page.locator("#rag-chats label"), page.locator("#rag-confirm-delete")
    expect(chats).to_have_text(["What causes tides?"])
    delete = page.locator("#rag-delete-chat")
    delete.click()
    expect(confirm).to_contain_text("Delete the conversation \u201cWhat causes tides?\u201d")
    page.locator("#rag-cancel-delete-chat").click()  # Cancel keeps it
    expect(confirm).to_be_hidden()
    delete.click()
    expect(confirm).to_be_visible()
    page.keyboard.press("Escape")  # so does Escape, and focus goes back to the button that asked
    expect(confirm).to_be_hidden()
    expect(delete).to_be_focused()
    expect(page.locator(".rag-question")).to_have_text(["What causes tides?"])
    expect(chats).to_have_text(["What causes tides?"])
    delete.click()
    page.locator("#rag-confirm-delete-chat").click()
    expect(page.locator(".rag-answer")).to_have_count(0)
    expect(chats).to_have_count(0)
    expect(confirm).to_be_hidden()
    page.context.close()


def test_escape_closes_the_source_viewer_and_focus_returns_to_its_link(server: tuple[str, Path],
                                                                       browser: Browser) -> None:
    url, _ = server
    ui = Page(browser, url)
    page = ui.page
    answer = ui.ask("What causes tides?")
    marker = answer.locator(".rag-cite").first
    n = re.sub(r"\D", "", marker.inner_text())
    marker.click()
    link = answer.locator(f".rag-source.s-{n} .rag-view")
    viewer = page.locator("#rag-viewer")
    for close in ("Escape", "button"):
        link.focus()
        page.keyboard.press("Enter")  # "Show in document" from the keyboard
        expect(viewer.locator(".rag-viewer-head")).to_contain_text("tides.txt")
        expect(page.locator("#rag-viewer-close")).to_be_focused()  # focus moves into the viewer
        if close == "Escape":
            page.locator("#rag-filter input").click()  # Escape in an open dropdown closes only its list
            expect(page.get_by_role("option").first).to_be_visible()
            page.keyboard.press("Escape")
            expect(page.get_by_role("option")).to_have_count(0)
            expect(viewer).to_be_visible()
            page.locator("#rag-viewer-close").focus()
            page.keyboard.press("Escape")
        else:
            page.locator("#rag-viewer-close").click()
        expect(viewer).to_be_hidden()
        expect(link).to_be_focused()  # back on the link that opened it
    assert ui.outside_requests() == []
    page.context.close()


def test_a_reload_while_an_answer_streams_reopens_its_chat_with_the_question(server: tuple[str, Path],
                                                                            browser: Browser) -> None:
    """The page was in an older chat and asked a follow-up on a slow LLM; reloaded mid-answer, it used to
    reopen the newest saved chat and the question was gone. Now the same chat is reopened with the
    question marked interrupted, and Regenerate asks it again in its place. A question typed while the
    answer streams stays in the box (every streamed piece used to empty it)."""
    url, _ = server
    typed, release = threading.Event(), threading.Event()

    class HeldLLM(SlowLLM):
        def pause(self, i: int) -> None:
            # The answer (not the rewrite of the follow-up, asked first) shows a few words, waits until the
            # test typed in the box, shows a few more, then stays unfinished until the test is done.
            if b"Rewrite the follow-up" in self.body:
                return
            if i == 3:
                typed.wait(60)
            elif i == 8:
                release.wait(60)

    llm = slow_llm.start(HeldLLM)
    ui = Page(browser, url)
    page = ui.page
    try:
        ui.ask("What causes tides?")
        _new_chat(ui)
        ui.ask("How long is a lunar day?")  # now the newest saved chat
        page.get_by_role("tab", name="Chats").click()
        page.locator("#rag-chats label").nth(1).click()  # back in the first one
        expect(page.locator(".rag-question")).to_have_text(["What causes tides?"])
        _apply(page, "OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenAI)", "docs",
               f"http://127.0.0.1:{llm.server_port}/v1", "fake-model")
        expect(page.locator("#rag-settings-notice")).to_contain_text("answers with the openai backend",
                                                                     timeout=60_000)
        box = page.locator("#rag-question textarea")
        box.fill("And what else causes them?")
        box.press("Enter")
        streamed = page.locator("#rag-chat .rag-pending .rag-body")
        expect(streamed).to_contain_text("Tides are caused", timeout=60_000)
        box.fill("a next question")
        typed.set()
        expect(streamed).to_contain_text("of the Moon")
        expect(box).to_have_value("a next question")
        page.reload()
        page.wait_for_selector("#rag-docs .rag-docs")
        questions = page.locator(".rag-question")
        expect(questions).to_have_text(["What causes tides?", "And what else causes them?"])
        interrupted = page.locator(".rag-answer").nth(1)
        expect(interrupted).to_contain_text("Interrupted")
        expect(interrupted).to_contain_text("Regenerate")
        expect(page.locator(".rag-pending")).to_have_count(0)
        expect(page.locator("#rag-status")).to_contain_text("backend openai")  # the page's settings, kept by the tab
        page.get_by_role("tab", name="Chats").click()
        expect(page.locator("#rag-chats label")).to_have_text(["What causes tides?", "How long is a lunar day?"])
        release.set()
        page.locator("#rag-regenerate").click()  # one click asks it again, in its place, of the page's backend
        expect(page.locator(".rag-answer").nth(1)).not_to_contain_text("Interrupted", timeout=60_000)
        expect(ui.answer(1).locator(".rag-meta")).to_contain_text("answered by openai:fake-model")
        expect(questions).to_have_text(["What causes tides?", "And what else causes them?"])
        page.reload()
        page.wait_for_selector("#rag-docs .rag-docs")
        expect(questions).to_have_text(["What causes tides?", "And what else causes them?"])
        expect(page.locator(".rag-answer").nth(1)).not_to_contain_text("Interrupted")
        assert ui.outside_requests() == []
    finally:
        typed.set()
        release.set()
        llm.shutdown()
        page.context.close()


def test_a_question_typed_while_the_pages_own_waits_in_the_queue_stays(server: tuple[str, Path],
                                                                        browser: Browser) -> None:
    """Every answer slot is taken (``ANSWER_CONCURRENCY`` other pages, each answer held by a test LLM
    server), so this page's question waits in Gradio's queue; a next question typed meanwhile used to be
    wiped when that answer started (its first step emptied the box). Now the box is emptied when the
    question is asked, and nothing later touches it; a second submit while the first waits is not taken
    (Gradio's rule) and must not empty the box either."""
    url, _ = server
    release = threading.Event()

    class HeldLLM(SlowLLM):
        def pause(self, i: int) -> None:
            if i == 0:  # one word shown, then the answer (and its slot) is held
                release.wait(120)

    llm = slow_llm.start(HeldLLM)
    busy = [Page(browser, url) for _ in range(ANSWER_CONCURRENCY)]
    ui = Page(browser, url)
    page = ui.page
    try:
        for other in busy:
            _apply(other.page, "OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenAI)", "docs",
                   f"http://127.0.0.1:{llm.server_port}/v1", "fake-model")
        for other in busy:
            expect(other.page.locator("#rag-settings-notice")).to_contain_text("answers with the openai backend",
                                                                               timeout=60_000)
            other.page.locator("#rag-question textarea").fill("What causes tides?")
            other.page.locator("#rag-question textarea").press("Enter")
        for other in busy:  # each holds a slot until released
            expect(other.page.locator("#rag-chat .rag-pending .rag-body")).to_contain_text("Tides", timeout=60_000)

        question = "How many high tides do most coasts see each lunar day?"
        box = page.locator("#rag-question textarea")
        box.fill(question)
        with page.expect_request(lambda r: "/queue/join" in r.url):  # in the queue, behind them
            box.press("Enter")
        box.fill("a next question")
        box.press("Enter")  # not taken while this page's question waits (Gradio's "once"): it must stay
        release.set()
        answer = ui.answer(0)
        expect(answer).to_contain_text("two high tides")
        expect(page.locator(".rag-question")).to_have_text([question])
        expect(box).to_have_value("a next question")
        for other in busy:  # the held answers end as usual
            expect(other.answer(0)).to_contain_text("gravity of the Moon")
        assert ui.outside_requests() == []
    finally:
        release.set()
        llm.shutdown()
        for each in (*busy, ui):
            each.page.context.close()


def test_two_tabs_of_one_browser_keep_each_others_chats(server: tuple[str, Path], browser: Browser) -> None:
    """Tabs share localStorage: each tab used to write the chats it had read when it opened, so the tab that
    saved last wiped the other's chat (reloaded, the other tab showed an empty page) and a chat deleted in
    one tab came back when the other saved. Now every save is merged into what is stored at that moment."""
    url, _ = server
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    first, second = Page(browser, url, context=context), Page(browser, url, context=context)
    a, b = first.page, second.page
    try:
        first.ask("What causes tides?")
        second.ask("How long is a lunar day?")  # b opened before a saved its chat
        for page in (a, b):
            page.get_by_role("tab", name="Chats").click()
        expect(b.locator("#rag-chats label")).to_have_text(["How long is a lunar day?", "What causes tides?"])
        expect(a.locator("#rag-chats label")).to_have_text(["How long is a lunar day?", "What causes tides?"])
        a.reload()  # the tab reopens its own chat, and it is still stored
        a.wait_for_selector("#rag-docs .rag-docs")
        expect(a.locator(".rag-question")).to_have_text(["What causes tides?"])
        a.get_by_role("tab", name="Chats").click()
        expect(a.locator("#rag-chats label")).to_have_text(["How long is a lunar day?", "What causes tides?"])

        a.locator("#rag-delete-chat").click()  # deleted in a, while b lists it
        a.locator("#rag-confirm-delete-chat").click()
        expect(a.locator("#rag-chats label")).to_have_text(["How long is a lunar day?"])
        expect(b.locator("#rag-chats label")).to_have_text(["How long is a lunar day?"])
        box = b.locator("#rag-question textarea")
        box.fill("a draft")  # Regenerate keeps a question being typed
        b.evaluate("() => { document.querySelector('.rag-answer').dataset.before = '1'; }")
        b.locator("#rag-regenerate").click()
        b.wait_for_function("() => { const a = document.querySelector('.rag-answer'); "
                            "return a && !a.dataset.before && !a.classList.contains('rag-pending'); }")
        expect(box).to_have_value("a draft")
        second.ask("What causes tides?")  # b saves again: the deleted chat stays deleted
        b.reload()
        b.wait_for_selector("#rag-docs .rag-docs")
        expect(b.locator(".rag-question")).to_have_text(["How long is a lunar day?", "What causes tides?"])
        b.get_by_role("tab", name="Chats").click()
        expect(b.locator("#rag-chats label")).to_have_text(["How long is a lunar day?"])
        assert first.outside_requests() == [] and second.outside_requests() == []
    finally:
        context.close()


def test_two_tabs_going_on_with_one_chat_keep_both(server: tuple[str, Path], browser: Browser) -> None:
    """A new tab opens the latest chat, so two tabs may go on with the same one; the tab that saved last
    used to write its version over the other's (reloaded, that tab showed the other's question instead of
    its own). Now a chat another tab went on with differently is kept beside it under a new id."""
    url, _ = server
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    first = Page(browser, url, context=context)
    a = first.page
    try:
        first.ask("What causes tides?")
        second = Page(browser, url, context=context)
        b = second.page
        expect(b.locator(".rag-question")).to_have_text(["What causes tides?"])  # the latest chat
        second.ask("How long is a lunar day?")
        first.ask("What is a tide?")
        a.get_by_role("tab", name="Chats").click()
        chats = a.locator("#rag-chats label")
        expect(chats).to_have_text(["What causes tides?", "What causes tides?"])
        chats.nth(1).click()  # the other tab's version, opened here, is the one this tab goes on with
        expect(a.locator(".rag-question")).to_have_text(["What causes tides?", "How long is a lunar day?"])
        first.ask("What is the role of the Sun?")
        for page in (a, b):
            page.reload()
            page.wait_for_selector("#rag-docs .rag-docs")
            expect(page.locator(".rag-question")).to_have_text(["What causes tides?", "How long is a lunar day?",
                                                                "What is the role of the Sun?"])
        a.get_by_role("tab", name="Chats").click()
        expect(chats).to_have_count(2)
        chats.nth(1).click()  # the first tab's own version is still there
        expect(a.locator(".rag-question")).to_have_text(["What causes tides?", "What is a tide?"])
    finally:
        context.close()


def test_a_full_local_storage_drops_the_oldest_chats_not_the_new_one(server: tuple[str, Path],
                                                                    browser: Browser) -> None:
    """localStorage is shared with everything else of this address: when a save does not fit, the oldest
    chats make room (Gradio's BrowserState only logged the error, and the new chat was gone at the next
    reload); the count and size bounds of ``ui.history.save`` hold in the page's merge too."""
    url, _ = server
    ui = Page(browser, url)
    kept = ui.page.evaluate("""() => {
        localStorage.clear();
        const chat = (id, n) => ({id, turns: [{question: id, html: 'x'.repeat(n)}]});
        const op = (put, max = 30, chars = 1500000) => ({put, drop: null, all: null, max, chars});
        const save = (put) => window.ragSaveChats(JSON.stringify({...op(put), nonce: Math.random()}));
        const ids = () => JSON.parse(localStorage.getItem('rag-conversations')).map((c) => c.id);
        const bounded = [window.ragMergeChats([chat('b', 10), chat('a', 10)], op(chat('c', 10), 2)).map((c) => c.id),
                         window.ragMergeChats([chat('b', 900), chat('a', 900)], op(chat('c', 900), 30, 2500))
                           .map((c) => c.id)];
        save(chat('old', 200000));
        save(chat('mid', 200000));
        let lo = 0, hi = 1 << 24;  // the largest other value that still fits, then leave ~100,000 characters
        while (lo < hi) {
          const m = (lo + hi + 1) >> 1;
          try { localStorage.setItem('other', 'f'.repeat(m)); lo = m; } catch (e) { hi = m - 1; }
        }
        localStorage.setItem('other', 'f'.repeat(Math.max(0, lo - 100000)));
        save(chat('new', 200000));
        const full = ids();
        localStorage.clear();
        return [bounded, full];
    }""")
    assert kept == [[["c", "b"], ["c", "b"]], ["new", "mid"]]
    ui.page.context.close()


def test_phone_layout_has_no_horizontal_scroll_and_works_from_the_keyboard(server: tuple[str, Path],
                                                                           browser: Browser) -> None:
    url, _ = server
    ui = Page(browser, url, width=390, height=844)
    page = ui.page
    width = "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
    for question in ("What causes tides?", "How many low tides are there each day?",
                     "What is the boiling point of tungsten in kelvin?"):
        answer = ui.ask(question)
        for card in answer.locator("details.rag-source, details.rag-related").all():
            card.evaluate("d => { d.open = true; }")  # the widest state: every card open
        assert page.evaluate(width) <= 390, f"the page is {page.evaluate(width)} px wide after {question!r}"
    page.evaluate("() => window.scrollTo(0, 0)")
    ui.shot("ui-10-phone.png")

    skip = page.locator(".rag-skip")
    skip.focus()
    expect(skip).to_be_in_viewport()  # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement === [...document.querySelectorAll('.rag-answer')].pop()")

    page.locator("#rag-remove-choice input").click()
    expect(page.get_by_role("option").first).to_be_visible()
    page.keyboard.press("Tab")  # focus leaves the dropdown: its list closes
    expect(page.get_by_role("option")).to_have_count(0)

    dark = "() => document.body.classList.contains('dark')"
    before = page.evaluate(dark)
    page.locator("#rag-dark").click()
    page.wait_for_function(f"() => document.body.classList.contains('dark') === {str(not before).lower()}")
    page.reload()
    page.wait_for_selector("#rag-docs .rag-docs")
    page.wait_for_function(f"() => document.body.classList.contains('dark') === {str(not before).lower()}")
    assert ui.outside_requests() == []
    page.context.close()


# ---- several pages at once -----------------------------------------------------------------------

# Three questions about three documents, and a phrase only the right answer contains.
AT_ONCE = {
    "What did Zelenskyy reject?": "Donetsk",
    "How many days a week can approved staff work remotely?": "3 days per week",
    "How long does bulk fermentation take?": "4 to 5 hours",
}


@pytest.fixture(scope="module")
def examples_server(browser: Browser, examples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``rag ui`` over the example documents (one of them larger than the upload cap of the other server)."""
    work = tmp_path_factory.mktemp("ui-examples")
    port = free_port()
    srv = Server(work / "index", port, work, [examples_dir], max_file_mb=1)
    try:
        srv.ready.wait(timeout=300)
        if srv.proc.poll() is not None or not srv.ready.is_set():
            pytest.fail(f"rag ui did not start:\n{srv.output}")
        assert "6 added" in srv.output, srv.output
        yield f"http://127.0.0.1:{port}/"
    finally:
        srv.stop()


def _new_chat(ui: Page) -> None:
    ui.page.locator("#rag-new-chat").click()
    expect(ui.page.locator(".rag-answer")).to_have_count(0)


def _shown(answer: Locator) -> tuple[str, str]:
    """The answer's sentences as shown ("" for a refusal or an error), and everything in it (sources included)."""
    body = answer.locator(".rag-body")
    everything = " ".join((answer.text_content() or "").split())
    return (" ".join(body.inner_text().split()) if body.count() else ""), everything


def test_three_pages_asking_at_once_each_get_their_own_answer(examples_server: str, browser: Browser) -> None:
    """Three browser sessions press Ask at the same moment, three rounds, rotating the questions: each
    page shows its own question's answer, the very one that question gets when asked alone afterwards
    (pages asking at once used to be shown each other's answers)."""
    questions = list(AT_ONCE)
    pages = [Page(browser, examples_server) for _ in questions]
    expect(pages[0].page.locator("#rag-status")).to_contain_text("6 documents")

    # First at once, while the server has answered nothing yet (its first answers are its slowest).
    shown: list[tuple[int, str, str]] = []
    for round_ in range(3):
        for ui in pages:
            _new_chat(ui)
        asked = [questions[(i + round_) % len(questions)] for i in range(len(pages))]
        when = pages[0].page.evaluate("() => Date.now()") + 1500  # once every page has its question typed
        indices = [ui.ask_at(question, when) for ui, question in zip(pages, asked, strict=True)]
        for ui, question, index in zip(pages, asked, indices, strict=True):
            answer = ui.answer(index)
            expect(ui.page.locator(".rag-question")).to_have_text([question])  # the page's own question, once
            body, everything = _shown(answer)
            others = [p for q, p in AT_ONCE.items() if q != question and p in everything]
            assert AT_ONCE[question] in body and not others, \
                f"round {round_}: a page asked {question!r} and was shown {(body or everything)[:400]!r}"
            shown.append((round_, question, body))
        if round_ == 0:
            for i, ui in enumerate(pages):
                ui.shot(f"ui-7-at-once-{i}.png")

    alone: dict[str, str] = {}
    for question in questions:  # then one at a time, on one page
        _new_chat(pages[0])
        alone[question] = _shown(pages[0].ask(question))[0]
    for round_, question, body in shown:
        assert body == alone[question], f"round {round_}: {question!r} shown {body!r}, alone {alone[question]!r}"
    for ui in pages:
        assert ui.outside_requests() == []
        ui.page.context.close()


def test_the_question_box_opens_once_the_page_has_restored_its_chat(examples_server: str, browser: Browser) -> None:
    """The page's load handler restores its chat (and writes it); a question asked before it finished
    vanished with its answer (3 of 3 asked the moment the box appeared, on a 127-document index). The
    load's request is held here: the box stays closed meanwhile, and a question asked the moment it
    opens is answered and stays."""
    page = browser.new_page()
    held: list[Any] = []
    opened = threading.Event()
    page.route("**/queue/join*", lambda route: route.continue_() if opened.is_set() else held.append(route))
    page.goto(examples_server)
    box = page.locator("#rag-question textarea")
    box.wait_for()
    page.wait_for_timeout(1000)
    assert held, "the page's load handler was never called"
    assert box.is_disabled(), "the question box accepts a question before the page's chat is restored"
    opened.set()  # the load handler's call goes on, and every later one
    for route in held:
        route.continue_()
    box.fill("what did Zelenskyy reject?")  # waits until the box opens, as a user's typing would
    box.press("Enter")
    expect(page.locator(".rag-question")).to_have_text(["what did Zelenskyy reject?"], timeout=60_000)
    expect(page.locator(".rag-answer").first.locator(".rag-badge").first).to_have_text(re.compile("Supported"),
                                                                                       timeout=60_000)
    page.wait_for_timeout(1000)  # nothing replaces the chat afterwards
    expect(page.locator(".rag-answer")).to_have_count(1)
    expect(box).to_be_focused()
    page.context.close()


def test_a_question_limited_to_one_document_cites_only_it(examples_server: str, browser: Browser) -> None:
    """Coral reefs and sourdough both give temperatures: unfiltered the answer quotes the reef document;
    limited to the sourdough page, it answers from that page alone."""
    ui = Page(browser, examples_server)
    page = ui.page
    question = "What temperature is best, in degrees Celsius?"
    everywhere = ui.ask(question)
    assert "coral-reefs.txt" in everywhere.locator(".rag-file").all_text_contents()
    _new_chat(ui)
    page.locator("#rag-filter input").click()
    page.get_by_role("option", name="sourdough-baking.html").click()
    page.keyboard.press("Escape")
    limited = ui.ask(question)
    expect(limited).not_to_have_class(re.compile("rag-refused"))
    files = limited.locator(".rag-file").all_text_contents()
    assert files and set(files) == {"sourdough-baking.html"}, files
    ui.shot("ui-11-filtered.png")
    assert ui.outside_requests() == []
    page.context.close()


def test_a_pdf_citation_opens_the_page_with_the_quote_marked(examples_server: str, examples_dir: Path,
                                                            browser: Browser) -> None:
    import base64
    import io

    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image

    from ui.viewer import PDF_SCALE

    ui = Page(browser, examples_server)
    page = ui.page
    answer = ui.ask("How much does a home solar system cost?")
    marker = answer.locator(".rag-cite").first
    n = re.sub(r"\D", "", marker.inner_text())
    marker.click()
    card = answer.locator(f".rag-source.s-{n}")
    expect(card.locator(".rag-file")).to_have_text("home-solar-guide.pdf")
    expect(card.locator(".rag-page")).to_have_text("p. 4")
    quote = card.locator("mark.rag-quote").first.inner_text()
    card.locator(".rag-view").click()

    viewer = page.locator("#rag-viewer")
    expect(viewer.locator(".rag-viewer-head")).to_contain_text("home-solar-guide.pdf")
    # highlighted in its surroundings; answers of 120 words may put several quotes under one marker,
    # and the viewer marks those its window holds, as the card marks them all
    expect(viewer.locator(".rag-context mark.rag-quote").first).to_be_visible()
    shown_quotes = viewer.locator(".rag-context mark.rag-quote").all_inner_texts()
    assert shown_quotes and set(shown_quotes) <= set(card.locator("mark.rag-quote").all_inner_texts())
    quote = shown_quotes[0]
    assert len(viewer.locator(".rag-context").inner_text()) > len(quote) + 200
    image = viewer.locator("#rag-viewer-page img")
    expect(image).to_be_visible()
    ui.shot("ui-13-citation-viewer.png")
    data = page.evaluate("""async (src) => {
        const bytes = new Uint8Array(await (await fetch(src)).arrayBuffer());
        let s = ''; for (const b of bytes) s += String.fromCharCode(b); return btoa(s);
    }""", image.get_attribute("src"))
    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")).astype(int)

    pdf = pdfium.PdfDocument(str(examples_dir / "home-solar-guide.pdf"))
    try:
        pages = [np.asarray(pdf[i].render(scale=PDF_SCALE).to_pil().convert("RGB")).astype(int)
                 for i in range(len(pdf))]
    finally:
        pdf.close()
    differs = [np.abs(shown - p).sum(axis=2) > 30 if p.shape == shown.shape else None for p in pages]
    changed = [int(d.sum()) if d is not None else 10**9 for d in differs]
    best = int(np.argmin(changed))
    assert best == 3, f"the image is closest to page {best + 1}, not page 4 ({changed})"
    marked = differs[3]
    assert marked is not None and 0 < marked.mean() < 0.1  # the page itself, with a mark on it
    rows = np.flatnonzero(marked.any(axis=1))
    assert rows.size and rows.max() - rows.min() < shown.shape[0] / 3  # one place on the page, not all over it
    assert ui.outside_requests() == []
    page.context.close()


def test_upload_progress_moves_to_100_percent(server: tuple[str, Path], browser: Browser) -> None:
    url, work = server
    files = []
    for i, topic in enumerate(("herons", "otters", "beavers")):
        path = work / f"progress-{topic}.md"
        path.write_text(f"# {topic.title()}\n\n" + "".join(
            f"Paragraph {n} about {topic}: they live near rivers, eat fish number {n * 7 + i}, and rest at dusk.\n\n"
            for n in range(60)))
        files.append(path)
    ui = Page(browser, url)
    page = ui.page
    # Every text the progress display shows, recorded as it changes.
    page.evaluate("""() => {
        window.__progress = [];
        const target = document.querySelector('#rag-notice');
        new MutationObserver(() => window.__progress.push(target.innerText))
            .observe(target, {subtree: true, childList: true, characterData: true});
    }""")
    ui.upload(*files)
    expect(page.locator("#rag-notice .rag-notice")).to_contain_text("Indexed 3 of 3 files", timeout=120_000)
    seen = page.evaluate("() => window.__progress")
    percents = sorted({float(m) for text in seen for m in re.findall(r"(\d+(?:\.\d+)?)%", text)})
    assert any(0 < p < 100 for p in percents) and max(percents) == 100, (percents, seen[-5:])
    assert any("Stored 3/3 files" in text for text in seen), seen[-5:]
    assert any(re.search(r"Embedded \d+/\d+ passages", text) for text in seen), seen[-5:]
    assert all(text.count("%") <= 1 for text in seen), "the progress is shown once"
    for path in files:
        page.locator("#rag-remove-choice input").click()
        page.get_by_role("option", name=path.name).click()
        page.locator("#rag-remove").click()
        page.locator("#rag-confirm-remove").click()
        expect(page.locator("#rag-notice")).to_contain_text(f"Removed {path.name}")
    page.context.close()


def test_files_dropped_while_others_are_indexed_are_indexed_too_and_the_filter_stays(
        server: tuple[str, Path], browser: Browser) -> None:
    url, work = server
    first = []
    for topic in ("cranes", "storks"):
        path = work / f"first-{topic}.md"
        path.write_text(f"# {topic.title()}\n\n" + "".join(
            f"Paragraph {n} about {topic}: they wade in marshes, eat frog number {n * 3}, and fly south.\n\n"
            for n in range(90)))
        first.append(path)
    late = work / "late-drop.txt"
    late.write_text("Puffins nest in burrows on sea cliffs and carry several fish crosswise in their beaks.\n")
    ui = Page(browser, url)
    page = ui.page
    page.locator("#rag-filter input").click()
    page.get_by_role("option", name="tides.txt").click()
    page.keyboard.press("Escape")
    expect(page.locator("#rag-filter .token")).to_have_text(["tides.txt"])

    ui.upload(*first)
    expect(page.locator("#rag-notice")).to_contain_text("%")  # the first drop is being indexed
    ui.upload(late)  # a second drop before the first finished: it used to be ignored without a word
    expect(page.locator("#rag-notice .rag-notice")).to_contain_text("Indexed 1 of 1 file", timeout=120_000)
    for path in (*first, late):
        expect(page.locator("#rag-docs")).to_contain_text(path.name)
    # Adding documents keeps "ask only these documents" as chosen, and so does removing one.
    expect(page.locator("#rag-filter .token")).to_have_text(["tides.txt"])
    for path in (*first, late):
        page.locator("#rag-remove-choice input").click()
        page.get_by_role("option", name=path.name).click()
        page.locator("#rag-remove").click()
        page.locator("#rag-confirm-remove").click()
        expect(page.locator("#rag-notice")).to_contain_text(f"Removed {path.name}")
    expect(page.locator("#rag-filter .token")).to_have_text(["tides.txt"])
    page.get_by_role("tab", name="Settings").click()
    page.locator("#rag-apply").click()  # the same collection: the choice still applies
    expect(page.locator("#rag-settings-notice")).to_contain_text("This page answers")
    page.get_by_role("tab", name="Documents").click()
    expect(page.locator("#rag-filter .token")).to_have_text(["tides.txt"])
    answer = ui.ask("When are there two high tides?")
    expect(answer.locator(".rag-source .rag-file").first).to_have_text("tides.txt")
    refusal = ui.ask("What do puffins carry in their beaks?")  # in late-drop.txt, which was removed
    expect(refusal).to_contain_text("Only the 1 document chosen")
    page.context.close()


# ---- the server's own settings, without a browser or a model --------------------------------------

@dataclass
class _IdleAssistant:
    """Just enough of an Assistant to build the app: these checks never ask a question."""

    settings: Any

    def sources(self) -> dict[str, int]:
        return {}

    def collections(self) -> list[str]:
        return []


def test_server_requires_login_serves_nothing_else_and_caps_uploads(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.settings import Settings
    from ui.app import build_app, launch_app

    temp = tmp_path / "index" / "ui-tmp"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(temp))
    (tmp_path / "index" / "uploads").mkdir(parents=True)
    secret = tmp_path / "index" / "uploads" / "private.md"
    secret.write_text("private")
    demo = build_app(_IdleAssistant(Settings(index_dir=tmp_path / "index")))
    url = launch_app(demo, port=free_port(), auth=("ada", "s3cret"), max_file_mb=0.01, block=False)
    try:
        assert url.startswith("http://127.0.0.1:")
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

        def call(path: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
            request = urllib.request.Request(url.rstrip("/") + path, data=data, headers=headers or {})
            try:
                with opener.open(request, timeout=30) as response:
                    return int(response.status), response.read()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read()

        assert call("/config")[0] == 401  # nothing without the login
        login = urllib.parse.urlencode({"username": "ada", "password": "wrong"}).encode()
        assert call("/login", login)[0] >= 400
        login = urllib.parse.urlencode({"username": "ada", "password": "s3cret"}).encode()
        assert call("/login", login)[0] == 200
        assert call("/config")[0] == 200
        assert call("/monitoring")[0] in (403, 404)  # monitoring is off
        for path in ("/etc/passwd", str(secret)):  # nothing outside Gradio's own upload folder is served
            assert call(f"/gradio_api/file={path}")[0] == 403
        assert json.loads(call("/gradio_api/info")[1])["named_endpoints"] == {}  # no public API

        boundary = uuid.uuid4().hex

        def upload(size: int) -> tuple[int, bytes]:
            body = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="n.txt"\r\n'
                    f"Content-Type: text/plain\r\n\r\n").encode() + b"x" * size + f"\r\n--{boundary}--\r\n".encode()
            return call("/gradio_api/upload", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})

        assert upload(20_000)[0] == 413  # over max_file_size (0.01 MB), refused by the server itself
        status, body = upload(100)
        assert status == 200
        assert Path(json.loads(body)[0]).resolve().is_relative_to(temp.resolve())  # uploads land in our folder
    finally:
        demo.close()
