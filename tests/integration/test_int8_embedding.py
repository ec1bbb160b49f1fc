"""MiniLM in int8 on ONNX Runtime (``RAG_EMBED_PRECISION=int8``): converted from the packaged
weights once, vectors close to float32 ones for texts and sentence spans, spans pooled from the
same pass, safe from several threads, and an Assistant on it answers with checked citations."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from index import onnx_minilm
from index.embedding import MiniLMEmbedder
from index.minilm import token_ranges
from rag.assistant import Assistant
from tests.integration.conftest import clean_settings, example_paragraphs

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture(scope="session")
def int8_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("int8-cache")


@pytest.fixture(scope="session")
def int8(int8_cache: Path) -> MiniLMEmbedder:
    """MiniLM in int8, converted once into the session's own cache folder."""
    model = MiniLMEmbedder(precision="int8", cache_dir=int8_cache)
    model.load()
    return model


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for end in [i + 1 for i, c in enumerate(text) if c == "."] + [len(text)]:
        if text[start:end].strip():
            spans.append((start, end))
        start = end
    return spans


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


def test_int8_vectors_are_close_to_float32_for_texts_and_spans(examples_dir: Path, int8: MiniLMEmbedder) -> None:
    texts = [*example_paragraphs(examples_dir), "What did Zelenskyy reject?", "Why do corals bleach?"]
    spans = [_sentence_spans(t) for t in texts]
    full = MiniLMEmbedder(precision="float32")
    f_texts, f_spans = full.embed_spans(texts, spans)
    q_texts, q_spans = int8.embed_spans(texts, spans)
    assert q_texts.dtype == np.float32 and np.allclose(np.linalg.norm(q_texts, axis=1), 1.0, atol=1e-5)
    span_cosines = np.concatenate([_cosines(a, b) for a, b in zip(f_spans, q_spans, strict=True)])
    for cosine in (_cosines(f_texts, q_texts), span_cosines):
        assert float(cosine.min()) > 0.98 and float(cosine.mean()) > 0.99
    # Each question finds the same nearest paragraph in both precisions.
    n = len(texts) - 2
    assert list(np.argmax(f_texts[n:] @ f_texts[:n].T, axis=1)) == list(np.argmax(q_texts[n:] @ q_texts[:n].T, axis=1))


def test_span_vectors_are_pooled_from_the_texts_own_pass(examples_dir: Path, int8: MiniLMEmbedder) -> None:
    texts = [*example_paragraphs(examples_dir)[:6], "word " * 400]  # the last one is cut at the window
    spans = [[*_sentence_spans(t), (0, len(t))] for t in texts]
    spans[-1].append((len(texts[-1]) - 10, len(texts[-1])))  # past the window: the text's own vector
    vectors, pooled = int8.embed_spans(texts, spans)
    assert np.allclose(vectors, int8.embed(texts), atol=1e-6)
    model = int8.load()
    for text, text_spans, got, vector in zip(texts, spans, pooled, vectors, strict=True):
        encoding = model.tokenizer.encode(text)
        hidden = model._hidden(encoding.ids)
        expected = []
        for a, b in token_ranges(encoding.offsets, encoding.special_tokens_mask, text_spans):
            mean = hidden[a:b].mean(axis=0) if b > a else vector
            expected.append(mean / np.linalg.norm(mean))
        assert np.allclose(got, np.stack(expected), atol=1e-5)


def test_the_converted_model_is_reused(int8: MiniLMEmbedder, int8_cache: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def no_export(folder: Path, target: Path) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(onnx_minilm, "export_onnx", no_export)
    again = MiniLMEmbedder(precision="int8", cache_dir=int8_cache)
    assert np.allclose(again.embed(["Corals bleach in warm water."]), int8.embed(["Corals bleach in warm water."]))
    [converted] = int8_cache.glob("*.onnx")
    assert not list(int8_cache.glob(".convert-*"))
    # Its weights are int8: about a quarter of the float32 file (unquantised, it was as big).
    assert converted.stat().st_size < 0.35 * (int8.model_path / "model.safetensors").stat().st_size


def test_several_threads_embed_at_once(examples_dir: Path, int8: MiniLMEmbedder) -> None:
    texts = example_paragraphs(examples_dir)
    expected = int8.embed(texts)
    calls = [texts[i::4] for i in range(4)] + [[t] for t in texts[:8]]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(int8.embed, calls))
    for call, got in zip(calls, results, strict=True):
        assert np.allclose(got, expected[[texts.index(t) for t in call]], atol=1e-5)


def test_an_assistant_in_int8_answers_with_a_supported_citation(tmp_path: Path, examples_dir: Path,
                                                                int8: MiniLMEmbedder) -> None:
    assistant = Assistant(tmp_path / "index", embedder=int8, settings=clean_settings(tmp_path))
    assistant.add(examples_dir)
    answer = assistant.ask("what did Zelenskyy reject?")
    assert not answer.refused
    first = answer.citations[0]
    assert Path(first.source).name == "ukraine-security-talks.md" and first.support == "supported"
    assert any("refused to give up any Ukrainian land" in c.quote for c in answer.citations)


def test_every_matrix_product_but_the_first_feed_forward_output_is_int8(int8: MiniLMEmbedder,
                                                                        int8_cache: Path) -> None:
    import onnx

    graph = onnx.load(str(next(int8_cache.glob("*.onnx")))).graph
    weights = {i.name: tuple(i.dims) for i in graph.initializer}
    float_products = [[weights[x] for x in n.input if x in weights] for n in graph.node
                      if n.op_type == "MatMul" and any(x in weights for x in n.input)]
    assert float_products == [[(1536, 384)]]
    assert sum(n.op_type == "MatMulInteger" for n in graph.node) == 6 * 6 - 1  # 6 layers of 6 products


def test_a_cold_process_embeds_in_int8_without_importing_torch(int8: MiniLMEmbedder, int8_cache: Path) -> None:
    """The CPU's features (which weights suit it) are read with CPUID, not through torch (~1.4 s)."""
    import subprocess
    import sys

    probe = ("import sys\nfrom pathlib import Path\nfrom index.embedding import MiniLMEmbedder\n"
             "MiniLMEmbedder(precision='int8', cache_dir=Path(sys.argv[1])).embed(['hello'])\n"
             "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe, str(int8_cache)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False"]
