"""The risk gate: every order passes the pre-trade controls (``domain.controls``) before it
reaches a broker, and a slip the re-check finds moved never gets there.

An order that fails a control is rejected with every reason that applies, each with its
control's code, so the record says all that was wrong rather than the first thing checked.
Account-level stops (kill switch, daily loss, drawdown, losing streak) reject everything;
order-level controls (odds, edge, stake, exposure, rate, funds, transactions) look at one order
against what the book already holds, and an accepted order counts towards the exposure of the
orders gated after it in the same batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from betting_assets.domain.bounds import ordered
from betting_assets.domain.pricing.commission import net_price
from betting_assets.domain.orders.controls import RATE_WINDOW, Refusal, refusals

OPEN_STATUSES = ("pending", "placed")
"""ledger statuses whose stake is at risk until the bet settles"""
STAKED_STATUSES = ("pending", "placed", "settled", "void")
MARKET_CLOSED = "market closed"
EXCHANGE_CODE_PREFIX = "exchange:"
"""refusal codes of the exchange's own answers (``exchange:INVALID_ODDS``)"""


class RiskLimits(BaseModel):
    """The gate's controls; also the settings' ``risk`` group. The stake bounds and the minimum
    edge are the gate's own floor and caps: the same environment variables set sizing's and the
    strategies' (``BETTING_MIN_STAKE``, ``BETTING_MAX_STAKE``, ``BETTING_MIN_EDGE``), and the
    nested names set them apart."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_odds: float = Field(default=1.2, gt=1, description="Refuse prices below this.")
    max_odds: float = Field(default=15.0, gt=1, description="Refuse prices above this.")
    min_edge: float = Field(default=0.02, description="Refuse an expected value per unit below this.")
    min_stake: float = Field(default=1.0, ge=0, description="Refuse stakes below this.")
    max_stake: float | None = Field(default=50.0, gt=0, description="Refuse stakes above this; none when unset.")
    max_stake_fraction: float = Field(default=0.05, gt=0, le=1, description="Largest stake as a share of the bankroll.")
    max_event_exposure: float = Field(default=0.10, gt=0, le=1,
                                      description="Open stakes on one event, as a share of the bankroll.")
    max_day_exposure: float = Field(default=0.25, gt=0, le=1,
                                    description="Stakes placed in one UTC day, as a share of the bankroll.")
    daily_loss_limit: float = Field(default=0.10, gt=0, le=1, description="Stop for the day once settled losses "
                                    "reach this share of the day's starting bankroll.")
    max_drawdown: float = Field(default=0.25, gt=0, le=1, description="Stop once the bankroll is this far below "
                                "its peak.")
    max_consecutive_losses: int = Field(default=8, gt=0, description="Stop after this many losses in a row.")
    max_bets_per_minute: int = Field(default=30, gt=0, description="Rate limit on placements.")
    price_tolerance: float = Field(default=0.02, ge=0, description="Refuse a slip whose price fell by more than "
                                   "this share since it was proposed.")
    max_transactions_per_hour: int = Field(default=5000, gt=0, description="Exchange transactions (orders sent, "
                                           "failed ones too) per clock hour: Betfair charges beyond 5,000.")

    @model_validator(mode="after")
    def _bounds_ordered(self) -> "RiskLimits":
        ordered(self, "min_odds", "max_odds", strict=True)
        ordered(self, "min_stake", "max_stake", strict=False)
        return self


@dataclass(frozen=True)
class Order:
    key: str
    event_id: str
    price: float
    stake: float
    edge: float
    quoted_price: float | None = None
    on_exchange: bool = False


@dataclass
class Book:
    """What the account holds when the gate runs; fractions are of ``bankroll``."""

    bankroll: float
    peak: float
    day_start: float
    day_pnl: float = 0.0
    day_staked: float = 0.0
    event_exposure: dict[str, float] = field(default_factory=dict)
    consecutive_losses: int = 0
    recent: list[datetime] = field(default_factory=list)
    kill_switch: str | None = None
    """why placement is switched off, if it is"""
    funds: float | None = None
    """what the exchange says is available to bet (None for paper)"""
    transactions_this_hour: int = 0


@dataclass(frozen=True)
class Verdict:
    order: Order
    refusals: tuple[Refusal, ...]

    @property
    def accepted(self) -> bool:
        return not self.refusals

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r.message for r in self.refusals)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.refusals)


_NOBODY = Order("", "", 0.0, 0.0, 0.0)


def account_stops(book: Book, limits: RiskLimits, now: datetime | None = None) -> list[Refusal]:
    return refusals(_NOBODY, book, limits, now or datetime.min, lambda c: c.account)


def stake_cap(limits: RiskLimits, bankroll: float) -> float:
    """The largest single stake the gate accepts at this bankroll."""
    cap = limits.max_stake_fraction * bankroll
    return min(cap, limits.max_stake) if limits.max_stake is not None else cap


def static_problems(order: Order, bankroll: float, limits: RiskLimits) -> list[str]:
    """The controls that depend on the order and the bankroll alone: what a slip must pass
    before it is proposed, so the gate never meets a slip it must refuse whatever the book."""
    book = Book(bankroll=bankroll, peak=bankroll, day_start=bankroll)
    return [r.message for r in refusals(order, book, limits, datetime.min, lambda c: c.static)]


def gate(orders: list[Order], book: Book, limits: RiskLimits, now: datetime) -> list[Verdict]:
    """Verdicts in order, every control that refuses an order named (``domain.controls``);
    each accepted order is added to a copy of the book first, so a batch cannot together
    exceed what one order may not."""
    held = replace(book, event_exposure=dict(book.event_exposure), recent=list(book.recent))
    stops = account_stops(held, limits, now)
    verdicts = []
    for order in orders:
        found = stops + refusals(order, held, limits, now, lambda c: not c.account)
        if not found:
            held.event_exposure[order.event_id] = held.event_exposure.get(order.event_id, 0.0) + order.stake
            held.day_staked += order.stake
            held.recent.append(now)
            if held.funds is not None:
                held.funds -= order.stake
            if order.on_exchange:
                held.transactions_this_hour += 1
        verdicts.append(Verdict(order, tuple(found)))
    return verdicts


def recheck_code(reason: str) -> str:
    """The code of a bookmaker re-check's refusal (``recheck``)."""
    return "market_closed" if reason.startswith(MARKET_CLOSED) else "price_moved"


