"""Every pre-trade control on its own, then the gate over a batch and the book the ledger gives."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from betting_assets.domain.ladder import on_ladder, to_ladder
from betting_assets.domain.risk import Book, Order, RiskLimits, book_from_ledger, gate, recheck

NOW = datetime(2024, 3, 2, 14, 0, tzinfo=timezone.utc)
LIMITS = RiskLimits(min_odds=1.2, max_odds=15.0, min_edge=0.02, min_stake=1.0, max_stake=50.0,
                    max_stake_fraction=0.05, max_event_exposure=0.10, max_day_exposure=0.25, daily_loss_limit=0.10,
                    max_drawdown=0.25, max_consecutive_losses=3, max_bets_per_minute=2)


def _book(**changes: object) -> Book:
    values: dict[str, object] = {"bankroll": 1000.0, "peak": 1000.0, "day_start": 1000.0}
    values.update(changes)
    return Book(**values)  # type: ignore[arg-type]


GOOD = Order("k", "e1", price=2.5, stake=20.0, edge=0.05)


@pytest.mark.parametrize(("order", "book", "reason"), [
    (Order("k", "e1", 1.1, 20.0, 0.05), _book(), "odds 1.1 outside [1.2, 15.0]"),
    (Order("k", "e1", 21.0, 20.0, 0.05), _book(), "odds 21.0 outside"),
    (Order("k", "e1", 2.5, 20.0, 0.01), _book(), "edge 1.00% below the minimum 2.00%"),
    (Order("k", "e1", 2.5, 0.5, 0.05), _book(), "stake 0.50 below the minimum 1.00"),
    (Order("k", "e1", 2.5, 60.0, 0.05), _book(bankroll=5000.0, peak=5000.0, day_start=5000.0),
     "stake 60.00 above the cap 50.00"),
    (Order("k", "e1", 2.5, 45.0, 0.05), _book(bankroll=800.0, peak=800.0, day_start=800.0),
     "stake 45.00 above 5% of the bankroll 800.00"),
    (GOOD, _book(event_exposure={"e1": 85.0}), "event exposure 105.00 above 10% of the bankroll"),
    (GOOD, _book(day_staked=240.0), "day exposure 260.00 above 25% of the bankroll"),
    (GOOD, _book(day_pnl=-100.0), "daily loss limit: lost 100.00 today"),
    (GOOD, _book(bankroll=740.0, peak=1000.0, day_start=740.0), "drawdown: bankroll 740.00 is 26.0% below its peak"),
    (GOOD, _book(consecutive_losses=3), "losing streak: 3 losses in a row"),
    (GOOD, _book(recent=[NOW - timedelta(seconds=10), NOW - timedelta(seconds=50)]), "rate limit: 2 bets"),
    (GOOD, _book(kill_switch="the kill file exists"), "kill switch: the kill file exists"),
])
def test_each_control_rejects_with_its_reason(order: Order, book: Book, reason: str) -> None:
    verdict, = gate([order], book, LIMITS, NOW)
    assert not verdict.accepted
    assert any(r.startswith(reason) for r in verdict.reasons), verdict.reasons


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
                                        "profit": pl.Float64}, orient="row")
    book = book_from_ledger(ledger, 1000.0, NOW)
    assert book.bankroll == pytest.approx(990.0) and book.peak == pytest.approx(1050.0)
    assert book.day_start == pytest.approx(1020.0) and book.day_pnl == pytest.approx(-30.0)
    assert book.consecutive_losses == 3
    assert book.event_exposure == {"e1": 20.0, "e2": 7.0}
    assert book.day_staked == pytest.approx(45.0)
    assert len(book.recent) == 1


def test_exchange_prices_are_rounded_down_to_the_ladder() -> None:
    assert [to_ladder(p) for p in (1.5, 2.03, 3.33, 4.17, 7.9, 12.3, 23.7, 1000.5)] == \
        [1.5, 2.02, 3.3, 4.1, 7.8, 12.0, 23.0, 1000.0]
    assert on_ladder(2.02) and not on_ladder(2.03) and not on_ladder(1.0)
    with pytest.raises(ValueError, match="below the exchange's minimum"):
        to_ladder(1.0)
