"""Run one bench task in a fresh subprocess and read back its JSON result.

A fresh process per step makes peak memory (``ru_maxrss`` of the child) a per-step figure and
keeps one system's warm caches from helping the other. ``RAG_*`` variables and a ``rag.toml``
would change what is measured, so the child gets neither (it runs in a scratch folder), nor any
OpenMP/thread variable: our question tasks run as a script using the Python API does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from index.errors import RagError

MARKER = "BENCH-RESULT "
ROOT = Path(__file__).resolve().parent.parent


class TaskError(RagError, RuntimeError):
    """A bench task failed; the message holds the tail of its stderr."""


# Settings that change how torch's threads wait: measured as callers get them, i.e. unset.
_THREAD_VARIABLES = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") and k not in _THREAD_VARIABLES}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
               TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    return env


def run_task(name: str, scratch: Path, timeout: float = 3600, **kwargs: Any) -> dict[str, Any]:
    """``python -m bench.tasks NAME`` with ``kwargs`` as JSON on stdin; adds ``wall_s`` (cold, whole process)."""
    cwd = scratch / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench.tasks", name], input=json.dumps(kwargs), text=True,
                          capture_output=True, cwd=cwd, env=child_env(), timeout=timeout, check=False)
    wall = time.perf_counter() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise TaskError(f"bench task {name} failed (exit {proc.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1][len(MARKER):])
    result["wall_s"] = round(wall, 3)
    return result
