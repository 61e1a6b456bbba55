"""What the benchmarks share: the credentials they give Tolk, and percentiles."""

from __future__ import annotations

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench"


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile (0 for no values)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0
