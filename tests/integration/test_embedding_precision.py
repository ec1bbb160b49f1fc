"""bfloat16 and float32 MiniLM agree: same unit-length float32 vectors, same nearest passages."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.embedding import PAD_TO_MULTIPLE_OF, SMALL_CALL_TEXTS, MiniLMEmbedder
from tests.integration.conftest import example_paragraphs


def test_bfloat16_vectors_match_float32(examples_dir: Path, embedder: MiniLMEmbedder) -> None:
    texts = example_paragraphs(examples_dir)
    assert len(texts) >= 10
    questions = ["What did Zelenskyy reject?", "How much power can rooftop panels make?", "Why do corals bleach?"]
    full = MiniLMEmbedder(precision="float32")
    half = MiniLMEmbedder(precision="bfloat16")
    a, b = full.embed(texts + questions), half.embed(texts + questions)
    assert a.dtype == b.dtype == np.float32
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert float(np.einsum("ij,ij->i", a, b).min()) > 0.999
    # The passage each question finds first is the same in both precisions.
    n = len(texts)
    assert list(np.argmax(a[n:] @ a[:n].T, axis=1)) == list(np.argmax(b[n:] @ b[:n].T, axis=1))


def test_small_calls_run_on_one_thread_and_leave_the_count_alone(embedder: MiniLMEmbedder) -> None:
    import torch

    model = embedder.load()
    seen: list[int] = []
    encode = model.encode

    def recording(*args: object, **kwargs: object) -> object:
        seen.append(torch.get_num_threads())
        return encode(*args, **kwargs)  # type: ignore[arg-type]

    before = torch.get_num_threads()
    model.encode = recording  # type: ignore[method-assign]
    try:
        embedder.embed(["one question"])
        embedder.embed(["a passage"] * (SMALL_CALL_TEXTS + 1))
    finally:
        model.encode = encode  # type: ignore[method-assign]
    assert seen == [1, before]
    assert torch.get_num_threads() == before


def test_batches_are_padded_to_few_shapes_without_changing_vectors(embedder: MiniLMEmbedder) -> None:
    """Padding to a multiple of 16 (bounded memory) must not change any text's vector."""
    model = embedder.load()
    widths: list[int] = []
    pooled = model._pooled

    def recording(ids: object, mask: object) -> object:
        widths.append(ids.shape[1])  # type: ignore[attr-defined]
        return pooled(ids, mask)  # type: ignore[arg-type]

    model._pooled = recording  # type: ignore[method-assign]
    try:  # batches of one: the padded path bulk calls take
        model.encode(["one two three", "a somewhat longer sentence with several more words in it"], batch_size=1,
                     pad_to_multiple_of=PAD_TO_MULTIPLE_OF)
    finally:
        model._pooled = pooled  # type: ignore[method-assign]
    assert widths and all(w % PAD_TO_MULTIPLE_OF == 0 for w in widths)
    short = "Corals bleach when the water is too warm."
    long = " ".join(["Reef-building corals host algae that feed them and give them colour."] * 8)
    alone, together = embedder.embed([short]), embedder.embed([short, long])
    assert float(alone[0] @ together[0]) > 0.9999
