"""Hostile inputs in one batch: each gets its own specific error (or is decoded correctly) within
bounded time and memory, while the good files beside it are indexed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RAG = str(Path(sys.executable).with_name("rag"))
# Runs a command in a child and writes that child's own peak resident size (kB) to argv[1]: this
# process's RUSAGE_CHILDREN also counts earlier children (an embedding server of another test).
_PEAK = ("import resource, subprocess, sys\n"
         "r = subprocess.run(sys.argv[2:], capture_output=True, text=True)\n"
         "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr)\n"
         "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
         "sys.exit(r.returncode)\n")


def _pdf(path: Path, content_stream: bytes) -> None:
    """A one-page PDF whose page content is ``content_stream`` (already Flate-compressed)."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content_stream) + content_stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(bytes(out))


def _bomb_stream(inflated_mb: int) -> bytes:
    packer = zlib.compressobj(9)
    head = packer.compress(b"BT /F1 12 Tf 72 700 Td (Hello) Tj ET\n")
    block = b" " * (1 << 20)
    body = b"".join(packer.compress(block) for _ in range(inflated_mb))
    return head + body + packer.flush()


def _zip_bomb(path: Path, inflated_mb: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = b"0" * (1 << 20)
            for _ in range(inflated_mb):
                member.write(block)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("hostile")
    shutil.copy(ROOT / "examples" / "coral-reefs.txt", folder / "good-coral.txt")
    shutil.copy(ROOT / "examples" / "ukraine-security-talks.md", folder / "good-briefing.md")
    shutil.copy(ROOT / "examples" / "home-solar-guide.pdf", folder / "good-solar.pdf")
    expected = {}  # file name -> words its error must contain
    (folder / "empty.txt").write_bytes(b"")
    expected["empty.txt"] = "empty"
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 64)
    expected["binary.txt"] = "binary"
    (folder / "too-big.txt").write_text("lantern harbour " * 250_000)  # ~4 MB, limit set to 3 MB
    expected["too-big.txt"] = "limit"
    (folder / "nested.html").write_text("<html><body>" + "<div>" * 200_000 + "deep" + "</div>" * 200_000)
    (folder / "corrupt.pdf").write_bytes((ROOT / "examples" / "home-solar-guide.pdf").read_bytes()[:700])
    expected["corrupt.pdf"] = "PDF"
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(folder / "encrypted.pdf"), encrypt="secret")
    c.drawString(72, 700, "classified harbour schedule")
    c.save()
    expected["encrypted.pdf"] = "encrypted"
    _pdf(folder / "bomb.pdf", _bomb_stream(1024))
    expected["bomb.pdf"] = "decompression bomb"
    (folder / "not-a-zip.docx").write_bytes(b"this is plain text pretending to be a Word file")
    expected["not-a-zip.docx"] = "not a valid .docx"
    _zip_bomb(folder / "zip-bomb.docx", 1024)
    expected["zip-bomb.docx"] = "zip bomb"
    (folder / "utf16-nobom.txt").write_bytes("Kestrels nest on granite cliffs.".encode("utf-16-le"))
    (folder / "latin1-invalid-utf8.txt").write_bytes("Café crème brûlée at the harbour".encode("latin-1"))
    loop = folder / "sub"
    loop.mkdir()
    (loop / "again").symlink_to(folder, target_is_directory=True)
    (folder / "dangling.txt").symlink_to(folder / "does-not-exist.txt")
    expected["dangling.txt"] = "broken symbolic link"
    os.mkfifo(folder / "pipe.txt")  # a reader that blocks forever if opened: must be skipped
    return folder, expected


def test_each_hostile_file_gets_its_own_error_and_good_files_are_indexed(
        batch: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    folder, expected = batch
    peak = tmp_path / "peak-kb"
    run = subprocess.run([sys.executable, "-c", _PEAK, str(peak), RAG, "ingest", str(folder), "--index",
                          str(tmp_path / "index"), "--json"], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "RAG_MAX_FILE_MB": "3"})
    peak_mb = int(peak.read_text()) / 1024
    assert run.returncode == 1, run.stderr  # some files failed, the rest indexed
    report = json.loads(run.stdout)
    errors = {Path(f["path"]).name: f["error"] for f in report["files_failed"]}
    for name, words in expected.items():
        assert name in errors, f"{name} gave no error; errors: {errors}"
        assert words.lower() in errors[name].lower(), f"{name}: {errors[name]!r} should mention {words!r}"
    unexpected = {n: e for n, e in errors.items() if n not in expected}
    assert not unexpected, f"unexpected failures: {unexpected}"
    # Good files, decodable text and the deep HTML are all indexed.
    assert report["files_added"] == 6
    assert peak_mb < 2048, f"ingest peaked at {peak_mb:.0f} MB"
    sources = json.loads(subprocess.run([RAG, "sources", "--index", str(tmp_path / "index"), "--json"],
                                        capture_output=True, text=True, check=True).stdout)
    names = {Path(s).name for s in sources}
    assert {"good-coral.txt", "good-briefing.md", "good-solar.pdf", "nested.html", "utf16-nobom.txt",
            "latin1-invalid-utf8.txt"} == names


def test_decoded_text_is_right(batch: tuple[Path, dict[str, str]]) -> None:
    from index.loaders import load_file

    folder, _ = batch
    assert load_file(folder / "utf16-nobom.txt").text == "Kestrels nest on granite cliffs."
    assert load_file(folder / "latin1-invalid-utf8.txt").text == "Café crème brûlée at the harbour"
    assert "deep" in load_file(folder / "nested.html").text
