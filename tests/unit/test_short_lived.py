"""``rag ask`` runs without the cyclic collector and skips the final collection at exit
(``rag.short_lived``); other commands and in-process callers of ``rag.cli.main`` keep theirs."""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
from pathlib import Path
from typing import TextIO

import pytest

from index.errors import UsageError
from rag import cli
from rag.short_lived import collector_paused

ROOT = Path(__file__).resolve().parents[2]


def _collector_seen_by(monkeypatch: pytest.MonkeyPatch, command: str, argv: list[str],
                       error: Exception | None = None) -> list[bool]:
    seen: list[bool] = []

    def handler(args: argparse.Namespace, out: TextIO) -> int:
        seen.append(gc.isenabled())
        if error is not None:
            raise error
        return 0

    monkeypatch.setattr(cli, command, handler)
    cli.main(argv)
    return seen


def test_ask_runs_without_the_collector_and_gives_it_back(monkeypatch: pytest.MonkeyPatch) -> None:
    assert gc.isenabled()
    assert _collector_seen_by(monkeypatch, "_cmd_ask", ["ask", "what did Zelenskyy reject?"]) == [False]
    assert gc.isenabled()  # a test or script calling main() goes on with its collector
    # also when the command fails with a user's error
    assert _collector_seen_by(monkeypatch, "_cmd_ask", ["ask", "q"], UsageError("the question is empty")) == [False]
    assert gc.isenabled()


def test_long_running_and_other_commands_keep_the_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _collector_seen_by(monkeypatch, "_cmd_chat", ["chat"]) == [True]
    assert _collector_seen_by(monkeypatch, "_cmd_sources", ["sources"]) == [True]


def test_a_caller_that_disabled_the_collector_keeps_it_disabled() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_objects_alive_at_exit_are_not_collected_again() -> None:
    """The final collection at exit finds nothing to do: a reference cycle alive at exit is never
    collected (its ``__del__`` would say so), while atexit handlers registered later still run."""
    code = ("import atexit\n"
            "from rag.short_lived import skip_final_collection\n"
            "skip_final_collection(); skip_final_collection()\n"
            "class Node:\n"
            "    def __del__(self): print('collected', flush=True)\n"
            "a, b = Node(), Node(); a.other, b.other = b, a\n"
            "atexit.register(lambda: print('later handler ran', flush=True))\n")
    frozen = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert frozen.returncode == 0, frozen.stderr
    assert "later handler ran" in frozen.stdout and "collected" not in frozen.stdout
    plain = subprocess.run([sys.executable, "-c", code.replace("skip_final_collection(); skip_final_collection()",
                                                               "pass")],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "collected" in plain.stdout  # without the hook, CPython's final collection finds the cycle
