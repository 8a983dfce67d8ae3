"""A moment's stakes, compiled (``staking`` says the rule; the account's loop calls this inside its
own compiled loop, and the live slips call it through ``staking.size_moment``)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def size_moment_in_place(groups: np.ndarray, a: np.ndarray, b: np.ndarray, cap: np.ndarray, min_leg: np.ndarray,
                         cash: float, min_stake: float, allowance: float, stake: np.ndarray) -> None:
    """The stakes of ``groups`` (decided at one moment) against the day's ``cash``, written into
    ``stake``: each group stakes ``a + b × cash`` up to its cap, nothing when its smallest leg
    would be below the minimum; when together they pass what the day has left (``allowance``)
    every stake is scaled down to it, and one that falls below the minimum is dropped."""
    total = 0.0
    for g in groups:
        raw = min(a[g] + b[g] * cash, cap[g])
        if raw * min_leg[g] < min_stake or raw <= 0:
            raw = 0.0
        stake[g] = raw
        total += raw
    if total > allowance:
        scale = max(allowance, 0.0) / total
        for g in groups:
            raw = stake[g] * scale
            stake[g] = 0.0 if raw * min_leg[g] < min_stake else raw
