"""Each audit rule finds the fault it exists for, and only that fault."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl

from betting_assets.domain.data import audits
from betting_assets.venues.paper import RULES as PAPER
from betting_assets.domain.orders.risk import RiskLimits

T0 = datetime(2024, 3, 2, 12, tzinfo=timezone.utc)
UTC = pl.Datetime("us", "UTC")


def _odds(price: float, at: datetime, valid: bool = True) -> dict:  # type: ignore[type-arg]
    return {"event_id": "e1", "bookmaker": "b1", "market": "h2h", "side": "home", "point": None,
            "snapshot_time": at, "price_decimal": price, "is_valid": valid}


def _bet(price: float, snapshot: datetime, decision: datetime) -> dict:  # type: ignore[type-arg]
    return {"strategy": "s", "event_id": "e1", "bookmaker": "b1", "market": "h2h", "side": "home", "point": None,
            "price": price, "snapshot_time": snapshot, "decision_time": decision}


def _frame(rows: list[dict]) -> pl.DataFrame:  # type: ignore[type-arg]
    return pl.DataFrame(rows, schema_overrides={"point": pl.Float64, "snapshot_time": UTC, "decision_time": UTC})


def test_prices_on_offer_flags_an_unquoted_price_a_later_snapshot_and_a_stale_one() -> None:
    odds = _frame([_odds(2.10, T0 - timedelta(hours=2)), _odds(2.30, T0 + timedelta(hours=1)),
                   _odds(2.50, T0 - timedelta(days=40)), _odds(3.0, T0 - timedelta(hours=3), valid=False)])
    good = _bet(2.10, T0 - timedelta(hours=2), T0)
    bets = _frame([good, _bet(2.20, T0 - timedelta(hours=2), T0), _bet(2.30, T0 + timedelta(hours=1), T0),
                   _bet(2.50, T0 - timedelta(days=40), T0), _bet(3.0, T0 - timedelta(hours=3), T0)])
    outcome = audits.prices_on_offer(bets, odds, timedelta(days=30))
    assert outcome.checked == 5 and outcome.errors == 4
    assert audits.prices_on_offer(_frame([good]), odds, timedelta(days=30)).errors == 0


def test_ledger_adds_up_to_the_cent() -> None:
    bets = pl.DataFrame({"stake": [10.0, 5.0], "profit": [11.0, -5.0]})
    right = {"bets": 2, "turnover": 15.0, "profit": 6.0}
    assert audits.ledger_adds_up([("s", right, bets)]).errors == 0
    wrong = audits.ledger_adds_up([("s", {**right, "profit": 6.02}, bets), ("t", {**right, "bets": 3}, bets)])
    assert wrong.errors == 2 and "profit 6.02 in the comparison, 6.00 summed" in wrong.findings[0].message


def test_slips_outside_the_static_bounds_are_named() -> None:
    limits = RiskLimits(min_odds=1.2, max_odds=15.0, min_edge=0.03, min_stake=2.0, max_stake=50.0,
                        max_stake_fraction=0.05)
    slips = pl.DataFrame({"slip_id": [1, 2, 3, 4], "event_id": ["e"] * 4, "bookmaker": ["b"] * 4,
                          "market": ["h2h"] * 4, "price": [2.0, 21.0, 2.0, 2.0], "stake": [20.0, 20.0, 60.0, 20.0],
                          "edge": [0.05, 0.05, 0.05, 0.01], "bankroll": [500.0] * 4, "equity": [1000.0] * 4,
                          "quoted_price": [None] * 4}, schema_overrides={"quoted_price": pl.Float64})
    outcome = audits.slips_within_bounds(slips, limits, PAPER)
    assert [f.message.split(":")[0] for f in outcome.findings] == ["slip 2", "slip 3", "slip 4"]


def test_a_slip_price_that_was_not_on_offer_is_flagged() -> None:
    slips = pl.DataFrame({"slip_id": [1, 2, 3], "event_id": ["e"] * 3, "bookmaker": ["b"] * 3, "market": ["h2h"] * 3,
                          "side": ["home"] * 3, "price": [2.0, 2.0, 2.0], "created_at": [T0] * 3})
    offered = pl.DataFrame({"slip_id": [1, 2], "price_then": [2.0, 1.9]})
    outcome = audits.slip_prices_current(slips, offered)
    assert outcome.checked == 3 and [f.message.split(":")[0] for f in outcome.findings] == ["slip 2", "slip 3"]


def test_an_open_bet_on_a_final_event_and_a_gap_in_the_bankroll() -> None:
    placed = pl.DataFrame({"bet_id": [1, 2], "event_id": ["a", "b"], "bookmaker": ["x", "x"], "market": ["h2h"] * 2,
                           "event_status": ["final", "scheduled"]})
    assert audits.final_bets_settled(placed, T0).errors == 1
    history = pl.DataFrame({"entry_id": [1, 2, 3], "bet_id": [1, 2, 3], "change": [10.0, -5.0, 4.0],
                            "bankroll": [1010.0, 1005.0, 1019.0]})
    outcome = audits.bankroll_continuous(history, 1000.0)
    assert outcome.errors == 1 and outcome.findings[0].message.startswith("entry 3")
    assert audits.bankroll_continuous(history.head(2), 1000.0).errors == 0
    assert audits.bankroll_continuous(history.head(2), 900.0).errors == 1
