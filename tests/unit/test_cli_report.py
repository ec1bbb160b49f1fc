"""What `rag ingest` prints for its report (rag.cli._print_report)."""

from __future__ import annotations

import io

from index.ingest import FileError, IngestReport
from rag.cli import _print_report


def test_each_failed_file_is_one_line_naming_it_once_with_its_reason() -> None:
    report = IngestReport()
    report.files_added = 2
    report.files_failed.append(FileError("/docs/broken.pdf", "not a readable PDF (damaged)"))
    report.files_failed.append(FileError("/docs/evil\nname.txt", "too large"))
    out = io.StringIO()
    _print_report(report, False, out)
    failed = [line for line in out.getvalue().splitlines() if line.startswith("  failed: ")]
    assert failed == ["  failed: /docs/broken.pdf: not a readable PDF (damaged)",
                      "  failed: /docs/evil\\nname.txt: too large"]  # a file name cannot forge a line
    assert "2 added, 0 updated, 0 unchanged, 2 failed" in out.getvalue()
