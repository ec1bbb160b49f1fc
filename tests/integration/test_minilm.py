"""Our torch-only MiniLM (``index.minilm``) gives sentence-transformers' vectors.

Indexes written before it (by sentence-transformers) must keep working: a question embedded by
one and passages embedded by the other have to land on the same passages.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.embedding import MiniLMEmbedder, minilm_path
from index.minilm import MiniLM, token_ranges
from tests.integration.conftest import EXAMPLE_FILES

pytest.importorskip("sentence_transformers")


def _texts(examples_dir: Path) -> list[str]:
    texts = []
    for name in EXAMPLE_FILES:
        path = examples_dir / name
        if path.suffix in {".txt", ".md"}:
            texts += [p.strip() for p in path.read_text().split("\n\n") if p.strip()]
    return [*texts, "what did Zelenskyy reject?", "a", "word " * 400, "Ünïcödé façade naïve 北京 🎉", "  "]


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_vectors_match_sentence_transformers(examples_dir: Path, precision: str) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    texts = _texts(examples_dir)
    reference = SentenceTransformer(str(minilm_path()), device="cpu")
    if precision == "bfloat16":
        reference = reference.to(torch.bfloat16)
    expected = np.asarray(reference.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True),
                          dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    ours = MiniLMEmbedder(precision=precision).embed(texts)
    assert ours.shape == expected.shape and ours.dtype == np.float32
    cosine = np.einsum("ij,ij->i", ours, expected)
    # bfloat16 rounds differently in any two implementations (float32 vs bfloat16 is ~0.9999 too)
    assert float(cosine.min()) > (0.99999 if precision == "float32" else 0.9995)
    # Each question-like text finds the same nearest passage with either model.
    n = len(texts) - 5
    assert list(np.argmax(ours[n:] @ expected[:n].T, axis=1)) == list(np.argmax(expected[n:] @ expected[:n].T, axis=1))


def test_packed_and_padded_batches_give_the_same_vectors(examples_dir: Path, embedder: MiniLMEmbedder) -> None:
    """A few texts run packed (no padding computed), many run in padded batches: same vectors."""
    texts = _texts(examples_dir)
    model = embedder.load()
    packed = model.encode(texts, batch_size=len(texts))
    padded = model.encode(texts, batch_size=4)
    alone = np.stack([model.encode([t])[0] for t in texts])
    assert float(np.einsum("ij,ij->i", packed, padded).min()) > 0.9999
    assert float(np.einsum("ij,ij->i", packed, alone).min()) > 0.9999


def test_a_text_longer_than_the_window_is_cut_like_sentence_transformers(embedder: MiniLMEmbedder) -> None:
    model = embedder.load()
    ids = model.tokenize(["word " * 1000])[0]
    assert len(ids) == 256


def test_loading_does_not_import_sentence_transformers(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from index.embedding import MiniLMEmbedder; MiniLMEmbedder().embed(['hi']); "
            "bad = [m for m in ('sentence_transformers', 'transformers', 'sklearn') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_span_vectors_are_the_mean_of_their_word_pieces_in_the_whole_texts_pass(examples_dir: Path,
                                                                                 precision: str) -> None:
    """Ingest pools sentence vectors from its padded batches; the reference runs each text alone
    (no padding, no neighbour in the batch) and averages the span's word pieces directly."""
    texts = _texts(examples_dir)
    # Sentence-like spans of each text, a blank one and one past the window (gets the text's vector).
    spans = [[(0, min(len(t), 40)), (len(t) // 2, len(t)), (len(t), len(t))] for t in texts]
    spans[-3].append((1990, 2000))  # "word " * 400: past the 256-piece window
    model = MiniLMEmbedder(precision=precision).load()
    vectors, span_vectors = model.encode_spans(texts, spans, batch_size=8)
    alone, alone_spans = encode_spans_alone(model, texts, spans)
    floor = 0.9999 if precision == "float32" else 0.999
    assert float(np.einsum("ij,ij->i", vectors, alone).min()) > floor
    cosines = np.concatenate([np.einsum("ij,ij->i", a, b) for a, b in zip(span_vectors, alone_spans, strict=True)])
    assert len(cosines) == sum(len(s) for s in spans) and float(cosines.min()) > floor
    # The text vectors are encode()'s, and a span with no word piece falls back to its text's vector.
    assert float(np.einsum("ij,ij->i", vectors, model.encode(texts)).min()) > floor
    assert float(span_vectors[-3][-1] @ vectors[-3]) > 0.9999
    # The blank span of a text that has words gets that text's vector too, not a zero vector.
    assert float(span_vectors[0][2] @ vectors[0]) > 0.9999


def encode_spans_alone(model: MiniLM, texts: list[str], spans: list[list[tuple[int, int]]]
                       ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each text in a batch of its own, each span the plain mean of its word pieces' hidden states."""
    import torch

    out = np.zeros((len(texts), model.hidden), dtype=np.float32)
    pooled = [np.zeros((len(s), model.hidden), dtype=np.float32) for s in spans]
    with torch.inference_mode():
        for i, (text, text_spans) in enumerate(zip(texts, spans, strict=True)):
            encoding = model.tokenizer.encode(text)
            ids = torch.tensor([encoding.ids])
            x = model._hidden(ids, torch.ones(ids.shape, dtype=torch.bool))[0].float().numpy()
            out[i] = x.mean(axis=0)
            for n, (a, b) in enumerate(token_ranges(encoding.offsets, encoding.special_tokens_mask, text_spans)):
                pooled[i][n] = x[a:b].mean(axis=0) if b > a else out[i]
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    for vectors in pooled:
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return out, pooled


def test_the_whole_word_list_is_the_tokenizers_vocabulary() -> None:
    """``is_common_word`` reads the vocabulary from tokenizer.json, not from a Tokenizer object."""
    from index.embedding import _whole_words, is_common_word, word_piece_tokenizer

    path = str(minilm_path())
    listed = frozenset(w for w in word_piece_tokenizer(path).get_vocab() if w.isalpha())
    assert _whole_words(path) == listed and len(listed) > 20000
    assert is_common_word("Folder") and not is_common_word("bcrypt")


def test_weights_load_as_they_did_through_numpy() -> None:
    """``MiniLM.load`` reads safetensors straight into torch: the same tensors, in both precisions."""
    import torch
    from safetensors.numpy import load_file

    raw = load_file(str(minilm_path() / "model.safetensors"))
    for precision, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        weights = MiniLM.load(minilm_path(), precision).w
        via_numpy = {n.removeprefix("bert."): torch.from_numpy(a).to(dtype)
                     for n, a in raw.items() if a.dtype != np.int64}
        assert weights.keys() == via_numpy.keys()
        assert all(weights[n].dtype == dtype and torch.equal(weights[n], via_numpy[n]) for n in weights)
