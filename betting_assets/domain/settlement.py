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


def margins(market: np.ndarray, side: np.ndarray, point: np.ndarray, home: np.ndarray, away: np.ndarray,
            three_way: np.ndarray) -> np.ndarray:
    """Goals (or points) by which the bet is ahead at the line: > 0 wins, 0 pushes, < 0 loses.
    A match-result bet is ahead by 1 when its side won and behind by 1 otherwise; a level
    score is the draw's win in a three-way market and a push in a two-way one."""
    diff = home - away
    total = home + away
    won = np.where(side == "home", diff > 0, np.where(side == "away", diff < 0, diff == 0))
    h2h = np.where(won, 1.0, np.where((diff == 0) & ~three_way, 0.0, -1.0))
    spread = np.where(side == "home", diff, -diff) + point
    totals = np.where(side == "over", total - point, point - total)
    return np.where(market == "h2h", h2h, np.where(market == "spreads", spread, totals)).astype(float)


def settle(market: np.ndarray, side: np.ndarray, point: np.ndarray, price: np.ndarray, home: np.ndarray,
           away: np.ndarray, status: np.ndarray, three_way: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return per unit staked and a result code (an index into ``RESULTS``) for each bet.
    ``status`` is the event's lifecycle state: cancelled or postponed voids the bet, anything but
    final with two scores leaves it open (return NaN)."""
    home = np.asarray(home, dtype=float)
    away = np.asarray(away, dtype=float)
    point = np.nan_to_num(np.asarray(point, dtype=float))
    price = np.asarray(price, dtype=float)
    three_way = np.asarray(three_way, dtype=bool)
    quarter = (np.abs(np.round(point * 4)) % 2 == 1) & (market != "h2h")
    lines = (point - 0.25, point + 0.25)
    halves = [np.where(quarter, margins(market, side, p, home, away, three_way), np.nan) for p in lines]
    whole = margins(market, side, point, home, away, three_way)

    def unit(m: np.ndarray) -> np.ndarray:
        return np.where(m > 0, price, np.where(m == 0, 1.0, 0.0))

    ret = np.where(quarter, 0.5 * unit(halves[0]) + 0.5 * unit(halves[1]), unit(whole))
    code = np.select(
        [ret == 0.0, ret < 1.0, ret == 1.0, ret < price],
        [_CODE[LOSS], _CODE[HALF_LOSS], _CODE[PUSH], _CODE[HALF_WIN]], _CODE[WIN])
    void = np.isin(status, VOID_STATUSES)
    final = (status == "final") & np.isfinite(home) & np.isfinite(away)
    ret = np.where(void, 1.0, np.where(final, ret, np.nan))
    code = np.where(void, _CODE[VOID], np.where(final, code, _CODE[OPEN]))
    return ret, code


def settle_frame(bets: pl.DataFrame) -> pl.DataFrame:
    """``bets`` with market, side, point, price, home_score, away_score, status and three_way gains
    ``unit_return`` (null while open) and ``result``."""
    ret, code = settle(bets["market"].to_numpy(), bets["side"].to_numpy(),
                       bets["point"].fill_null(0.0).to_numpy(), bets["price"].to_numpy(),
                       bets["home_score"].cast(pl.Float64).to_numpy(), bets["away_score"].cast(pl.Float64).to_numpy(),
                       bets["status"].fill_null("").to_numpy(), bets["three_way"].fill_null(False).to_numpy())
    return bets.with_columns(
        unit_return=pl.Series(ret, dtype=pl.Float64).fill_nan(None),
        result=pl.Series(np.asarray(RESULTS, dtype=object)[code], dtype=pl.String),
    )
