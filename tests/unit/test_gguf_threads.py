"""The local llama.cpp server reads the prompt on every core this process may use and generates the
answer on half of them: the passages are most of the wait before the first token."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import pytest

import rag.llm.gguf as gguf


class _Params:
    """Stands in for xllamacpp.CommonParams: any attribute path can be set and read back."""

    def __getattr__(self, name: str) -> Any:
        child = _Params()
        object.__setattr__(self, name, child)
        return child


class _FakeServer:
    started: ClassVar[list[Any]] = []

    def __init__(self, params: Any) -> None:
        _FakeServer.started.append(params)
        self.listening_address = "http://127.0.0.1:5555"


def _model(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 16)
    return path


@pytest.fixture
def fake_llamacpp(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    import xllamacpp

    _FakeServer.started = []
    monkeypatch.setattr(xllamacpp, "CommonParams", _Params)
    monkeypatch.setattr(xllamacpp, "Server", _FakeServer)
    monkeypatch.setattr(gguf, "_servers", {})
    return _FakeServer.started


@pytest.mark.parametrize(("cores", "generate", "prompt"), [(2, 1, 2), (8, 4, 8), (1, 1, 1)])
def test_the_prompt_is_read_on_every_core_and_the_answer_generated_on_half(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_llamacpp: list[Any], cores: int, generate: int,
        prompt: int) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    server = gguf.local_server(_model(tmp_path), 4096)
    params = fake_llamacpp[0]
    assert (params.cpuparams.n_threads, params.cpuparams_batch.n_threads) == (generate, prompt)
    assert server.base_url == "http://127.0.0.1:5555/v1"


def test_explicit_thread_counts_win_and_each_setting_gets_its_own_server(
        tmp_path: Path, fake_llamacpp: list[Any]) -> None:
    model = _model(tmp_path)
    first = gguf.local_server(model, 4096, threads=3, batch_threads=5)
    assert (fake_llamacpp[0].cpuparams.n_threads, fake_llamacpp[0].cpuparams_batch.n_threads) == (3, 5)
    assert gguf.local_server(model, 4096, threads=3, batch_threads=5) is first
    assert gguf.local_server(model, 4096, threads=3, batch_threads=2) is not first and len(fake_llamacpp) == 2
