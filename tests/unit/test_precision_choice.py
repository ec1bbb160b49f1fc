"""Choosing the embedding precision: explicit values stay, ``auto`` follows the CPU."""

from __future__ import annotations

import pytest

from index import embedding
from index.embedding import resolve_precision


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_explicit_precision_is_kept(precision: str) -> None:
    assert resolve_precision(precision) == precision


@pytest.mark.parametrize(("fast", "expected"), [(True, "bfloat16"), (False, "float32")])
def test_auto_follows_hardware_bfloat16(monkeypatch: pytest.MonkeyPatch, fast: bool, expected: str) -> None:
    monkeypatch.setattr(embedding, "cpu_has_fast_bfloat16", lambda: fast)
    assert resolve_precision("auto") == expected


def test_auto_on_another_device_stays_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedding, "cpu_has_fast_bfloat16", lambda: True)
    assert resolve_precision("auto", device="cuda") == "float32"


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown embedding precision 'half'"):
        resolve_precision("half")
