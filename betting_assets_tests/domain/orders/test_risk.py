"""Every control on its own, a control of a test's own passed to the gate, the gate over a batch,
and the book the ledger folds to: the same compiled checks and hooks the backtest's loop runs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import polars as pl
import pytest

from betting_assets.domain.orders.account import Book, Order, book_from_ledger, fresh_book, gate
from betting_assets.domain.orders.book import B, O, VenueRules
from betting_assets.domain.orders.controls import DEFAULT_CONTROLS, Control, Controls, check
from betting_assets.domain.orders.risk import BookQuote, RiskLimits, recheck, recheck_on_book
from betting_assets.venues.betfair.ladder import on_ladder, to_ladder
from betting_assets.venues.betfair.venue import RULES as BETFAIR
from betting_assets.venues.paper import RULES as PAPER

NOW = datetime(2024, 3, 2, 14, 0, tzinfo=timezone.utc)
LIMITS = RiskLimits(min_odds=1.2, max_odds=15.0, min_edge=0.02, min_stake=1.0, max_stake=50.0,
                    max_stake_fraction=0.05, max_event_exposure=0.10, max_day_exposure=0.25, daily_loss_limit=0.10,
                    max_drawdown=0.25, max_consecutive_losses=3, max_bets_per_minute=2)


def _book(limits: RiskLimits = LIMITS, venue: VenueRules = PAPER, **fields: Any) -> Book:
    """A book of 1,000 at the start of today, with some fields set (book field names, lower case;
    ``exposure``: event → open stake; ``recent``: placement times)."""
    book = fresh_book(1000.0, limits, venue)
    book.vector[B.DAY] = NOW.timestamp() // 86_400
    book.vector[B.DAY_CASH] = 1000.0
    for event, stake in fields.pop("exposure", {}).items():
        book.exposure[book.event(event)] = stake
    for i, when in enumerate(fields.pop("recent", [])):
        book.vector[B.RECENT + i] = when.timestamp() * 1e6
        book.vector[B.RECENT_NEXT] = i + 1
    for name, value in fields.items():
        book.vector[B[name.upper()]] = value
    return book


GOOD = Order("k", "e1", price=2.5, stake=20.0, edge=0.05)


@pytest.mark.parametrize(("order", "fields", "code", "reason"), [
    (Order("k", "e1", 1.1, 20.0, 0.05), {}, "odds_range", "odds 1.1 outside [1.2, 15]"),
    (Order("k", "e1", 21.0, 20.0, 0.05), {}, "odds_range", "odds 21 outside"),
    (Order("k", "e1", 2.5, 20.0, 0.01), {}, "min_edge", "edge 1.00% below the minimum 2.00%"),
    (Order("k", "e1", 2.5, 0.5, 0.05), {}, "min_stake", "stake 0.50 below the minimum 1.00"),
    (Order("k", "e1", 2.5, 60.0, 0.05), {"equity": 5000.0, "peak": 5000.0, "day_start": 5000.0, "day_cash": 5000.0},
     "max_stake", "stake 60.00 above the cap 50.00"),
    (Order("k", "e1", 2.5, 45.0, 0.05), {"equity": 800.0, "peak": 800.0, "day_start": 800.0}, "stake_fraction",
     "stake 45.00 above 5% of the bankroll 800.00"),
    (GOOD, {"exposure": {"e1": 85.0}}, "event_exposure", "event exposure 105.00 above 10% of the bankroll"),
    (GOOD, {"day_staked": 240.0}, "day_exposure", "day exposure 260.00 above 25% of the day's cash 1000.00"),
    (GOOD, {"day_pnl": -100.0}, "daily_loss", "daily loss limit: lost 100.00 today"),
    (GOOD, {"equity": 740.0, "day_start": 740.0}, "drawdown", "drawdown: bankroll 740.00 is 26.0% below its peak"),
    (GOOD, {"streak": 3.0}, "losing_streak", "losing streak: 3 losses in a row today"),
    (GOOD, {"recent": [NOW - timedelta(seconds=10), NOW - timedelta(seconds=50)]}, "rate_limit", "rate limit: 2 bets"),
    (GOOD, {"kill": 1.0}, "kill_switch", "kill switch"),
    (GOOD, {"funds": 15.0}, "available_funds", "available funds 15.00 below the stake 20.00"),
])
def test_each_control_refuses_with_its_code_and_reason(order: Order, fields: dict[str, Any], code: str,
                                                       reason: str) -> None:
    verdict, = gate([order], _book(**fields), NOW)
    assert not verdict.accepted
    assert code in verdict.codes, verdict.codes
    assert any(r.startswith(reason) for r in verdict.reasons), verdict.reasons


def test_the_venue_owns_its_minimum_and_its_transaction_budget() -> None:
    """Betfair's minimum bet (1, or a payout of 10) and its 5,000 transactions an hour are the
    venue's: paper has neither."""
    small = Order("k", "e1", 1.5, 0.9, 0.05, quoted_price=1.6, venue_tx=True)
    limits = LIMITS.model_copy(update={"min_stake": 0.5})
    verdict, = gate([small], _book(limits, BETFAIR), NOW)
    assert verdict.codes == ("venue_minimum",)
    assert verdict.reasons == ("stake 0.90 below the venue's minimum 1.00 (or a payout of 10 at 1.6)",)
    assert gate([small], _book(limits, PAPER), NOW)[0].accepted
    hour = NOW.timestamp() // 3600
    busy = _book(venue=BETFAIR, funds=500.0, tx_hour=hour, tx_count=5000.0)
    assert gate([Order("k", "e1", 2.5, 20.0, 0.05, venue_tx=True)], busy, NOW)[0].codes == ("transaction_budget",)


