"""The int8 precision without the model: when ``auto`` picks it, how its converted model is cached
(atomic, reused), and the one sentence a missing package gives."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from bench.report import cpu_flags
from index import embedding, onnx_minilm
from index.embedding import MiniLMEmbedder, resolve_precision
from index.errors import RagError
from index.onnx_minilm import Int8UnavailableError, OnnxMiniLM, int8_model_file


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    """A folder with a weights file: enough for the cache file's fingerprint."""
    folder = tmp_path / "minilm"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights" * 1000)
    return folder


@pytest.mark.parametrize(("features", "enabled", "installed", "expected"), [
    ({"amx_tile", "avx512_vnni", "avx512_f", "avx2"}, True, True, "bfloat16"),  # hardware bfloat16 wins
    ({"avx512_bf16", "avx512_f", "avx2"}, True, True, "bfloat16"),
    ({"avx512_vnni", "avx512_f", "avx2"}, True, True, "int8"),  # Cascade Lake: VNNI, no bfloat16
    ({"avx_vnni", "avx2"}, True, True, "int8"),                 # Alder Lake: AVX-VNNI without AVX-512
    ({"avx512_f", "avx2"}, True, True, "float32"),              # Skylake-SP: AVX-512 without VNNI
    ({"avx2"}, True, True, "float32"),                          # AVX2 alone: int8 failed the eval gate
    (set(), True, True, "float32"),                             # ARM, or a torch that cannot tell
    ({"avx512_vnni", "avx512_f", "avx2"}, False, True, "float32"),  # int8 not enabled as a default
    ({"avx512_vnni", "avx512_f", "avx2"}, True, False, "float32"),  # its packages missing: auto never fails
])
def test_auto_picks_int8_only_without_hardware_bfloat16_and_with_vnni(
        monkeypatch: pytest.MonkeyPatch, features: set[str], enabled: bool, installed: bool, expected: str) -> None:
    monkeypatch.setattr(embedding, "_cpu_capabilities", lambda: dict.fromkeys(features, True))
    monkeypatch.setattr(embedding, "AUTO_INT8", enabled)
    monkeypatch.setattr(onnx_minilm, "int8_available", lambda: installed)
    assert resolve_precision("auto", int8=True) == expected
    assert MiniLMEmbedder(precision="auto").precision == expected


@pytest.mark.parametrize(("features", "seven_bit"), [({"avx512_vnni", "avx512_f", "avx2"}, False),
                                                     ({"avx_vnni", "avx2"}, False),
                                                     ({"avx512_f", "avx2"}, True), ({"avx2"}, True)])
def test_without_vnni_the_int8_model_keeps_7_bit_weights_in_a_file_of_its_own(
        monkeypatch: pytest.MonkeyPatch, model_folder: Path, tmp_path: Path, features: set[str],
        seven_bit: bool) -> None:
    """On AVX2's kernels 8-bit weights can saturate onnxruntime's 16-bit sums (README "Speed")."""
    monkeypatch.setattr(embedding, "_cpu_capabilities", lambda: dict.fromkeys(features, True))
    loaded: list[bool] = []

    class Int8Model:
        dimension = 384

    def load(cls: type, folder: Path, cache: Path | None = None, seven_bit: bool = False) -> Int8Model:
        loaded.append(seven_bit)
        return Int8Model()

    monkeypatch.setattr(OnnxMiniLM, "load", classmethod(load))
    assert isinstance(MiniLMEmbedder(model_folder, precision="int8", cache_dir=tmp_path).load(), Int8Model)
    assert loaded == [seven_bit]
    calls: list[str] = []
    _fake_conversion(monkeypatch, calls)
    eight, seven = int8_model_file(model_folder, tmp_path / "cache"), int8_model_file(model_folder, tmp_path / "cache",
                                                                                      seven_bit=True)
    assert eight != seven and "-int8w7-" in seven.name and "-int8-" in eight.name
    assert calls == ["export", "quantize 8-bit", "export", "quantize 7-bit"]


def test_auto_never_picks_int8_for_a_model_without_that_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedding, "cpu_has_fast_bfloat16", lambda: False)
    monkeypatch.setattr(embedding, "AUTO_INT8", True)
    monkeypatch.setattr(onnx_minilm, "int8_available", lambda: True)
    assert resolve_precision("auto") == "float32"
    assert resolve_precision("int8") == "int8"


def _fake_conversion(monkeypatch: pytest.MonkeyPatch, calls: list[str], fail: bool = False) -> None:
    monkeypatch.setattr(onnx_minilm, "_require", lambda name: None)

    def export(folder: Path, target: Path) -> None:
        calls.append("export")
        target.write_bytes(b"fp32 model")

    def quantize(source: Path, target: Path, seven_bit: bool = False) -> None:
        calls.append(f"quantize {7 if seven_bit else 8}-bit")
        target.write_bytes(b"int8 model, first half")
        if fail:
            raise KeyboardInterrupt  # the process stopped half-way through writing
        with target.open("ab") as f:
            f.write(b", second half")

    monkeypatch.setattr(onnx_minilm, "export_onnx", export)
    monkeypatch.setattr(onnx_minilm, "quantize_int8", quantize)


def test_the_model_is_converted_once_then_reused(monkeypatch: pytest.MonkeyPatch, model_folder: Path,
                                                 tmp_path: Path) -> None:
    calls: list[str] = []
    _fake_conversion(monkeypatch, calls)
    first = int8_model_file(model_folder, tmp_path / "cache")
    second = int8_model_file(model_folder, tmp_path / "cache")
    assert first == second and first.read_bytes() == b"int8 model, first half, second half"
    assert calls == ["export", "quantize 8-bit"]
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [first.name]  # no temporary files left


