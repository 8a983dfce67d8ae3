"""Every metric of a five-bet ledger, worked out by hand (see the numbers in the comments)."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone

import polars as pl
import pytest

from betting_assets.domain.betting.metrics import breakdown, equity_curve, summarise


def _at(day: int, hour: int) -> datetime:
    return datetime(2024, 1, day, hour, tzinfo=timezone.utc)


@pytest.fixture
def ledger() -> pl.DataFrame:
    rows = [  # decision, settle, market, book, price, stake, profit, result, edge, clv
        (_at(1, 12), _at(1, 16), "h2h", "A", 2.0, 10.0, 10.0, "win", 0.05, 0.02),
        (_at(1, 13), _at(1, 17), "totals", "B", 3.0, 10.0, -10.0, "loss", 0.10, -0.01),
        (_at(2, 12), _at(2, 16), "h2h", "A", 1.5, 20.0, 0.0, "push", None, None),
        (_at(3, 12), _at(3, 16), "h2h", "B", 2.5, 10.0, -10.0, "loss", 0.02, 0.04),
        (_at(3, 13), _at(3, 17), "spreads", "A", 1.9, 10.0, -5.0, "half_loss", 0.03, None),
    ]
    return pl.DataFrame(rows, schema={
        "decision_time": pl.Datetime("us", "UTC"), "settle_time": pl.Datetime("us", "UTC"), "market": pl.String,
        "bookmaker": pl.String, "price": pl.Float64, "stake": pl.Float64, "profit": pl.Float64, "result": pl.String,
        "edge": pl.Float64, "clv": pl.Float64}, orient="row")


def test_equity_curve_by_settlement_day(ledger: pl.DataFrame) -> None:
    curve = equity_curve(ledger, 1000.0)
    assert curve["day"].to_list() == [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)]
    assert curve["profit"].to_list() == [0.0, 0.0, -15.0]
    assert curve["equity"].to_list() == [1000.0, 1000.0, 985.0]
    assert curve["drawdown"].to_list() == pytest.approx([0.0, 0.0, 0.015])


def test_every_headline_metric(ledger: pl.DataFrame) -> None:
    m = summarise(ledger, equity_curve(ledger, 1000.0), 1000.0)
    assert (m["bets"], m["open_bets"], m["turnover"], m["profit"]) == (5, 0, 60.0, -15.0)
    assert m["roi"] == pytest.approx(-0.25)
    assert m["hit_rate"] == pytest.approx(1 / 4)            # the push is not a decided bet
    assert m["avg_odds"] == pytest.approx(10.9 / 5)
    assert m["avg_edge"] == pytest.approx(0.20 / 4)         # the push had no edge recorded
    assert m["clv"] == pytest.approx(0.05 / 3) and m["clv_bets"] == 3
    # daily returns 0, 0, -0.015: mean -0.005, sample std sqrt(7.5e-5), downside rms sqrt(7.5e-5)
    assert m["sharpe"] == pytest.approx(-0.005 / math.sqrt(7.5e-5) * math.sqrt(365))
    assert m["sortino"] == pytest.approx(-0.005 / math.sqrt(7.5e-5) * math.sqrt(365))
    assert m["max_drawdown"] == pytest.approx(0.015)
    assert m["calmar"] == pytest.approx(((985 / 1000) ** (365 / 3) - 1) / 0.015)
    assert m["profit_factor"] == pytest.approx(10 / 25)
    assert (m["longest_win_streak"], m["longest_loss_streak"]) == (1, 3)   # the push does not break the run
    assert (m["final_bankroll"], m["days"]) == (985.0, 3)


def test_breakdowns(ledger: pl.DataFrame) -> None:
    by_market = {r["key"]: r for r in breakdown(ledger, "market").iter_rows(named=True)}
    assert by_market["h2h"]["bets"] == 3 and by_market["h2h"]["turnover"] == 40.0
    assert by_market["h2h"]["profit"] == 0.0 and by_market["h2h"]["roi"] == 0.0
    assert by_market["h2h"]["hit_rate"] == pytest.approx(0.5) and by_market["h2h"]["clv"] == pytest.approx(0.03)
    assert by_market["spreads"]["roi"] == pytest.approx(-0.5)
    by_book = {r["key"]: r["profit"] for r in breakdown(ledger, "bookmaker").iter_rows(named=True)}
    assert by_book == {"A": 5.0, "B": -20.0}
    (month,) = breakdown(ledger, "month").iter_rows(named=True)
    assert month["key"] == "2024-01" and month["bets"] == 5 and month["profit"] == -15.0


def test_no_bets_gives_empty_figures_not_errors(ledger: pl.DataFrame) -> None:
    empty = ledger.clear()
    m = summarise(empty, equity_curve(empty, 1000.0), 1000.0)
    assert m["bets"] == 0 and m["roi"] is None and m["sharpe"] is None and m["final_bankroll"] == 1000.0


def test_breakdowns_stay_right_when_two_keys_share_a_hash(ledger: pl.DataFrame,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    honest = {r["key"]: r["profit"] for r in breakdown(ledger, "bookmaker").iter_rows(named=True)}
    monkeypatch.setattr(pl.Series, "hash", lambda self, seed=0: pl.Series([7] * len(self), dtype=pl.UInt64))
    assert {r["key"]: r["profit"] for r in breakdown(ledger, "bookmaker").iter_rows(named=True)} == honest