@check
def _longshot(o, b, e, lim):  # type: ignore[no-untyped-def]
    return o[O.PRICE] > 8.0 and not o[O.EDGE] > 0.1


class NoLongshots(Control):
    """A control of this test's own: no price above 8 unless its edge is above 10 %."""

    code = "no_longshots"
    static = priced = True
    check = _longshot

    def message(self, o, b, exposure, lim):  # type: ignore[no-untyped-def]
        return f"a longshot at {o.price:g} with an edge of {o.edge:.0%}"


def test_a_new_control_is_one_class_passed_to_the_gate() -> None:
    controls = Controls((*DEFAULT_CONTROLS, NoLongshots()))
    longshot, sure, other = gate([Order("a", "e1", 9.0, 5.0, 0.05), Order("b", "e2", 9.0, 5.0, 0.2),
                                  Order("c", "e3", 2.5, 5.0, 0.05)], _book(), NOW, controls)
    assert longshot.codes == ("no_longshots",) and longshot.reasons == ("a longshot at 9 with an edge of 5%",)
    assert sure.accepted and other.accepted
    assert gate([Order("a", "e1", 9.0, 5.0, 0.05)], _book(), NOW)[0].accepted      # not in the default list
    with pytest.raises(ValueError, match="the same code: no_longshots"):
        Controls((NoLongshots(), NoLongshots()))
    assert len(Controls().codes) == len(set(Controls().codes)) == 16


def test_a_clean_order_passes_and_old_placements_do_not_count_towards_the_rate() -> None:
    verdict, = gate([GOOD], _book(recent=[NOW - timedelta(minutes=2)] * 2, day_pnl=-99.0), NOW)
    assert verdict.accepted and verdict.reasons == ()


def test_every_failing_control_is_recorded_not_just_the_first() -> None:
    verdict, = gate([Order("k", "e1", 30.0, 80.0, 0.0)], _book(kill=1.0), NOW)
    assert verdict.codes[0] == "kill_switch" and len(verdict.reasons) == 1   # the account stops everything first
    verdict, = gate([Order("k", "e1", 30.0, 80.0, 0.0)], _book(), NOW)
    assert set(verdict.codes) >= {"odds_range", "min_edge", "max_stake", "stake_fraction"}


def test_a_batch_cannot_exceed_together_what_one_order_may_not() -> None:
    """Event cap 100: two 45s fit, the third on the same event does not; the rate limit of 2 a
    minute stops the fourth order on another event."""
    orders = [Order(f"k{i}", "e1" if i < 3 else "e2", 2.5, 45.0, 0.05) for i in range(4)]
    verdicts = gate(orders, _book(), NOW)
    assert [v.accepted for v in verdicts] == [True, True, False, False]
    assert "event exposure 135.00" in verdicts[2].reasons[0]
    assert any(r.startswith("rate limit") for r in verdicts[3].reasons)


def test_legs_of_a_group_stand_or_fall_together() -> None:
    """The second leg breaks the event cap: neither leg is taken, and what the first booked is undone."""
    book = _book()
    legs = [Order("a", "e1", 2.5, 45.0, 0.05, group="arb"), Order("b", "e1", 2.5, 60.0, 0.05, group="arb")]
    first, second = gate(legs, book, NOW)
    assert not first.accepted and not second.accepted and "event_exposure" in first.codes
    assert book.on_event("e1") == 0.0 and book.vector[B.DAY_STAKED] == 0.0


def test_funds_hold_over_a_batch() -> None:
    """Each accepted order spends funds before the next is gated."""
    orders = [Order(f"k{i}", f"e{i}", 2.5, 20.0, 0.05) for i in range(3)]
    verdicts = gate(orders, _book(LIMITS.model_copy(update={"max_bets_per_minute": 10}), funds=50.0), NOW)
    assert [v.accepted for v in verdicts] == [True, True, False]
    assert verdicts[2].reasons == ("available funds 10.00 below the stake 20.00",)


def test_price_recheck() -> None:
    kick_off = NOW + timedelta(hours=1)
    assert recheck(2.50, 2.50, kick_off, NOW, 0.02) is None
    assert recheck(2.50, 2.46, kick_off, NOW, 0.02) is None          # -1.6 %: within tolerance
    assert recheck(2.50, 2.80, kick_off, NOW, 0.02) is None          # a better price is taken
    assert recheck(2.50, 2.40, kick_off, NOW, 0.02) == "price moved from 2.5 to 2.4 (-4.0%, tolerance 2%)"
    assert recheck(2.50, None, kick_off, NOW, 0.02) == "market closed: the bookmaker no longer offers this line"
    assert recheck(2.50, 2.50, NOW, NOW, 0.02).startswith("market closed: the event started")  # type: ignore[union-attr]


