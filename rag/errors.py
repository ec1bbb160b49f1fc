"""The errors a user can fix, for the packages above ``rag`` (``ui``, ``evals``), which do not import
``index``. ``RagError`` is the one base; its home is ``index.errors``.

>>> from rag.errors import RagError, SettingsError
>>> issubclass(SettingsError, RagError)
True
"""

from index.errors import RagError, UsageError
from index.lock import IndexBusyError
from index.records import LoadError
from index.remote_embedding import EmbeddingServerError
from index.storage import DiskFullError, IndexDamagedError, IndexFolderError, IndexReadOnlyError, IndexWriteError
from index.store import IndexMismatchError, StoreUnavailableError
from rag.llm.errors import BackendError
from rag.settings import SettingsError

__all__ = ["BackendError", "DiskFullError", "EmbeddingServerError", "IndexBusyError", "IndexDamagedError",
           "IndexFolderError", "IndexMismatchError", "IndexReadOnlyError", "IndexWriteError", "LoadError", "RagError",
           "SettingsError", "StoreUnavailableError", "UsageError"]
