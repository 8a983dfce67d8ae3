"""Backtests on the real 2023-24 EPL file, checked against figures computed straight from the
CSV columns: flat home bets at the best bookmaker price settle exactly as the full-time
results say, and the sharp-value rule only ever takes prices above Pinnacle's fair price."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from betting_assets.domain.betting import strategies
from betting_assets.domain.betting.backtest import BacktestConfig, StrategyRun, run_backtest
from betting_assets.domain.betting.staking import Sizing
from betting_assets.sources.football_data import quotes_as_odds, read_football_data
from betting_assets_tests.domain.betting.open_limits import OPEN

BOOK_COLUMNS = ["B365H", "BWH", "IWH", "PSH", "WHH", "VCH"]


@pytest.fixture(scope="module")
def epl(shared_data: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    files = read_football_data(shared_data / "E0_2324.csv")
    events = files.events.with_columns(status=pl.lit("final"))
    raw = pl.read_csv(shared_data / "E0_2324.csv", infer_schema=False)
    return quotes_as_odds(files), events, raw


def test_flat_home_bets_settle_as_the_results_say(epl: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    odds, events, raw = epl
    flat = Sizing(method="flat", flat_stake=10.0)
    result = run_backtest(odds, events, [StrategyRun(strategies.create("flat_home"), flat)],
                          BacktestConfig(bankroll=1_000_000.0, limits=OPEN))
    best = raw.select(pl.max_horizontal([pl.col(c).cast(pl.Float64) for c in BOOK_COLUMNS]).alias("best"), "FTR")
    expected = best.select(pl.when(pl.col("FTR") == "H").then(10.0 * (pl.col("best") - 1)).otherwise(-10.0).sum())
    metrics = result.strategy("flat_home").metrics
    assert metrics["bets"] == raw.height == 380
    assert metrics["profit"] == pytest.approx(expected.item(), abs=1e-6)
    assert metrics["hit_rate"] == pytest.approx((raw["FTR"] == "H").mean())


def test_sharp_value_takes_only_prices_above_the_fair_price(
        epl: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    odds, events, _ = epl
    runs = [StrategyRun(strategies.create("sharp_value", min_edge=0.02), Sizing())]
    bets = run_backtest(odds, events, runs, BacktestConfig()).strategy("sharp_value").bets
    assert bets.height > 0
    assert (bets["prob"] * bets["price"] - 1 >= 0.02 - 1e-12).all()
    assert "pinnacle" not in set(bets["bookmaker"])
    assert (bets["snapshot_time"] < bets["decision_time"]).all()
    assert (bets["stake"] <= 50.0 + 1e-9).all()
    daily = bets.group_by(pl.col("decision_time").dt.date()).agg(pl.col("stake").sum(), pl.col("bankroll").first())
    assert (daily["stake"] <= 0.25 * daily["bankroll"] + 1e-9).all()     # the day's cap, of the day's cash
    assert ((bets["stake"] * 100 - (bets["stake"] * 100).round()).abs() < 1e-6).all()   # whole cents, as taken
