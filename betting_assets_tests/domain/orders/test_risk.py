"""Every pre-trade control on its own, then the gate over a batch and the book the ledger gives."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from betting_assets.domain.orders import controls
from betting_assets.venues.betfair.ladder import on_ladder, to_ladder
from betting_assets.domain.orders.risk import (
    Book,
    BookQuote,
    Order,
    RiskLimits,
    book_from_ledger,
    exchange_transactions,
    gate,
    recheck,
    recheck_on_book,
)

NOW = datetime(2024, 3, 2, 14, 0, tzinfo=timezone.utc)
LIMITS = RiskLimits(min_odds=1.2, max_odds=15.0, min_edge=0.02, min_stake=1.0, max_stake=50.0,
                    max_stake_fraction=0.05, max_event_exposure=0.10, max_day_exposure=0.25, daily_loss_limit=0.10,
                    max_drawdown=0.25, max_consecutive_losses=3, max_bets_per_minute=2)


def _book(**changes: object) -> Book:
    values: dict[str, object] = {"bankroll": 1000.0, "peak": 1000.0, "day_start": 1000.0}
    values.update(changes)
    return Book(**values)  # type: ignore[arg-type]


GOOD = Order("k", "e1", price=2.5, stake=20.0, edge=0.05)


@pytest.mark.parametrize(("order", "book", "code", "reason"), [
    (Order("k", "e1", 1.1, 20.0, 0.05), _book(), "odds_range", "odds 1.1 outside [1.2, 15.0]"),
    (Order("k", "e1", 21.0, 20.0, 0.05), _book(), "odds_range", "odds 21.0 outside"),
    (Order("k", "e1", 2.5, 20.0, 0.01), _book(), "min_edge", "edge 1.00% below the minimum 2.00%"),
    (Order("k", "e1", 2.5, 0.5, 0.05), _book(), "min_stake", "stake 0.50 below the minimum 1.00"),
    (Order("k", "e1", 2.5, 60.0, 0.05), _book(bankroll=5000.0, peak=5000.0, day_start=5000.0), "max_stake",
     "stake 60.00 above the cap 50.00"),
    (Order("k", "e1", 2.5, 45.0, 0.05), _book(bankroll=800.0, peak=800.0, day_start=800.0), "stake_fraction",
     "stake 45.00 above 5% of the bankroll 800.00"),
    (GOOD, _book(event_exposure={"e1": 85.0}), "event_exposure", "event exposure 105.00 above 10% of the bankroll"),
    (GOOD, _book(day_staked=240.0), "day_exposure", "day exposure 260.00 above 25% of the bankroll"),
    (GOOD, _book(day_pnl=-100.0), "daily_loss", "daily loss limit: lost 100.00 today"),
    (GOOD, _book(bankroll=740.0, peak=1000.0, day_start=740.0), "drawdown",
     "drawdown: bankroll 740.00 is 26.0% below its peak"),
    (GOOD, _book(consecutive_losses=3), "losing_streak", "losing streak: 3 losses in a row"),
    (GOOD, _book(recent=[NOW - timedelta(seconds=10), NOW - timedelta(seconds=50)]), "rate_limit",
     "rate limit: 2 bets"),
    (GOOD, _book(kill_switch="the kill file exists"), "kill_switch", "kill switch: the kill file exists"),
    (GOOD, _book(funds=15.0), "available_funds", "available funds 15.00 below the stake 20.00"),
    (GOOD, _book(funds=500.0, transactions_this_hour=5000), "transaction_budget",
     "transaction budget: 5000 exchange transactions this hour, limit 5000"),
    (Order("k", "e1", 1.5, 0.9, 0.05, quoted_price=1.6, on_exchange=True), _book(),
     "exchange_minimum", "stake 0.90 below the exchange's minimum 1.00 (or a payout of 10 at 1.6)"),
])
def test_each_control_rejects_with_its_code_and_reason(order: Order, book: Book, code: str, reason: str) -> None:
    verdict, = gate([order], book, LIMITS.model_copy(update={"min_stake": 0.5}) if code == "exchange_minimum"
                    else LIMITS, NOW)
    assert not verdict.accepted
    assert code in verdict.codes, verdict.codes
    assert any(r.startswith(reason) for r in verdict.reasons), verdict.reasons


def test_a_new_control_is_one_class_and_one_registration() -> None:
    @controls.control
    class NoDerbies:
        code = "no_derbies"
        account = static = False

        def check(self, order: Order, book: Book, limits: RiskLimits, now: datetime) -> str | None:
            return "no bets on derbies" if order.event_id.startswith("derby") else None

    try:
        derby, other = gate([replace(GOOD, event_id="derby-1"), GOOD], _book(), LIMITS, NOW)
        assert derby.codes == ("no_derbies",) and derby.reasons == ("no bets on derbies",) and other.accepted
        with pytest.raises(ValueError, match="no_derbies"):
            controls.control(NoDerbies)
    finally:
        controls.REGISTRY[:] = [c for c in controls.REGISTRY if c.code != "no_derbies"]
    assert len({c.code for c in controls.REGISTRY}) == len(controls.REGISTRY) == 16


def test_a_clean_order_passes_and_old_placements_do_not_count_towards_the_rate() -> None:
    verdict, = gate([GOOD], _book(recent=[NOW - timedelta(minutes=2)] * 5, day_pnl=-99.0), LIMITS, NOW)
    assert verdict.accepted and verdict.reasons == ()


def test_every_failing_control_is_recorded_not_just_the_first() -> None:
    verdict, = gate([Order("k", "e1", 30.0, 80.0, 0.0)], _book(kill_switch="set"), LIMITS, NOW)
    assert len(verdict.reasons) >= 5


def test_a_batch_cannot_exceed_together_what_one_order_may_not() -> None:
    """Event cap 100: two 45s fit, the third on the same event does not; the rate limit of 2 a
    minute stops the fourth order on another event."""
    orders = [Order(f"k{i}", "e1" if i < 3 else "e2", 2.5, 45.0, 0.05) for i in range(4)]
    verdicts = gate(orders, _book(), LIMITS, NOW)
    assert [v.accepted for v in verdicts] == [True, True, False, False]
    assert "event exposure 135.00" in verdicts[2].reasons[0]
    assert any(r.startswith("rate limit") for r in verdicts[3].reasons)


def test_price_recheck() -> None:
    kick_off = NOW + timedelta(hours=1)
    assert recheck(2.50, 2.50, kick_off, NOW, 0.02) is None
    assert recheck(2.50, 2.46, kick_off, NOW, 0.02) is None          # -1.6 %: within tolerance
    assert recheck(2.50, 2.80, kick_off, NOW, 0.02) is None          # a better price is taken
    assert recheck(2.50, 2.40, kick_off, NOW, 0.02) == "price moved from 2.5 to 2.4 (-4.0%, tolerance 2%)"
    assert recheck(2.50, None, kick_off, NOW, 0.02) == "market closed: the bookmaker no longer offers this line"
    assert recheck(2.50, 2.50, NOW, NOW, 0.02).startswith("market closed: the event started")  # type: ignore[union-attr]


def test_the_book_from_the_ledger() -> None:
    """Start 1,000. Yesterday: +50 then -30 (peak 1,050); today: -20, -10 (three losses in a row).
    Open: 15 on e1, 5 pending on e1, 7 on e2; today's stakes include the settled ones placed today."""
    day = NOW.replace(hour=0)
    rows = [
        ("e0", "settled", 10.0, day - timedelta(hours=30), day - timedelta(hours=20), 50.0),
        ("e0", "settled", 30.0, day - timedelta(hours=30), day - timedelta(hours=10), -30.0),
        ("e3", "settled", 20.0, day + timedelta(hours=1), day + timedelta(hours=5), -20.0),
        ("e3", "settled", 10.0, day + timedelta(hours=1), day + timedelta(hours=6), -10.0),
        ("e1", "placed", 15.0, NOW - timedelta(seconds=30), None, None),
        ("e1", "pending", 5.0, None, None, None),
        ("e2", "placed", 7.0, day - timedelta(hours=2), None, None),
        ("e2", "rejected", 0.0, None, None, None),
    ]
    ledger = pl.DataFrame(rows, schema={"event_id": pl.String, "status": pl.String, "stake": pl.Float64,
                                        "placed_at": pl.Datetime("us", "UTC"), "settled_at": pl.Datetime("us", "UTC"),
                                        "profit": pl.Float64}, orient="row").with_columns(
        broker=pl.lit("paper"), updated_at=pl.lit(NOW), refusal_codes=pl.lit(None, pl.String))
    book = book_from_ledger(ledger, 1000.0, NOW)
    assert book.bankroll == pytest.approx(990.0) and book.peak == pytest.approx(1050.0)
    assert book.day_start == pytest.approx(1020.0) and book.day_pnl == pytest.approx(-30.0)
    assert book.consecutive_losses == 3
    assert book.event_exposure == {"e1": 20.0, "e2": 7.0}
    assert book.day_staked == pytest.approx(45.0)
    assert len(book.recent) == 1 and book.transactions_this_hour == 0     # paper sends nothing to an exchange


