"""Small pure helpers: ratios, medians and the printed table (percentiles: ``evals.metrics.percentile``).

>>> ratio(3.0, 2.0), ratio(1.0, 0.0)
(1.5, None)
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def rnd(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A Markdown table (also readable in a terminal).

    >>> print(table([["a", 1.5]], ["name", "value"]))
    | name | value |
    |---|---|
    | a | 1.5 |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("—" if cell is None else str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
