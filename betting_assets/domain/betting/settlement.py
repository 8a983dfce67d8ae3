"""Settling bets against final scores (docs/betting-maths.md).

A settled bet is reduced to its return per unit staked: 0 for a loss, 1 for a push or a void
(stake back), the price for a win. Asian quarter lines split the stake into two halves on the
neighbouring lines, so half can win or lose while the other half pushes. The rules run as one
compiled pass over columns, so a million bets settle in milliseconds and the ledger and the
backtest share them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import polars as pl

from betting_assets.domain.codes import Market, Result, Side, Status, words
from betting_assets.domain.kernels.settle import settle_rows
from betting_assets.domain.kernels.string_views import code_strings

RESULTS = tuple(words(Result))
"""each ``Result``'s name in the ledger, by code"""

MARKET_CODES = {name: code for code, name in enumerate(words(Market))}
SIDE_CODES = {name: code for code, name in enumerate(words(Side))}
SETTLE_COLUMNS = ["market", "side", "point", "price", "home_score", "away_score", "status", "three_way"]


class Bets(NamedTuple):
    """What settlement reads, as compiled loops take it: the ``Market``, ``Side`` and ``Status``
    codes of the rows asked for, and the numbers of every row, floats with NaN for null."""
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
                code_strings(frame["side"], list(SIDE_CODES), rows), code_strings(frame["status"], words(Status), rows),
                point, price, home, away, frame["three_way"].fill_null(False).to_numpy())


def settle_frame(bets: pl.DataFrame, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return per unit staked and a ``Result`` code (an index into ``RESULTS``) for each bet (each
    of ``rows`` when given) of a frame with ``SETTLE_COLUMNS`` (the rules: ``kernels.settle``)."""
    index = np.arange(bets.height, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    return settle_rows(*read_bets(bets, index), index)
