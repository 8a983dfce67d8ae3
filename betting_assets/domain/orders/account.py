"""The account the gate guards, live: its book folded from the ledger, and orders gated against it.

The book is the backtest's (``book``): the ledger's events (each bet placed, each order a venue
refused, each result settled, the day's first decision) are folded in time order through the
same compiled hooks the backtest's loop calls (``kernels.gate.fold``), so the equity, the day's
cash, the exposure and the counts the controls read come out of one accounting. Orders are
then checked by the same compiled controls, in order, each accepted one booked before the next
(``kernels.gate.gate``); a refusal comes back with every control that refused it, its code and
its words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl

from betting_assets.domain.kernels import gate as kernel
from betting_assets.domain.orders.book import ORDER_FIELDS, B, L, VenueRules, new_book, order_vector
from betting_assets.domain.orders.controls import Controls, Refusal
from betting_assets.domain.orders.risk import RiskLimits
from betting_assets.domain.orders.states import BetStatus

DEFAULT = Controls()


def limits_vector(limits: RiskLimits, venue: VenueRules) -> np.ndarray:
    values = np.zeros(len(L))
    values[L.MIN_ODDS], values[L.MAX_ODDS], values[L.MIN_EDGE] = limits.min_odds, limits.max_odds, limits.min_edge
    values[L.MIN_STAKE] = limits.min_stake
    values[L.MAX_STAKE] = limits.max_stake if limits.max_stake is not None else np.inf
    values[L.MAX_STAKE_FRACTION] = limits.max_stake_fraction
    values[L.MAX_EVENT_EXPOSURE], values[L.MAX_DAY_EXPOSURE] = limits.max_event_exposure, limits.max_day_exposure
    values[L.DAILY_LOSS], values[L.MAX_DRAWDOWN] = limits.daily_loss_limit, limits.max_drawdown
    values[L.MAX_LOSSES], values[L.MAX_PER_MINUTE] = limits.max_consecutive_losses, limits.max_bets_per_minute
    own = venue.transactions_per_hour
    values[L.TX_PER_HOUR] = min(limits.max_transactions_per_hour, own) if own is not None else np.inf
    values[L.VENUE_MIN_STAKE], values[L.VENUE_MIN_PAYOUT] = venue.min_stake, venue.min_payout
    values[L.STAKE_STEP] = venue.stake_step
    return values


def us(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


@dataclass
class Book:
    """The account at one time: the book vector, the open stake per event (``events`` gives each
    event's index) and the limits it is held to."""

    vector: np.ndarray
    exposure: np.ndarray
    events: dict[str, int]
    limits: np.ndarray

    @property
    def equity(self) -> float:
        return float(self.vector[B.EQUITY])

    @property
    def day_cash(self) -> float | None:
        cash = float(self.vector[B.DAY_CASH])
        return None if np.isnan(cash) else cash

    def take_day_cash(self) -> float:
        """The day's cash, taken now if this is the day's first decision."""
        return float(kernel.take_day_cash(self.vector))

    def event(self, event_id: str) -> int:
        """The event's index into the exposure vector, a new one for an event not seen yet."""
        if event_id not in self.events:
            self.events[event_id] = len(self.events)
            if len(self.events) > len(self.exposure):
                self.exposure = np.concatenate([self.exposure, np.zeros(max(16, len(self.exposure)))])
        return self.events[event_id]

    def on_event(self, event_id: str) -> float:
        return float(self.exposure[self.events[event_id]]) if event_id in self.events else 0.0


def fresh_book(bankroll: float, limits: RiskLimits, venue: VenueRules) -> Book:
    vector = limits_vector(limits, venue)
    return Book(new_book(bankroll, vector), np.zeros(16), {}, vector)


PLACED = (BetStatus.PENDING, BetStatus.RESTING, BetStatus.PLACED, BetStatus.SETTLED, BetStatus.VOID)
"""statuses of a bet whose stake went to the venue (a resting one's whole stake, matched or waiting)"""
SENT_UNMATCHED = (BetStatus.LAPSED, BetStatus.CANCELLED)


def book_from_ledger(ledger: pl.DataFrame, start_bankroll: float, now: datetime, limits: RiskLimits,
                     venue: VenueRules, *, venue_name: str, first_decision: datetime | None = None,
                     kill_switch: bool = False, funds: float | None = None, controls: Controls = DEFAULT) -> Book:
    """The book at ``now`` from ledger rows (event_id, status, stake, price, quoted_price, broker,
    created_at, updated_at, placed_at, settled_at, profit, refusal_codes): each placed bet booked
    when it was placed (a claimed one when it was claimed), each result when it settled, each
    order ``venue_name`` counted that it refused as a transaction; ``first_decision``, the day's
    first decision, is when the day's cash was taken. Results that came in at a moment are booked
    before the bets placed at it, as the backtest books what it knows before it decides."""
    book = fresh_book(start_bankroll, limits, venue)
    counts = venue.transactions_per_hour is not None
    rows = ledger.filter(pl.col("created_at") <= now) if ledger.height else ledger
    kinds: list[int] = []
    times: list[int] = []
    vectors: list[np.ndarray] = []

    def add(kind: int, when: datetime, row: dict, stake: float, profit: float = 0.0) -> None:  # type: ignore[type-arg]
        index = book.event(row["event_id"])
        tx = counts and row["broker"] == venue_name
        vectors.append(order_vector(index, us(when), float(row["price"] or row["requested_price"]),
                                    row["quoted_price"], stake, None, tx, profit))
        kinds.append(kind)
        times.append(us(when))

    for row in rows.iter_rows(named=True):
        status = row["status"]
        if status in PLACED:
            placed = row["placed_at"] or row["created_at"]
            at_risk = row["requested_stake"] if status == BetStatus.RESTING else row["stake"]
            add(kernel.PLACE, placed, row, float(at_risk or 0.0))
            if status in (BetStatus.SETTLED, BetStatus.VOID) and row["settled_at"] is not None \
                    and row["settled_at"] <= now:
                add(kernel.SETTLE, row["settled_at"], row, float(row["stake"] or 0.0), float(row["profit"] or 0.0))
        elif status in SENT_UNMATCHED or (status == BetStatus.REJECTED and (row["refusal_codes"] or "").startswith(
                "exchange:")):
            add(kernel.SEND, row["updated_at"], row, 0.0)
    if first_decision is not None and first_decision.date() == now.date() and first_decision <= now:
        kinds.append(kernel.OPEN_DAY)
        times.append(us(first_decision))
        vectors.append(order_vector(0, us(first_decision), 1.0, None, 0.0, None, False))
    if kinds:
        # at one time: results, then the day's cash, then placements and sends
        rank = {kernel.SETTLE: 0, kernel.OPEN_DAY: 1, kernel.PLACE: 2, kernel.SEND: 2}
        order = np.lexsort((np.arange(len(kinds)), [rank[k] for k in kinds], np.asarray(times)))
        compiled = controls.compiled()
        kernel.fold(np.asarray(kinds, dtype=np.int64)[order], np.vstack(vectors)[order], book.vector, book.exposure,
                    book.limits, compiled.accepted, compiled.settled, compiled.new_day, us(now))
    else:
        compiled = controls.compiled()
        kernel.fold(np.zeros(0, dtype=np.int64), np.zeros((0, ORDER_FIELDS)), book.vector, book.exposure,
                    book.limits, compiled.accepted, compiled.settled, compiled.new_day, us(now))
    book.vector[B.KILL] = 1.0 if kill_switch else 0.0
    book.vector[B.FUNDS] = np.nan if funds is None else funds
    return book


@dataclass(frozen=True)
class Order:
    key: str
    event_id: str
    price: float
    stake: float
    edge: float | None
    quoted_price: float | None = None
    venue_tx: bool = False
    """sending it is a transaction the venue counts"""
    group: str | None = None
    """orders of one group (an arbitrage's legs) stand or fall together"""


@dataclass(frozen=True)
class Verdict:
    order: Order
    refusals: tuple[Refusal, ...] = field(default_factory=tuple)

    @property
    def accepted(self) -> bool:
        return not self.refusals

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r.message for r in self.refusals)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.refusals)


