"""Per-group sums over a ledger, and grouping by hash, compiled: the metrics' breakdowns by
market, bookmaker and month over a million bets without a polars group-by per figure."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def group_sums(code: np.ndarray, groups: int, stake: np.ndarray, profit: np.ndarray, decided: np.ndarray,
          clv: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per group: bets, turnover, profit, decided bets, decided bets won, bets with a CLV and its sum."""
    counts = np.zeros((4, groups), dtype=np.int64)
    count, won, decided_count, clv_count = counts[0], counts[1], counts[2], counts[3]
    sums = np.zeros((3, groups))
    turnover, total, clv_sum = sums[0], sums[1], sums[2]
    for i in range(len(code)):
        g = code[i]
        count[g] += 1
        turnover[g] += stake[i]
        total[g] += profit[i]
        decided_count[g] += decided[i]
        won[g] += decided[i] & (profit[i] > 0)
        known = not np.isnan(clv[i])
        clv_count[g] += known
        clv_sum[g] += clv[i] if known else 0.0
    return count, turnover, total, decided_count, won, clv_count, clv_sum


@numba.njit(cache=True, nogil=True)
def first_of_each(hashed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Open addressing over the hashes: each value's group, and the first row of each group."""
    size = 16
    while size < 2 * len(hashed):
        size *= 2
    slots = np.full(size, -1, dtype=np.int64)
    code = np.empty(len(hashed), dtype=np.int64)
    first = np.empty(len(hashed), dtype=np.int64)
    groups = 0
    for i in range(len(hashed)):
        slot = hashed[i] & np.uint64(size - 1)
        while slots[slot] != -1 and hashed[first[slots[slot]]] != hashed[i]:
            slot = (slot + np.uint64(1)) & np.uint64(size - 1)
        if slots[slot] == -1:
            slots[slot] = groups
            first[groups] = i
            groups += 1
        code[i] = slots[slot]
    return code, first[:groups].copy()
