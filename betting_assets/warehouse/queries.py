"""Reads the Dagster layer needs, each one indexed query returning a polars frame."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection, Select, and_, func, select

from betting_assets.domain.data.normalize import NORMALIZED_SCHEMA, SPORT_SOURCES
from betting_assets.domain.timeutil import parse_utc
from betting_assets.domain.vocabulary import AWAITING_RESULT, EventStatus, UPCOMING
from betting_assets.domain.orders.states import SlipStatus
from betting_assets.warehouse.tables import (
    bet_slips,
    data_quality_log,
    event_decisions,
    events,
    exchange_books,
    exchange_markets,
    features,
    fetch_log,
    normalized_odds,
    odds_snapshots,
)

_UTC = pl.Datetime("us", "UTC")
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String, "sport_key": pl.String, "commence_time": _UTC, "home_team": pl.String,
    "away_team": pl.String, "status": pl.String, "home_score": pl.Int64, "away_score": pl.Int64,
    "completed": pl.Boolean, "last_odds_at": _UTC,
}


def _frame(conn: Connection, query: Select[Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    rows = conn.execute(query).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def _event_columns() -> list[Any]:
    return [events.c[name] for name in EVENT_SCHEMA]


def upcoming_events(conn: Connection, now: datetime, sports: list[str] | None = None) -> pl.DataFrame:
    """Scheduled events not yet started: what the fetch sensor weighs."""
    query = select(*_event_columns()).where(events.c.status.in_(UPCOMING),
                                            events.c.commence_time > now)
    if sports:
        query = query.where(events.c.sport_key.in_(sports))
    return _frame(conn, query, EVENT_SCHEMA)


def awaiting_scores(conn: Connection, now: datetime, window: timedelta = timedelta(days=3),
                    sports: list[str] | None = None) -> pl.DataFrame:
    """Started events without a final result, within the provider's scores window."""
    query = select(*_event_columns()).where(
        events.c.status.in_(AWAITING_RESULT), events.c.commence_time <= now,
        events.c.commence_time > now - window,
    )
    if sports:
        query = query.where(events.c.sport_key.in_(sports))
    return _frame(conn, query, EVENT_SCHEMA)


def events_between(conn: Connection, sport: str, start: datetime, end: datetime) -> pl.DataFrame:
    query = select(*_event_columns()).where(
        events.c.sport_key == sport, events.c.commence_time >= start, events.c.commence_time < end
    )
    return _frame(conn, query, EVENT_SCHEMA)


def credits_remaining(conn: Connection) -> int | None:
    """The provider's last word on the quota (``x-requests-remaining``), never an estimate."""
    return conn.execute(
        select(fetch_log.c.requests_remaining)
        .where(fetch_log.c.requests_remaining.is_not(None))
        .order_by(fetch_log.c.fetch_id.desc())
        .limit(1)
    ).scalar_one_or_none()


def snapshots_between(conn: Connection, sport: str, start: datetime, end: datetime) -> list[Any]:
    return list(conn.execute(
        select(odds_snapshots).where(
            odds_snapshots.c.sport_key == sport, odds_snapshots.c.as_of >= start, odds_snapshots.c.as_of < end
        ).order_by(odds_snapshots.c.as_of, odds_snapshots.c.snapshot_id)
    ).all())


def snapshot_heads(conn: Connection, sport: str, start: datetime, end: datetime) -> list[Any]:
    """The stored snapshots of [start, end) without their payloads."""
    columns = [c for c in odds_snapshots.columns if c.name != "payload"]
    return list(conn.execute(
        select(*columns).where(
            odds_snapshots.c.sport_key == sport, odds_snapshots.c.as_of >= start, odds_snapshots.c.as_of < end
        ).order_by(odds_snapshots.c.as_of, odds_snapshots.c.snapshot_id)
    ).all())


