"""The heap keeps the model's freed batch buffers (index.heap), measured in fresh processes: page
faults of a buffer allocated again, and the memory handed back when an ingest ends."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting exists on glibc only")

# Runs five rounds of 24 buffers of 2-6 MB (96 MB) allocated, filled and freed, like a model's
# batches; prints the minor page faults of the last four rounds, the resident memory with 4 x 64 MB
# freed and after ``release_freed_memory``, and whether the setting took effect.
_PROBE = """
import json, resource, sys
import numpy as np
from index import heap
if sys.argv[1] == "torch":
    from index import embedding
    embedding.import_torch()
kept = heap.keep_freed_blocks() if sys.argv[1] == "keep" else False
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
def batch():  # a forward pass: buffers of a few MB live at once, then all freed
    held = [np.ones((1 + i % 3) << 18) for i in range(24)]
    return sum(float(b[-1]) for b in held)
batch()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    batch()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
held = [np.ones(8 << 20) for _ in range(4)]
del held
freed = rss_mb()
heap.release_freed_memory()
print(json.dumps({"kept": kept, "faults": faults, "freed_mb": freed, "released_mb": rss_mb()}))
"""


def _probe(mode: str, **env: str) -> dict[str, float]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True,
                         env={**clean, **env}, timeout=120)
    return json.loads(out.stdout)


def test_a_buffer_allocated_again_reuses_the_freed_pages_instead_of_faulting_them_in() -> None:
    default, kept = _probe("default"), _probe("keep")
    assert kept["kept"] is True
    # By default glibc hands a round's freed buffers back (trimming the heap or unmapping them), so the
    # next round faults their pages in again (~49,000 of the 4 rounds' 98,304 pages here); kept, none.
    assert default["faults"] > 20_000, default
    assert kept["faults"] < default["faults"] / 4, (kept, default)


def test_loading_the_model_keeps_them() -> None:
    loaded = _probe("torch")  # the first import of torch by the model's loader
    assert loaded["faults"] < _probe("default")["faults"] / 4, loaded


def test_the_kept_memory_is_handed_back_when_asked() -> None:
    kept = _probe("keep")
    assert kept["freed_mb"] - kept["released_mb"] > 150, kept  # the rounds' 96 MB and 4 x 64 MB were held freed


def test_a_heap_the_user_tuned_is_left_alone() -> None:
    tuned = _probe("keep", GLIBC_TUNABLES="glibc.malloc.mmap_threshold=131072")
    assert tuned["kept"] is False
    assert tuned["faults"] > 20_000, tuned
