"""Shared test setup: unit tests cannot open network connections; integration tests may reach
loopback only (servers we start ourselves), never anything else."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.settings import is_loopback_host

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
_real_connect = socket.socket.connect


class NetworkBlocked(RuntimeError):
    pass


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        return is_loopback_host(str(address[0]))
    return isinstance(address, str | bytes)  # AF_UNIX paths


@pytest.fixture(autouse=True)
def _guard_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    allow_loopback = request.node.get_closest_marker("integration") is not None

    def guarded(self: socket.socket, address: object) -> None:
        if self.family == socket.AF_UNIX or (allow_loopback and _is_loopback(address)):
            return _real_connect(self, address)  # type: ignore[arg-type]
        raise NetworkBlocked(f"test tried to connect to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
