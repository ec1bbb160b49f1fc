"""What ``rag`` offers about documents to the packages above it (``ui``, ``evals``), which do not
import ``index``: the file types it reads, loading one file as the indexer sees it, and the records.

>>> ".pdf" in SUPPORTED_SUFFIXES
True
"""

from index.loaders import SUPPORTED_SUFFIXES, load_file
from index.records import Chunk, Document

__all__ = ["SUPPORTED_SUFFIXES", "Chunk", "Document", "load_file"]