def recheck(proposed_price: float, offered_price: float | None, commence_time: datetime, now: datetime,
            tolerance: float) -> str | None:
    """Why a slip can no longer be placed as proposed, or None. A better price is no reason
    to refuse; a worse one beyond the tolerance is."""
    if commence_time <= now:
        return f"{MARKET_CLOSED}: the event started at {commence_time:%Y-%m-%d %H:%M}"
    if offered_price is None:
        return f"{MARKET_CLOSED}: the bookmaker no longer offers this line"
    fall = (proposed_price - offered_price) / proposed_price
    if fall > tolerance:
        return f"price moved from {proposed_price} to {offered_price} ({-fall:+.1%}, tolerance {tolerance:.0%})"
    return None


@dataclass(frozen=True)
class BookQuote:
    """One runner of an exchange's live book."""

    status: str
    version: int | None
    back_price: float | None
    back_size: float | None
    lay_price: float | None = None


@dataclass(frozen=True)
class BookRecheck:
    """What the live book says of a slip: a refusal (``final`` when the market is gone), or the
    price, size and version to place at, with a note of what changed."""

    reason: str | None = None
    code: str | None = None
    final: bool = False
    price: float | None = None
    quoted_price: float | None = None
    stake: float = 0.0
    version: int | None = None
    note: str | None = None


