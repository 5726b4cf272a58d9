"""Quantiles from cumulative histogram buckets, the way PromQL's histogram_quantile does it."""

import math
from collections.abc import Mapping


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The `q` quantile of cumulative `buckets` ({upper bound: count}, +Inf included).

    Linear interpolation inside the bucket holding the rank; a rank in the +Inf bucket
    answers the highest finite bound. None when the histogram holds no observation.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} is not within [0, 1]")
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]):
        raise ValueError("a histogram needs a +Inf bucket")
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound if len(bounds) > 1 else None
            in_bucket = count - lower_count
            if in_bucket <= 0:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / in_bucket
        lower_bound, lower_count = bound, count
    return None  # unreachable: the +Inf bucket holds the total
