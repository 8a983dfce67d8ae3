"""Tier rules: the event-driven planner agrees with a minute-by-minute sensor, the fast replay
(``tier_calls``) with both over random schedules, forced calls and known last snapshots, and
the quota simulation counts what a hand count gives."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import polars as pl

from betting_assets.domain.collection.quota import simulate_quota
from betting_assets.domain.collection.tiers import due_events, earliest_due, tier_calls, tier_name

T0 = datetime(2023, 8, 1, tzinfo=timezone.utc)


def plan_fetches(schedule: list[tuple[datetime, datetime]], start: datetime, end: datetime,
                 tick: timedelta = timedelta(minutes=1)) -> list[tuple[datetime, str]]:
    """The reference the fast replay is held to: every event weighed at every call. The odds
    calls one sport would make between ``start`` and ``end``.

    ``schedule`` holds (visible_from, commence_time) per event: an event joins the odds feed
    when it becomes visible. Each call refreshes every visible upcoming event. Calls happen on
    the sensor's tick grid (``tick`` after ``start``), as a sensor only acts when it ticks.
    """
    events = sorted(schedule, key=lambda pair: pair[1])
    last: list[datetime | None] = [None] * len(events)
    plans: list[tuple[datetime, str]] = []
    now = start
    while now < end:
        best: datetime | None = None
        for index, (visible, commence) in enumerate(events):
            if commence <= now or visible >= end:
                continue
            candidate = earliest_due(commence, last[index], max(now, visible))
            if candidate is not None and (best is None or candidate < best):
                best = candidate
        if best is None or best >= end:
            break
        steps = -(-(best - start) // tick)
        now = start + steps * tick
        if now >= end:
            break
        upcoming = [i for i, (visible, commence) in enumerate(events) if visible <= now < commence]
        due = [i for i in upcoming if (d := earliest_due(events[i][1], last[i], now)) is not None and d <= now]
        if not due:
            now += tick
            continue
        nearest = min(events[i][1] for i in upcoming)
        hours = (nearest - now).total_seconds() / 3600.0
        plans.append((now, tier_name(hours) or "closing"))
        for i in upcoming:
            last[i] = now
        now += tick
    return plans


def test_tier_boundaries_follow_the_design_table() -> None:
    assert [tier_name(h) for h in (0.0, 0.1, 2.99, 3.0, 11.9, 12.0, 23.9, 24.0, 71.9, 72.0, 500.0)] == [
        None, "closing", "closing", "pregame", "pregame", "sharp", "sharp", "early", "early", "opening", "opening"]


def test_planner_matches_a_sensor_ticking_every_five_minutes() -> None:
    kickoffs = [T0 + timedelta(days=4, hours=h) for h in (11.5, 14, 14, 16.5)] + [T0 + timedelta(days=5, hours=13)]
    lead = timedelta(days=7)
    start, end = T0, T0 + timedelta(days=6)
    tick = timedelta(minutes=5)
    planned = [c.at for c in tier_calls(kickoffs, start, end, lead=lead, tick=tick)]
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


def test_the_fast_replay_makes_the_calls_the_event_by_call_planner_makes() -> None:
    rng = random.Random(1)
    for case in range(150):
        kicks = sorted(T0 + timedelta(minutes=15 * rng.randrange(0, 4 * 24 * 30)) for _ in range(rng.randrange(1, 40)))
        lead = timedelta(days=rng.choice([1, 3, 7, 14]))
        tick = timedelta(minutes=rng.choice([1, 5, 10]))
        start = kicks[0] - lead - timedelta(minutes=rng.randrange(0, 120))
        end = kicks[-1] + timedelta(minutes=rng.randrange(-600, 60))
        expected = plan_fetches([(k - lead, k) for k in kicks], start, end, tick)
        assert [(c.at, c.tier) for c in tier_calls(kicks, start, end, lead=lead, tick=tick)] == expected, case


def _ticked(kicks: list[datetime], start: datetime, end: datetime, lead: timedelta | None, tick: timedelta,
            last: list[datetime | None] | None, forced: list[datetime]) -> list[datetime]:
    """The sensor's rule tick by tick: a forced call refreshes every listed event; a tick with an
    event due is a call that refreshes them all."""
    listed = [k - lead if lead else start for k in kicks]
    lasts = list(last) if last is not None else [None] * len(kicks)
    forced = [f for f in forced if start <= f < end]
    grid = [start + i * tick for i in range(-(-(end - start) // tick))]
    calls = []
    for moment in sorted(set(grid) | set(forced)):
        upcoming = [i for i, k in enumerate(kicks) if listed[i] <= moment < k]
        due = any(earliest_due(kicks[i], lasts[i], moment) == moment for i in upcoming)
        if moment in forced or due:
            if moment not in forced:
                calls.append(moment)
            for i in upcoming:
                lasts[i] = moment
    return calls


def test_the_fast_replay_counts_its_tiers_from_forced_calls_and_known_last_snapshots() -> None:
    rng = random.Random(2)
    for case in range(200):
        kicks = sorted(T0 + timedelta(minutes=15 * rng.randrange(0, 4 * 24 * 6)) for _ in range(rng.randrange(1, 12)))
        lead = rng.choice([None, timedelta(days=2), timedelta(days=5)])
        tick = timedelta(minutes=rng.choice([5, 10]))
        start = T0 - timedelta(days=1) + timedelta(seconds=rng.randrange(0, 3600))
        end = kicks[-1] + timedelta(minutes=30)
        last = None
        if rng.random() < 0.5:
            last = [rng.choice([None, start - timedelta(hours=rng.randrange(0, 50))])
                    if lead is None or k - lead <= start else None for k in kicks]
        forced = [k - timedelta(minutes=rng.randrange(1, 120)) for k in kicks if rng.random() < 0.6]
        found = [c.at for c in tier_calls(kicks, start, end, lead=lead, tick=tick, last=last, forced=forced)]
        assert found == _ticked(kicks, start, end, lead, tick, last, forced), case
