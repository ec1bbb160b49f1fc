"""``python -m bench --cpu-like CPU``: what it needs says so in one sentence, and the report says
which CPU the tasks ran as (the real run is ``tests/integration/test_cpu_like.py``)."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import pytest

import bench.__main__ as bench_main
from bench import cpu_like
from bench.__main__ import _run_tasks_as, main
from bench.cpu_like import CpuLikeUnavailableError, build, environment
from bench.report import machine_line


@pytest.fixture
def on_x86_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")


def test_a_cpu_without_cpuid_faulting_is_one_sentence(monkeypatch: pytest.MonkeyPatch, on_x86_linux: None,
                                                      tmp_path: Path) -> None:
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: "flags\t: fpu avx2 avx512f\n")
    with pytest.raises(CpuLikeUnavailableError, match=r"^--cpu-like needs a CPU with CPUID faulting \(the "
                                                      r"cpuid_fault flag in /proc/cpuinfo\), which this one"):
        build(tmp_path)
    assert not list(tmp_path.iterdir())


def test_a_machine_without_a_c_compiler_is_one_sentence(monkeypatch: pytest.MonkeyPatch, on_x86_linux: None,
                                                        tmp_path: Path) -> None:
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: "flags\t: fpu avx2 cpuid_fault\n")
    monkeypatch.setattr(cpu_like.shutil, "which", lambda name: None)
    with pytest.raises(CpuLikeUnavailableError, match="needs a C compiler"):
        build(tmp_path)


def test_a_compiler_that_fails_says_its_last_line(monkeypatch: pytest.MonkeyPatch, on_x86_linux: None,
                                                  tmp_path: Path) -> None:
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: "flags\t: fpu avx2 cpuid_fault\n")
    monkeypatch.setattr(cpu_like.shutil, "which", lambda name: "/usr/bin/false")
    with pytest.raises(CpuLikeUnavailableError, match=r"^cannot compile cpu_like.c with /usr/bin/false: no message$"):
        build(tmp_path)
    assert not list(tmp_path.iterdir())  # no partial library left


def test_other_systems_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    with pytest.raises(CpuLikeUnavailableError, match="needs x86-64 Linux"):
        build(tmp_path)


def test_the_tasks_get_the_library_before_any_other_preload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/libjemalloc.so.2")
    env = environment("haswell", Path("/tmp/x/cpu_like.so"))
    assert env == {"BENCH_CPU_LIKE": "haswell", "LD_PRELOAD": "/tmp/x/cpu_like.so /usr/lib/libjemalloc.so.2"}
    with pytest.raises(CpuLikeUnavailableError, match="unknown CPU 'pentium'"):
        environment("pentium", Path("cpu_like.so"))


def test_the_report_names_the_cpu_and_the_flags_its_tasks_saw(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    monkeypatch.setattr(bench_main, "build", lambda folder: folder / "cpu_like.so")
    for name in ("BENCH_CPU_LIKE", "LD_PRELOAD"):
        monkeypatch.setenv(name, "")  # so that monkeypatch restores them (unset) after the test
    flags = {"amx_tile": True, "avx512_bf16": True, "avx512_vnni": True, "avx_vnni": True, "avx512f": True,
             "avx2": True}
    versions = dict.fromkeys(("torch", "sentence-transformers", "chromadb", "langchain-chroma",
                              "langchain-huggingface", "onnxruntime"), "x")
    machine: dict[str, Any] = {"nproc": 2, "cpu": "Intel Xeon", "cpu_flags": dict(flags), "ram_gb": 24,
                               "python": "3.11", "load_avg_start": [0.1], "versions": versions}
    _run_tasks_as("alderlake", tmp_path, machine)
    import os

    assert os.environ["BENCH_CPU_LIKE"] == "alderlake" and os.environ["LD_PRELOAD"].endswith("cpu_like.so")
    assert machine["cpu_flags_real"] == flags
    assert [f for f, on in machine["cpu_flags"].items() if on] == ["avx_vnni", "avx2"]
    assert "Intel Xeon, tasks run as alderlake (bench/cpu_like.py); avx_vnni avx2" in machine_line(machine)


def test_an_unknown_cpu_is_refused_by_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--quick", "--cpu-like", "pentium"])
    assert exit_.value.code == 2 and "invalid choice: 'pentium'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["haswell"], ["pentium", "true"]])
def test_running_a_command_as_another_cpu_needs_a_known_cpu_and_a_command(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cpu_like.main(argv) == 2
    assert capsys.readouterr().err.startswith("usage: python -m bench.cpu_like {alderlake,cascadelake,haswell,")
