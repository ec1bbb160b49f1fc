"""The progress bar of ``rag ingest``: the stage it is in, counted in that stage's own unit.

Files are read, parsed and chunked quickly, then their passages are embedded in batches of
thousands: a bar of files read stood at 100% for most of a run (measured: 21 files read in 1 s,
then 50 s embedding 1,615 passages under "100% 21/21"). So the bar says "reading" over files and
"embedding" over the batch's passages, and counts the files written for the summary of a run that
is stopped.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, TextIO


class IngestBar:
    """An ``IngestProgress`` callback drawing one tqdm bar (or none) and counting written files."""

    def __init__(self, stream: TextIO | None, verbose: bool = False) -> None:
        self.verbose = verbose
        self.written = 0  # files written to the index ("done"), for the line of a stopped run
        self.files_read = (0, 0)
        self.bar: Any = None
        if stream is not None:
            from tqdm import tqdm

            # smoothing=0: the rate is the stage's average, not its first step's (128 passages "in 0 s")
            self.bar = tqdm(total=0, unit="file", desc="reading", file=stream, dynamic_ncols=True, smoothing=0)
        self.last_event = time.time()

    def __call__(self, stage: str, path: str, done: int, total: int) -> None:
        if stage == "done":
            self.written += 1
        if self.verbose and stage in ("done", "failed"):
            print(f"{stage}: {path}", file=sys.stderr, flush=True)
        if self.bar is None:
            return
        previous, self.last_event = self.last_event, time.time()
        if stage == "read":
            self.files_read = (done, total)
            self._show("reading", "file", done, total, Path(path).name[-40:], previous)
        elif stage == "embedded":  # a batch of passages, which may cover many files
            self._show("embedding", "passage", done, total, "files read {}/{}".format(*self.files_read), previous)

    def _show(self, desc: str, unit: str, done: int, total: int, postfix: str, since: float) -> None:
        bar = self.bar
        if bar.desc != desc:  # a new stage, from the previous one's last event: its own count and rate
            bar.set_description_str(desc, refresh=False)
            bar.unit = unit
            bar.reset(total=total)
            bar.start_t = since
        bar.total = total
        bar.n = done
        bar.set_postfix_str(postfix, refresh=False)
        bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
