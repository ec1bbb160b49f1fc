"""``rag ui`` (registered through the ``rag.commands`` entry point)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("ui", help="open the chat web UI")
    p.set_defaults(handler=lambda args, out: out.write("the web UI is not built yet\n") and 1)
