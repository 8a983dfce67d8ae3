"""Features at the decision time for 10,000 events × 20 snapshots × 8 bookmakers: the
project's one-pass as-of path against a naive backtester that, event by event, selects the
odds known at the decision time and computes that event's features. Same code computes the
features in both, so the results must be identical; only the access pattern differs."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from betting_assets.domain.features.build import FeatureConfig, decision_rows, odds_features

BOOKS = ["pinnacle", "bet365", "williamhill", "betfair_ex_uk", "unibet", "bwin", "marathonbet", "betvictor"]


def simulate(events: int, snapshots: int, seed: int = 1) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    commence = [start + timedelta(minutes=37 * i) for i in range(events)]
    fixtures = pl.DataFrame({"event_id": [f"ev{i:05d}" for i in range(events)], "sport_key": "soccer_sim",
                             "commence_time": commence, "home_team": "H", "away_team": "A"})
    fair = rng.dirichlet([4, 2.5, 3], events)
    n = events * snapshots * len(BOOKS) * 3
    event = np.repeat(np.arange(events), snapshots * len(BOOKS) * 3)
    snap = np.tile(np.repeat(np.arange(snapshots), len(BOOKS) * 3), events)
    book = np.tile(np.repeat(np.arange(len(BOOKS)), 3), events * snapshots)
    side = np.tile(np.arange(3), events * snapshots * len(BOOKS))
    hours_before = 72.0 * (1 - snap / snapshots)  # the last snapshots fall after the decision time
    drift = rng.normal(0, 0.01, n)
    prob = np.clip(fair[event, side] + drift, 0.02, 0.95)
    price = np.round(1 / (prob * 1.05), 2).clip(1.01)
    commence_us = np.array([int(c.timestamp() * 1e6) for c in commence])
    odds = pl.DataFrame({
        "event_id": np.array(fixtures["event_id"].to_list())[event],
        "bookmaker": np.array(BOOKS)[book],
        "market": "h2h",
        "side": np.array(["home", "draw", "away"])[side],
        "point": 0.0,
        "snapshot_time": pl.Series(commence_us[event] - (hours_before * 3.6e9).astype(np.int64)).cast(
            pl.Datetime("us", "UTC")),
        "price_decimal": price,
        "is_valid": True,
    })
    return odds, fixtures


def run(events: int = 10_000, snapshots: int = 20, naive_events: int = 200) -> dict[str, float]:
    odds, fixtures = simulate(events, snapshots)
    config = FeatureConfig(decision_hours=(1.0,))
    rows = decision_rows(fixtures, config).select("event_id", "decision_time", "commence_time")
    began = time.perf_counter()
    project = odds_features(odds, rows, config)
    project_s = time.perf_counter() - began

    sample = rows.sample(naive_events, seed=3)
    began = time.perf_counter()
    naive = []
    for row in sample.iter_rows(named=True):
        known = odds.filter((pl.col("event_id") == row["event_id"]) & (pl.col("snapshot_time") < row["decision_time"]))
        naive.append(odds_features(known, pl.DataFrame([row], schema=sample.schema), config))
    naive_s = time.perf_counter() - began
    naive_frame = pl.concat(naive, how="diagonal_relaxed")
    same = project.join(sample.select("event_id", "decision_time"), on=["event_id", "decision_time"])
    columns = sorted(set(same.columns) & set(naive_frame.columns))
    assert_frame_equal(same.select(columns).sort("event_id"), naive_frame.select(columns).sort("event_id"),
                       check_dtypes=False)
    per_event_project = project_s / events
    per_event_naive = naive_s / naive_events
    return {"rows": float(odds.height), "project_s": project_s, "naive_per_event_s": per_event_naive,
            "naive_events": float(naive_events), "ratio": per_event_naive / per_event_project}


if __name__ == "__main__":
    print(run())
