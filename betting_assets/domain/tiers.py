"""Tiered fetch frequency: the closer an event, the more often its odds are worth a credit.

One odds call returns every upcoming event of a sport and costs the same whatever their
number, so a sport is fetched when its most urgent event is due, and that call refreshes
all of them. The live sensor (``due_events``), the quota simulation and the historical
backfill (``plan_fetches``) all use these rules, so backfilled history is spaced the way
live collection would have spaced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl


@dataclass(frozen=True)
class Tier:
    name: str
    min_hours: float
    max_hours: float | None
    interval: timedelta


TIERS: tuple[Tier, ...] = (
    Tier("closing", 0.0, 3.0, timedelta(minutes=30)),
    Tier("pregame", 3.0, 12.0, timedelta(hours=3)),
    Tier("sharp", 12.0, 24.0, timedelta(hours=12)),
    Tier("early", 24.0, 72.0, timedelta(hours=24)),
    Tier("opening", 72.0, None, timedelta(hours=48)),
)
_INSTANT = timedelta(microseconds=1)


def tier_for(hours_to_start: float | None) -> Tier | None:
    """None once the event has started: started events are not fetched."""
    if hours_to_start is None or hours_to_start <= 0:
        return None
    for tier in TIERS:
        if tier.max_hours is None or hours_to_start < tier.max_hours:
            return tier
    return None


def tier_name(hours_to_start: float | None) -> str | None:
    tier = tier_for(hours_to_start)
    return tier.name if tier else None


def _tier_expr(hours: pl.Expr) -> pl.Expr:
    expr = pl.when(hours <= 0).then(pl.lit(None, dtype=pl.String))
    for tier in TIERS:
        if tier.max_hours is None:
            expr = expr.otherwise(pl.lit(tier.name))
        else:
            expr = expr.when(hours < tier.max_hours).then(pl.lit(tier.name))
    return expr


def _interval_expr(hours: pl.Expr) -> pl.Expr:
    expr = pl.when(hours <= 0).then(pl.lit(None, dtype=pl.Duration("us")))
    for tier in TIERS:
        value = pl.lit(tier.interval, dtype=pl.Duration("us"))
        expr = expr.otherwise(value) if tier.max_hours is None else expr.when(hours < tier.max_hours).then(value)
    return expr


def due_events(frame: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """Adds ``hours_to_start``, ``tier``, ``due_at`` and ``due`` to an events frame.

    ``frame`` needs ``commence_time`` and ``last_odds_at`` (null when never fetched). An event
    is due when its current tier's interval has passed since its last snapshot; an event never
    fetched is due at once; a started event is never due.
    """
    hours = (pl.col("commence_time") - pl.lit(now)).dt.total_microseconds() / 3.6e9
    return (
        frame.with_columns(hours_to_start=hours)
        .with_columns(
            tier=_tier_expr(pl.col("hours_to_start")),
            _interval=_interval_expr(pl.col("hours_to_start")),
        )
        .with_columns(
            due_at=pl.when(pl.col("last_odds_at").is_null())
            .then(pl.lit(now))
            .otherwise(pl.col("last_odds_at") + pl.col("_interval")),
        )
        .with_columns(due=pl.col("tier").is_not_null() & (pl.col("due_at") <= pl.lit(now)))
        .drop("_interval")
    )


def earliest_due(commence: datetime, last_fetch: datetime | None, after: datetime) -> datetime | None:
    """The first moment at or after ``after`` when an event becomes due, or None if it starts
    first. A tier is a window of time before the start, (start − max_hours, start − min_hours]
    (the closing window ends before the start); the event is due in a window once that
    window's interval has passed since ``last_fetch``."""
    if commence <= after:
        return None
    if last_fetch is None:
        return after
    for tier in reversed(TIERS):
        low = commence - timedelta(hours=tier.max_hours) if tier.max_hours is not None else None
        high = commence - timedelta(hours=tier.min_hours)
        candidate = max(last_fetch + tier.interval, after)
        if low is not None and candidate <= low:
            candidate = low + _INSTANT
        if candidate < high or (candidate == high and tier.min_hours > 0):
            return candidate
    return None


@dataclass(frozen=True)
class PlannedFetch:
    at: datetime
    tier: str
    hours_to_start: float
    due_events: int


def plan_fetches(schedule: list[tuple[datetime, datetime]], start: datetime, end: datetime,
                 tick: timedelta = timedelta(minutes=1)) -> list[PlannedFetch]:
    """The odds calls one sport would make between ``start`` and ``end``.

    ``schedule`` holds (visible_from, commence_time) per event: an event joins the odds feed
    when it becomes visible. Each call refreshes every visible upcoming event. Calls happen on
    the sensor's tick grid (``tick`` after ``start``), as a sensor only acts when it ticks.
    """
    events = sorted(schedule, key=lambda pair: pair[1])
    last: list[datetime | None] = [None] * len(events)
    plans: list[PlannedFetch] = []
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
        plans.append(PlannedFetch(at=now, tier=tier_name(hours) or "closing", hours_to_start=hours,
                                  due_events=len(due)))
        for i in upcoming:
            last[i] = now
        now += tick
    return plans
