"""The one doorway every order goes through: a ``Venue`` (as flumine's clients carry their own
limits), with what placement sends it and what it answers.

A venue says its name, the commission it takes in a market, its rules (minimum stake and payout,
stake step, transaction budget), the markets it lists, whether it prices from a book of its own
(then slips are priced at it and re-checked on it) and whether it settles its own bets (then
settlement takes its reports). It opens a session for a step, and answers quotes, the account's money,
orders, lookups by reference, cancels of what rests and cleared reports. Nothing outside ``venues/`` asks which venue
it is: it asks the venue.

A venue answers each order with a ``Fill``. ``unknown`` means the order may or may not have
reached it (a timeout, a dropped connection): the ledger row stays pending and the next run
asks by the order's reference before placing anything again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

import polars as pl
from sqlalchemy import Engine

from betting_assets.domain.orders.book import VenueRules
from betting_assets.domain.orders.risk import BookQuote
from betting_assets.domain.vocabulary import Market
from betting_assets.venues import VenueName
from betting_assets.domain.orders.states import BetStatus

FillStatus = Literal[BetStatus.PLACED, BetStatus.RESTING, BetStatus.LAPSED, BetStatus.CANCELLED, BetStatus.REJECTED,
                     "unknown"]
Quotes = dict[tuple[str, int, float], BookQuote]
"""a venue book's best offers by (market id, selection, handicap)"""


@dataclass(frozen=True)
class OrderRequest:
    customer_ref: str
    event_id: str
    market: str
    side: str
    point: float
    price: float
    """what a unit returns on a win (net of commission at an exchange)"""
    stake: float
    min_fill: float = 1.0
    quoted_price: float | None = None
    """the price to ask for, as the venue quotes it"""
    market_id: str | None = None
    selection_id: int | None = None
    handicap: float = 0.0
    market_version: int | None = None
    strategy_ref: str | None = None
    """the strategy the order comes from, as the venue keeps it"""
    fill_or_kill: bool = True
    """False: what does not match at once rests at the price (a LIMIT order that waits)"""


ClearedKind = Literal["settled", "voided", "lapsed", "cancelled"]


@dataclass(frozen=True)
class Cleared:
    """A venue's settlement of one bet: ``settled`` or ``voided`` for its matched stake (gross
    ``profit``; a venue that charges commission does so per market, in ``MarketCleared``), or
    ``lapsed``/``cancelled`` for a stake that never matched."""

    customer_ref: str
    kind: ClearedKind
    outcome: str | None
    price_matched: float
    size_settled: float
    profit: float
    market_id: str | None = None


@dataclass(frozen=True)
class MarketCleared:
    """A venue's settlement of one market for the whole account: the bets' summed profit, the
    commission it charged on the market's net winnings, and how many bets it counted."""

    market_id: str
    profit: float
    commission: float
    bet_count: int


@dataclass(frozen=True)
class Clearing:
    bets: dict[str, Cleared]
    """by customer reference"""
    markets: dict[str, MarketCleared]
    """the markets of the settled bets, by market id"""


@dataclass(frozen=True)
class Fill:
    status: FillStatus
    matched: float = 0.0
    price: float | None = None
    """what a unit matched returns on a win (net of commission at an exchange)"""
    broker_bet_id: str | None = None
    reason: str | None = None
    quoted_price: float | None = None
    """the price matched, as quoted"""
    code: str | None = None
    """why it was rejected, as a code (``exchange:`` and the venue's error code)"""
    remaining: float = 0.0
    """what still rests unmatched at the venue (``resting``)"""
    fault: bool = False
    """refused by the venue's own failure (its matcher, its load), not on the order's merits"""
    market_id: str | None = None


@dataclass(frozen=True)
class Replaced:
    """A venue's answer to moving a resting order to a new price (Betfair's replaceOrders: the
    old bet's unmatched rest cancelled, then a new bet for that much at the new price).
    ``cancelled`` is what the cancel took back; ``fill`` the new bet (None when none was made:
    the old bet had nothing left to cancel, or the new bet was refused, in which case the cancel
    stands)."""

    cancelled: float
    fill: Fill | None
    reason: str | None = None


