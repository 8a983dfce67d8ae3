"""Bulk writes, idempotent on natural keys.

Normalised odds go in with ``COPY`` on PostgreSQL (straight into the table when the
snapshots are new, through a staging table with ``ON CONFLICT DO NOTHING`` when they may
overlap) and with one ``executemany`` of ``INSERT OR IGNORE`` on SQLite.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

import polars as pl
from sqlalchemy import Connection, and_, bindparam, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from psycopg2.errors import UniqueViolation

from betting_assets.domain.data.normalize import NORMALIZED_SCHEMA, Finding
from betting_assets.domain.orders.states import SlipStatus
from betting_assets.domain.timeutil import parse_utc
from betting_assets.domain.vocabulary import EventStatus, UPCOMING
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

NORMALIZED_COLUMNS = [c.name for c in normalized_odds.columns]
_SQLITE_TS = "%Y-%m-%d %H:%M:%S%.6f"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _insert(conn: Connection, table):  # type: ignore[no-untyped-def]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def payload_digest(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class FetchRecord:
    endpoint: str
    sport_key: str | None
    url: str
    params: dict[str, Any]
    requested_at: datetime
    status_code: int | None
    ok: bool
    error: str | None = None
    elapsed_ms: float | None = None
    attempts: int = 1
    requests_remaining: int | None = None
    requests_used: int | None = None
    requests_last: int | None = None
    body: str | None = None
    clock_at: datetime | None = None
    """the product's clock when the call was made; the wall clock (``requested_at``) when unset"""
    requests_expected: int | None = None


def record_fetch(conn: Connection, record: FetchRecord) -> int:
    """Appends the attempt, with what the provider billed since the last answer that showed its
    counter: the rise of ``x-requests-used`` (a call the provider charged but never answered is
    in it), or the answer's own ``x-requests-last`` for the first answer or after the counter was
    reset."""
    row = asdict(record)
    row["clock_at"] = record.clock_at or record.requested_at
    row["requests_billed"] = None
    if record.requests_used is not None:
        before = conn.execute(select(fetch_log.c.requests_used).where(fetch_log.c.requests_used.is_not(None))
                              .order_by(fetch_log.c.fetch_id.desc()).limit(1)).scalar_one_or_none()
        rose = None if before is None else record.requests_used - int(before)
        row["requests_billed"] = rose if rose is not None and rose >= (record.requests_last or 0) else record.requests_last
    result = conn.execute(fetch_log.insert().returning(fetch_log.c.fetch_id), [row])
    return int(result.scalar_one())


def store_snapshot(
    conn: Connection,
    *,
    payload: Any,
    sport_key: str,
    source: str,
    as_of: datetime,
    fetched_at: datetime,
    odds_format: str,
    fetch_id: int | None = None,
    fetch_tier: str | None = None,
    hours_to_commence: float | None = None,
    regions: str | None = None,
    markets: str | None = None,
    quota: dict[str, int | None] | None = None,
    event_count: int | None = None,
    complete: bool = True,
) -> tuple[int, bool]:
    """Appends a raw payload; returns (snapshot_id, inserted). A repeat of the same payload
    for the same sport, source and time returns the stored id and writes nothing. An
    incomplete payload (a required field missing) is kept whole but answers for nothing."""
    digest = payload_digest(payload)
    quota = quota or {}
    row = {
        "fetch_id": fetch_id,
        "sport_key": sport_key,
        "source": source,
        "as_of": as_of,
        "fetched_at": fetched_at,
        "fetch_tier": fetch_tier,
        "hours_to_commence": hours_to_commence,
        "regions": regions,
        "markets": markets,
        "odds_format": odds_format,
        "event_count": event_count if event_count is not None else (len(payload) if isinstance(payload, list) else 0),
        "requests_remaining": quota.get("remaining"),
        "requests_used": quota.get("used"),
        "requests_last": quota.get("last"),
        "payload_sha256": digest,
        "payload": payload,
        "complete": complete,
    }
    stmt = (
        _insert(conn, odds_snapshots)
        .values(row)
        .on_conflict_do_nothing(index_elements=["sport_key", "source", "as_of", "payload_sha256"])
        .returning(odds_snapshots.c.snapshot_id)
    )
    inserted = conn.execute(stmt).scalar_one_or_none()
    if inserted is not None:
        return int(inserted), True
    existing = conn.execute(
        select(odds_snapshots.c.snapshot_id).where(
            odds_snapshots.c.sport_key == sport_key,
            odds_snapshots.c.source == source,
            odds_snapshots.c.as_of == as_of,
            odds_snapshots.c.payload_sha256 == digest,
        )
    ).scalar_one()
    return int(existing), False


