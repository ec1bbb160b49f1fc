"""Small pure helpers: percentiles, ratios, medians and the printed table.

>>> percentile([1.0, 2.0, 3.0, 4.0], 50)
2.5
>>> ratio(3.0, 2.0), ratio(1.0, 0.0)
(1.5, None)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


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
