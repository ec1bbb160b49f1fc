"""Questions first: a write into Chroma waits (briefly) for the questions already reading the index.

Why: Chroma's embedded client holds Python's GIL through each of its calls (chroma-core/chroma
PR 7692, "Release GIL during metadata I/O", open), so while one thread writes, every other thread
of the process stands still. In ``rag ui`` and ``rag serve`` an upload writes in the same process
that answers other people's questions: a question asked during a 1,446-chunk upload took up to
3.8 s, against 0.13 s alone (README "Reliability"). So writes go in slices of ~0.3 s
(``index.store.CHUNK_ROWS_PER_WRITE``), and before each slice the writer lets the questions that
are already reading finish. Questions that begin after that do not delay the slice (they wait for
it, ~0.3 s at most): a question is held up by about one slice, and a stream of questions slows a
write by about one question per slice, never stops it (``MAX_WAIT_S`` bounds even a stuck one, once).
While people are asking, the writer also sleeps a share of each slice's time after it (``give_back``):
the web server's own thread, which every page's messages pass through, needs the GIL too.

The count is process-wide on purpose: the GIL is one per process, whatever index a thread reads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

MAX_WAIT_S = 0.5
"""Longest a write slice waits for the questions reading before it."""

GIVE_BACK = 0.3
"""After each write slice, while people are asking, the writer sleeps this share of the time the
slice held the GIL. Waiting for the questions already reading is not enough: a question that has
just arrived, and an answer just finished, still pass through the web server's event loop, which
got ~5 ms of GIL between back-to-back slices; in the browser one answer near the end of an upload
stood still for 2.6-3.3 s; with the pause, 0.9-1.1 s at worst (README "Reliability")."""

RECENT_S = 5.0
"""An answer is being given, or one began or ended within this many seconds: people are asking, so
writes pause between slices (``give_back``). A process nobody asks (``rag ingest``) never pauses."""


class QuestionsInFlight:
    """The questions of this process reading the index now, by when they began; a writer waits for
    the ones that began before it asked, not for later ones.

    >>> questions = QuestionsInFlight()
    >>> with questions.reading():
    ...     questions.wait_for_earlier(timeout=0.01)
    False
    >>> questions.wait_for_earlier(timeout=0.01)
    True
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._turn = 0  # goes up each time a writer asks to write
        self._reading: dict[int, int] = {}  # questions reading, by the turn in which they began
        self._waited_out = -1  # questions of this turn or earlier held a writer for a whole timeout
        self._waiting = 0
        self._last_active = float("-inf")  # time.monotonic() when a question last began or finished
        self._answering = 0  # answers being given now, an LLM's stream included (``answering``)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Around a question's reads of the index. Around a stream its caller may hold open, a
        writer waits for it once, for ``MAX_WAIT_S`` at most (``wait_for_earlier``)."""
        with self._changed:
            turn = self._turn
            self._reading[turn] = self._reading.get(turn, 0) + 1
            self._last_active = time.monotonic()
        try:
            yield
        finally:
            with self._changed:
                self._reading[turn] -= 1
                self._last_active = time.monotonic()
                if not self._reading[turn]:
                    del self._reading[turn]
                    self._changed.notify_all()

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Around a whole answer, however long it streams: while one is given, the web server's thread
        forwards it, and writes pause between slices (``give_back``). Unlike ``reading``, no write
        waits for it: an LLM's words leave the GIL free."""
        with self._changed:
            self._answering += 1
            self._last_active = time.monotonic()
        try:
            yield
        finally:
            with self._changed:
                self._answering -= 1
                self._last_active = time.monotonic()

    def wait_for_earlier(self, timeout: float = MAX_WAIT_S) -> bool:
        """Wait until the questions reading now have finished (those that begin meanwhile do not
        count), at most ``timeout`` seconds; whether they have. Questions that held a writer for a
        whole ``timeout`` (a stream its caller keeps open) are not waited for again."""
        with self._changed:
            self._turn += 1
            line = self._turn
            self._waiting += 1
            try:
                done = self._changed.wait_for(
                    lambda: all(turn >= line or turn <= self._waited_out for turn in self._reading), timeout=timeout)
                if not done:
                    self._waited_out = max(self._waited_out, line - 1)
                return done
            finally:
                self._waiting -= 1

    def give_back(self, held: float) -> float:
        """After a write call that held the GIL for ``held`` seconds: sleep ``GIVE_BACK`` of it while an
        answer is being given or one began or ended in the last ``RECENT_S`` seconds; the seconds slept
        (without holding any lock: questions begin and end meanwhile).

        >>> QuestionsInFlight().give_back(0.2)  # nobody asked: the writer goes straight on
        0.0
        """
        asking = self._answering > 0 or time.monotonic() - self._last_active < RECENT_S
        pause = GIVE_BACK * held if asking else 0.0
        if pause > 0:
            time.sleep(pause)
        return pause

    @property
    def writers_waiting(self) -> int:
        """How many writers are waiting for questions now."""
        with self._changed:
            return self._waiting


QUESTIONS = QuestionsInFlight()
"""This process's questions: ``rag.assistant`` counts them, ``index.store.write_slices`` waits for them."""
