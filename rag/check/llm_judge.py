"""The LLM judge: asks the configured model whether a cited passage supports a sentence.

Same interface as ``rag.check.support.HeuristicJudge`` (``name``, ``check``, ``check_many``), so it
plugs into ``rag.check.checker.check_text`` unchanged. yes / partial / no become supported / weak /
unsupported. A reply it cannot read is "unsupported" with the reply as the reason (or, when a
``fallback`` judge is given, that judge's verdict), never silently "supported".
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser

from rag.answer.llm import with_max_tokens
from rag.answer.prompting import claims_prompt, escape, judge_prompt
from rag.check.support import HeuristicJudge
from rag.llm.errors import BackendError, translate_error
from rag.records import Support, Verdict

_VERDICTS: dict[str, tuple[Verdict, float]] = {
    "yes": ("supported", 1.0), "partial": ("weak", 0.5), "partially": ("weak", 0.5), "no": ("unsupported", 0.0),
}
_WORD = re.compile(r"\b(yes|partially|partial|no)\b", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")


def parse_verdict(reply: str) -> tuple[Verdict, float] | None:
    """The first yes / partial / no in the model's reply, as (verdict, score).

    >>> parse_verdict("Partial. The passage gives the year but not the place.")
    ('weak', 0.5)
    >>> parse_verdict("I cannot tell") is None
    True
    """
    match = _WORD.search(reply)
    return _VERDICTS[match.group(1).lower()] if match else None


class LLMJudge:
    """Support verdicts from a chat model (``RAG_JUDGE=llm``).

    >>> from langchain_core.language_models import FakeListChatModel
    >>> judge = LLMJudge(FakeListChatModel(responses=["no"]), "demo")
    >>> judge.check("Sales rose 5%.", "Sales rose 7%.").verdict
    'unsupported'
    >>> judge.name
    'llm:demo'
    """

    def __init__(self, model: BaseChatModel, model_name: str, *, where: str = "", max_tokens: int = 8,
                 max_concurrency: int = 4, fallback: HeuristicJudge | None = None) -> None:
        self.name = f"llm:{model_name}"
        self.model_name = model_name
        self.where = where or model_name
        self.max_concurrency = max_concurrency
        self.fallback = fallback
        self.chain = judge_prompt() | with_max_tokens(model, max_tokens) | StrOutputParser()
        self.claims_chain = claims_prompt() | with_max_tokens(model, 256) | StrOutputParser()

    def claims(self, answer: str) -> list[str]:
        """The answer split by the model into self-contained factual statements (RAGAS's first step
        of faithfulness); bullets and numbering removed, empty lines dropped.

        >>> from langchain_core.language_models import FakeListChatModel
        >>> model = FakeListChatModel(responses=["- Kyiv rejected it.\\n2. Kyiv wants guarantees."])
        >>> LLMJudge(model, "demo").claims("x")
        ['Kyiv rejected it.', 'Kyiv wants guarantees.']
        """
        reply: str = self._calling_the_model(lambda: self.claims_chain.invoke({"answer": escape(answer)}))
        lines = (_BULLET.sub("", line).strip() for line in reply.splitlines())
        return [line for line in lines if line and not line.lower().startswith("statements")]

    def check(self, sentence: str, passage: str) -> Support:
        return self.check_many([(sentence, passage)])[0]

    def check_many(self, pairs: Sequence[tuple[str, str]]) -> list[Support]:
        """One model call per (sentence, cited passage text) pair, run concurrently."""
        if not pairs:
            return []
        with self._server_errors_said():
            replies: list[str] = self.chain.batch(_inputs(pairs), config={"max_concurrency": self.max_concurrency})
        return [self._support(reply, pair) for reply, pair in zip(replies, pairs, strict=True)]

    async def acheck_many(self, pairs: Sequence[tuple[str, str]]) -> list[Support]:
        """``check_many`` on an event loop: ``Assistant`` runs it where the answer's reader can stop
        it (``rag.llm.streaming.stoppable_call``), since a blocking ``batch`` cannot be cancelled."""
        if not pairs:
            return []
        with self._server_errors_said():
            replies: list[str] = await self.chain.abatch(_inputs(pairs),
                                                         config={"max_concurrency": self.max_concurrency})
        # Off the event loop: a reply the judge cannot read goes to the fallback judge, which embeds,
        # and would hold up every model stream on the loop meanwhile.
        return await asyncio.to_thread(lambda: [self._support(r, p) for r, p in zip(replies, pairs, strict=True)])

    def _calling_the_model(self, call: Callable[[], Any]) -> Any:
        """``call()``, with a failure of the model's server said in one sentence (``BackendError``)."""
        with self._server_errors_said():
            return call()

    @contextmanager
    def _server_errors_said(self) -> Iterator[None]:
        """A failure of the model's server raised as one sentence (``BackendError``); anything else,
        a ``BackendError`` already included, as it is."""
        try:
            yield
        except BackendError:
            raise
        except Exception as exc:
            translated = translate_error(exc, self.where, self.model_name)
            if translated is None:
                raise
            raise translated from exc

    def _support(self, reply: str, pair: tuple[str, str]) -> Support:
        parsed = parse_verdict(reply)
        said = " ".join(reply.split())[:60]
        if parsed is None:
            if self.fallback is not None:
                backup = self.fallback.check(*pair)
                return Support(backup.verdict, backup.score, f"{self.name}+{backup.judge}",
                               (f"model reply not understood: {said!r}", *backup.reasons))
            return Support("unsupported", 0.0, self.name, (f"model reply not understood: {said!r}",))
        verdict, score = parsed
        return Support(verdict, score, self.name, (f"model said: {said}",))


def _inputs(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """The judge prompt's variables for each (sentence, passage) pair, escaped."""
    return [{"sentence": escape(s), "passage": escape(p)} for s, p in pairs]