def test_exchange_prices_are_rounded_down_to_the_ladder() -> None:
    assert [to_ladder(p) for p in (1.5, 2.03, 3.33, 4.17, 7.9, 12.3, 23.7, 1000.5)] == \
        [1.5, 2.02, 3.3, 4.1, 7.8, 12.0, 23.0, 1000.0]
    assert on_ladder(2.02) and not on_ladder(2.03) and not on_ladder(1.0)
    with pytest.raises(ValueError, match="below the exchange's minimum"):
        to_ladder(1.0)


def test_funds_and_the_transaction_budget_hold_over_a_batch() -> None:
    """Each accepted order spends funds and one transaction before the next is gated."""
    limits = LIMITS.model_copy(update={"max_transactions_per_hour": 4, "max_bets_per_minute": 10})
    orders = [Order(f"k{i}", f"e{i}", 2.5, 20.0, 0.05, quoted_price=2.6, on_exchange=True) for i in range(4)]
    verdicts = gate(orders, _book(funds=50.0, transactions_this_hour=1), limits, NOW)
    assert [v.accepted for v in verdicts] == [True, True, False, False]
    assert verdicts[2].reasons == ("available funds 10.00 below the stake 20.00",)
    assert verdicts[3].reasons == ("available funds 10.00 below the stake 20.00",)   # a refusal spends nothing
    budget = gate(orders[:2], _book(funds=500.0, transactions_this_hour=3), limits, NOW)
    assert budget[0].accepted and budget[1].reasons == (
        "transaction budget: 4 exchange transactions this hour, limit 4",)


