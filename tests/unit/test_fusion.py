"""Rank fusion (RRF, min-max) and MMR on fixed score lists."""

from __future__ import annotations

import pytest

from rag.retrieve.fusion import minmax_fusion, mmr, rrf


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = rrf([["a", "b", "c"], ["b", "d"]], k=60)
    assert fused == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 1 / 63, "d": 1 / 62})
    assert max(fused, key=fused.__getitem__) == "b"  # in both lists beats first in one


def test_rrf_k_flattens_rank_differences() -> None:
    small, large = rrf([["a", "b"]], k=1), rrf([["a", "b"]], k=1000)
    assert small["a"] / small["b"] > large["a"] / large["b"] > 1.0


def test_rrf_empty_lists() -> None:
    assert rrf([]) == {} and rrf([[], []]) == {}


def test_minmax_normalises_each_list_then_weights() -> None:
    fused = minmax_fusion([{"a": 0.9, "b": 0.5, "c": 0.7}, {"b": 12.0, "c": 3.0, "d": 6.0}])
    # dense: a 1, b 0, c 0.5; keyword: b 1, c 0, d 1/3; equal weights 0.5.
    assert fused == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.25, "d": 1 / 6}, abs=1e-6)


def test_minmax_weights_and_missing_ids() -> None:
    fused = minmax_fusion([{"a": 1.0, "b": 0.0}, {"b": 5.0, "c": 1.0}], weights=[0.8, 0.2])
    assert fused == pytest.approx({"a": 0.8, "b": 0.2, "c": 0.0})


def test_minmax_single_score_list_counts_as_top() -> None:
    # One candidate (or all equal): no spread to normalise, every item counts as the best.
    assert minmax_fusion([{"a": 0.3}, {}]) == {"a": 0.5}
    assert minmax_fusion([{"a": 2.0, "b": 2.0}]) == {"a": 1.0, "b": 1.0}


def test_minmax_without_lists() -> None:
    """Regression: no score lists raised ZeroDivisionError computing the equal weights."""
    assert minmax_fusion([]) == {}
    assert minmax_fusion([{}, {}]) == {}


def test_minmax_is_scale_free() -> None:
    base = minmax_fusion([{"a": 0.9, "b": 0.1}, {"a": 1.0, "b": 3.0}])
    scaled = minmax_fusion([{"a": 9.0, "b": 1.0}, {"a": 100.0, "b": 300.0}])
    assert base == scaled


def test_mmr_trades_relevance_for_diversity() -> None:
    def same_family(a: str, b: str) -> float:
        return 1.0 if a[0] == b[0] else 0.0

    relevance = {"a1": 1.0, "a2": 0.95, "a3": 0.9, "b1": 0.6, "c1": 0.55}
    # after a1: b1 0.7*0.6 = 0.42 > c1 0.385 > a2 0.7*0.95 - 0.3 = 0.365
    assert mmr(list(relevance), relevance, same_family, k=3, lambda_=0.7) == ["a1", "b1", "c1"]
    # lambda 1.0 is pure relevance
    assert mmr(list(relevance), relevance, same_family, k=3, lambda_=1.0) == ["a1", "a2", "a3"]


def test_mmr_graded_similarity() -> None:
    sims = {frozenset(("x", "y")): 0.9, frozenset(("x", "z")): 0.1, frozenset(("y", "z")): 0.2}

    def similarity(a: str, b: str) -> float:
        return sims[frozenset((a, b))]

    relevance = {"x": 1.0, "y": 0.9, "z": 0.5}
    # after x: y gains 0.7*0.9 - 0.3*0.9 = 0.36, z gains 0.7*0.5 - 0.3*0.1 = 0.32 -> y
    assert mmr(["x", "y", "z"], relevance, similarity, k=2, lambda_=0.7) == ["x", "y"]
    # with more weight on diversity z wins: y 0.5*0.9-0.5*0.9 = 0, z 0.25-0.05 = 0.2
    assert mmr(["x", "y", "z"], relevance, similarity, k=2, lambda_=0.5) == ["x", "z"]


def test_mmr_k_larger_than_pool_and_empty() -> None:
    assert mmr(["a", "b"], {"a": 1.0, "b": 0.5}, lambda a, b: 0.0, k=10) == ["a", "b"]
    assert mmr([], {}, lambda a, b: 0.0, k=3) == []
