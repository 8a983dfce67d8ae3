"""Settling bets against final scores (docs/betting-maths.md).

A settled bet is reduced to its return per unit staked: 0 for a loss, 1 for a push or a void
(stake back), the price for a win. Asian quarter lines split the stake into two halves on the
neighbouring lines, so half can win or lose while the other half pushes. The rules run as one
compiled pass over columns, so a million bets settle in milliseconds and the ledger and the
backtest share them.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
import polars as pl

from betting_assets.domain.codes import code_strings

WIN, HALF_WIN, PUSH, HALF_LOSS, LOSS, VOID, OPEN = "win", "half_win", "push", "half_loss", "loss", "void", "open"
VOID_STATUSES = ("cancelled", "postponed")
RESULTS = (LOSS, HALF_LOSS, PUSH, HALF_WIN, WIN, VOID, OPEN)
# return per unit staked = _PER_PRICE[code] × price + _FIXED[code]: a half win is half at the price, half back
_PER_PRICE = np.array([0.0, 0.0, 0.0, 0.5, 1.0, 0.0, np.nan])
_FIXED = np.array([0.0, 0.5, 1.0, 0.5, 0.0, 1.0, np.nan])

MARKET_CODES = {"h2h": 0, "spreads": 1, "totals": 2}
SIDE_CODES = {"home": 0, "draw": 1, "away": 2, "over": 3, "under": 4}
SETTLE_COLUMNS = ["market", "side", "point", "price", "home_score", "away_score", "status", "three_way"]
_STATUSES = ("final", *VOID_STATUSES)


class Bets(NamedTuple):
    """What settlement reads, as compiled loops take it: the coded market, side and status of
    the rows asked for (status 0 is final, 1 or more void, -1 anything else), and the numbers
    of every row, floats with NaN for null."""
    market: np.ndarray
    side: np.ndarray
    status: np.ndarray
    point: np.ndarray
    price: np.ndarray
    home: np.ndarray
    away: np.ndarray
    three_way: np.ndarray


def read_bets(frame: pl.DataFrame, rows: np.ndarray) -> Bets:
    """``frame`` has ``SETTLE_COLUMNS``; strings are coded for ``rows`` only, in their order."""
    numbers = frame.select(pl.col("point", "price", "home_score", "away_score").cast(pl.Float64)
                           .fill_null(float("nan")))
    point, price, home, away = (numbers[c].to_numpy() for c in numbers.columns)
    return Bets(code_strings(frame["market"], list(MARKET_CODES), rows),
                code_strings(frame["side"], list(SIDE_CODES), rows), code_strings(frame["status"], _STATUSES, rows),
                point, price, home, away, frame["three_way"].fill_null(False).to_numpy())


def settle_frame(bets: pl.DataFrame, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return per unit staked and a result code (an index into ``RESULTS``) for each bet (each of
    ``rows`` when given) of a frame with ``SETTLE_COLUMNS``. The event's status decides:
    cancelled or postponed is void (stake back), final settles on the scores; anything else, a
    missing score, or a market or side these rules do not cover stays open (return NaN)."""
    index = np.arange(bets.height, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    return _settle_rows(*read_bets(bets, index), index)


# The rules below are written without branches: markets, sides and results arrive in no order a
# branch predictor could learn, and a mispredicted branch costs more than computing every case.


@numba.njit(cache=True, nogil=True, inline="always")
def _margin(market: int, side: int, point: float, home: float, away: float, three_way: bool) -> float:
    """Goals (or points) by which the bet is ahead at the line: > 0 wins, 0 pushes, < 0 loses. A
    match-result bet is ahead by 1 when its side won and behind by 1 otherwise; a level score
    is the draw's win in a three-way market and a push in a two-way one."""
    diff = home - away
    won = ((side == 0) & (diff > 0)) | ((side == 2) & (diff < 0)) | ((side != 0) & (side != 2) & (diff == 0))
    pushed = (~won) & (diff == 0) & (not three_way)
    match_result = 1.0 * won - 1.0 * ((~won) & (~pushed))
    spread = (1.0 - 2.0 * (side != 0)) * diff + point
    total = (1.0 - 2.0 * (side != 3)) * (home + away - point)
    return match_result * (market == 0) + spread * (market == 1) + total * (market >= 2)


@numba.njit(cache=True, nogil=True, inline="always")
def settle_one(market: int, side: int, status: int, point: float, price: float, home: float, away: float,
               three_way: bool) -> tuple[float, int]:
    """Return per unit staked and result code of one bet. A quarter line is two half stakes on
    the lines 0.25 either side; with whole scores its margin is never 0 and only a margin of
    ±0.25 splits the halves (one decided, one pushed), so the result is the margin's sign,
    halved where that margin is ±0.25."""
    point = point if np.isfinite(point) else 0.0
    m = _margin(market, side, point, home, away, three_way)
    half = (market != 0) & ((np.int64(np.rint(point * 4.0)) & 1) == 1) & (abs(m) <= 0.25)
    code = 2 + (2 - half) * ((m > 0) - (m < 0))
    code = 6 if (status != 0) | (market < 0) | (side < 0) | (not np.isfinite(m)) else code
    code = 5 if status >= 1 else code
    return _PER_PRICE[code] * price + _FIXED[code], code


@numba.njit(cache=True, nogil=True)
def _settle_rows(market: np.ndarray, side: np.ndarray, status: np.ndarray, point: np.ndarray, price: np.ndarray,
                 home: np.ndarray, away: np.ndarray, three_way: np.ndarray,
                 index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ret = np.empty(len(index))
    code = np.empty(len(index), dtype=np.int8)
    for j in range(len(index)):
        i = index[j]
        ret[j], code[j] = settle_one(market[j], side[j], status[j], point[i], price[i], home[i], away[i],
                                     three_way[i])
    return ret, code
