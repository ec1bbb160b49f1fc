"""Reproducible benchmarks of rag against a LangChain-tutorial peer, printed as ratios.

Run from the repository root (see ``bench/README.md``)::

    .venv/bin/python -m bench --quick          # under 10 minutes on two cores
    .venv/bin/python -m bench --json           # full run, one JSON object on stdout

Every measured step runs in its own subprocess (``bench.tasks``), so peak memory is per step
and one system's caches never help the other.
"""
