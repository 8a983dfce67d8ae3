"""Point-in-time features on real EPL data: nothing after the decision time moves them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from betting_assets.domain.features.build import FeatureConfig, build_features
from betting_assets.sources.football_data import quotes_as_odds, read_football_data

DAY = datetime(2024, 3, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def season(shared_data: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    data = read_football_data(shared_data / "E0_2324.csv")
    return quotes_as_odds(data), data.events


def _fixtures(events: pl.DataFrame) -> pl.DataFrame:
    return events.filter((pl.col("commence_time") >= DAY) & (pl.col("commence_time") < DAY + timedelta(days=1)))


def test_everything_after_the_decision_time_can_change_without_moving_a_feature(season) -> None:  # type: ignore[no-untyped-def]
    odds, events = season
    fixtures = _fixtures(events)
    assert fixtures.height >= 5
    config = FeatureConfig(decision_hours=(1.0, 24.0))
    before = build_features(odds, fixtures, events, config)
    decisions = before.select("event_id", "decision_time").group_by("event_id").agg(pl.col("decision_time").max())

    rng = np.random.default_rng(3)
    marked = odds.join(decisions, on="event_id", how="left")
    late = (pl.col("decision_time").is_null()) | (pl.col("snapshot_time") >= pl.col("decision_time"))
    noise = pl.Series(rng.uniform(0.5, 3.0, marked.height))
    perturbed = marked.with_columns(
        price_decimal=pl.when(late).then(pl.col("price_decimal") * noise + 0.01).otherwise(pl.col("price_decimal")),
    ).drop("decision_time")
    # a whole fake snapshot a minute after each decision time, from every bookmaker
    extra = (odds.join(decisions, on="event_id").filter(pl.col("snapshot_time") < pl.col("decision_time"))
             .with_columns(snapshot_time=pl.col("decision_time") + timedelta(minutes=1),
                           price_decimal=pl.col("price_decimal") * 1.7).drop("decision_time"))
    # results not yet known at the day's last decision (this day's late games and all later) shuffled
    latest = before["decision_time"].max()
    known = events.filter(pl.col("commence_time") + timedelta(hours=3) < latest)
    unknown = events.filter(pl.col("commence_time") + timedelta(hours=3) >= latest)
    shuffled = unknown.with_columns(home_score=pl.col("home_score").shuffle(seed=1) + 2,
                                    away_score=pl.col("away_score").shuffle(seed=2))
    after = build_features(pl.concat([perturbed, extra]), fixtures, pl.concat([known, shuffled]), config)
    assert_frame_equal(before, after)
    assert before.filter(pl.col("decision_time") == pl.col("commence_time") - timedelta(hours=1))["sharp_mult_home"].null_count() == 0


def test_a_change_before_the_decision_time_does_move_features(season) -> None:  # type: ignore[no-untyped-def]
    odds, events = season
    fixtures = _fixtures(events)
    before = build_features(odds, fixtures, events)
    decision = before["decision_time"].min()
    earlier = odds.with_columns(price_decimal=pl.when(pl.col("snapshot_time") < decision - timedelta(hours=1))
                                .then(pl.col("price_decimal") * 1.05).otherwise(pl.col("price_decimal")))
    moved = build_features(earlier, fixtures, events)
    assert not moved["best_home"].equals(before["best_home"])
    recent = events.filter(pl.col("commence_time") < DAY).sort("commence_time").tail(1)
    flipped = events.join(recent.select("event_id"), on="event_id", how="anti").vstack(
        recent.with_columns(home_score=pl.col("away_score"), away_score=pl.col("home_score") + 3))
    assert not build_features(odds, fixtures, flipped)["elo_diff"].equals(before["elo_diff"])


def test_features_reflect_the_market_and_the_table(season) -> None:  # type: ignore[no-untyped-def]
    odds, events = season
    frame = build_features(odds, events.filter(pl.col("commence_time") >= datetime(2024, 1, 1, tzinfo=timezone.utc)),
                           events)
    sums = frame.select(sum(pl.col(f"sharp_{m}_{s}") for s in ("home", "draw", "away")).alias(m)
                        for m in ("mult", "power", "shin"))
    assert np.allclose(sums.drop_nulls().to_numpy(), 1.0)
    # the best price is never below the sharp book's own, and bookmakers broadly agree
    assert (frame["best_home"] >= 1 / (frame["sharp_mult_home"] * (1 + frame["sharp_overround"])) - 1e-9).all()
    assert frame["disp_home"].max() < 0.05
    # a strong side by rating is favoured by the market too
    assert np.corrcoef(frame["elo_prob_home"].to_numpy(), frame["sharp_mult_home"].to_numpy())[0, 1] > 0.6
    # form exists for every team with history
    assert frame.filter(pl.col("played_home") > 0)["form_gd_home"].null_count() == 0


def test_two_way_events_build_without_draw_columns() -> None:
    t0 = datetime(2024, 1, 10, 0, tzinfo=timezone.utc)
    events = pl.DataFrame({
        "event_id": ["g1", "g2"], "sport_key": ["basketball_nba"] * 2,
        "commence_time": [t0, t0 + timedelta(days=2)], "home_team": ["A", "B"], "away_team": ["B", "A"],
        "home_score": [110, None], "away_score": [100, None]},
        schema_overrides={"home_score": pl.Int64, "away_score": pl.Int64})
    quotes = []
    for book, (ph, pa) in {"pinnacle": (1.8, 2.1), "fanduel": (1.75, 2.15)}.items():
        for side, price in (("home", ph), ("away", pa)):
            quotes.append({"event_id": "g2", "bookmaker": book, "market": "h2h", "side": side, "point": 0.0,
                           "snapshot_time": t0 + timedelta(days=1), "price_decimal": price, "is_valid": True})
    frame = build_features(pl.DataFrame(quotes), events.filter(pl.col("event_id") == "g2"), events)
    row = frame.row(0, named=True)
    assert row["three_way"] is False and row["sharp_mult_draw"] is None
    assert row["sharp_mult_home"] + row["sharp_mult_away"] == pytest.approx(1.0)
    assert row["best_away"] == 2.15 and row["elo_home"] < row["elo_away"]  # B lost at A
    assert row["rest_home"] == pytest.approx(2.0)
