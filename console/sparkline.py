"""Sparklines as inline SVG paths, drawn server-side from observability's series."""

from collections.abc import Sequence

WIDTH, HEIGHT = 120, 24


def sparkline(values: Sequence[float], *, floor: float | None = 0.0) -> str:
    """The `points` of an SVG polyline across WIDTH x HEIGHT ('' for fewer than two)."""
    if len(values) < 2:
        return ""
    low = min(values) if floor is None else min(floor, min(values))
    high = max(values)
    span = (high - low) or 1.0
    step = WIDTH / (len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{HEIGHT - (v - low) / span * HEIGHT:.1f}" for i, v in enumerate(values)
    )