def gate(orders: list[Order], book: Book, now: datetime, controls: Controls = DEFAULT) -> list[Verdict]:
    """Verdicts in order; each accepted order is booked in ``book`` before the next is checked, so
    a batch cannot together exceed what one order may not. The account controls are asked once,
    of the book as it stands."""
    if not orders:
        return []
    vectors = np.vstack([order_vector(book.event(o.event_id), us(now), o.price, o.quoted_price, o.stake, o.edge,
                                      o.venue_tx) for o in orders])
    groups: dict[str, int] = {}
    group = np.array([groups.setdefault(o.group, len(groups)) if o.group else -1 for o in orders], dtype=np.int64)
    compiled = controls.compiled()
    before = (book.vector.copy(), book.exposure.copy())
    masks = kernel.gate(vectors, group, book.vector, book.exposure, book.limits, compiled.check, compiled.accepted,
                        compiled.account_bits)
    return _verdicts(orders, vectors, masks, before, book, controls)


def _verdicts(orders: list[Order], vectors: np.ndarray, masks: np.ndarray, before: tuple[np.ndarray, np.ndarray],
              book: Book, controls: Controls) -> list[Verdict]:
    """Each refusal in words, read against the book as it stood for that order: replayed from
    the book before the batch, so each message gives the figures its control saw."""
    vector, exposure = before[0].copy(), before[1].copy()
    compiled = controls.compiled()
    verdicts = []
    for order, o, mask in zip(orders, vectors, masks):
        if mask:
            verdicts.append(Verdict(order, tuple(controls.refusals(int(mask), o, vector, exposure, book.limits))))
        else:
            kernel.accept(o, vector, exposure, book.limits, compiled.accepted)
            verdicts.append(Verdict(order))
    return verdicts


def static_refusals(order: Order, bankroll: float, limits: RiskLimits, venue: VenueRules,
                    controls: Controls = DEFAULT) -> list[Refusal]:
    """The controls that read the order and the bankroll alone: what a slip must pass before it is
    proposed, so the gate never meets a slip it must refuse whatever the book."""
    book = fresh_book(bankroll, limits, venue)
    o = order_vector(book.event(order.event_id), 0, order.price, order.quoted_price, order.stake, order.edge,
                     order.venue_tx)
    mask = kernel.refusals(o, book.vector, book.exposure, book.limits, controls.compiled().check,
                           controls.bits(lambda r: r.static))
    return controls.refusals(int(mask), o, book.vector, book.exposure, book.limits)
