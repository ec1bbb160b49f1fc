"""Eval corpora that live outside the repository: Python's HTML documentation and two PDF manuals
from Debian.

``evals/datasets/pydocs.jsonl`` asks questions about ~40 pages of Python's own documentation
(Debian's ``python3.11-doc`` package), documents nobody on this project wrote. The page list is
``evals/datasets/pydocs_pages.txt``; ``pydocs_folder`` copies just those pages into a folder to
index, keeping their ``library/`` and ``tutorial/`` sub-folders so each case's ``source`` matches.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rag.errors import RagError

PYDOCS_ROOT = Path("/usr/share/doc/python3.11/html")
PYDOCS_PAGES = Path(__file__).resolve().parent / "datasets" / "pydocs_pages.txt"
PYDOCS_DATASET = Path(__file__).resolve().parent / "datasets" / "pydocs.jsonl"
# ``evals/datasets/pdfs.jsonl`` asks about two PDF manuals (file name: where Debian installs it, its package).
DEBIAN_PDFS = {
    "libtasn1.pdf": (Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf"), "libtasn1-doc"),
    "shared-mime-info-spec.pdf": (Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"),
                                  "shared-mime-info"),
}



class CorpusMissingError(RagError, FileNotFoundError):
    """Pages of the documentation corpus are not installed; the message says how to install them."""

def pydocs_pages(listing: Path = PYDOCS_PAGES) -> list[str]:
    """Relative paths of the pages the pydocs dataset is about."""
    lines = (line.strip() for line in listing.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def pydocs_folder(dest: str | Path, root: str | Path = PYDOCS_ROOT, listing: Path = PYDOCS_PAGES) -> Path:
    """Copy the listed pages from ``root`` into ``dest`` (idempotent); returns ``dest``.

    >>> pydocs_folder("/tmp/pydocs")  # doctest: +SKIP
    PosixPath('/tmp/pydocs')
    """
    root, dest = Path(root), Path(dest)
    missing = [page for page in pydocs_pages(listing) if not (root / page).is_file()]
    if missing:
        raise CorpusMissingError(
            f"{len(missing)} page(s) of Python's documentation are missing under {root} (first: {missing[0]}); "
            "install them with 'sudo apt-get install python3.11-doc'")
    for page in pydocs_pages(listing):
        target = dest / page
        if not target.is_file() or target.stat().st_size != (root / page).stat().st_size:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / page, target)
    return dest


def debian_pdfs_folder(dest: str | Path) -> Path:
    """Copy the PDF manuals ``pdfs.jsonl`` asks about into ``dest`` (idempotent); returns ``dest``.

    >>> debian_pdfs_folder("/tmp/pdfs")  # doctest: +SKIP
    PosixPath('/tmp/pdfs')
    """
    dest = Path(dest)
    missing = sorted(package for path, package in DEBIAN_PDFS.values() if not path.is_file())
    if missing:
        raise CorpusMissingError(f"the PDF manuals are not installed: 'sudo apt-get install {' '.join(missing)}'")
    dest.mkdir(parents=True, exist_ok=True)
    for name, (path, _) in DEBIAN_PDFS.items():
        if not (dest / name).is_file() or (dest / name).stat().st_size != path.stat().st_size:
            shutil.copyfile(path, dest / name)
    return dest
