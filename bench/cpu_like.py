"""``--cpu-like NAME``: the bench's tasks run as on an older x86 CPU, at this CPU's own speed.

Which embedding path ``auto`` takes, and how fast it runs, depends on the CPU's features (AMX,
AVX512-BF16, VNNI, AVX2: ``index.embedding``). A laptop-class CPU cannot be rented here, but on a
CPU with CPUID faulting (most Intel CPUs since Ivy Bridge, under KVM too) the task processes can be
shown fewer features: ``bench/cpu_like.c``, preloaded into each, answers the CPUID instruction with
the named CPU's features only, so every library (torch, oneDNN, onnxruntime, numpy) picks that CPU's
kernels and ``auto`` decides as it would there. Clock, caches and core count stay this machine's:
the figures say how each path runs on that instruction set, not on that CPU.

Any command can run so: ``python -m bench.cpu_like haswell python -m evals.gate`` (how the eval gate
of each CPU's ``auto`` path was measured, README "Speed").

>>> sorted(CPUS)
['alderlake', 'cascadelake', 'haswell', 'skylake-avx512']
>>> masked_flags({"amx_tile": True, "avx512f": True, "avx_vnni": True, "avx2": True}, "alderlake")
{'amx_tile': False, 'avx512f': False, 'avx_vnni': True, 'avx2': True}
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.report import cpuinfo_flags
from index.errors import UsageError

SOURCE = Path(__file__).with_name("cpu_like.c")
ENV = "BENCH_CPU_LIKE"  # read by cpu_like.c; not RAG_*, which the bench's runner keeps from its tasks

# What each CPU keeps of the flags the bench reports (``bench.report.CPU_FLAGS``); everything newer
# is cleared (cpu_like.c).
CPUS: dict[str, frozenset[str]] = {
    "haswell": frozenset({"avx2"}),  # and AMD Zen 1-3: AVX2 and FMA, no AVX-512, no VNNI
    "skylake-avx512": frozenset({"avx2", "avx512f"}),  # Xeon Skylake-SP: AVX-512 without VNNI
    "cascadelake": frozenset({"avx2", "avx512f", "avx512_vnni"}),  # Xeon Cascade/Ice Lake, Intel laptops 2019-21
    "alderlake": frozenset({"avx2", "avx_vnni"}),  # Intel Core 12th gen on: AVX-VNNI without AVX-512
}


class CpuLikeUnavailableError(UsageError):
    """This machine cannot run the bench as another CPU (not x86-64 Linux, no CPUID faulting, no C compiler)."""


def masked_flags(flags: dict[str, bool], cpu: str) -> dict[str, bool]:
    """``flags`` as the tasks see them on ``cpu``: a flag stays only where both this CPU and ``cpu`` have it."""
    return {name: have and name in CPUS[cpu] for name, have in flags.items()}


def build(folder: Path) -> Path:
    """Compile ``cpu_like.c`` into ``folder``; raises ``CpuLikeUnavailableError`` saying why it cannot run here."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise CpuLikeUnavailableError(f"--cpu-like needs x86-64 Linux, not {platform.system()} {platform.machine()}")
    try:
        flags = cpuinfo_flags(Path("/proc/cpuinfo").read_text())
    except OSError:
        flags = set()
    if "cpuid_fault" not in flags:
        raise CpuLikeUnavailableError("--cpu-like needs a CPU with CPUID faulting (the cpuid_fault flag in "
                                      "/proc/cpuinfo), which this one does not have")
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        raise CpuLikeUnavailableError("--cpu-like compiles bench/cpu_like.c and needs a C compiler (cc or gcc)")
    folder.mkdir(parents=True, exist_ok=True)
    library = folder / "cpu_like.so"
    partial = folder / f".cpu_like-{os.getpid()}.so"  # renamed into place whole: a run beside uses the old one
    done = subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-o", str(partial), str(SOURCE), "-ldl"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        said = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise CpuLikeUnavailableError(f"cannot compile {SOURCE.name} with {compiler}: {said}")
    os.replace(partial, library)
    return library


def environment(cpu: str, library: Path) -> dict[str, str]:
    """The variables that make a child process run as ``cpu`` (added to its environment)."""
    if cpu not in CPUS:
        raise CpuLikeUnavailableError(f"unknown CPU {cpu!r} for --cpu-like; choose one of: {', '.join(sorted(CPUS))}")
    preload = os.environ.get("LD_PRELOAD", "")
    return {ENV: cpu, "LD_PRELOAD": f"{library} {preload}".strip()}


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.cpu_like CPU COMMAND [ARG ...]``: run COMMAND as ``CPU`` (exit 2 when it cannot run here)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or args[0] not in CPUS:
        print(f"usage: python -m bench.cpu_like {{{','.join(sorted(CPUS))}}} COMMAND [ARG ...]", file=sys.stderr)
        return 2
    try:
        library = build(Path(tempfile.gettempdir()) / f"rag-cpu-like-{os.getuid()}")
    except CpuLikeUnavailableError as exc:
        print(f"bench.cpu_like: {exc}", file=sys.stderr)
        return 2
    os.execvpe(args[1], args[1:], {**os.environ, **environment(args[0], library)})
    return 0  # not reached: exec replaces this process


if __name__ == "__main__":
    sys.exit(main())