def snapshot_events(conn: Connection, ids: list[int]) -> dict[int, str]:
    """The event each per-event snapshot of ``ids`` is of (its payload's one event)."""
    from betting_assets.domain.data.quality import snapshot_event

    if not ids:
        return {}
    found = {}
    for snapshot_id, payload in conn.execute(select(odds_snapshots.c.snapshot_id, odds_snapshots.c.payload)
                                             .where(odds_snapshots.c.snapshot_id.in_(ids))).all():
        event = snapshot_event(payload)
        if event is not None:
            found[int(snapshot_id)] = event
    return found


def stored_answer(conn: Connection, endpoint: str, sport: str, date: str) -> str | None:
    """The body of the latest successful call to a historical ``endpoint`` for this sport and
    date, as the fetch log kept it. History does not change, so its answer need not be bought
    twice."""
    if conn.dialect.name == "postgresql":
        asked = fetch_log.c.params.op("->>")("date")
    else:
        asked = func.json_extract(fetch_log.c.params, "$.date")
    return conn.execute(
        select(fetch_log.c.body).where(
            fetch_log.c.endpoint == endpoint, fetch_log.c.sport_key == sport, fetch_log.c.ok.is_(True),
            fetch_log.c.body.is_not(None), asked == date,
        ).order_by(fetch_log.c.fetch_id.desc()).limit(1)
    ).scalar_one_or_none()


def last_answer(conn: Connection, endpoint: str, sport: str) -> tuple[datetime, str] | None:
    """When (on the product's clock) the latest successful call to ``endpoint`` for this sport
    was made, and its body as the fetch log kept it."""
    row = conn.execute(select(fetch_log.c.clock_at, fetch_log.c.body).where(
        fetch_log.c.endpoint == endpoint, fetch_log.c.sport_key == sport, fetch_log.c.ok.is_(True),
        fetch_log.c.body.is_not(None)).order_by(fetch_log.c.fetch_id.desc()).limit(1)).first()
    return None if row is None else (row.clock_at, row.body)


