"""What ``rag`` offers about documents to the packages above it (``ui``, ``evals``), which do not
import ``index``: the file types it reads, loading one file as the indexer sees it, the records,
what a collection may be called, and whether a folder holds an index.

>>> ".pdf" in SUPPORTED_SUFFIXES
True
"""

from index.loaders import PDFIUM_LOCK, SUPPORTED_SUFFIXES, load_file
from index.records import Chunk, Document
from index.store import require_index, valid_collection_name

__all__ = ["PDFIUM_LOCK", "SUPPORTED_SUFFIXES", "Chunk", "Document", "load_file", "require_index",
           "valid_collection_name"]