def upsert_events(conn: Connection, frame: pl.DataFrame, seen_at: datetime | None = None) -> int:
    """New events are inserted as scheduled; known ones get their fixture details refreshed
    (a postponement moves ``commence_time``) without touching lifecycle or scores."""
    if frame.is_empty():
        return 0
    seen_at = seen_at or utcnow()
    rows = [
        {**row, "first_seen_at": seen_at, "updated_at": seen_at}
        for row in frame.select(
            "event_id", "sport_key", "sport_title", "commence_time", "home_team", "away_team"
        ).unique("event_id", keep="last", maintain_order=True).sort("event_id").iter_rows(named=True)
    ]
    lock_events(conn, events.c.event_id.in_([r["event_id"] for r in rows]))
    stmt = _insert(conn, events)
    stmt = stmt.on_conflict_do_update(
        index_elements=["event_id"],
        set_={
            "commence_time": stmt.excluded.commence_time,
            "home_team": stmt.excluded.home_team,
            "away_team": stmt.excluded.away_team,
            "sport_title": stmt.excluded.sport_title,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    conn.execute(stmt, rows)
    return len(rows)


def write_normalized(conn: Connection, frame: pl.DataFrame) -> int:
    """Inserts rows not already present (by natural key); returns how many were new."""
    if frame.is_empty():
        return 0
    frame = frame.select(NORMALIZED_COLUMNS).cast({k: NORMALIZED_SCHEMA[k] for k in NORMALIZED_COLUMNS})
    if conn.dialect.name == "postgresql":
        return _write_normalized_postgres(conn, frame)
    return _write_normalized_sqlite(conn, frame)


def _write_normalized_sqlite(conn: Connection, frame: pl.DataFrame) -> int:
    timestamps = [k for k, v in NORMALIZED_SCHEMA.items() if isinstance(v, pl.Datetime)]
    rows = frame.with_columns(
        [pl.col(c).dt.convert_time_zone("UTC").dt.strftime(_SQLITE_TS) for c in timestamps]
    ).rows()
    placeholders = ", ".join("?" for _ in NORMALIZED_COLUMNS)
    cursor = conn.exec_driver_sql(
        f"INSERT OR IGNORE INTO normalized_odds ({', '.join(NORMALIZED_COLUMNS)}) VALUES ({placeholders})",
        rows,
    )
    return int(cursor.rowcount)


def _copy(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.6f%z")
    buffer.seek(0)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.copy_expert(
            f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv)", buffer
        )
    finally:
        cursor.close()


def _write_normalized_postgres(conn: Connection, frame: pl.DataFrame) -> int:
    snapshot_ids = frame["snapshot_id"].unique().to_list()
    overlap = conn.exec_driver_sql(
        "SELECT 1 FROM normalized_odds WHERE snapshot_id = ANY(%(ids)s) LIMIT 1", {"ids": snapshot_ids}
    ).first()
    if overlap is None and frame.select(pl.struct(_natural_key()).is_unique().all()).item():
        savepoint = conn.begin_nested()
        try:
            _copy(conn, "normalized_odds", frame)
            savepoint.commit()
            return frame.height
        except UniqueViolation:  # raw cursor: psycopg2's own error, not SQLAlchemy's
            savepoint.rollback()
    conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS stage_normalized_odds "
        "(LIKE normalized_odds INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    conn.exec_driver_sql("TRUNCATE stage_normalized_odds")
    _copy(conn, "stage_normalized_odds", frame)
    cols = ", ".join(NORMALIZED_COLUMNS)
    result = conn.exec_driver_sql(
        f"INSERT INTO normalized_odds ({cols}) SELECT DISTINCT ON ({', '.join(_natural_key())}) {cols} "
        "FROM stage_normalized_odds ON CONFLICT DO NOTHING"
    )
    return int(result.rowcount)


def _natural_key() -> list[str]:
    return [c.name for c in normalized_odds.primary_key.columns]


def finding_fingerprint(row: dict[str, Any]) -> str:
    """What makes a finding the same finding: its check, its source, what it is about (the
    snapshot, else the event, else the fetch) and its key and message. Checking the same data
    again finds the same fingerprints and records nothing new."""
    subject = (f"s{row['snapshot_id']}" if row["snapshot_id"] is not None else
               f"e{row['event_id']}" if row["event_id"] is not None else f"f{row['fetch_id']}")
    parts = [row["check_name"], row["source"] or "", subject, row["bookmaker"] or "", row["market"] or "",
             row["message"], json.dumps(row["context"], sort_keys=True, default=str)]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def record_exchange_books(conn: Connection, books: dict[str, Any], read_at: datetime, purpose: str) -> int:
    """Market books as the exchange answered them (betfairlightweight keeps the answer in
    ``_data``), before anything is derived from them."""
    rows = [{"read_at": read_at, "purpose": purpose, "market_id": market_id, "status": str(book.status),
             "version": book.version, "payload": getattr(book, "_data", None) or {}}
            for market_id, book in books.items()]
    if rows:
        conn.execute(exchange_books.insert(), rows)
    return len(rows)


def record_findings(
    conn: Connection,
    findings: Iterable[Finding],
    *,
    source: str,
    snapshot_id: int | None = None,
    fetch_id: int | None = None,
    recorded_at: datetime | None = None,
) -> int:
    """Appends findings not already recorded (by fingerprint); returns how many were new."""
    recorded_at = recorded_at or utcnow()
    rows = [
        {
            "recorded_at": recorded_at,
            "check_name": f.check,
            "severity": f.severity,
            "message": f.message,
            "source": source,
            "snapshot_id": f.snapshot_id if f.snapshot_id is not None else snapshot_id,
            "fetch_id": fetch_id,
            "event_id": f.event_id,
            "bookmaker": f.bookmaker,
            "market": f.market,
            "context": f.context or None,
        }
        for f in findings
    ]
    unique = {finding_fingerprint(r): r for r in rows}
    if not unique:
        return 0
    stmt = _insert(conn, data_quality_log).on_conflict_do_nothing(index_elements=["fingerprint"])
    done = conn.execute(stmt.returning(data_quality_log.c.finding_id),
                        [{**r, "fingerprint": k} for k, r in unique.items()]).all()
    return len(done)


def lock_events(conn: Connection, condition: Any) -> dict[str, str]:
    """Takes the row locks of the events matching ``condition`` in event-id order (PostgreSQL)
    and returns their statuses by id. Every writer of ``events`` that touches several rows
    locks them this way first, so two transactions never wait on each other in opposite
    orders (SQLite has one writer at a time and needs no row locks)."""
    query = select(events.c.event_id, events.c.status).where(condition).order_by(events.c.event_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return dict(conn.execute(query).all())  # type: ignore[arg-type]


def apply_scores(conn: Connection, updates: Iterable[Any], now: datetime | None = None) -> int:
    """Moves events along scheduled → live → final; never moves a final event back. An event
    the warehouse does not know yet is created from the scores item (its teams, sport and
    start), so a result is never dropped because the odds were not collected first. Returns
    how many events changed."""
    now = now or utcnow()
    latest = {u.event_id: u for u in updates if u.status in (EventStatus.FINAL, EventStatus.LIVE)}
    if not latest:
        return 0
    ids = sorted(latest)
    creatable = [
        {"event_id": u.event_id, "sport_key": u.sport_key, "sport_title": None, "commence_time": start,
         "home_team": u.home_team, "away_team": u.away_team, "first_seen_at": now, "updated_at": now}
        for u in (latest[i] for i in ids)
        if u.sport_key and u.home_team and u.away_team and (start := _as_utc(u.commence_time)) is not None]
    if creatable:
        conn.execute(_insert(conn, events).on_conflict_do_nothing(index_elements=["event_id"]), creatable)
    before = lock_events(conn, events.c.event_id.in_(ids))
    final = [{"eid": i, "home": latest[i].home_score, "away": latest[i].away_score, "seen": latest[i].last_update}
             for i in ids if latest[i].status == EventStatus.FINAL and before.get(i, EventStatus.FINAL) != EventStatus.FINAL]
    live = [{"eid": i, "home": latest[i].home_score, "away": latest[i].away_score, "seen": latest[i].last_update}
            for i in ids if latest[i].status == EventStatus.LIVE and before.get(i, EventStatus.FINAL) != EventStatus.FINAL]
    if final:
        conn.execute(update(events).where(events.c.event_id == bindparam("eid"), events.c.status != EventStatus.FINAL).values(
            status=EventStatus.FINAL, completed=True, home_score=bindparam("home"), away_score=bindparam("away"),
            scores_last_update=bindparam("seen"), updated_at=now), final)
    if live:
        conn.execute(update(events).where(events.c.event_id == bindparam("eid"), events.c.status != EventStatus.FINAL).values(
            status=EventStatus.LIVE, home_score=bindparam("home"), away_score=bindparam("away"),
            scores_last_update=bindparam("seen"), updated_at=now), live)
    return len(final) + len(live)


def _as_utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str):
        return parse_utc(value)
    return None


def touch_last_odds(conn: Connection, event_ids: list[str], as_of: datetime) -> int:
    """Moves ``events.last_odds_at`` forward (never back: a backfill of old history must not
    make the sensor think a live event was just fetched)."""
    if not event_ids:
        return 0
    behind = and_(events.c.event_id.in_(sorted(set(event_ids))),
                  or_(events.c.last_odds_at.is_(None), events.c.last_odds_at < as_of))
    ids = list(lock_events(conn, behind))
    if not ids:
        return 0
    result = conn.execute(update(events).where(events.c.event_id.in_(ids)).values(last_odds_at=as_of))
    return int(result.rowcount)


def touch_sport(conn: Connection, sport: str, as_of: datetime) -> int:
    """A live odds call answers for every upcoming event of its sport, priced or not yet: all
    of them count as fetched, or an event no bookmaker prices yet would be due at every tick."""
    ids = list(lock_events(conn, and_(
        events.c.sport_key == sport, events.c.status.in_(UPCOMING), events.c.commence_time > as_of,
        or_(events.c.last_odds_at.is_(None), events.c.last_odds_at < as_of))))
    if not ids:
        return 0
    result = conn.execute(update(events).where(events.c.event_id.in_(ids)).values(last_odds_at=as_of))
    return int(result.rowcount)


def clear_derived(conn: Connection, snapshot_ids: list[int]) -> int:
    """Removes what was derived from these raw snapshots (rows and their findings), so a
    rebuild replaces rather than accumulates. The raw snapshots are not touched."""
    if not snapshot_ids:
        return 0
    ids = {"ids": snapshot_ids}
    removed = conn.execute(
        delete(normalized_odds).where(normalized_odds.c.snapshot_id.in_(bindparam("ids", expanding=True))), ids
    ).rowcount
    conn.execute(
        delete(data_quality_log).where(
            data_quality_log.c.snapshot_id.in_(bindparam("ids", expanding=True)),
            data_quality_log.c.source == "odds:normalized",
        ),
        ids,
    )
    return int(removed)


def replace_features(conn: Connection, frame: pl.DataFrame, info: list[str], values: list[str],
                     version: str, built_at: datetime | None = None) -> int:
    """Writes feature rows, replacing any earlier rows of the same events and decision times,
    so a rebuilt partition never leaves stale values behind."""
    if frame.is_empty():
        return 0
    built = built_at or utcnow()
    numeric = frame.select(values).with_columns(
        [pl.col(c).cast(pl.Float64).fill_nan(None) for c in values])
    records = [
        {**dict(zip(info, head, strict=True)), "feature_version": version, "built_at": built,
         "values": dict(zip(values, vals, strict=True))}
        for head, vals in zip(frame.select(info).iter_rows(), numeric.iter_rows(), strict=True)
    ]
    for event_ids in _chunks(frame["event_id"].unique().to_list(), 500):
        conn.execute(delete(features).where(features.c.event_id.in_(event_ids)))
    conn.execute(features.insert(), records)
    return len(records)


def propose_slips(conn: Connection, frame: pl.DataFrame, created_at: datetime | None = None,
                  run_id: str | None = None) -> list[str]:
    """Inserts slips as ``proposed``, in the frame's order (the order the gate takes them in); a
    slip whose idempotency key is already stored is left as it is (the unique constraint
    decides, so two runs at once cannot both insert it). Returns the keys this call inserted."""
    if frame.is_empty():
        return []
    keys = frame["idempotency_key"].to_list()
    before = set(conn.execute(select(bet_slips.c.idempotency_key)
                              .where(bet_slips.c.idempotency_key.in_(keys))).scalars())
    created = created_at or utcnow()
    columns = [c.name for c in bet_slips.columns if c.name not in ("slip_id", "status", "created_at", "run_id")]
    records = [{**row, "status": SlipStatus.PROPOSED, "created_at": created, "run_id": run_id}
               for row in frame.select(columns).iter_rows(named=True)]
    for record in records:   # one insert each, so slip ids follow the frame's order on every database
        conn.execute(_insert(conn, bet_slips).on_conflict_do_nothing(index_elements=["idempotency_key"]), record)
    return [k for k in keys if k not in before]


def record_decisions(conn: Connection, decided: pl.DataFrame, decided_at: datetime, run_id: str | None) -> int:
    """The live strategies' decision on each event (event_id, decision_time, candidates, slips):
    once per event, whichever run records it first."""
    if decided.is_empty():
        return 0
    if "refusals" not in decided.columns:
        decided = decided.with_columns(refusals=pl.lit(None, pl.String))
    rows = [{**r, "decided_at": decided_at, "run_id": run_id} for r in
            decided.select("event_id", "decision_time", "candidates", "slips", "refusals").iter_rows(named=True)]
    done = conn.execute(_insert(conn, event_decisions).on_conflict_do_nothing(index_elements=["event_id"])
                        .returning(event_decisions.c.event_id), rows).all()
    return len(done)


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def set_event_statuses(conn: Connection, changes: dict[str, list[str]], at: datetime) -> None:
    """Moves events to new lifecycle statuses (``status -> ids``), their row locks taken first in
    id order (``lock_events``)."""
    if not changes:
        return
    lock_events(conn, events.c.event_id.in_(sorted(i for ids in changes.values() for i in ids)))
    for status, ids in changes.items():
        conn.execute(update(events).where(events.c.event_id.in_(ids)).values(status=status, updated_at=at))


def replace_exchange_markets(conn: Connection, runners: pl.DataFrame, event_ids: list[str], at: datetime) -> int:
    """The mapping of ``event_ids`` as it is now: their old rows go, the mapped ones' runners come
    in, so a refresh after a name fix or a new listing leaves no stale market behind."""
    for chunk in _chunks(event_ids, 500):
        conn.execute(exchange_markets.delete().where(exchange_markets.c.event_id.in_(chunk)))
    if runners.is_empty():
        return 0
    conn.execute(exchange_markets.insert(), [{**r, "mapped_at": at} for r in runners.iter_rows(named=True)])
    return runners.height

