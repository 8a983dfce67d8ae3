"""The closed vocabularies, each one type with one table: markets (their sides, how a bet's line
is keyed, how many sides a complete book prices, the default de-vig), sides, event statuses,
settlement results and de-vig methods. Every layer reads these; a string from the provider or
the warehouse becomes one of them at the edge.

Each member is a ``StrEnum``, so it equals the word the warehouse and the provider use and goes
straight into a polars expression. The compiled rules work on small integers instead: each
vocabulary's ``code`` is its member's position, and ``codes`` the words in code order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import polars as pl


class Market(StrEnum):
    H2H = "h2h"
    SPREADS = "spreads"
    TOTALS = "totals"

    @property
    def code(self) -> int:
        return _MARKET_ORDER.index(self)

    @property
    def rule(self) -> MarketRule:
        return MARKET_RULES[self]


class Side(StrEnum):
    HOME = "home"
    DRAW = "draw"
    AWAY = "away"
    OVER = "over"
    UNDER = "under"

    @property
    def code(self) -> int:
        return _SIDE_ORDER.index(self)


class EventStatus(StrEnum):
    """An event's life: scheduled → live → final, or cancelled / postponed."""

    SCHEDULED = "scheduled"
    LIVE = "live"
    FINAL = "final"
    CANCELLED = "cancelled"
    POSTPONED = "postponed"

    @property
    def code(self) -> int:
        """What settlement reads: final, cancelled, postponed; any other status is open (-1)."""
        return _SETTLING.index(self) if self in _SETTLING else -1


class Result(StrEnum):
    LOSS = "loss"
    HALF_LOSS = "half_loss"
    PUSH = "push"
    HALF_WIN = "half_win"
    WIN = "win"
    VOID = "void"
    OPEN = "open"

    @property
    def code(self) -> int:
        return _RESULT_ORDER.index(self)


class DevigMethod(StrEnum):
    MULTIPLICATIVE = "multiplicative"
    POWER = "power"
    SHIN = "shin"


class LineRule(StrEnum):
    """How a bet's line is keyed from the provider's point, so the sides of one line group."""

    NONE = "none"
    """no line: 0"""
    POINT = "point"
    """the point itself (a total's over and under share it)"""
    HOME_POINT = "home_point"
    """the home side's point (a spread's away side carries the opposite point)"""


@dataclass(frozen=True)
class MarketRule:
    market: Market
    sides: tuple[Side, ...]
    line: LineRule
    devig: DevigMethod
    """the default de-vig of the sharp book's prices in this market"""

    def needed(self, three_way: bool) -> int:
        """How many sides a complete book of this market prices."""
        return 3 if self.market is Market.H2H and three_way else 2


_MARKET_ORDER = (Market.H2H, Market.SPREADS, Market.TOTALS)
_SIDE_ORDER = (Side.HOME, Side.DRAW, Side.AWAY, Side.OVER, Side.UNDER)
_SETTLING = (EventStatus.FINAL, EventStatus.CANCELLED, EventStatus.POSTPONED)
_RESULT_ORDER = tuple(Result)

MARKET_RULES: dict[Market, MarketRule] = {
    Market.H2H: MarketRule(Market.H2H, (Side.HOME, Side.DRAW, Side.AWAY), LineRule.NONE, DevigMethod.MULTIPLICATIVE),
    Market.TOTALS: MarketRule(Market.TOTALS, (Side.OVER, Side.UNDER), LineRule.POINT, DevigMethod.POWER),
    Market.SPREADS: MarketRule(Market.SPREADS, (Side.HOME, Side.AWAY), LineRule.HOME_POINT, DevigMethod.POWER),
}
MARKETS: tuple[Market, ...] = (Market.H2H, Market.TOTALS, Market.SPREADS)
"""the markets the product bets, in the order it reports them"""
SIDES: tuple[Side, ...] = tuple(dict.fromkeys(s for m in MARKETS for s in MARKET_RULES[m].sides))
MARKET_CODES: list[str] = [str(m) for m in _MARKET_ORDER]
SIDE_CODES: list[str] = [str(s) for s in _SIDE_ORDER]
RESULT_CODES: list[str] = [str(r) for r in _RESULT_ORDER]
STATUS_CODES: list[str] = [str(s) for s in _SETTLING]
UPCOMING: tuple[EventStatus, ...] = (EventStatus.SCHEDULED, EventStatus.POSTPONED)
"""not started as far as the provider knows: its odds are still collected"""
AWAITING_RESULT: tuple[EventStatus, ...] = (EventStatus.SCHEDULED, EventStatus.POSTPONED, EventStatus.LIVE)
"""started (by the clock) and not yet final"""
OPEN_CODE = -1
"""the code of an event status settlement does not act on"""


def line(market: pl.Expr | str = "market", side: pl.Expr | str = "side", point: pl.Expr | str = "point") -> pl.Expr:
    """A bet's line by its market's rule: what keys the sides of one line together."""
    market, side, point = (pl.col(c) if isinstance(c, str) else c for c in (market, side, point))
    expr = pl.when(pl.lit(False)).then(pl.lit(0.0))
    for rule in MARKET_RULES.values():
        chosen = market == rule.market
        if rule.line is LineRule.NONE:
            expr = expr.when(chosen).then(pl.lit(0.0))
        elif rule.line is LineRule.HOME_POINT:
            expr = expr.when(chosen & (side == rule.sides[-1])).then(-point).when(chosen).then(point)
        else:
            expr = expr.when(chosen).then(point)
    return expr.otherwise(point).fill_null(0.0)


def needed(market: pl.Expr | str = "market", three_way: pl.Expr | str = "three_way") -> pl.Expr:
    """How many sides a complete book of each row's market prices."""
    market, three_way = (pl.col(c) if isinstance(c, str) else c for c in (market, three_way))
    return pl.when((market == Market.H2H) & three_way).then(3).otherwise(2)


def market_of(key: str) -> Market:
    """A market key the product bets, or a one-line error naming them."""
    try:
        return Market(key)
    except ValueError:
        raise ValueError(f"{key!r} is not a market the product bets ({', '.join(MARKETS)})") from None
