"""How many CPUs this process may use, and the features of its x86 CPU."""

from __future__ import annotations

import ctypes
import functools
import mmap
import os
import platform
import sys
from typing import Any


def usable_cores() -> int:
    """The cores this process may run on: its affinity mask (as a container or ``taskset`` sets it)
    where the system has one, else every core.

    >>> usable_cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


# x86-64 machine code for ``void cpuid(uint32 leaf, uint32 subleaf, uint32 out[6])``: the four CPUID
# registers, then XCR0 (which register states the OS saves) when the CPU has XGETBV, else 0.
_CPUID_CODE = bytes([
    0x53,                          # push rbx
    0x49, 0x89, 0xD0,              # mov r8, rdx
    0x89, 0xF8,                    # mov eax, edi
    0x89, 0xF1,                    # mov ecx, esi
    0x0F, 0xA2,                    # cpuid
    0x41, 0x89, 0x00,              # mov [r8], eax
    0x41, 0x89, 0x58, 0x04,        # mov [r8+4], ebx
    0x41, 0x89, 0x48, 0x08,        # mov [r8+8], ecx
    0x41, 0x89, 0x50, 0x0C,        # mov [r8+12], edx
    0x5B,                          # pop rbx
    0xC3,                          # ret
])
_XGETBV_CODE = bytes([0x31, 0xC9, 0x0F, 0x01, 0xD0, 0x48, 0xC1, 0xE2, 0x20, 0x48, 0x09, 0xD0, 0xC3])
# xor ecx, ecx; xgetbv; shl rdx, 32; or rax, rdx; ret


@functools.cache
def x86_features() -> dict[str, bool] | None:
    """The CPU features the embedding precision depends on, read with the CPUID instruction itself
    (and XCR0: a feature counts only if the OS saves its registers), or None where that cannot run
    (not x86-64, or the system refuses executable memory).

    Why by hand: the only library here that reads them is torch, whose import (~1.4 s) a cold process
    embedding in int8 on onnxruntime otherwise never pays; Python has no CPUID of its own.

    >>> features = x86_features()
    >>> features is None or set(features) == {"avx2", "avx512_f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile"}
    True
    """
    if platform.machine().lower() not in ("x86_64", "amd64") or sys.platform == "win32":
        return None
    try:
        cpuid, xgetbv = _executable(_CPUID_CODE, ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint32,
                                                                  ctypes.POINTER(ctypes.c_uint32))), \
            _executable(_XGETBV_CODE, ctypes.CFUNCTYPE(ctypes.c_uint64))
    except (OSError, ValueError):
        return None

    def regs(leaf: int, sub: int = 0) -> tuple[int, int, int, int]:
        out = (ctypes.c_uint32 * 4)()
        cpuid(leaf, sub, out)
        return out[0], out[1], out[2], out[3]

    top = regs(0)[0]
    osxsave = bool(regs(1)[2] >> 27 & 1)
    xcr0 = xgetbv() if osxsave else 0
    ymm = xcr0 & 0b110 == 0b110
    zmm = ymm and xcr0 & 0b11100000 == 0b11100000
    tiles = xcr0 & (0b11 << 17) == 0b11 << 17
    _, b7, c7, d7 = regs(7) if top >= 7 else (0, 0, 0, 0)
    a71 = regs(7, 1)[0] if top >= 7 else 0
    return {"avx2": ymm and bool(b7 >> 5 & 1), "avx512_f": zmm and bool(b7 >> 16 & 1),
            "avx512_vnni": zmm and bool(c7 >> 11 & 1), "avx_vnni": ymm and bool(a71 >> 4 & 1),
            "avx512_bf16": zmm and bool(a71 >> 5 & 1), "amx_tile": tiles and bool(d7 >> 24 & 1)}


_pages: list[mmap.mmap] = []  # the code's pages, kept for the process's life


def _executable(code: bytes, kind: Any) -> Any:
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    _pages.append(page)
    return kind(ctypes.addressof(ctypes.c_char.from_buffer(page)))
