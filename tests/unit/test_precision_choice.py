"""How MiniLM runs: the precision (explicit values stay, ``auto`` follows the CPU) and the OpenMP
setting of processes that serve questions."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from index import embedding
from index.embedding import resolve_precision

ROOT = Path(__file__).resolve().parents[2]


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


# ---- OpenMP tuning for processes that serve questions ---------------------------------------

def test_question_processes_get_a_short_openmp_spin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    assert embedding.prepare_for_questions() is True
    assert os.environ["GOMP_SPINCOUNT"] == "1000"


def test_a_users_own_spin_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setenv("GOMP_SPINCOUNT", "50")
    assert embedding.prepare_for_questions() is True
    assert os.environ["GOMP_SPINCOUNT"] == "50"


def test_too_late_once_torch_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    assert embedding.prepare_for_questions() is False
    assert "GOMP_SPINCOUNT" not in os.environ


def test_the_commands_that_call_it_do_not_load_torch_first() -> None:
    """Otherwise the setting would come too late: importing our CLI, UI and Assistant must not load torch."""
    code = ("import sys, rag.cli, ui.cli, ui.app, rag.assistant, evals.cli; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def _spin_seen_by_torch(code: str) -> str:
    """GOMP_SPINCOUNT as it was when torch loaded, in a fresh process with no such variable set."""
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    probe = (f"{code}\nimport os, sys\nassert 'torch' in sys.modules\n"
             "print(os.environ.get('GOMP_SPINCOUNT', 'unset'))")
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip().splitlines()[-1]


def test_an_api_script_gets_the_short_spin_without_doing_anything() -> None:
    """The fast path is the default: the first torch import by our code applies it (no env var, no call)."""
    # float32: the precision torch runs in on every CPU (reading the CPU's features no longer imports it)
    code = "from index.embedding import MiniLMEmbedder; MiniLMEmbedder(precision='float32').embed(['hello'])"
    assert _spin_seen_by_torch(code) == "1000"


def test_batch_jobs_can_keep_the_default_spin() -> None:
    code = "from index import embedding; embedding.prefer_throughput(); embedding.import_torch()"
    assert _spin_seen_by_torch(code) == "unset"


def test_rag_ingest_keeps_the_default_spin() -> None:
    code = ("import rag.cli as c\nfrom index import embedding\n"
            "def opened(args):\n    embedding.import_torch()\n    raise SystemExit(0)\n"
            "c.open_assistant = opened\n"
            "try:\n    c.main(['ingest', 'nothing'])\nexcept SystemExit:\n    pass")
    assert _spin_seen_by_torch(code) == "unset"
