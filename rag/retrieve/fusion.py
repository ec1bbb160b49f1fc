"""Rank fusion and diversity (pure functions on score lists)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence


def rrf(rankings: Sequence[Sequence[str]], k: int = 60) -> dict[str, float]:
    """Reciprocal rank fusion: sum of 1 / (k + rank) over the lists an id appears in.

    >>> sorted(rrf([["a", "b"], ["b", "c"]]).items(), key=lambda kv: -kv[1])[0][0]
    'b'
    """
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


def minmax_fusion(score_lists: Sequence[Mapping[str, float]],
                  weights: Sequence[float] | None = None) -> dict[str, float]:
    """Weighted sum of per-list min-max-normalised scores (an id missing from a list gets 0).

    >>> minmax_fusion([{"a": 0.9, "b": 0.5}, {"b": 12.0, "c": 3.0}])
    {'a': 0.5, 'b': 0.5, 'c': 0.0}
    """
    if not score_lists:
        return {}
    weights = list(weights) if weights is not None else [1.0 / len(score_lists)] * len(score_lists)
    fused: dict[str, float] = {}
    for scores, weight in zip(score_lists, weights, strict=True):
        if not scores:
            continue
        low, high = min(scores.values()), max(scores.values())
        span = high - low
        for item, value in scores.items():
            norm = (value - low) / span if span > 0 else 1.0
            fused[item] = fused.get(item, 0.0) + weight * norm
    for scores in score_lists:
        for item in scores:
            fused.setdefault(item, 0.0)
    return {item: round(score, 6) for item, score in fused.items()}


def mmr(candidates: Sequence[str], relevance: Mapping[str, float], similarity: Callable[[str, str], float],
        k: int, lambda_: float = 0.7) -> list[str]:
    """Maximal marginal relevance: trade relevance against similarity to what is already chosen.

    >>> sim = lambda a, b: 1.0 if a[0] == b[0] else 0.0
    >>> mmr(["a1", "a2", "b1"], {"a1": 1.0, "a2": 0.9, "b1": 0.5}, sim, k=2)
    ['a1', 'b1']
    """
    chosen: list[str] = []
    pool = list(candidates)
    while pool and len(chosen) < k:
        def gain(item: str) -> float:
            redundancy = max((similarity(item, c) for c in chosen), default=0.0)
            return lambda_ * relevance.get(item, 0.0) - (1 - lambda_) * redundancy

        best = max(pool, key=gain)
        chosen.append(best)
        pool.remove(best)
    return chosen


def distinct_texts(order: Sequence[str], text_of: Callable[[str], str]) -> list[str]:
    """``order`` without ids whose text an earlier id already has: identical files (a copy, a
    download saved twice) would otherwise fill several of the top places with one passage.

    >>> distinct_texts(["a", "b", "c"], {"a": "same", "b": "same", "c": "other"}.__getitem__)
    ['a', 'c']
    """
    seen: set[str] = set()
    out = []
    for item in order:
        text = text_of(item)
        if text not in seen:
            seen.add(text)
            out.append(item)
    return out
