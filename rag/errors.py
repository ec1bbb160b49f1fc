"""The failures a user can act on, in one place for the surfaces above ``rag`` (``ui`` imports only ``rag``).

Each carries one sentence that says what is wrong and how to fix it. Until the project has one
common base error, callers catch ``USER_ERRORS``.

>>> issubclass(SettingsError, USER_ERRORS)
True
"""

from __future__ import annotations

from index.lock import IndexBusyError
from index.store import IndexMismatchError, StoreUnavailableError
from rag.llm_errors import BackendError
from rag.settings import SettingsError

USER_ERRORS: tuple[type[Exception], ...] = (SettingsError, IndexBusyError, IndexMismatchError, StoreUnavailableError,
                                            BackendError)

__all__ = ["USER_ERRORS", "BackendError", "IndexBusyError", "IndexMismatchError", "SettingsError",
           "StoreUnavailableError"]
