"""Tier rules: the event-driven planner agrees with a minute-by-minute sensor, and the quota
simulation counts what a hand count gives."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl

from betting_assets.domain.quota import simulate_quota
from betting_assets.domain.tiers import due_events, plan_fetches, tier_name

T0 = datetime(2023, 8, 1, tzinfo=timezone.utc)


def test_tier_boundaries_follow_the_design_table() -> None:
    assert [tier_name(h) for h in (0.0, 0.1, 2.99, 3.0, 11.9, 12.0, 23.9, 24.0, 71.9, 72.0, 500.0)] == [
        None, "closing", "closing", "pregame", "pregame", "sharp", "sharp", "early", "early", "opening", "opening"]


def test_planner_matches_a_sensor_ticking_every_five_minutes() -> None:
    kickoffs = [T0 + timedelta(days=4, hours=h) for h in (11.5, 14, 14, 16.5)] + [T0 + timedelta(days=5, hours=13)]
    lead = timedelta(days=7)
    schedule = [(k - lead, k) for k in kickoffs]
    start, end = T0, T0 + timedelta(days=6)
    tick = timedelta(minutes=5)
    planned = [p.at for p in plan_fetches(schedule, start, end, tick)]
    frame = pl.DataFrame({"commence_time": kickoffs, "last_odds_at": [None] * len(kickoffs)},
                         schema={"commence_time": pl.Datetime("us", "UTC"), "last_odds_at": pl.Datetime("us", "UTC")})
    ticked: list[datetime] = []
    now = start
    while now < end:
        visible = frame.filter(pl.col("commence_time") - lead <= now)
        if not visible.is_empty() and due_events(visible, now)["due"].any():
            ticked.append(now)
            frame = frame.with_columns(
                last_odds_at=pl.when((pl.col("commence_time") > now) & (pl.col("commence_time") - lead <= now))
                .then(pl.lit(now)).otherwise(pl.col("last_odds_at")))
        now += tick
    assert planned == ticked
    # each kick-off has a fetch within 30 minutes before it
    assert all(any(k - timedelta(minutes=30) <= t < k for t in planned) for k in kickoffs)


def test_quota_counts_one_isolated_match_by_hand() -> None:
    kickoff = T0 + timedelta(days=10)
    report = simulate_quota(pl.DataFrame({"sport_key": ["x"], "commence_time": [kickoff]}), markets=3, regions=2,
                            lead=timedelta(days=7))
    (sport,) = report.sports
    # listed at k−168 h: opening at −168, −120, −72 (72 h is still opening); early at −48, −24;
    # sharp at −12 (12 h after −24); pregame at −9, −6, −3; closing at −2.5, −2, −1.5, −1, −0.5
    assert sport.calls_by_tier == {"opening": 3, "early": 2, "sharp": 1, "pregame": 3, "closing": 5}
    assert sport.tiered_calls == 14 and sport.fixed_calls == 7 * 48 and sport.closing_captured == 1
    assert report.tiered_credits == 14 * 6 and report.ratio == 7 * 48 / 14
