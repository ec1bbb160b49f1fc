"""Subprocess entry point: ``python -m bench.tasks NAME`` reads JSON kwargs on stdin and prints
one ``BENCH-RESULT {...}`` line (see ``bench.runner``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from bench.runner import MARKER

# Our batch tasks run the way ``rag ingest`` does (libgomp's default spinning); every other task
# runs as any script using the Python API does, with no setting at all.
BATCH_TASKS = {"ours_ingest", "ours_floor", "ours_reingest"}


def _tasks() -> dict[str, Callable[..., dict[str, Any]]]:
    from bench import embedders, experiments, ours, peer, serve

    return {
        "ours_ingest": ours.ingest, "ours_floor": ours.encode_floor, "ours_reingest": ours.reingest,
        "ours_query": ours.query, "ours_ask_during_upload": ours.ask_during_upload,
        "ours_examples": ours.examples_hit, "synth_build": ours.synth_build, "synth_latency": ours.latency,
        "gguf_ttft": ours.gguf_ttft, "ours_cold_ask": ours.cold_ask, "ours_http": serve.http_latency,
        "peer_ingest": peer.ingest, "peer_query": peer.query,
        "encode_speed": embedders.encode_speed, "query_speed": embedders.query_speed,
        "chunking_speed": experiments.chunking_speed,
        "chroma_writes": experiments.chroma_writes,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.tasks NAME < kwargs.json", file=sys.stderr)
        return 2
    kwargs = json.loads(sys.stdin.read() or "{}")
    # ``omp_defaults``: the experiment that measures what the OpenMP setting is worth.
    if argv[0] in BATCH_TASKS or kwargs.pop("omp_defaults", False):
        from index.embedding import prefer_throughput

        prefer_throughput()  # as `rag ingest` does, before torch loads
    result = _tasks()[argv[0]](**kwargs)
    print(MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
