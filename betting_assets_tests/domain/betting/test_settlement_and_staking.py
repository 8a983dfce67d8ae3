"""Settlement (wins, pushes, voids, Asian quarter lines) and sizing (Kelly, risk's caps, the
day's cash shared by a moment's bets), each against figures worked out by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import polars as pl
import pytest

from betting_assets.domain.betting.settlement import RESULTS, settle_frame
from betting_assets.domain.betting.backtest import execute
from betting_assets.domain.betting.staking import Sizing, kelly, linear_terms, size_moment
from betting_assets_tests.domain.betting.open_limits import account


def _settle(rows: list[tuple[str, str, float, float, int, int, str, bool]]) -> list[tuple[float, str]]:
    frame = pl.DataFrame(rows, schema=["market", "side", "point", "price", "home_score", "away_score", "status",
                                       "three_way"], orient="row")
    ret, code = settle_frame(frame)
    return [(float(r), RESULTS[c]) for r, c in zip(ret, code)]


def test_match_results_pushes_and_voids() -> None:
    got = _settle([
        ("h2h", "home", 0, 2.0, 2, 1, "final", True),
        ("h2h", "home", 0, 2.0, 1, 1, "final", True),     # a draw loses a home bet in 1X2
        ("h2h", "draw", 0, 3.4, 1, 1, "final", True),
        ("h2h", "away", 0, 1.9, 100, 100, "final", False),  # a tie in a two-way market is a push
        ("totals", "over", 2.5, 1.9, 2, 1, "final", True),
        ("totals", "under", 2.5, 1.9, 2, 1, "final", True),
        ("totals", "over", 2.0, 1.9, 1, 1, "final", True),  # exactly on the line: push
        ("spreads", "away", 1.0, 2.0, 1, 0, "final", True),  # +1 and lost by 1: push
        ("h2h", "home", 0, 2.0, 0, 0, "cancelled", True),
        ("h2h", "home", 0, 2.0, 0, 0, "postponed", True),
    ])
    assert got == [(2.0, "win"), (0.0, "loss"), (3.4, "win"), (1.0, "push"), (1.9, "win"), (0.0, "loss"),
                   (1.0, "push"), (1.0, "push"), (1.0, "void"), (1.0, "void")]


def test_an_unfinished_event_or_an_unknown_market_stays_open() -> None:
    got = _settle([("h2h", "home", 0.0, 2.0, None, None, "live", True),  # type: ignore[list-item]
                   ("h2h_lay", "home", 0.0, 2.0, 2, 0, "final", True)])
    assert all(np.isnan(ret) and result == "open" for ret, result in got)


def test_asian_quarter_lines_split_the_stake() -> None:
    got = _settle([
        ("spreads", "home", -0.25, 1.9, 1, 1, "final", True),   # half on 0 (push), half on -0.5 (loss)
        ("spreads", "away", 0.25, 2.0, 1, 1, "final", True),    # half on 0 (push), half on +0.5 (win)
        ("spreads", "home", -0.75, 1.9, 2, 1, "final", True),   # half on -0.5 (win), half on -1 (push)
        ("spreads", "home", -0.75, 1.9, 3, 1, "final", True),   # both halves win
        ("spreads", "home", -0.75, 1.9, 1, 1, "final", True),   # both halves lose
        ("totals", "over", 2.25, 1.8, 1, 1, "final", True),     # 2 goals: push on 2, loss on 2.5
        ("totals", "over", 2.75, 1.8, 2, 1, "final", True),     # 3 goals: win on 2.5, push on 3
        ("totals", "under", 2.75, 2.1, 2, 1, "final", True),    # loss on 2.5, push on 3
    ])
    assert got == [(0.5, "half_loss"), (1.5, "half_win"), (1.45, "half_win"), (1.9, "win"), (0.0, "loss"),
                   (0.5, "half_loss"), (1.4, "half_win"), (0.5, "half_loss")]


def test_kelly_fraction() -> None:
    assert kelly(0.5, 2.2) == pytest.approx((0.5 * 2.2 - 1) / 1.2)
    assert kelly(0.25, 3.0) == 0.0          # no edge, no stake
    assert kelly(np.nan, 3.0) == 0.0        # no probability, no stake
    a, b = linear_terms(Sizing(kelly_fraction=0.25), np.array([0.08]))
    assert a[0] == 0.0 and b[0] == pytest.approx(0.02)


def test_risk_owns_the_stake_limits_and_refuses_them_out_of_order() -> None:
    from betting_assets.domain.orders.risk import RiskLimits

    with pytest.raises(ValueError, match="less than or equal to 1"):
        RiskLimits(max_day_exposure=1.5)
    with pytest.raises(ValueError, match="max_stake"):
        RiskLimits(min_stake=5, max_stake=1)
    with pytest.raises(ValueError, match="Extra inputs"):
        Sizing(max_day_fraction=0.5)   # the day's cap is risk's now


DAY0 = datetime(2024, 3, 1, tzinfo=timezone.utc)


def _bets(*specs: dict[str, Any]) -> pl.DataFrame:
    """Candidate bets on one-match events; each spec gives the decision day and hour, and
    whatever differs from a won home bet at 2.0 that kicks off an hour after the decision."""
    rows = []
    for n, spec in enumerate(specs):
        decision = DAY0 + timedelta(days=spec.pop("day"), hours=spec.pop("hour", 12))
        row = {"event_id": f"e{n}", "market": "h2h", "side": "home", "point": 0.0, "line": 0.0, "bookmaker": "book",
               "price": 2.0, "snapshot_time": decision - timedelta(hours=1), "prob": None, "prob_time": decision,
               "edge": None, "group": None, "weight": 1.0, "sport_key": "soccer_test",
               "commence_time": decision + timedelta(hours=1), "decision_time": decision, "three_way": True,
               "home_score": 1.0, "away_score": 0.0, "status": "final", "p_close": None, **spec}
        rows.append(row)
    return pl.DataFrame(rows, schema_overrides={"prob": pl.Float64, "edge": pl.Float64, "group": pl.String,
                                                "p_close": pl.Float64})


def test_compounding_caps_and_the_shared_daily_bankroll() -> None:
    """Day 0: three full-Kelly bets decided together on 1,000 want 100, 300 and 0.5; the cap cuts
    300 to 250, the 0.5 is below the minimum stake, and 100 + 250 exceeds the day's 30 % (300),
    so both scale by 300/350. Day 1 decides before day 0's bets settle, so its cash is 1,000 -
    300. Day 2 sees the results: +150 % on the first, a loss on the second."""
    sizing = Sizing(method="kelly", kelly_fraction=1.0)
    limits = account(min_stake=1.0, max_stake=250.0, max_day_exposure=0.3)
    settles_on_day_1 = DAY0 + timedelta(days=1, hours=13)
    candidates = _bets(
        {"day": 0, "price": 2.5, "prob": 0.46, "commence_time": settles_on_day_1},          # f = 0.1, wins
        {"day": 0, "prob": 0.65, "away_score": 2.0, "commence_time": settles_on_day_1},    # f = 0.3, loses
        {"day": 0, "prob": 0.50025, "commence_time": settles_on_day_1},                     # f = 0.0005
        {"day": 1, "hour": 10, "prob": 0.55, "status": "scheduled", "home_score": None},   # f = 0.1, open
        {"day": 2, "hour": 10, "prob": 0.55},                                               # f = 0.1
    )
    ledger = execute(candidates, sizing, 1000.0, account=limits).ledger
    first, second = 100 * 300 / 350, 250 * 300 / 350
    cash2 = 1000 + 1.5 * first - second - 70.0
    assert ledger["event_id"].to_list() == ["e0", "e1", "e3", "e4"]
    assert ledger["stake"].to_list() == pytest.approx([first, second, 70.0, 0.1 * cash2])
    assert ledger["bankroll"].to_list() == pytest.approx([1000.0, 1000.0, 700.0, cash2])
    assert ledger["result"].to_list() == ["win", "loss", "open", "win"]


def test_legs_of_a_group_keep_their_shares_under_the_cap() -> None:
    """A group whose largest leg holds 60 % is capped so that leg stakes at most max_stake."""
    sizing = Sizing(method="flat", flat_stake=200.0)
    legs = _bets({"day": 0, "group": "g", "weight": 0.6}, {"day": 0, "group": "g", "weight": 0.4, "side": "away"})
    ledger = execute(legs.with_columns(event_id=pl.lit("e0")), sizing, 1000.0, account=account(max_stake=60.0)).ledger
    assert ledger["stake"].to_list() == pytest.approx([60.0, 40.0])
    assert ledger["profit"].sum() == pytest.approx(60.0 * 1.0 - 40.0)


def test_a_ruined_bankroll_stakes_nothing() -> None:
    sizing = Sizing(method="flat", flat_stake=100.0)
    done = execute(_bets({"day": 0, "away_score": 3.0}, {"day": 1}), sizing, 100.0, account=account())
    assert done.ledger["event_id"].to_list() == ["e0"]
    assert done.metrics["final_bankroll"] == 0.0


def test_slips_of_one_moment_share_the_allowance() -> None:
    stakes = size_moment(np.zeros(2), np.array([0.15, 0.25]), np.ones(2), np.ones(2), cash=1000.0, cap=np.inf,
                         min_stake=1.0, allowance=200.0)
    assert list(stakes) == pytest.approx([150 * 200 / 400, 250 * 200 / 400])
    assert not size_moment(np.zeros(1), np.array([0.1]), np.ones(1), np.ones(1), cash=0.0, cap=np.inf, min_stake=1.0,
                           allowance=200.0).any()
    # what is left of the day's cap after earlier moments is what this one shares
    assert list(size_moment(np.zeros(2), np.array([0.15, 0.25]), np.ones(2), np.ones(2), cash=1000.0, cap=np.inf,
                            min_stake=1.0, allowance=40.0)) == pytest.approx([15.0, 25.0])


def test_singles_and_groups_of_one_day_share_it_in_decision_order() -> None:
    """A single decided later than a group is listed after it; both are sized from the day's
    cash, the later one with what the earlier left of the day's cap: the group of 100 and the
    single of 100 against a cap of 150 (half of 300), so the single gets the 50 left."""
    sizing = Sizing(method="flat", flat_stake=100.0)
    candidates = pl.concat([
        _bets({"day": 0, "hour": 15}),
        _bets({"day": 0, "hour": 9, "group": "g", "weight": 0.5},
              {"day": 0, "hour": 9, "group": "g", "weight": 0.5, "side": "away"}).with_columns(event_id=pl.lit("e9")),
    ])
    ledger = execute(candidates, sizing, 300.0, account=account(max_day_exposure=0.5)).ledger
    assert ledger["event_id"].to_list() == ["e9", "e9", "e0"]
    assert ledger["stake"].to_list() == pytest.approx([50.0, 50.0, 50.0])
    assert ledger["result"].to_list() == ["win", "loss", "win"]