def snapshot_coverage(conn: Connection, sport: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """For each complete stored snapshot of the whole sport, the span of time it answers for: a historical
    envelope until its ``next_timestamp`` (asking again in between returns the same bytes), a
    live one for a minute. An incomplete one answers for nothing, so it is fetched again."""
    if conn.dialect.name == "postgresql":
        following = odds_snapshots.c.payload.op("->>")("next_timestamp")
    else:
        following = func.json_extract(odds_snapshots.c.payload, "$.next_timestamp")
    rows = conn.execute(
        select(odds_snapshots.c.as_of, odds_snapshots.c.source, following).where(
            odds_snapshots.c.sport_key == sport, odds_snapshots.c.as_of >= start, odds_snapshots.c.as_of < end,
            odds_snapshots.c.complete.is_(True), odds_snapshots.c.source.in_(SPORT_SOURCES),
        ).order_by(odds_snapshots.c.as_of)
    ).all()
    spans = []
    for as_of, source, nxt in rows:
        until = parse_utc(nxt) if source == "historical" and nxt else None
        spans.append((as_of, until or as_of + timedelta(minutes=1)))
    return spans


def normalized_rows(conn: Connection, condition: Any) -> pl.DataFrame:
    columns = [normalized_odds.c[name] for name in NORMALIZED_SCHEMA]
    return _frame(conn, select(*columns).where(condition), NORMALIZED_SCHEMA)


def normalized_between(conn: Connection, sport: str, start: datetime, end: datetime) -> pl.DataFrame:
    return normalized_rows(conn, and_(
        normalized_odds.c.sport_key == sport, normalized_odds.c.snapshot_time >= start,
        normalized_odds.c.snapshot_time < end,
    ))


def previous_quotes(conn: Connection, event_ids: list[str], before: datetime,
                    lookback: timedelta = timedelta(days=3)) -> pl.DataFrame:
    """Each quote's latest row before ``before``: the reference for line-move checks."""
    if not event_ids:
        return pl.DataFrame(schema=NORMALIZED_SCHEMA)
    rows = normalized_rows(conn, and_(
        normalized_odds.c.event_id.in_(event_ids), normalized_odds.c.snapshot_time < before,
        normalized_odds.c.snapshot_time >= before - lookback,
    ))
    return rows.sort("snapshot_time").unique(["event_id", "bookmaker", "market", "outcome", "point"], keep="last")


def events_frame(conn: Connection, condition: Any) -> pl.DataFrame:
    return _frame(conn, select(*_event_columns()).where(condition), EVENT_SCHEMA)


def events_of(conn: Connection, sports: list[str], start: datetime | None = None, end: datetime | None = None,
              status: str | None = None) -> pl.DataFrame:
    """The sports' events kicking off in [start, end) (either end open when None), of one status
    when given."""
    condition = events.c.sport_key.in_(sports)
    if start is not None:
        condition = and_(condition, events.c.commence_time >= start)
    if end is not None:
        condition = and_(condition, events.c.commence_time < end)
    if status is not None:
        condition = and_(condition, events.c.status == status)
    return events_frame(conn, condition)


def upcoming_with_status(conn: Connection, sport: str, statuses: tuple[str, ...], after: datetime) -> dict[str, Any]:
    """The sport's events of these statuses kicking off after ``after``, by id (commence_time, status)."""
    return {r.event_id: r for r in conn.execute(
        select(events.c.event_id, events.c.commence_time, events.c.status).where(
            events.c.sport_key == sport, events.c.status.in_(statuses), events.c.commence_time > after))}


def events_of_days(conn: Connection, sport: str, start: datetime, end: datetime,
                   excluded: tuple[str, ...] = ()) -> pl.DataFrame:
    """A sport's events kicking off in [start, end), leaving out those of the ``excluded`` statuses."""
    return events_frame(conn, and_(events.c.sport_key == sport, events.c.commence_time >= start,
                                   events.c.commence_time < end, events.c.status.not_in(excluded)))


def events_by_id(conn: Connection, event_ids: list[str]) -> pl.DataFrame:
    return events_frame(conn, events.c.event_id.in_(event_ids))


def started_before(conn: Connection, before: datetime, sports: list[str] | None = None) -> pl.DataFrame:
    """Every event that started before ``before``, whatever its status."""
    condition = events.c.commence_time < before
    if sports:
        condition = and_(condition, events.c.sport_key.in_(sports))
    return events_frame(conn, condition)


def finished_before(conn: Connection, sports: list[str], before: datetime) -> pl.DataFrame:
    """Final results of events that started before ``before``: the rating history. The
    feature builder still cuts each result at the time it became known."""
    return events_frame(conn, and_(events.c.sport_key.in_(sports), events.c.commence_time < before,
                                   events.c.status == EventStatus.FINAL, events.c.home_score.is_not(None)))


def odds_for_events(conn: Connection, event_ids: list[str], start: datetime, end: datetime) -> pl.DataFrame:
    """Normalised quotes of some events in [start, end)."""
    if not event_ids:
        return pl.DataFrame(schema=NORMALIZED_SCHEMA)
    return normalized_rows(conn, and_(normalized_odds.c.event_id.in_(event_ids),
                                      normalized_odds.c.snapshot_time >= start,
                                      normalized_odds.c.snapshot_time < end))


def stored_features(conn: Connection, sports: list[str], columns: list[str], start: datetime | None = None,
                    end: datetime | None = None) -> pl.DataFrame:
    """Feature rows of events starting in [start, end) (open where None), the JSON values
    spread into columns."""
    query = (
        select(features.c.event_id, features.c.decision_time, features.c.sport_key, features.c.commence_time,
               features.c.home_team, features.c.away_team, features.c.three_way, features.c.sharp_book_used,
               features.c["values"])
        .where(features.c.sport_key.in_(sports))
        .order_by(features.c.decision_time, features.c.event_id)
    )
    if start is not None:
        query = query.where(features.c.commence_time >= start)
    if end is not None:
        query = query.where(features.c.commence_time < end)
    rows = conn.execute(query).all()
    info = {"event_id": pl.String, "decision_time": _UTC, "sport_key": pl.String, "commence_time": _UTC,
            "home_team": pl.String, "away_team": pl.String, "three_way": pl.Boolean, "sharp_book_used": pl.String}
    head = pl.DataFrame([tuple(r)[:-1] for r in rows], schema=info, orient="row")
    values = pl.DataFrame([[r[-1].get(c) for c in columns] for r in rows],
                          schema={c: pl.Float64 for c in columns}, orient="row")
    return pl.concat([head, values], how="horizontal")


def at_decision(conn: Connection, now: datetime, hours: float, sports: list[str]) -> pl.DataFrame:
    """Scheduled events whose decision time (kick-off minus ``hours``) has come, that have not
    started and that the live strategies have not decided yet: each event is decided once, at
    its decision time, as the backtest decides it."""
    decided = select(event_decisions.c.event_id).where(event_decisions.c.event_id == events.c.event_id).exists()
    return events_frame(conn, and_(events.c.sport_key.in_(sports), events.c.status == EventStatus.SCHEDULED,
                                   events.c.commence_time > now,
                                   events.c.commence_time <= now + timedelta(hours=hours), ~decided))


def decisions_frame(conn: Connection) -> pl.DataFrame:
    """Every event's live decision: when, with how many bets chosen and slips made."""
    return _frame(conn, select(event_decisions.c.event_id, event_decisions.c.decision_time,
                               event_decisions.c.decided_at, event_decisions.c.candidates, event_decisions.c.slips,
                               event_decisions.c.refusals)
                  .order_by(event_decisions.c.decided_at, event_decisions.c.event_id),
                  {"event_id": pl.String, "decision_time": _UTC, "decided_at": _UTC, "candidates": pl.Int64,
                   "slips": pl.Int64, "refusals": pl.String})


def first_decision(conn: Connection, now: datetime) -> datetime | None:
    """The day's first decision that chose a bet, up to ``now``: when the day's cash was taken."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return conn.execute(select(func.min(event_decisions.c.decided_at)).where(
        event_decisions.c.decided_at >= day, event_decisions.c.decided_at <= now,
        event_decisions.c.candidates > 0)).scalar_one_or_none()


def slips_frame(conn: Connection, condition: Any = None, limit: int | None = None) -> pl.DataFrame:
    query = select(bet_slips).order_by(bet_slips.c.slip_id)
    if condition is not None:
        query = query.where(condition)
    if limit:
        query = query.limit(limit)
    return result_frame(conn, query)


def proposed_slips(conn: Connection) -> pl.DataFrame:
    """Slips not yet placed (or refused): what a placement run would take up."""
    return slips_frame(conn, bet_slips.c.status == SlipStatus.PROPOSED)


def result_frame(conn: Connection, query: Any) -> pl.DataFrame:
    """A query's rows with the types polars infers from all of them (for tables read whole)."""
    result = conn.execute(query)
    return pl.DataFrame([tuple(r) for r in result.all()], schema=list(result.keys()), orient="row",
                        infer_schema_length=None)


def snapshots_preview(conn: Connection, snapshot_ids: list[int]) -> pl.DataFrame:
    """What a fetch stored, one row per snapshot in time order: when, from where, its tier, and
    what it cost."""
    rows = conn.execute(
        select(odds_snapshots.c.as_of, odds_snapshots.c.source, odds_snapshots.c.fetch_tier,
               odds_snapshots.c.hours_to_commence, odds_snapshots.c.event_count, odds_snapshots.c.requests_last,
               odds_snapshots.c.requests_remaining)
        .where(odds_snapshots.c.snapshot_id.in_(snapshot_ids or [-1])).order_by(odds_snapshots.c.as_of)).all()
    return pl.DataFrame([tuple(r) for r in rows], orient="row", schema=[
        "as_of", "source", "tier", "hours_to_start", "events", "credits", "remaining"])


def slips_of_run(conn: Connection, run_id: str) -> pl.DataFrame:
    return slips_frame(conn, bet_slips.c.run_id == run_id)


def match_names(conn: Connection, event_ids: list[str]) -> dict[str, str]:
    """``Home v Away, kick-off`` per event: what a person recognises in a refusal, not an id."""
    rows = conn.execute(select(events.c.event_id, events.c.home_team, events.c.away_team, events.c.commence_time)
                        .where(events.c.event_id.in_(event_ids))).all()
    return {r.event_id: f"{r.home_team} v {r.away_team}, {r.commence_time:%Y-%m-%d %H:%M} UTC" for r in rows}


def warehouse_totals(conn: Connection) -> dict[str, Any]:
    """What the warehouse holds, in the figures the demo's summary shows: events, snapshots,
    odds rows (by market, invalid), bookmakers, provider calls, credits, findings."""
    def count(query: Any) -> int:
        return conn.scalar(query) or 0

    last = conn.execute(select(fetch_log.c.requests_remaining, fetch_log.c.requests_used)
                        .where(fetch_log.c.requests_remaining.is_not(None))
                        .order_by(fetch_log.c.fetch_id.desc()).limit(1)).first()
    return {
        "events": count(select(func.count()).select_from(events)),
        "final_events": count(select(func.count()).where(events.c.status == EventStatus.FINAL)),
        "snapshots": count(select(func.count()).select_from(odds_snapshots)),
        "odds_rows": count(select(func.count()).select_from(normalized_odds)),
        "invalid_rows": count(select(func.count()).select_from(normalized_odds)
                              .where(normalized_odds.c.is_valid.is_(False))),
        "rows_by_market": {m: n for m, n in conn.execute(
            select(normalized_odds.c.market, func.count()).group_by(normalized_odds.c.market))},
        "bookmakers": count(select(func.count(func.distinct(normalized_odds.c.bookmaker)))),
        "provider_calls": count(select(func.count()).select_from(fetch_log)),
        "failed_calls": count(select(func.count()).where(fetch_log.c.ok.is_(False))),
        "credits_remaining": last[0] if last else None,
        "credits_used": last[1] if last else 0,
        "quality_findings": count(select(func.count()).select_from(data_quality_log)),
    }


def slip_count(conn: Connection) -> int:
    return conn.scalar(select(func.count()).select_from(bet_slips)) or 0


def exchange_books_before(conn: Connection, market_ids: list[str], at: datetime) -> dict[str, dict[str, Any]]:
    """Each market's latest stored book read at or before ``at``, as the exchange answered it."""
    if not market_ids:
        return {}
    latest = (select(exchange_books.c.market_id, func.max(exchange_books.c.book_id).label("book_id"))
              .where(exchange_books.c.market_id.in_(market_ids), exchange_books.c.read_at <= at)
              .group_by(exchange_books.c.market_id).subquery())
    rows = conn.execute(select(exchange_books.c.market_id, exchange_books.c.payload)
                        .join(latest, exchange_books.c.book_id == latest.c.book_id)).all()
    return {market_id: payload for market_id, payload in rows}


def exchange_markets_frame(conn: Connection, event_ids: list[str] | None = None) -> pl.DataFrame:
    """The stored mapping: one row per event, market, line and side."""
    query = select(*(exchange_markets.c[name] for name in EXCHANGE_MARKET_SCHEMA)).order_by(
        exchange_markets.c.event_id, exchange_markets.c.side)
    if event_ids is not None:
        query = query.where(exchange_markets.c.event_id.in_(event_ids))
    return _frame(conn, query, EXCHANGE_MARKET_SCHEMA)


EXCHANGE_MARKET_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String, "market_type": pl.String, "line": pl.Float64, "side": pl.String, "market_id": pl.String,
    "selection_id": pl.Int64, "handicap": pl.Float64, "exchange_event_id": pl.String,
    "exchange_event_name": pl.String, "market_version": pl.Int64, "score": pl.Float64, "method": pl.String,
    "mapped_at": pl.Datetime("us", "UTC"), "market_base_rate": pl.Float64,
}


def exchange_mapping_counts(conn: Connection) -> tuple[int, int]:
    """Events mapped to the exchange now, and events its mapping findings name that are not."""
    mapped = set(conn.execute(select(exchange_markets.c.event_id).distinct()).scalars())
    named = set(conn.execute(select(data_quality_log.c.event_id).distinct()
                             .where(data_quality_log.c.check_name == "exchange_mapping")).scalars())
    return len(mapped), len(named - mapped)

