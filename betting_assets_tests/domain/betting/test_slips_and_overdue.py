"""A slip the gate would refuse whatever the book is never proposed; a result that never came is
flagged wherever its event sits in the warehouse."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl

from betting_assets.domain.betting import strategies
from betting_assets.domain.betting.backtest import StrategyRun, choose
from betting_assets.domain.betting.decisions import decide
from betting_assets.domain.betting.staking import Sizing
from betting_assets.domain.data.quality import results_overdue
from betting_assets.domain.orders.account import Order, fresh_book, gate
from betting_assets.domain.orders.controls import Controls
from betting_assets.domain.orders.risk import RiskLimits
from betting_assets.domain.pricing.market_view import MarketView
from betting_assets.venues.paper import RULES as PAPER

NOW = datetime(2024, 3, 2, 12, tzinfo=timezone.utc)
UTC = pl.Datetime("us", "UTC")


def _offers(prices: dict[str, float]) -> pl.DataFrame:
    rows = [{"event_id": event, "sport_key": "soccer_epl", "commence_time": NOW + timedelta(hours=1),
             "decision_time": NOW, "three_way": True, "market": "h2h", "side": "home", "point": 0.0, "line": 0.0,
             "bookmaker": "bet365", "price": price, "snapshot_time": NOW - timedelta(minutes=5), "fair": None,
             "fair_time": None} for event, price in prices.items()]
    return pl.DataFrame(rows, schema_overrides={"commence_time": UTC, "decision_time": UTC, "snapshot_time": UTC,
                                                "fair": pl.Float64, "fair_time": UTC})


def test_slips_keep_within_the_gates_odds_edge_and_stake_bounds() -> None:
    """The model strategy chooses every home price with an edge of 2 %; the decision keeps to the
    gate's bounds (odds 1.2 to 15, an edge of 5 %), caps each stake at 2 % of the bankroll, and the
    whole gate then accepts every slip."""
    prices = {"short": 1.1, "long": 21.0, "thin": 2.0, "good": 2.2, "huge": 3.0}
    offers = _offers(prices).with_columns(quoted_price=pl.col("price"))
    model = pl.DataFrame({"event_id": list(prices), "side": ["home"] * 5, "prob": [0.99, 0.2, 0.51, 0.5, 0.9],
                          "prob_time": [NOW] * 5}, schema_overrides={"prob_time": UTC})
    fixtures = pl.DataFrame({"event_id": list(prices), "sport_key": ["soccer_epl"] * 5,
                             "commence_time": [NOW + timedelta(hours=1)] * 5, "home_team": ["H"] * 5,
                             "away_team": ["A"] * 5}, schema_overrides={"commence_time": UTC})
    limits = RiskLimits(min_odds=1.2, max_odds=15.0, min_edge=0.05, max_stake=50.0, max_stake_fraction=0.02,
                        max_event_exposure=1.0, max_day_exposure=1.0)
    runs = [StrategyRun(strategies.create("model_value", min_edge=0.02), Sizing(method="kelly", kelly_fraction=1.0))]
    chosen = choose(MarketView(offers, "pinnacle", model), runs)
    assert set(chosen["event_id"]) == set(prices)          # the strategy alone would bet all five
    decision = decide(chosen, runs, fresh_book(1000.0, limits, PAPER), fixtures, Controls())
    slips = decision.slips
    assert sorted(slips["event_id"]) == ["good", "huge"]    # 1.1 and 21 out of bounds, a 2 % edge below 5 %
    assert decision.refused == {"odds_range": 2, "min_edge": 1}
    assert slips["stake"].max() <= 20.0                     # 2 % of the bankroll
    assert slips["strategy"].unique().to_list() == ["model_value"]
    assert slips["idempotency_key"].str.starts_with("model_value|").all()
    book = fresh_book(1000.0, limits, PAPER)
    verdicts = gate([Order(r["idempotency_key"], r["event_id"], r["price"], r["stake"], r["edge"])
                     for r in slips.iter_rows(named=True)], book, NOW)
    assert all(v.accepted for v in verdicts), [v.reasons for v in verdicts]


def test_results_overdue_names_the_match_and_spares_what_is_settled_or_not_due() -> None:
    events = pl.DataFrame({
        "event_id": ["a", "b", "c", "d", "e"], "sport_key": ["soccer_epl"] * 5,
        "home_team": ["Burnley", "Arsenal", "Spurs", "Luton", "Wolves"],
        "away_team": ["Man City", "Chelsea", "Everton", "Fulham", "Brentford"],
        "status": ["scheduled", "final", "postponed", "live", "scheduled"],
        "commence_time": [NOW - timedelta(days=90), NOW - timedelta(days=1), NOW - timedelta(days=2),
                          NOW - timedelta(hours=7), NOW - timedelta(hours=2)],
    }, schema_overrides={"commence_time": UTC})
    outcome = results_overdue(events, NOW)
    assert [f.event_id for f in outcome.findings] == ["a", "d"]
    assert not outcome.passed and outcome.errors == 2
    assert "Burnley v Man City" in outcome.findings[0].message and "still scheduled" in outcome.findings[0].message
    assert results_overdue(events.filter(pl.col("event_id") != "a").filter(pl.col("event_id") != "d"), NOW).passed