def test_exchange_prices_are_rounded_down_to_the_ladder() -> None:
    assert [to_ladder(p) for p in (1.5, 2.03, 3.33, 4.17, 7.9, 12.3, 23.7, 1000.5)] == \
        [1.5, 2.02, 3.3, 4.1, 7.8, 12.0, 23.0, 1000.0]
    assert on_ladder(2.02) and not on_ladder(2.03) and not on_ladder(1.0)
    with pytest.raises(ValueError, match="below the exchange's minimum"):
        to_ladder(1.0)


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


def _ledger(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"event_id": pl.String, "status": pl.String, "stake": pl.Float64,
                                      "created_at": pl.Datetime("us", "UTC"), "placed_at": pl.Datetime("us", "UTC"),
                                      "settled_at": pl.Datetime("us", "UTC"), "profit": pl.Float64, "broker": pl.String,
                                      "refusal_codes": pl.String}, orient="row").with_columns(
        price=pl.lit(2.0), requested_price=pl.lit(2.0), quoted_price=pl.lit(2.0),
        updated_at=pl.coalesce("placed_at", "created_at"))


def test_the_book_from_the_ledger() -> None:
    """Start 1,000. Yesterday: +50 then -30 (peak 1,050); today: -20, -10 (two losses in a row
    today). Open: 15 on e1, 5 pending on e1 (claimed 10 s ago), 7 on e2; today's stakes are those
    placed today, the pending claim included; two placements in the last minute."""
    day = NOW.replace(hour=0)
    rows = [
        ("e0", "settled", 10.0, day - timedelta(hours=30), day - timedelta(hours=30), day - timedelta(hours=20), 50.0),
        ("e0", "settled", 30.0, day - timedelta(hours=30), day - timedelta(hours=30), day - timedelta(hours=10), -30.0),
        ("e3", "settled", 20.0, day + timedelta(hours=1), day + timedelta(hours=1), day + timedelta(hours=5), -20.0),
        ("e3", "settled", 10.0, day + timedelta(hours=1), day + timedelta(hours=1), day + timedelta(hours=6), -10.0),
        ("e1", "placed", 15.0, NOW - timedelta(seconds=30), NOW - timedelta(seconds=30), None, None),
        ("e1", "pending", 5.0, NOW - timedelta(seconds=10), None, None, None),
        ("e2", "placed", 7.0, day - timedelta(hours=2), day - timedelta(hours=2), None, None),
        ("e2", "rejected", 0.0, day - timedelta(hours=2), None, None, None),
    ]
    book = book_from_ledger(_ledger([(*r, "paper", None) for r in rows]), 1000.0, NOW, LIMITS, PAPER,
                            venue_name="paper", first_decision=day + timedelta(hours=1))
    v = book.vector
    assert v[B.EQUITY] == pytest.approx(990.0) and v[B.PEAK] == pytest.approx(1050.0)
    assert v[B.DAY_START] == pytest.approx(1020.0) and v[B.DAY_PNL] == pytest.approx(-30.0)
    assert v[B.STREAK] == 2
    assert (book.on_event("e1"), book.on_event("e2"), v[B.OPEN]) == pytest.approx((20.0, 7.0, 27.0))
    assert v[B.DAY_STAKED] == pytest.approx(50.0)
    # the day's cash was taken at its first decision: 1,020 of equity, 7 open on e2
    assert book.day_cash == pytest.approx(1013.0)
    recent = v[B.RECENT:]
    assert int((recent > (NOW - timedelta(minutes=1)).timestamp() * 1e6).sum()) == 2
    assert v[B.TX_COUNT] == 0                      # paper counts no transactions


def test_the_venues_transactions_count_what_reached_it_this_clock_hour() -> None:
    """Placed, lapsed and refused by the venue itself count; the gate's own refusal and paper's
    bets do not; 13:59 was last hour."""
    at = NOW.replace(minute=30)
    rows = [("e1", "placed", 2.0, at, at, None, None, "betfair", None),
            ("e2", "lapsed", 2.0, at, None, None, None, "betfair", None),
            ("e3", "rejected", 2.0, at, None, None, None, "betfair", "exchange:INVALID_ODDS"),
            ("e4", "rejected", 2.0, at, None, None, None, "betfair", "price_moved"),
            ("e5", "placed", 2.0, at, at, None, None, "paper", None),
            ("e6", "placed", 2.0, NOW - timedelta(minutes=1), NOW - timedelta(minutes=1), None, None, "betfair", None)]
    book = book_from_ledger(_ledger(rows), 1000.0, at, LIMITS, BETFAIR, venue_name="betfair")
    assert book.vector[B.TX_COUNT] == 3 and book.vector[B.TX_HOUR] == at.timestamp() // 3600