def recheck_on_book(proposed_price: float, quote: BookQuote | None, proposed_version: int | None, stake: float,
                    commence_time: datetime, now: datetime, tolerance: float, commission: float,
                    min_stake: float) -> BookRecheck:
    """The re-check of a slip bound for an exchange against its live book. Its price is the
    best back net of commission; a fall beyond the tolerance refuses the slip. A moved version
    is no refusal of its own: the price is re-checked, and the order carries the new version so
    the exchange lapses it if the market moves again before it arrives. Less size than the
    stake places what is there when that reaches the minimum stake."""
    if commence_time <= now:
        return BookRecheck(f"{MARKET_CLOSED}: the event started at {commence_time:%Y-%m-%d %H:%M}", "market_closed",
                           final=True)
    if quote is None:
        return BookRecheck("the exchange returned no book for this market", "no_book")
    if quote.status == "CLOSED":
        return BookRecheck(f"{MARKET_CLOSED}: the exchange market is closed", "market_closed", final=True)
    if quote.status != "OPEN":
        return BookRecheck(f"the exchange market is {quote.status.lower()}", "market_status")
    if quote.back_price is None:
        return BookRecheck("no back price on the exchange", "no_back_price")
    price = net_price(quote.back_price, commission)
    fall = (proposed_price - price) / proposed_price
    if fall > tolerance:
        return BookRecheck(f"price moved from {proposed_price:.3f} to {price:.3f} (best back {quote.back_price:g} "
                           f"net of {commission:.0%} commission, {-fall:+.1%}, tolerance {tolerance:.0%})", "price_moved")
    notes = []
    if proposed_version is not None and quote.version != proposed_version:
        notes.append(f"market version moved from {proposed_version} to {quote.version}, price within tolerance")
    size = float(quote.back_size or 0.0)
    if size < stake:
        if size < min_stake:
            return BookRecheck(f"only {size:.2f} available at {quote.back_price:g}, below the minimum stake "
                               f"{min_stake:.2f}", "thin_book")
        notes.append(f"only {size:.2f} available at {quote.back_price:g}: placing {size:.2f} of {stake:.2f}")
        stake = size
    return BookRecheck(price=price, quoted_price=quote.back_price, stake=round(stake, 2), version=quote.version,
                       note="; ".join(notes) or None)


def book_from_ledger(ledger: pl.DataFrame, start_bankroll: float, now: datetime, kill_switch: str | None = None,
                     funds: float | None = None) -> Book:
    """The book from ledger rows (event_id, status, stake, placed_at, settled_at, profit). The
    bankroll moves only when a bet settles; stakes still open count as exposure."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    settled = ledger.filter(pl.col("status") == "settled").sort("settled_at")
    profits = settled["profit"].fill_null(0.0).to_list()
    equity, peak, before_today = start_bankroll, start_bankroll, start_bankroll
    for when, profit in zip(settled["settled_at"].to_list(), profits):
        equity += profit
        peak = max(peak, equity)
        if when < day:
            before_today = equity
    streak = 0
    for profit in reversed(profits):
        if profit < 0:
            streak += 1
        elif profit > 0:
            break
    open_rows = ledger.filter(pl.col("status").is_in(OPEN_STATUSES))
    exposure = dict(open_rows.group_by("event_id").agg(pl.col("stake").sum()).iter_rows())
    staked = ledger.filter(pl.col("status").is_in(STAKED_STATUSES) & pl.col("placed_at").is_not_null())
    today = staked.filter(pl.col("placed_at") >= day)
    return Book(
        bankroll=equity, peak=peak, day_start=before_today, day_pnl=equity - before_today,
        day_staked=float(today["stake"].sum()), event_exposure=exposure, consecutive_losses=streak,
        recent=staked.filter(pl.col("placed_at") > now - RATE_WINDOW)["placed_at"].to_list(),
        kill_switch=kill_switch, funds=funds, transactions_this_hour=exchange_transactions(ledger, now))


def exchange_transactions(ledger: pl.DataFrame, now: datetime) -> int:
    """Orders sent to the exchange in ``now``'s clock hour, whatever their answer: placed,
    lapsed, and refused by the exchange itself (refusal code ``exchange:…``)."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    sent = (pl.col("broker") == "exchange") & (pl.coalesce("placed_at", "updated_at") >= hour) & (
        pl.col("status").is_in(["pending", "placed", "lapsed", "settled", "void"])
        | ((pl.col("status") == "rejected")
           & pl.col("refusal_codes").str.starts_with(EXCHANGE_CODE_PREFIX).fill_null(False)))
    return ledger.filter(sent).height
