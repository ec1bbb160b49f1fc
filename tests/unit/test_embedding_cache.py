"""``rag.retrieve.embedding_cache.CachingEmbedder``: the right row for every text, whatever it evicts and
whichever other threads embed at the same moment (the UI answers up to 4 questions at once on one
cache). The inner embedder is the honest fake of ``tests/fakes.py``: every text has its own vector,
so a lost, swapped or stale row shows."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from rag.retrieve.embedding_cache import CachingEmbedder
from tests.fakes import WordEmbedder

WORDS = ("coral", "reef", "bleach", "solar", "panel", "payback", "sourdough", "starter", "remote", "office",
         "wind", "turbine", "nato", "donetsk", "kyiv", "guarantee")


def expected(inner: WordEmbedder, texts: Sequence[str]) -> np.ndarray:
    return np.stack([inner.vector(t) for t in texts]).astype(np.float32)


def test_the_fake_ranks_and_never_returns_constants() -> None:
    inner = WordEmbedder()
    a, b, c = inner.embed(["coral reefs bleach in warm water", "warm water bleaches coral reefs",
                           "solar panels pay for themselves"])
    assert not np.array_equal(a, c)
    assert float(a @ b) > float(a @ c)
    assert np.allclose(np.linalg.norm(inner.embed(["x y", "z"]), axis=1), 1.0)


def test_a_batch_that_evicts_what_it_needs_returns_the_right_rows() -> None:
    inner = WordEmbedder()
    cache = CachingEmbedder(inner, size=2)
    first = cache.embed(["a", "b"])
    assert np.array_equal(first, expected(inner, ["a", "b"]))
    # "a" is cached; embedding "c" and "d" pushes it (and "b") out of a cache of two within this call.
    second = cache.embed(["a", "c", "d"])
    assert second.shape == (3, inner.dimension) and second.dtype == np.float32
    assert np.array_equal(second, expected(inner, ["a", "c", "d"]))
    assert inner.calls == [("a", "b"), ("c", "d")]  # "a" came from the cache, only the missing went through
    third = cache.embed(["d", "a", "d", "c"])  # repeats, and "a" was evicted by the call before
    assert np.array_equal(third, expected(inner, ["d", "a", "d", "c"]))
    assert inner.calls[-1] == ("a",)
    assert cache.embed([]).shape == (0, inner.dimension)


def test_repeated_texts_in_one_batch_are_embedded_once() -> None:
    inner = WordEmbedder()
    cache = CachingEmbedder(inner, size=8)
    out = cache.embed(["reef", "solar", "reef", "reef"])
    assert np.array_equal(out, expected(inner, ["reef", "solar", "reef", "reef"]))
    assert inner.calls == [("reef", "solar")]


class SlowWordEmbedder(WordEmbedder):
    """The same vectors, but embedding yields the CPU midway, as a real model does (it releases the GIL):
    other threads read, fill and evict the cache while this batch is being embedded."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        time.sleep(0.0005)
        out = super().embed(texts)
        time.sleep(0.0005)
        return out


@pytest.mark.parametrize("size", [1, 3, 8])
def test_many_threads_with_a_tiny_cache_always_get_the_inner_vectors(size: int) -> None:
    inner = SlowWordEmbedder()
    cache = CachingEmbedder(inner, size=size)
    texts = [f"{a} {b}" for a in WORDS[:6] for b in WORDS[6:12]] + list(WORDS)
    threads, rounds = 8, 40
    start = threading.Barrier(threads, timeout=60)
    failures: list[str] = []
    errors: list[BaseException] = []
    checked = [0] * threads

    def work(worker: int) -> None:
        rng = random.Random(worker)
        try:
            start.wait()
            for _ in range(rounds):
                # Overlapping batches: a shared pool, repeats within a batch, different orders and sizes.
                batch = rng.choices(texts[: 20 + worker], k=rng.randint(1, 9))
                got = cache.embed(batch)
                want = expected(inner, batch)
                if got.shape != want.shape or not np.array_equal(got, want):
                    wrong = [t for t, g, w in zip(batch, got, want, strict=False) if not np.array_equal(g, w)]
                    failures.append(f"thread {worker}: batch {batch} got wrong rows for {wrong}")
                checked[worker] += 1
        except BaseException as exc:  # reported below; a failing thread must not hang the others
            start.abort()
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors
    assert not failures, "\n".join(failures[:10])
    assert checked == [rounds] * threads
    assert len(cache._cache) <= size  # the bound holds once every thread is done
    assert len(inner.calls) > rounds  # the cache really was too small: texts went through again and again
