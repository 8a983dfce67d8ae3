"""A day's stakes, compiled (``staking.size_day`` says the rule; the backtest's day loop calls
this inside its own compiled loop)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def size_day_in_place(start: int, end: int, a: np.ndarray, b: np.ndarray, cap: np.ndarray, min_leg: np.ndarray,
                      cash: float, min_stake: float, max_day_fraction: float, stake: np.ndarray) -> None:
    """``size_day`` for the groups ``start:end``, written into ``stake``: each group stakes
    ``a + b × cash`` up to its cap, nothing when its smallest leg would be below the minimum;
    when the day's total passes ``max_day_fraction`` of the cash every stake is scaled down to
    it, and one that falls below the minimum is dropped."""
    total = 0.0
    for i in range(start, end):
        raw = min(a[i] + b[i] * cash, cap[i])
        if raw * min_leg[i] < min_stake or raw <= 0:
            raw = 0.0
        stake[i] = raw
        total += raw
    limit = max_day_fraction * cash
    if total > limit:
        scale = limit / total
        for i in range(start, end):
            raw = stake[i] * scale
            stake[i] = 0.0 if raw * min_leg[i] < min_stake else raw
