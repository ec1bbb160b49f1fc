"""rag: answers from your own documents, every sentence cited, every citation checked.

>>> from rag import Assistant                     # doctest: +SKIP
>>> a = Assistant("./index")                      # doctest: +SKIP
>>> a.add("docs/")                                # doctest: +SKIP
>>> print(a.ask("what did Zelenskyy reject?").text)  # doctest: +SKIP
"""

from index.errors import RagError
from index.ingest import IngestProgress, IngestReport
from rag.assistant import Assistant, ChatSession
from rag.documents import SUPPORTED_SUFFIXES
from rag.records import Answer, AnswerSentence, Citation, Hit, Support
from rag.settings import Settings

__all__ = ["SUPPORTED_SUFFIXES", "Answer", "AnswerSentence", "Assistant", "ChatSession", "Citation", "Hit",
           "IngestProgress", "IngestReport", "RagError", "Settings", "Support"]
