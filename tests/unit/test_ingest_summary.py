"""What an ingest tells about the files it did not index: types it passed over in a folder, special
files, and indexed files gone from disk (a rename left the old name answering questions)."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import pytest

from index.ingest import FileError, IngestReport
from index.loaders import content_hash, discover, discover_all, load_file
from index.records import LoadError
from rag.assistant import Assistant
from rag.cli import _print_report
from rag.settings import Settings
from tests.fakes import WordEmbedder


def _assistant(tmp_path: Path) -> Assistant:
    return Assistant(tmp_path / "index", embedder=WordEmbedder(),
                     settings=Settings.load(env={}, config_file=tmp_path / "none.toml"))


def test_a_folder_walk_counts_the_files_it_passes_over_by_type(tmp_path: Path) -> None:
    # /usr/share/doc: what no loader reads was passed over without a word.
    docs = tmp_path / "docs"
    (docs / "pkg").mkdir(parents=True)
    (docs / "guide.txt").write_text("Herons wait in the shallows.")
    (docs / "pkg" / "backup.tar.gz").write_bytes(b"\x1f\x8b")
    (docs / "pkg" / "logo.png").write_bytes(b"\x89PNG")
    (docs / "pkg" / "run").write_text("#!/bin/sh")
    os.mkfifo(docs / "pkg" / "pipe.txt")  # opening it would block: passed over, counted
    found = discover_all([docs])
    assert [f.name for f in found.files] == ["guide.txt"]
    assert found.skipped == {".gz": 1, ".png": 1, "no extension": 1, "special file": 1}
    assert found.errors == []


def test_gzipped_documents_and_readme_like_names_are_read(tmp_path: Path) -> None:
    # Debian's documentation is README.Debian, changelog.Debian.gz, NEWS.Debian.gz: none was read. Its
    # licence file (copyright) stays out: boilerplate every package has.
    docs = tmp_path / "doc" / "openssh-client"
    docs.mkdir(parents=True)
    (docs / "README.Debian").write_text("Keys are regenerated on first boot.\n")
    (docs / "copyright").write_text("BSD licence.\n")
    (docs / "NEWS.Debian.gz").write_bytes(gzip.compress(b"DSA keys are no longer accepted by default.\n"))
    page = b"<title>FAQ</title><h1>Keys</h1><p>Use ssh-keygen -t ed25519.</p>"
    (docs / "faq.html.gz").write_bytes(gzip.compress(page))
    found = discover_all([docs.parent])
    assert sorted(f.name for f in found.files) == ["NEWS.Debian.gz", "README.Debian", "faq.html.gz"]
    assert found.skipped["no extension"] == 1  # copyright, counted as passed over
    news = load_file(docs / "NEWS.Debian.gz")
    assert news.text == "DSA keys are no longer accepted by default.\n"
    assert news.source == str(docs / "NEWS.Debian.gz")
    faq = load_file(docs / "faq.html.gz")
    assert faq.title == "FAQ" and "ssh-keygen -t ed25519" in faq.text
    # the hash ingest compares is that of the bytes read, with the inner type's parser revision
    assert faq.content_hash == content_hash((docs / "faq.html.gz").read_bytes(), ".html")


def test_a_damaged_or_oversized_gzip_is_its_own_error(tmp_path: Path) -> None:
    (tmp_path / "cut.txt.gz").write_bytes(gzip.compress(b"words " * 1000)[:40])
    with pytest.raises(LoadError, match=r"cut\.txt\.gz: not a readable gzip file"):
        load_file(tmp_path / "cut.txt.gz")
    (tmp_path / "bomb.txt.gz").write_bytes(gzip.compress(b"a" * 5_000_000))  # 5 MB from ~5 kB
    with pytest.raises(LoadError, match=r"bomb\.txt\.gz: inflates to over the 1,000,000-byte limit"):
        load_file(tmp_path / "bomb.txt.gz", max_bytes=1_000_000)


def test_a_gzipped_file_is_indexed_once_and_again_only_when_it_changes(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "changelog.Debian.gz").write_bytes(gzip.compress(b"Fixed the nightly backup at 02:30.\n"))
    a = _assistant(tmp_path)
    assert a.add(docs).files_added == 1
    assert a.add(docs).files_unchanged == 1  # the stored hash is the one ingest compares
    (docs / "changelog.Debian.gz").write_bytes(gzip.compress(b"Fixed the nightly backup at 03:30.\n"))
    assert a.add(docs).files_updated == 1


def test_a_named_pipe_named_on_its_own_is_said_to_be_one_not_missing(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    files, errors = discover([tmp_path / "pipe.txt"])
    assert files == []
    assert [e.reason for e in errors] == ["not a regular file (a named pipe); give a file or folder"]


def test_a_broken_link_found_in_a_folder_is_named_by_its_full_path_as_the_other_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    monkeypatch.chdir(tmp_path)
    _, errors = discover(["docs"])
    assert [e.path for e in errors] == [str(tmp_path / "docs" / "gone.txt")]


def test_ingest_reports_skipped_types_and_a_renamed_files_old_name(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "herons.txt").write_text("Herons wait in the shallows at dawn.\n")
    (docs / "otters.txt").write_text("Otters hunt fish under the bank.\n")
    (docs / "notes.gz").write_bytes(b"\x1f\x8b")
    a = _assistant(tmp_path)
    first = a.add(docs)
    assert first.files_skipped == {".gz": 1} and first.files_missing == []
    assert "missing" not in first.stages  # an index empty before the run holds no old name to scan for
    (docs / "herons.txt").rename(docs / "birds.txt")
    second = a.add(docs)
    assert second.files_added == 1
    assert second.files_missing == [str((docs / "herons.txt").resolve())] and "missing" in second.stages
    assert str((docs / "herons.txt").resolve()) in a.sources()  # reported, not removed: --prune removes
    assert second.to_dict()["files_missing"] == second.files_missing
    pruned = a.add(docs, prune=True)
    assert pruned.files_removed == 1 and pruned.files_missing == []


def test_an_empty_path_with_prune_never_prunes_the_current_folder(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Path("") is "."; a script's unset variable must not prune what is indexed under the folder it runs in.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "herons.txt").write_text("Herons wait in the shallows at dawn.\n")
    a = _assistant(tmp_path)
    a.add(docs)
    (docs / "herons.txt").unlink()
    monkeypatch.chdir(tmp_path)
    report = a.add("", prune=True)
    assert report.files_removed == 0 and len(a.sources()) == 1


def test_the_cli_summary_says_what_was_skipped_and_what_is_missing() -> None:
    report = IngestReport(files_added=1)
    report.files_skipped = {".gz": 9, "no extension": 3}
    report.files_failed.append(FileError("/docs/empty.txt", "file is empty"))
    report.files_missing = [f"/docs/old-{n}.txt" for n in range(12)]
    out = io.StringIO()
    _print_report(report, False, out)
    lines = out.getvalue().splitlines()
    assert lines[2].startswith("skipped: 12 files of types rag does not read (.gz 9, no extension 3); read: ")
    assert "12 indexed files under these paths no longer exist and still answer questions; " \
           "'rag ingest --prune' removes them:" in lines
    assert [line for line in lines if line.startswith("  missing: ")] == [
        f"  missing: /docs/old-{n}.txt" for n in range(10)]
    assert lines[-1] == "  … and 2 more ('rag ingest --json' lists them all)"


def test_a_clean_ingest_prints_no_skipped_or_missing_line() -> None:
    out = io.StringIO()
    _print_report(IngestReport(files_added=2), False, out)
    assert len(out.getvalue().splitlines()) == 2


def test_a_file_over_the_size_limit_says_which_setting_lets_it_in(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "big.txt").write_text("Herons wait in the shallows. " * 40_000)  # ~1.2 MB
    settings = Settings.load(env={"RAG_MAX_FILE_MB": "1"}, config_file=tmp_path / "none.toml")
    a = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    [failure] = a.add(tmp_path / "docs").files_failed
    assert failure.error == ("file is 1,160,000 bytes, over the 1,048,576-byte limit; "
                             "raise RAG_MAX_FILE_MB (now 1) to index it")


def test_a_gzipped_file_inflating_past_the_limit_says_which_setting_lets_it_in(tmp_path: Path) -> None:
    # Small on disk, so only the loader that inflated it knows it is over the limit.
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "big.txt.gz").write_bytes(gzip.compress(b"Herons wait in the shallows. " * 40_000))
    settings = Settings.load(env={"RAG_MAX_FILE_MB": "1"}, config_file=tmp_path / "none.toml")
    a = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    [failure] = a.add(tmp_path / "docs").files_failed
    assert failure.error == "inflates to over the 1,048,576-byte limit; raise RAG_MAX_FILE_MB (now 1) to index it"
