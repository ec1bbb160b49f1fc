"""``rag eval`` and ``rag eval-judge`` (registered through the ``rag.commands`` entry point)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("eval", help="evaluate answers on a dataset")
    p.set_defaults(handler=lambda args, out: out.write("evals are not built yet\n") and 1)