@dataclass(frozen=True)
class Account:
    """A venue's account as it reports it: what is ``available`` to bet and the ``exposure`` its
    open bets hold (negative, as Betfair reports it)."""

    available: float
    exposure: float

    @property
    def wallet(self) -> float:
        """What the account holds: available to bet plus what the open bets hold. Placing, lapsing
        or cancelling a bet leaves it as it was; only a settlement (or a deposit, a withdrawal)
        moves it."""
        return round(self.available - self.exposure, 2)


class VenueError(RuntimeError):
    """The venue refused the session itself (credentials, app key): nothing can be placed."""


class Venue(Protocol):
    name: ClassVar[VenueName]
    rules: ClassVar[VenueRules]
    books_own_prices: ClassVar[bool]
    """slips are priced at the venue's own book, and re-checked on it before they are sent"""
    settles_own_bets: ClassVar[bool]
    """its bets settle by its own reports (``cleared``), cross-checked against the scores"""
    markets: ClassVar[dict[Market, str]]
    """the product's markets it lists, and what it calls each"""

    def commission(self, market: Market) -> float: ...

    def session(self, purpose: str) -> Any:
        """A context in which the venue is logged in (a no-op where there is nothing to log into)."""
        ...

    def offers(self, engine: Engine, offers: pl.DataFrame, events: pl.DataFrame, now: datetime) -> pl.DataFrame:
        """What can be bet at the venue, in the market view's shape, from the feed's ``offers``."""
        ...

    def locate(self, engine: Engine, rows: list[dict[str, Any]], now: datetime) -> None:
        """Adds to each ledger row bound for the venue's own book where it sits there (market id,
        selection, handicap; None when it is not listed) and that runner's live ``book``."""
        ...

    def unmapped(self, engine: Engine, slips: pl.DataFrame) -> pl.DataFrame:
        """Slips (slip_id, event_id, market, side, point, …) the venue could not take as they
        stand, with a ``reason``: empty for a venue that takes every line."""
        ...

    def quotes(self, market_ids: list[str], keep: Callable[[dict[str, Any]], None] | None = None) -> Quotes: ...

    def account(self) -> Account | None:
        """The account's money as the venue reports it; None for a venue without one (paper)."""
        ...

    def map_markets(self, engine: Engine, now: datetime, sports: list[str],
                    participants: Callable[[str], list[str]] | None = None) -> Any:
        """Maps the upcoming events onto the venue's markets and stores where each bet would go;
        None for a venue that needs no mapping (it takes any bookmaker's line). ``participants``
        gives a sport's teams as the feed names them (asked only by a venue that maps)."""
        ...

    def place(self, order: OrderRequest) -> Fill: ...

    def lookup(self, customer_refs: list[str], bet_ids: dict[str, str] | None = None) -> dict[str, Fill]:
        """What the venue holds for these references; a reference it never saw is absent. A
        reference with its venue bet id in ``bet_ids`` is asked by the id: a replaced order's new
        bet is the one the ledger follows, whatever reference the venue gave it."""
        ...

    def cancel(self, orders: list[tuple[str, str]]) -> None:
        """Cancels what rests unmatched of these (market id, venue bet id) orders."""
        ...

    def replace(self, market_id: str, bet_id: str, price: float) -> Replaced:
        """Moves a resting order's unmatched rest to ``price`` (as the venue quotes it)."""
        ...

    def cleared(self, customer_refs: list[str], bet_ids: dict[str, str] | None = None) -> Clearing:
        """The venue's settlement of these bets (keyed by the ledger's reference, asked by venue
        bet id where ``bet_ids`` has one), and of their markets; a bet not yet cleared is absent."""
        ...

    def close(self) -> None: ...


@contextmanager
def no_session(venue: Venue) -> Iterator[Venue]:
    yield venue