def test_a_crash_while_converting_leaves_no_model_and_the_next_use_converts_again(
        monkeypatch: pytest.MonkeyPatch, model_folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    calls: list[str] = []
    _fake_conversion(monkeypatch, calls, fail=True)
    with pytest.raises(KeyboardInterrupt):
        int8_model_file(model_folder, cache)
    assert list(cache.iterdir()) == []  # neither a half-written model nor the temporary folder
    _fake_conversion(monkeypatch, calls)
    assert int8_model_file(model_folder, cache).read_bytes() == b"int8 model, first half, second half"


def test_conversions_at_once_each_leave_a_whole_model(monkeypatch: pytest.MonkeyPatch, model_folder: Path,
                                                      tmp_path: Path) -> None:
    calls: list[str] = []
    _fake_conversion(monkeypatch, calls)
    results: list[bytes] = []
    start = threading.Barrier(4)

    def convert() -> None:
        start.wait()
        results.append(int8_model_file(model_folder, tmp_path / "cache").read_bytes())

    threads = [threading.Thread(target=convert) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [b"int8 model, first half, second half"] * 4
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_other_weights_get_their_own_cached_model(monkeypatch: pytest.MonkeyPatch, model_folder: Path,
                                                  tmp_path: Path) -> None:
    _fake_conversion(monkeypatch, [])
    first = int8_model_file(model_folder, tmp_path / "cache")
    tuned = tmp_path / "fine-tuned"
    tuned.mkdir()
    (tuned / "model.safetensors").write_bytes(b"fine-tuned" * 1000)
    assert int8_model_file(tuned, tmp_path / "cache") != first
    assert int8_model_file(model_folder, tmp_path / "cache") == first


def test_a_missing_onnxruntime_is_one_sentence(monkeypatch: pytest.MonkeyPatch, model_folder: Path,
                                               tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    # Converting needs it, and so does running a model converted earlier.
    with pytest.raises(Int8UnavailableError) as converting:
        MiniLMEmbedder(model_folder, precision="int8", cache_dir=tmp_path / "cache").embed(["hello"])
    with pytest.raises(Int8UnavailableError) as running:
        OnnxMiniLM(tmp_path / "converted-earlier.onnx", tokenizer=None).session()
    for error in (converting.value, running.value):
        message = str(error)
        assert isinstance(error, RagError) and error.exit_code == 2
        assert "onnxruntime package" in message and "'pip install onnxruntime'" in message
        assert message.count(". ") == 0 and "\n" not in message


def test_int8_is_refused_for_another_model_in_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    from index.models import ModelInfo

    info = ModelInfo.__new__(ModelInfo)
    object.__setattr__(info, "name", "bge-small-en-v1.5")
    monkeypatch.setattr(embedding, "model_info", lambda model: info)
    with pytest.raises(RagError, match="int8 embedding precision is for the packaged all-MiniLM-L6-v2 only"):
        embedding.load_embedder("/models/bge-small-en-v1.5", precision="int8")


def test_a_cache_folder_that_cannot_be_written_is_one_sentence(monkeypatch: pytest.MonkeyPatch,
                                                                model_folder: Path, tmp_path: Path) -> None:
    _fake_conversion(monkeypatch, [])
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(Int8UnavailableError, match=r"cannot write the int8 model into .*a-file/models .*; set "
                                                   r"XDG_CACHE_HOME to a writable folder"):
        int8_model_file(model_folder, tmp_path / "a-file" / "models")


def test_int8_chosen_by_auto_falls_back_to_float32_when_it_cannot_be_made(
        monkeypatch: pytest.MonkeyPatch, model_folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """``auto`` never fails where float32 works; int8 asked for by name still says why it cannot be."""
    from index import minilm

    monkeypatch.setattr(embedding, "_cpu_capabilities", lambda: {"avx512_vnni": True})
    monkeypatch.setattr(onnx_minilm, "int8_available", lambda: True)
    _fake_conversion(monkeypatch, [])
    loaded: list[str] = []

    class Float32Model:
        dimension = 384

    def load_float32(folder: Path, precision: str) -> Float32Model:
        loaded.append(precision)
        return Float32Model()

    monkeypatch.setattr(minilm.MiniLM, "load", staticmethod(load_float32))
    (tmp_path / "a-file").write_text("not a folder")
    unwritable = tmp_path / "a-file" / "models"

    chosen = MiniLMEmbedder(model_folder, precision="auto", cache_dir=unwritable)
    assert chosen.precision == "int8"
    assert isinstance(chosen.load(), Float32Model) and chosen.precision == "float32" and loaded == ["float32"]
    assert "embedding in float32 instead of int8: cannot write the int8 model" in caplog.text
    with pytest.raises(Int8UnavailableError):
        MiniLMEmbedder(model_folder, precision="int8", cache_dir=unwritable).load()


def test_int8_dot_products_are_read_from_the_cpu() -> None:
    """The real check on this machine agrees with the CPU's own flags (Linux)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo")
    flags = cpu_flags(cpuinfo.read_text())
    assert embedding.cpu_has_int8_dot_products() == (flags["avx512_vnni"] or flags["avx_vnni"])
    assert embedding.cpu_has_fast_bfloat16() == (flags["amx_tile"] or flags["avx512_bf16"])


def test_the_features_read_with_cpuid_are_the_ones_torch_reads() -> None:
    """``index.cpus.x86_features`` (no torch import) decides as torch's own reading would."""
    from index.cpus import x86_features

    features = x86_features()
    if features is None:
        pytest.skip("not an x86-64 CPU")
    import torch

    capabilities = torch.cpu.get_capabilities()
    assert features == {name: bool(capabilities[name]) for name in features}
