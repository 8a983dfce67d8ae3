"""The collection plan in the warehouse: what it is made from (the fixture list, the markets
each event is priced in, the calls already made, the credits spent) and the planned calls."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection, and_, delete, func, or_, select

from betting_assets.warehouse.queries import _event_columns, _frame
from betting_assets.warehouse.tables import collection_plan, events, fetch_log, normalized_odds, odds_snapshots
from betting_assets.domain.vocabulary import EventStatus, UPCOMING

_UTC = pl.Datetime("us", "UTC")
PLAN_SCHEMA: dict[str, pl.DataType] = {
    "sport_key": pl.String, "at": _UTC, "priority": pl.String, "endpoint": pl.String, "event_id": pl.String,
    "markets": pl.String, "credits": pl.Int64, "events_served": pl.Int64, "due_until": _UTC, "planned_at": _UTC,
    "budget": pl.Int64,
}
CALL_SCHEMA: dict[str, pl.DataType] = {"sport_key": pl.String, "endpoint": pl.String, "event_id": pl.String,
                                       "clock_at": _UTC, "markets": pl.String}
PLANNED_ENDPOINTS = ("odds", "event_odds", "scores")
"""the live endpoints a plan buys; the rest (historical backfills, discovery) are a user's own"""
_EVENT_IN_URL = re.compile(r"/events/([^/?]+)/odds")


def schedule(conn: Connection, now: datetime, until: datetime, sports: list[str],
             results_within: timedelta) -> pl.DataFrame:
    """What a plan is made for: every scheduled event starting in (now, until), and every event
    started less than ``results_within`` ago still without a result."""
    columns = [c for c in _event_columns() if c.name in ("event_id", "sport_key", "commence_time", "last_odds_at")]
    query = select(*columns).where(events.c.sport_key.in_(sports), or_(
        and_(events.c.status.in_(UPCOMING), events.c.commence_time > now,
             events.c.commence_time < until),
        and_(events.c.status.in_([EventStatus.SCHEDULED, EventStatus.LIVE]), events.c.commence_time <= now,
             events.c.commence_time > now - results_within)))
    return _frame(conn, query.order_by(events.c.commence_time), {
        "event_id": pl.String, "sport_key": pl.String, "commence_time": _UTC, "last_odds_at": _UTC})


def markets_missing(conn: Connection, event_ids: list[str]) -> dict[str, list[str]]:
    """The markets each event was asked for (in a snapshot that priced it) and never priced in:
    what a per-event call would not return, so would not bill. A market never asked for is not
    missing, only unknown."""
    seen: dict[str, set[str]] = {}
    asked: dict[str, set[str]] = {}
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start:start + 500]
        for event_id, market, markets in conn.execute(
                select(normalized_odds.c.event_id, normalized_odds.c.market, odds_snapshots.c.markets)
                .join(odds_snapshots, odds_snapshots.c.snapshot_id == normalized_odds.c.snapshot_id)
                .where(normalized_odds.c.event_id.in_(chunk)).distinct()):
            seen.setdefault(event_id, set()).add(market)
            asked.setdefault(event_id, set()).update(m for m in (markets or "").split(",") if m)
    return {event: sorted(asked[event] - markets) for event, markets in seen.items() if asked[event] - markets}


def calls_made(conn: Connection, since: datetime, until: datetime) -> pl.DataFrame:
    """The live odds and scores calls that succeeded in [since, until) on the product's clock, each
    with its event (per-event calls) and the markets it asked for. An odds answer stored
    incomplete (a body cut short) is no call made: the sensor asks again while its window is
    open, as nothing else would bring that moment's prices."""
    cut_short = select(odds_snapshots.c.fetch_id).where(odds_snapshots.c.complete.is_(False),
                                                    odds_snapshots.c.fetch_id.is_not(None))
    rows = conn.execute(select(fetch_log.c.sport_key, fetch_log.c.endpoint, fetch_log.c.url, fetch_log.c.clock_at,
                               fetch_log.c.params)
                        .where(fetch_log.c.ok.is_(True), fetch_log.c.endpoint.in_(PLANNED_ENDPOINTS),
                               fetch_log.c.clock_at >= since, fetch_log.c.clock_at < until,
                               fetch_log.c.fetch_id.not_in(cut_short)).order_by(fetch_log.c.clock_at)).all()
    out = []
    for sport, endpoint, url, at, params in rows:
        event = _EVENT_IN_URL.search(url) if endpoint == "event_odds" else None
        out.append((sport, endpoint, event.group(1) if event else None, at, (params or {}).get("markets")))
    return pl.DataFrame(out, schema=CALL_SCHEMA, orient="row")


