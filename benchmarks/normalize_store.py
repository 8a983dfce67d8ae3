"""Normalise and store one million odds rows from simulated raw snapshots.

Rates (rows per second) for the project's path (normalise + bulk write), a naive baseline
inserting the same rows one ORM object at a time, and on PostgreSQL a raw COPY of the same
rows. The naive path is timed on a prefix of the rows (it would take many minutes on all of
them); its rate is what is compared. Every path starts from an empty, migrated database.
"""

from __future__ import annotations

import io
import random
import time
import uuid
from datetime import datetime, timedelta, timezone

import polars as pl
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, registry

from betting_assets.domain.data.normalize import normalize_odds
from betting_assets.warehouse import migrate, writes
from betting_assets.warehouse.engine import make_engine
from betting_assets.warehouse.tables import normalized_odds

BOOKS = ["pinnacle", "bet365", "williamhill", "betvictor", "bwin", "interwetten", "unibet_eu", "betfair_ex_uk"]
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def simulated_snapshots(total_rows: int, events_per_snapshot: int = 50, seed: int = 1) -> list[tuple[datetime, list]]:  # type: ignore[type-arg]
    """Raw payloads in the provider's shape: h2h (3), totals (2), spreads (2) per bookmaker."""
    rng = random.Random(seed)
    rows_per_event = len(BOOKS) * 7
    snapshots = []
    made = 0
    index = 0
    while made < total_rows:
        as_of = START + timedelta(minutes=30 * index)
        events = []
        for e in range(events_per_snapshot):
            home, away = f"Home {e}", f"Away {e}"
            books = []
            for book in BOOKS:
                books.append({"key": book, "title": book, "last_update": as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "markets": [
                                  {"key": "h2h", "outcomes": [{"name": home, "price": round(rng.uniform(1.3, 6), 2)},
                                                              {"name": away, "price": round(rng.uniform(1.3, 6), 2)},
                                                              {"name": "Draw", "price": round(rng.uniform(3, 4.5), 2)}]},
                                  {"key": "totals", "outcomes": [{"name": "Over", "price": 1.9, "point": 2.5},
                                                                 {"name": "Under", "price": 1.95, "point": 2.5}]},
                                  {"key": "spreads", "outcomes": [{"name": home, "price": 1.93, "point": -0.5},
                                                                  {"name": away, "price": 1.93, "point": 0.5}]}]})
            events.append({"id": f"ev{index}-{e}", "sport_key": "soccer_epl", "sport_title": "EPL",
                            "commence_time": (as_of + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "home_team": home, "away_team": away, "bookmakers": books})
            made += rows_per_event
        snapshots.append((as_of, events))
        index += 1
    return snapshots


def _insert_snapshot_rows(engine, snapshots) -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    with engine.begin() as conn:
        for as_of, payload in snapshots:
            snapshot_id, _ = writes.store_snapshot(conn, payload=payload, sport_key="soccer_epl", source="bench",
                                                   as_of=as_of, fetched_at=as_of, odds_format="decimal")
            ids.append(snapshot_id)
    return ids


def project_path(engine, snapshots, ids) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    written = 0
    for (as_of, payload), snapshot_id in zip(snapshots, ids):
        frame = normalize_odds(payload, as_of, snapshot_id=snapshot_id).rows
        with engine.begin() as conn:
            written += writes.write_normalized(conn, frame)
    return written, time.perf_counter() - started


def naive_orm(engine, snapshots, ids, limit: int) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    mapper_registry = registry()

    class NormalizedOdd:
        pass

    mapper_registry.map_imperatively(NormalizedOdd, normalized_odds)
    started = time.perf_counter()
    written = 0
    with Session(engine) as session:
        for (as_of, payload), snapshot_id in zip(snapshots, ids):
            for event in payload:
                for book in event["bookmakers"]:
                    for market in book["markets"]:
                        for outcome in market["outcomes"]:
                            if written >= limit:
                                session.commit()
                                return written, time.perf_counter() - started
                            price = float(outcome["price"])
                            commence = datetime.fromisoformat(event["commence_time"].replace("Z", "+00:00"))
                            row = NormalizedOdd()
                            for key, value in dict(
                                event_id=event["id"], bookmaker=book["key"], market=market["key"],
                                outcome=outcome["name"], point=float(outcome.get("point") or 0.0),
                                snapshot_time=as_of, snapshot_id=snapshot_id, sport_key=event["sport_key"],
                                commence_time=commence, side=None, price_decimal=price,
                                price_american=(price - 1) * 100 if price >= 2 else -100 / (price - 1),
                                implied_prob=1 / price,
                                last_update=datetime.fromisoformat(book["last_update"].replace("Z", "+00:00")),
                                hours_to_commence=(commence - as_of).total_seconds() / 3600, is_valid=True,
                                invalid_reason=None).items():
                                setattr(row, key, value)
                            session.add(row)
                            session.flush()
                            written += 1
        session.commit()
    return written, time.perf_counter() - started


def raw_copy(engine, frame: pl.DataFrame) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    frame.select(writes.NORMALIZED_COLUMNS).write_csv(buffer, include_header=False,
                                                      datetime_format="%Y-%m-%dT%H:%M:%S%.6f%z")
    started = time.perf_counter()
    buffer.seek(0)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.copy_expert(f"COPY normalized_odds ({', '.join(writes.NORMALIZED_COLUMNS)}) FROM STDIN WITH (FORMAT csv)",
                           buffer)
        raw.commit()
    finally:
        raw.close()
    return frame.height, time.perf_counter() - started


def _count(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(normalized_odds)) or 0)


class Database:
    """A fresh, migrated database: a temporary SQLite file or a new PostgreSQL database."""

    def __init__(self, kind: str, workdir, pg_admin_url: str) -> None:  # type: ignore[no-untyped-def]
        self.kind = kind
        self.admin = None
        if kind == "sqlite":
            self.url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.sqlite'}"
        else:
            self.name = f"betting_bench_{uuid.uuid4().hex[:10]}"
            self.admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = make_url(pg_admin_url).set(database=self.name).render_as_string(hide_password=False)
        self.engine = make_engine(self.url)
        migrate.upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()
        if self.admin is not None:
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self.admin.dispose()


def run(kind: str, rows: int, naive_rows: int, workdir, pg_admin_url: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    snapshots = simulated_snapshots(rows)
    result: dict[str, float] = {}
    db = Database(kind, workdir, pg_admin_url)
    try:
        ids = _insert_snapshot_rows(db.engine, snapshots)
        written, seconds = project_path(db.engine, snapshots, ids)
        assert written == _count(db.engine) >= rows
        result["project_rows"] = written
        result["project_rate"] = written / seconds
        frame = pl.concat([normalize_odds(p, t, snapshot_id=i).rows for (t, p), i in zip(snapshots, ids)])
    finally:
        db.close()
    db = Database(kind, workdir, pg_admin_url)
    try:
        ids = _insert_snapshot_rows(db.engine, snapshots)
        written, seconds = naive_orm(db.engine, snapshots, ids, naive_rows)
        assert written == _count(db.engine) == naive_rows
        result["naive_rows"] = written
        result["naive_rate"] = written / seconds
    finally:
        db.close()
    if kind == "postgresql":
        db = Database(kind, workdir, pg_admin_url)
        try:
            _insert_snapshot_rows(db.engine, snapshots)
            written, seconds = raw_copy(db.engine, frame)
            assert _count(db.engine) == written
            result["copy_rate"] = written / seconds
        finally:
            db.close()
    return result
