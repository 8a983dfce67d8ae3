"""Settling bets against final scores (DESIGN.md, "Betting facts").

A settled bet is reduced to its return per unit staked: 0 for a loss, 1 for a push or a void
(stake back), the price for a win. Asian quarter lines split the stake into two halves on the
neighbouring lines, so half can win or lose while the other half pushes. Arrays in, arrays
out, so a million bets settle in one pass and the ledger and the backtest share the rules.
"""

from __future__ import annotations

import numpy as np
import polars as pl

WIN, HALF_WIN, PUSH, HALF_LOSS, LOSS, VOID, OPEN = "win", "half_win", "push", "half_loss", "loss", "void", "open"
VOID_STATUSES = ("cancelled", "postponed")
RESULTS = (LOSS, HALF_LOSS, PUSH, HALF_WIN, WIN, VOID, OPEN)
_CODE = {name: i for i, name in enumerate(RESULTS)}
# return per unit staked = _PER_PRICE[code] × price + _FIXED[code]: a half win is half at the price, half back
_PER_PRICE = np.array([0.0, 0.0, 0.0, 0.5, 1.0, 0.0, np.nan])
_FIXED = np.array([0.0, 0.5, 1.0, 0.5, 0.0, 1.0, np.nan])


MARKET_CODES = {"h2h": 0, "spreads": 1, "totals": 2}
SIDE_CODES = {"home": 0, "draw": 1, "away": 2, "over": 3, "under": 4}


def margins(market: np.ndarray, side: np.ndarray, point: np.ndarray, home: np.ndarray, away: np.ndarray,
            three_way: np.ndarray) -> np.ndarray:
    """Goals (or points) by which the bet is ahead at the line: > 0 wins, 0 pushes, < 0 loses.
    ``market`` and ``side`` are ``MARKET_CODES`` and ``SIDE_CODES``. A match-result bet is ahead
    by 1 when its side won and behind by 1 otherwise; a level score is the draw's win in a
    three-way market and a push in a two-way one."""
    diff = home - away
    won = np.where(side == 0, diff > 0, np.where(side == 2, diff < 0, diff == 0))
    h2h = np.where(won, 1.0, np.where((diff == 0) & ~three_way, 0.0, -1.0))
    spread = np.where(side == 0, diff, -diff) + point
    total = home + away
    totals = np.where(side == 3, total - point, point - total)
    return np.where(market == 0, h2h, np.where(market == 1, spread, totals))


def settle(market: np.ndarray, side: np.ndarray, point: np.ndarray, price: np.ndarray, home: np.ndarray,
           away: np.ndarray, void: np.ndarray, final: np.ndarray, three_way: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return per unit staked and a result code (an index into ``RESULTS``) for each bet.
    ``void``: the event was cancelled or postponed (stake back); ``final``: it finished. A bet on
    an event neither void nor final with two scores, or in a market or side coded -1, stays
    open (return NaN): these rules do not cover it.

    A quarter line is two half stakes on the lines 0.25 either side; with whole scores its
    margin is never 0 and only a margin of ±0.25 splits the halves (one decided, one pushed),
    so the result is the margin's sign, halved where that margin is ±0.25."""
    home = np.asarray(home, dtype=float)
    away = np.asarray(away, dtype=float)
    point = np.nan_to_num(np.asarray(point, dtype=float))
    price = np.asarray(price, dtype=float)
    m = margins(market, side, point, home, away, np.asarray(three_way, dtype=bool))
    quarter = (np.abs(np.round(point * 4)) % 2 == 1) & (market != 0)
    final = np.asarray(final, dtype=bool) & np.isfinite(m) & (market >= 0) & (side >= 0)
    m = np.where(final, m, 0.0)
    full = ~quarter | (np.abs(m) > 0.25)
    code = (2 + np.sign(m) * (1 + full)).astype(np.int8)
    code[~final] = _CODE[OPEN]
    code[np.asarray(void, dtype=bool)] = _CODE[VOID]
    ret = _PER_PRICE[code] * price + _FIXED[code]
    return ret, code


SETTLE_COLUMNS = ["market", "side", "point", "price", "home_score", "away_score", "status", "three_way"]


def settle_frame(bets: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Settles a frame with market, side, point, price, home_score, away_score, status and
    three_way (the lifecycle status decides void and final)."""
    coded = bets.select(
        pl.col("market").replace_strict(MARKET_CODES, default=-1, return_dtype=pl.Int8),
        pl.col("side").replace_strict(SIDE_CODES, default=-1, return_dtype=pl.Int8),
        pl.col("point").fill_null(0.0), "price",
        pl.col("home_score").cast(pl.Float64), pl.col("away_score").cast(pl.Float64),
        pl.col("status").is_in(VOID_STATUSES).fill_null(False).alias("void"),
        (pl.col("status") == "final").fill_null(False).alias("final"),
        pl.col("three_way").fill_null(False),
    )
    return settle(*(coded[c].to_numpy() for c in coded.columns))