def spent_by_sport_day(conn: Connection, since: datetime, until: datetime) -> pl.DataFrame:
    """Credits the provider billed (``x-requests-last``) per sport, UTC day and whether the
    endpoint is one a plan buys (``planned``), failed calls included: they are billed too."""
    rows = conn.execute(select(fetch_log.c.sport_key, fetch_log.c.endpoint, fetch_log.c.clock_at, fetch_log.c.requests_last)
                        .where(fetch_log.c.clock_at >= since, fetch_log.c.clock_at < until, fetch_log.c.requests_last > 0)).all()
    frame = pl.DataFrame([tuple(r) for r in rows], orient="row", schema={
        "sport_key": pl.String, "endpoint": pl.String, "clock_at": _UTC, "credits": pl.Int64})
    return (frame.with_columns(day=pl.col("clock_at").dt.date().cast(pl.String),
                               planned=pl.col("endpoint").is_in(PLANNED_ENDPOINTS))
            .group_by("sport_key", "day", "planned").agg(pl.col("credits").sum()).sort("sport_key", "day"))


def has_plan(conn: Connection) -> bool:
    return conn.scalar(select(collection_plan.c.call_id).limit(1)) is not None


def first_planned(conn: Connection) -> datetime | None:
    return conn.scalar(select(func.min(collection_plan.c.planned_at)))


def last_planned(conn: Connection) -> datetime | None:
    """The clock the latest plan was made from."""
    return conn.scalar(select(func.max(collection_plan.c.planned_at)))


def forget_planned_after(conn: Connection, when: datetime) -> int:
    """Drops the calls planned from a clock later than ``when``: only for one who moves the clock
    back on purpose (the demo, run again on its home, plays the same days again)."""
    return conn.execute(delete(collection_plan).where(collection_plan.c.planned_at > when)).rowcount or 0


def replace_plan(conn: Connection, calls: list[dict[str, Any]], now: datetime, sports: list[str], start: datetime,
                 end: datetime) -> int:
    """The calls of ``sports`` in [start, end) from ``now`` on are the new plan's; what was
    planned before ``now`` stays as it was planned."""
    since = max(now, start)
    conn.execute(delete(collection_plan).where(collection_plan.c.sport_key.in_(sports), collection_plan.c.at >= since,
                                               collection_plan.c.at < end))
    kept = [c for c in calls if c["sport_key"] in sports and since <= c["at"] < end]
    if kept:
        conn.execute(collection_plan.insert(), kept)
    return len(kept)


def plan_frame(conn: Connection, start: datetime, end: datetime, sports: list[str] | None = None) -> pl.DataFrame:
    """The planned calls of [start, end), in time order."""
    query = select(*[collection_plan.c[name] for name in PLAN_SCHEMA]).where(
        collection_plan.c.at >= start, collection_plan.c.at < end)
    if sports:
        query = query.where(collection_plan.c.sport_key.in_(sports))
    return _frame(conn, query.order_by(collection_plan.c.at, collection_plan.c.sport_key), PLAN_SCHEMA)


def due_calls(conn: Connection, now: datetime, sports: list[str]) -> pl.DataFrame:
    """Planned calls whose time has come and not gone."""
    frame = plan_frame(conn, now - timedelta(days=1), now + timedelta(microseconds=1), sports)
    return frame.filter(pl.col("due_until") > now)

