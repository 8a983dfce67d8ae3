"""The settlement rules of docs/betting-maths.md, compiled: one bet's result and its return per
unit staked (0 for a loss, 1 for a push or a void, the price for a win).

A bet on a cancelled or postponed event is void. A bet on a final event is settled on its margin
at its line; a quarter line (x.25 or x.75) is two half stakes on the lines a quarter either side.
Anything else (an event not yet final, a missing score, a market or side these rules do not
cover) stays open.
"""

from __future__ import annotations

import numba
import numpy as np

from betting_assets.domain.codes import Market, Result, Side, Status

PER_PRICE = np.array([0.0, 0.0, 0.0, 0.5, 1.0, 0.0, np.nan])
FIXED = np.array([0.0, 0.5, 1.0, 0.5, 0.0, 1.0, np.nan])
"""return per unit staked = PER_PRICE[result] × price + FIXED[result], by ``Result``: a half win is
half at the price and half back, a half loss half back"""


@numba.njit(cache=True, nogil=True, inline="always")
def margin(market: int, side: int, point: float, home: float, away: float, three_way: bool) -> float:
    """Goals (or points) by which the bet is ahead at its line: > 0 wins, 0 pushes, < 0 loses. A
    match-result bet is ahead by 1 when its side won and behind by 1 otherwise; a level score is
    the draw's win in a three-way market and a push in a two-way one."""
    diff = home - away
    if market == Market.H2H:
        if side == Side.HOME:
            won = diff > 0
        elif side == Side.AWAY:
            won = diff < 0
        else:
            won = diff == 0
        if won:
            return 1.0
        if diff == 0 and not three_way:
            return 0.0
        return -1.0
    if market == Market.SPREADS:
        return diff + point if side == Side.HOME else -diff + point
    total = home + away - point
    return total if side == Side.OVER else -total


@numba.njit(cache=True, nogil=True, inline="always")
def is_quarter_line(market: int, point: float) -> bool:
    return market != Market.H2H and (np.int64(np.rint(point * 4.0)) & 1) == 1


@numba.njit(cache=True, nogil=True, inline="always")
def settle_one(market: int, side: int, status: int, point: float, price: float, home: float, away: float,
               three_way: bool) -> tuple[float, int]:
    """Return per unit staked and ``Result`` of one bet. With whole scores a quarter line's margin
    is never 0, and only a margin of a quarter goal splits its halves (one decided, one pushed)."""
    if status == Status.CANCELLED or status == Status.POSTPONED:
        result = Result.VOID.value
    elif status != Status.FINAL or market < 0 or side < 0:
        result = Result.OPEN.value
    else:
        point = point if np.isfinite(point) else 0.0
        m = margin(market, side, point, home, away, three_way)
        split = is_quarter_line(market, point) and abs(m) <= 0.25
        if not np.isfinite(m):
            result = Result.OPEN.value
        elif m > 0:
            result = Result.HALF_WIN.value if split else Result.WIN.value
        elif m < 0:
            result = Result.HALF_LOSS.value if split else Result.LOSS.value
        else:
            result = Result.PUSH.value
    return PER_PRICE[result] * price + FIXED[result], result


@numba.njit(cache=True, nogil=True)
def settle_rows(market: np.ndarray, side: np.ndarray, status: np.ndarray, point: np.ndarray, price: np.ndarray,
                home: np.ndarray, away: np.ndarray, three_way: np.ndarray,
                index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``settle_one`` for rows ``index``: the codes are per row asked for, the numbers per row."""
    ret = np.empty(len(index))
    code = np.empty(len(index), dtype=np.int8)
    for j in range(len(index)):
        i = index[j]
        ret[j], code[j] = settle_one(market[j], side[j], status[j], point[i], price[i], home[i], away[i],
                                     three_way[i])
    return ret, code
