"""The embedding path ``auto`` takes on CPUs this machine is not, run for real: each case is a fresh
process shown an older CPU's features by ``bench/cpu_like.c`` (CPUID faulting), with the real model.

On a CPU without VNNI the int8 model keeps 7-bit weights, so onnxruntime's 16-bit pair sums cannot
saturate: its integer products are the ones a VNNI CPU computes from that model (README "Speed")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.cpu_like import CpuLikeUnavailableError, build, environment, masked_flags
from bench.report import cpu_flags
from index.embedding import MiniLMEmbedder, cpu_has_int8_dot_products
from tests.integration.conftest import example_paragraphs

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json, sys
import numpy as np
from index import embedding
from index.embedding import MiniLMEmbedder
texts = json.loads(sys.stdin.read())
model = MiniLMEmbedder(precision=sys.argv[3], cache_dir=sys.argv[1])
vectors = model.embed(texts)
np.save(sys.argv[2], vectors)
print(json.dumps({"auto": model.precision, "vnni": embedding.cpu_has_int8_dot_products(),
                  "bfloat16": embedding.cpu_has_fast_bfloat16(),
                  "model_file": getattr(model.load(), "model_file", None) and model.load().model_file.name}))
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return build(tmp_path_factory.mktemp("cpu-like"))
    except CpuLikeUnavailableError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return example_paragraphs(ROOT / "examples")[:40]


def _run_as(cpu: str, library: Path, texts: list[str], cache: Path, out: Path, precision: str = "auto"
            ) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(environment(cpu, library), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", _PROBE, str(cache), str(out), precision], input=json.dumps(texts),
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


@pytest.mark.parametrize("cpu", ["haswell", "skylake-avx512", "alderlake", "cascadelake"])
def test_auto_takes_int8_only_with_vnni_and_its_weights_keep_7_bits_without_it(
        cpu: str, library: Path, texts: list[str], tmp_path: Path) -> None:
    # What the CPU run as keeps of this one's features (a feature this CPU lacks is never added).
    flags = masked_flags(cpu_flags(Path("/proc/cpuinfo").read_text()), cpu)
    vnni = flags["avx512_vnni"] or flags["avx_vnni"]
    seen = _run_as(cpu, library, texts, tmp_path / "cache", tmp_path / "auto.npy")
    assert seen["bfloat16"] is False and seen["vnni"] is vnni
    assert seen["auto"] == ("int8" if vnni else "float32")
    float32 = MiniLMEmbedder(precision="float32").embed(texts)
    if not vnni:
        assert _cosines(np.load(tmp_path / "auto.npy"), float32).min() >= 0.9999
    seen = _run_as(cpu, library, texts, tmp_path / "cache", tmp_path / "int8.npy", precision="int8")
    assert seen["model_file"] is not None and ("-int8w7-" in str(seen["model_file"])) is (not vnni)
    assert _cosines(np.load(tmp_path / "int8.npy"), float32).min() >= 0.98


def test_without_vnni_the_7_bit_model_gives_the_vectors_a_vnni_cpu_gives(
        library: Path, texts: list[str], tmp_path: Path) -> None:
    """The same 7-bit model here (with VNNI) and as CPUs without it: its integer products are exact
    on all, so on AVX-512 without VNNI the vectors are the same; AVX2's float kernels (which also
    quantise each activation) round differently, as they do for 8-bit weights on AVX-VNNI CPUs."""
    if not cpu_has_int8_dot_products():
        pytest.skip("this CPU has no VNNI to compare with")
    from index.embedding import minilm_path
    from index.onnx_minilm import OnnxMiniLM

    here = OnnxMiniLM.load(minilm_path(), tmp_path / "cache", seven_bit=True).encode(texts)
    for cpu, least in (("skylake-avx512", 0.99999), ("haswell", 0.995)):
        _run_as(cpu, library, texts, tmp_path / "cache", tmp_path / f"{cpu}.npy", precision="int8")
        assert _cosines(here, np.load(tmp_path / f"{cpu}.npy")).min() >= least, cpu


def test_any_command_runs_as_another_cpu(library: Path) -> None:
    """``python -m bench.cpu_like CPU COMMAND``, as the eval gate of each CPU's path was run."""
    probe = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    done = subprocess.run([sys.executable, "-m", "bench.cpu_like", "haswell", sys.executable, "-c", probe],
                          capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert done.returncode == 0 and done.stdout.split() == ["AVX2"], done.stderr[-2000:]
