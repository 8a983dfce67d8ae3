"""The pre-trade controls, one small object per rule (as flumine's are): each has a code, stored
with every refusal so a user can count refusals by rule, and a check that returns why it
refuses an order, or None. A new control is one class and one ``@control`` registration.

Account controls look at the book alone and refuse everything while they hold; order controls
look at one order against the book as it stands after the orders accepted before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from betting_assets.domain.orders.risk import Book, Order, RiskLimits

RATE_WINDOW = timedelta(minutes=1)
MIN_EXCHANGE_STAKE, MIN_EXCHANGE_PAYOUT = 1.0, 10.0
"""the exchange's minimum bet in GBP: a stake below 1 is valid only when it could pay out 10"""


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


class Control(Protocol):
    code: ClassVar[str]
    account: ClassVar[bool]
    """refuses every order while it holds (it looks at the book alone)"""
    static: ClassVar[bool]
    """depends on the order and the bankroll alone: what a slip must pass before it is proposed"""

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None: ...


REGISTRY: list[Control] = []


def control(kind: type) -> type:
    """Registers a control; the gate runs them in registration order."""
    if any(c.code == kind.code for c in REGISTRY):  # type: ignore[attr-defined]
        raise ValueError(f"a control with code {kind.code!r} is registered already")  # type: ignore[attr-defined]
    REGISTRY.append(kind())
    return kind


def refusals(order: Order, book: Book, limits: RiskLimits, now: datetime,
             which: Callable[[Control], bool] = lambda c: True) -> list[Refusal]:
    found = []
    for rule in REGISTRY:
        if which(rule):
            message = rule.check(order, book, limits, now)
            if message:
                found.append(Refusal(rule.code, message))
    return found


class _Order:
    account: ClassVar[bool] = False
    static: ClassVar[bool] = False


class _Static(_Order):
    static: ClassVar[bool] = True


class _Account:
    account: ClassVar[bool] = True
    static: ClassVar[bool] = False


@control
class KillSwitch(_Account):
    code = "kill_switch"

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
        return f"kill switch: {book.kill_switch}" if book.kill_switch else None


@control
class DailyLoss(_Account):
    code = "daily_loss"

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
        if book.day_start > 0 and -book.day_pnl >= limits.daily_loss_limit * book.day_start:
            return (f"daily loss limit: lost {-book.day_pnl:.2f} today, limit {limits.daily_loss_limit:.0%} of "
                    f"{book.day_start:.2f}")
        return None


@control
class Drawdown(_Account):
    code = "drawdown"

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
        if book.peak > 0 and (book.peak - book.bankroll) / book.peak >= limits.max_drawdown:
            return (f"drawdown: bankroll {book.bankroll:.2f} is {(book.peak - book.bankroll) / book.peak:.1%} below "
                    f"its peak {book.peak:.2f}, limit {limits.max_drawdown:.0%}")
        return None


@control
class LosingStreak(_Account):
    code = "losing_streak"

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
        if book.consecutive_losses >= limits.max_consecutive_losses:
            return (f"losing streak: {book.consecutive_losses} losses in a row, "
                    f"limit {limits.max_consecutive_losses}")
        return None


@control
class NoBankroll(_Account):
    code = "no_bankroll"

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
        return f"no bankroll left ({book.bankroll:.2f})" if book.bankroll <= 0 else None


@control
class OddsRange(_Static):
    code = "odds_range"

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
        if not limits.min_odds <= order.price <= limits.max_odds:
            return f"odds {order.price} outside [{limits.min_odds}, {limits.max_odds}]"
        return None


@control
class MinEdge(_Static):
    code = "min_edge"

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
        if order.edge < limits.min_edge:
            return f"edge {order.edge:.2%} below the minimum {limits.min_edge:.2%}"
        return None


@control
class MinStake(_Static):
    code = "min_stake"

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
        if order.stake < limits.min_stake:
            return f"stake {order.stake:.2f} below the minimum {limits.min_stake:.2f}"
        return None


@control
class MaxStake(_Static):
    code = "max_stake"

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
        if limits.max_stake is not None and order.stake > limits.max_stake:
            return f"stake {order.stake:.2f} above the cap {limits.max_stake:.2f}"
        return None


@control
class StakeFraction(_Static):
    code = "stake_fraction"

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
        if order.stake > limits.max_stake_fraction * book.bankroll:
            return (f"stake {order.stake:.2f} above {limits.max_stake_fraction:.0%} of the bankroll "
                    f"{book.bankroll:.2f}")
        return None


@control
class EventExposure(_Order):
    code = "event_exposure"

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
        on_event = book.event_exposure.get(order.event_id, 0.0) + order.stake
        if on_event > limits.max_event_exposure * book.bankroll:
            return f"event exposure {on_event:.2f} above {limits.max_event_exposure:.0%} of the bankroll"
        return None


@control
class DayExposure(_Order):
    code = "day_exposure"

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
        if book.day_staked + order.stake > limits.max_day_exposure * book.bankroll:
            return (f"day exposure {book.day_staked + order.stake:.2f} above {limits.max_day_exposure:.0%} "
                    "of the bankroll")
        return None


@control
class RateLimit(_Order):
    code = "rate_limit"

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
        recent = [t for t in book.recent if now - t < RATE_WINDOW]
        if len(recent) >= limits.max_bets_per_minute:
            return f"rate limit: {len(recent)} bets in the last minute, limit {limits.max_bets_per_minute}"
        return None


@control
class AvailableFunds(_Order):
    code = "available_funds"

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
        if book.funds is not None and order.stake > book.funds + 1e-9:
            return f"available funds {book.funds:.2f} below the stake {order.stake:.2f}"
        return None


@control
class TransactionBudget(_Order):
    code = "transaction_budget"

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
        if book.transactions_this_hour >= limits.max_transactions_per_hour:
            return (f"transaction budget: {book.transactions_this_hour} exchange transactions this hour, "
                    f"limit {limits.max_transactions_per_hour}")
        return None


@control
class ExchangeMinimum(_Order):
    """The exchange's own minimum bet, checked before sending (the exchange would refuse it)."""

    code = "exchange_minimum"

    def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
        return exchange_size_problem(order.stake, order.quoted_price or order.price) if order.on_exchange else None


def exchange_size_problem(stake: float, price: float) -> str | None:
    if stake >= MIN_EXCHANGE_STAKE or stake * price >= MIN_EXCHANGE_PAYOUT:
        return None
    return (f"stake {stake:.2f} below the exchange's minimum {MIN_EXCHANGE_STAKE:.2f} (or a payout of "
            f"{MIN_EXCHANGE_PAYOUT:.0f} at {price})")
