"""The account as the gate sees it, held as numbers a compiled loop can carry: one vector for
the book, one per order, one for the limits, and the open stakes per event.

The backtest's loop and the live gate keep these same vectors and move them with the same hooks
(the controls' own bookkeeping, ``controls``), so "the bankroll" means one thing in both: the
live gate folds the ledger's placements and settlements through the hooks in time order, the
backtest calls them as its bets are placed and settle. Field names are ``IntEnum`` members, so
compiled code reads ``book[B.EQUITY]`` as a plain index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

US_PER_MINUTE = 60_000_000
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR
NEVER = -(2 ** 62)
"""a time before anything (µs)"""


class B(IntEnum):
    """The book."""

    EQUITY = 0
    """the starting bankroll plus every settled profit: the bankroll"""
    OPEN = 1
    """stakes placed and not yet settled"""
    DAY = 2
    """the UTC day (days since the epoch) the day's fields belong to; -1 before any"""
    DAY_CASH = 3
    """equity less open stakes at the day's first decision: what the day's stakes are sized on and
    what its exposure cap is a share of (NaN until the day's first decision)"""
    DAY_START = 4
    """equity when the day began (00:00 UTC)"""
    DAY_PNL = 5
    """profit settled today"""
    DAY_STAKED = 6
    """stakes placed today"""
    PEAK = 7
    """the highest equity so far"""
    STREAK = 8
    """losses in a row among the bets settled today"""
    FUNDS = 9
    """what the venue says is available to bet (NaN where it says nothing)"""
    TX_HOUR = 10
    """the clock hour (hours since the epoch) ``TX_COUNT`` counts in"""
    TX_COUNT = 11
    """venue transactions in that hour"""
    KILL = 12
    """1 while the kill switch is on"""
    RECENT_NEXT = 13
    """where the next placement time goes in the ring that follows"""
    RECENT = 14
    """the ring of the last placement times (µs), as long as the per-minute limit"""


class O(IntEnum):
    """An order (or, at settlement, a settled bet)."""

    EVENT = 0
    """the event's index into the exposure vector"""
    TIME = 1
    """µs since the epoch"""
    PRICE = 2
    """what a unit returns on a win (net of commission at an exchange)"""
    QUOTED = 3
    """the price as the venue quotes it"""
    STAKE = 4
    EDGE = 5
    """expected value per unit (NaN when the strategy claims none)"""
    VENUE_TX = 6
    """1 when sending it is a transaction the venue counts"""
    PROFIT = 7
    """at settlement: what it made, net"""


ORDER_FIELDS = len(O)


class L(IntEnum):
    """The limits: the risk settings' and the venue's."""

    MIN_ODDS = 0
    MAX_ODDS = 1
    MIN_EDGE = 2
    MIN_STAKE = 3
    MAX_STAKE = 4
    MAX_STAKE_FRACTION = 5
    MAX_EVENT_EXPOSURE = 6
    MAX_DAY_EXPOSURE = 7
    DAILY_LOSS = 8
    MAX_DRAWDOWN = 9
    MAX_LOSSES = 10
    MAX_PER_MINUTE = 11
    TX_PER_HOUR = 12
    VENUE_MIN_STAKE = 13
    VENUE_MIN_PAYOUT = 14
    STAKE_STEP = 15


@dataclass(frozen=True)
class VenueRules:
    """What a venue accepts, as the gate and sizing read it (each venue says its own)."""

    min_stake: float = 0.0
    min_payout: float = 0.0
    """a stake below ``min_stake`` is valid when it could pay out this much"""
    stake_step: float = 0.01
    """stakes are whole multiples of this (0: any amount)"""
    transactions_per_hour: int | None = None
    """orders sent (failed ones too) the venue allows a clock hour before it charges; None: no count"""


def new_book(bankroll: float, limits: np.ndarray) -> np.ndarray:
    ring = max(int(limits[L.MAX_PER_MINUTE]), 1)
    book = np.zeros(B.RECENT + ring)
    book[B.EQUITY] = book[B.PEAK] = book[B.DAY_START] = bankroll
    book[B.DAY] = book[B.TX_HOUR] = -1.0
    book[B.DAY_CASH] = book[B.FUNDS] = math.nan
    book[B.RECENT:] = float(NEVER)
    return book


def order_vector(event: int, time_us: int, price: float, quoted: float | None, stake: float, edge: float | None,
                 venue_tx: bool, profit: float = 0.0) -> np.ndarray:
    o = np.zeros(ORDER_FIELDS)
    o[O.EVENT], o[O.TIME], o[O.PRICE], o[O.STAKE] = event, time_us, price, stake
    o[O.QUOTED] = price if quoted is None else quoted
    o[O.EDGE] = math.nan if edge is None else edge
    o[O.VENUE_TX], o[O.PROFIT] = float(venue_tx), profit
    return o


def day_of(time_us: int) -> int:
    return time_us // US_PER_DAY


class View:
    """Attribute access to a vector by its field names, for the words of a refusal."""

    def __init__(self, fields: type[IntEnum], values: np.ndarray) -> None:
        self._fields, self._values = fields, values

    def __getattr__(self, name: str) -> float:
        return float(self._values[self._fields[name.upper()]])
