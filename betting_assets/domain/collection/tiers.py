"""Tiered fetch frequency: the closer an event, the more often its odds are worth a credit.

One odds call returns every upcoming event of a sport and costs the same whatever their
number, so a sport is fetched when its most urgent event is due, and that call refreshes
all of them. The collection plan's movement snapshots, the quota simulation and the historical
backfill all replay these rules (``tier_calls``), so backfilled history is spaced the way live
collection would have spaced it.
"""

from __future__ import annotations

from bisect import bisect_right
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
FEED_LEAD = timedelta(days=14)
"""how long before kick-off bookmakers list an event: a round or two ahead"""


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
    for widest, narrowest, interval, closes_before in _WINDOWS:
        low = commence - widest if widest is not None else None
        high = commence - narrowest
        candidate = max(last_fetch + interval, after)
        if low is not None and candidate <= low:
            candidate = low + _INSTANT
        if candidate < high or (candidate == high and closes_before):
            return candidate
    return None


_WINDOWS = [(timedelta(hours=t.max_hours) if t.max_hours is not None else None, timedelta(hours=t.min_hours),
             t.interval, t.min_hours > 0) for t in reversed(TIERS)]
"""each tier's window before the start, farthest first, built once: the replay asks this often"""


@dataclass(frozen=True)
class TierCall:
    at: datetime
    tier: str
    hours_to_start: float


def tier_calls(kicks: list[datetime], start: datetime, end: datetime, *, lead: timedelta | None,
               tick: timedelta = timedelta(minutes=1), last: list[datetime | None] | None = None,
               forced: list[datetime] | None = None) -> list[TierCall]:
    """The odds calls one sport makes between ``start`` and ``end`` on the sensor's tick grid
    (``tick`` after ``start``): a call when an event is due, each call refreshing every listed
    upcoming event. After a call every listed event shares its time, and the first listed event
    (by kick-off) that can still become due is the next one due, so a pointer walks the sorted
    kick-offs once instead of every event at every call.

    ``kicks`` sorted; each event is listed from ``kick − lead`` (``None``: all listed at
    ``start``). ``last``: each event's last snapshot before ``start`` (live planning), else none.
    ``forced``: calls made anyway (decision-time and closing snapshots): they refresh every
    listed event and are not returned."""
    listed = [k - lead for k in kicks] if lead is not None else [start] * len(kicks)
    forced = sorted(f for f in (forced or []) if start <= f < end)
    n = len(kicks)
    common: datetime | None = None
    """the time of the last call, which every event listed by then shares"""
    individual = last is not None
    refreshed = bisect_right(listed, start) if individual else 0
    """events listed by the last call (or, with ``last``, by ``start``); the rest are not listed yet"""
    pointer = 0
    next_forced = 0
    calls: list[TierCall] = []

    def listed_due(now: datetime) -> datetime | None:
        """The first moment an event not listed at the last call is due: when it is listed."""
        for i in range(refreshed, n):
            if listed[i] >= end:
                return None
            moment = max(now, listed[i])
            if kicks[i] > moment:
                return moment
        return None

    def refreshed_due(now: datetime) -> datetime | None:
        nonlocal pointer
        if individual:
            found = [earliest_due(kicks[i], last[i], now) for i in range(refreshed)  # type: ignore[index]
                     if kicks[i] > now]
            return min((f for f in found if f is not None), default=None)
        if common is None:
            return None
        while pointer < refreshed:
            due = earliest_due(kicks[pointer], common, now) if kicks[pointer] > now else None
            if due is not None:
                return due
            pointer += 1
        return None

    def candidate(now: datetime) -> datetime | None:
        found = [f for f in (listed_due(now), refreshed_due(now)) if f is not None]
        return min(found) if found else None

    def refresh(now: datetime) -> None:
        nonlocal common, refreshed, individual
        common, individual = now, False
        refreshed = bisect_right(listed, now)

    now = start
    while now < end:
        best = candidate(now)
        grid = start + -(-(best - start) // tick) * tick if best is not None else None
        while next_forced < len(forced) and forced[next_forced] < now:
            next_forced += 1
        if next_forced < len(forced) and (grid is None or forced[next_forced] <= grid):
            refresh(forced[next_forced])
            now = forced[next_forced] + _INSTANT
            next_forced += 1
            continue
        if grid is None or grid >= end:
            break
        now = grid
        if grid == best or candidate(now) == now:
            upcoming = bisect_right(kicks, now)
            hours = (kicks[upcoming] - now).total_seconds() / 3600.0 if upcoming < n else 0.0
            calls.append(TierCall(now, tier_name(hours) or "closing", hours))
            refresh(now)
        now += _INSTANT
    return calls