def test_exchange_transactions_count_what_reached_the_exchange_this_clock_hour() -> None:
    at = NOW.replace(minute=30)
    rows = pl.DataFrame({
        "broker": ["exchange", "exchange", "exchange", "exchange", "paper", "exchange"],
        "status": ["placed", "lapsed", "rejected", "rejected", "placed", "placed"],
        "refusal_codes": [None, None, "exchange:INVALID_ODDS", "price_moved", None, None],
        "placed_at": [at, None, None, None, at, NOW - timedelta(minutes=1)],
        "updated_at": [at, at, at, at, at, NOW - timedelta(minutes=1)],
    })
    assert exchange_transactions(rows, at) == 3      # the gate's own refusal and paper do not count; 13:59 is last hour


def test_the_recheck_on_the_live_book() -> None:
    start = NOW + timedelta(hours=1)

    def check(quote: BookQuote | None, version: int | None = 7, stake: float = 20.0, price: float = 2.045):
        return recheck_on_book(price, quote, version, stake, start, NOW, 0.02, 0.05, 1.0)

    same = check(BookQuote("OPEN", 7, 2.1, 100.0))
    assert (same.reason, same.quoted_price, same.stake, same.version, same.note) == (None, 2.1, 20.0, 7, None)
    assert same.price == pytest.approx(2.045)
    fell = check(BookQuote("OPEN", 7, 2.04, 100.0))
    assert fell.reason == ("price moved from 2.045 to 1.988 (best back 2.04 net of 5% commission, -2.8%, "
                           "tolerance 2%)") and not fell.final
    assert check(BookQuote("SUSPENDED", 7, None, None)).reason == "the exchange market is suspended"
    closed = check(BookQuote("CLOSED", 7, None, None))
    assert closed.final and closed.reason.startswith("market closed")
    assert check(None).reason == "the exchange returned no book for this market"
    moved = check(BookQuote("OPEN", 9, 2.12, 100.0))
    assert moved.reason is None and moved.version == 9
    assert moved.note == "market version moved from 7 to 9, price within tolerance"
    thin = check(BookQuote("OPEN", 7, 2.1, 12.5))
    assert thin.stake == 12.5 and thin.note == "only 12.50 available at 2.1: placing 12.50 of 20.00"
    assert check(BookQuote("OPEN", 7, 2.1, 0.6)).reason == "only 0.60 available at 2.1, below the minimum stake 1.00"
    late = recheck_on_book(2.0, BookQuote("OPEN", 7, 2.1, 100.0), 7, 20.0, NOW, NOW, 0.02, 0.05, 1.0)
    assert late.final and late.reason.startswith("market closed: the event started")
