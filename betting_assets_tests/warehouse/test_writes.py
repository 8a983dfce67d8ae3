from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from betting_assets.domain.data.normalize import normalize_odds
from betting_assets.warehouse import writes
from betting_assets.warehouse.tables import events, normalized_odds, odds_snapshots

SNAP = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


def _payload(n_events: int = 3, price: float = 2.0) -> list[dict]:  # type: ignore[type-arg]
    return [
        {"id": f"ev{i}", "sport_key": "soccer_epl", "commence_time": "2024-03-01T15:00:00Z",
         "home_team": f"H{i}", "away_team": f"A{i}",
         "bookmakers": [{"key": book, "markets": [{"key": "h2h", "outcomes": [
             {"name": f"H{i}", "price": price}, {"name": f"A{i}", "price": 3.5}, {"name": "Draw", "price": 3.4}]}]}
             for book in ("pinnacle", "bet365")]}
        for i in range(n_events)
    ]


def _store(engine: Engine, payload: list[dict], as_of: datetime = SNAP) -> tuple[int, int]:  # type: ignore[type-arg]
    normalized = normalize_odds(payload, as_of)
    with engine.begin() as conn:
        snapshot_id, _ = writes.store_snapshot(conn, payload=payload, sport_key="soccer_epl", source="live",
                                               as_of=as_of, fetched_at=as_of, odds_format="decimal")
    with engine.begin() as conn:
        writes.upsert_events(conn, normalized.events)
        inserted = writes.write_normalized(conn, normalized.rows.with_columns(snapshot_id=snapshot_id))
    return snapshot_id, inserted


def _count(engine: Engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)


def test_writes_are_idempotent_on_natural_keys(engine: Engine) -> None:
    first_id, inserted = _store(engine, _payload())
    assert inserted == 18
    again_id, inserted_again = _store(engine, _payload())
    assert again_id == first_id and inserted_again == 0
    assert _count(engine, odds_snapshots) == 1
    assert _count(engine, normalized_odds) == 18
    later = SNAP + timedelta(hours=1)
    _, inserted_later = _store(engine, _payload(price=2.1), as_of=later)
    assert inserted_later == 18 and _count(engine, normalized_odds) == 36


def test_overlapping_rows_from_a_new_snapshot_keep_the_stored_ones(engine: Engine) -> None:
    _store(engine, _payload(n_events=2))
    wider = _payload(n_events=3)
    wider[0]["bookmakers"][0]["markets"][0]["outcomes"][0]["price"] = 9.9
    snapshot_id, inserted = _store(engine, wider)
    assert inserted == 6
    with engine.connect() as conn:
        price = conn.scalar(select(normalized_odds.c.price_decimal).where(
            normalized_odds.c.event_id == "ev0", normalized_odds.c.bookmaker == "pinnacle",
            normalized_odds.c.outcome == "H0"))
    assert price == 2.0


def test_timestamps_come_back_as_utc(engine: Engine) -> None:
    _store(engine, _payload(n_events=1))
    with engine.connect() as conn:
        row = conn.execute(select(normalized_odds.c.snapshot_time, normalized_odds.c.commence_time).limit(1)).one()
        event = conn.execute(select(events.c.commence_time)).scalar_one()
    assert row.snapshot_time == SNAP
    assert row.commence_time == datetime(2024, 3, 1, 15, tzinfo=timezone.utc)
    assert event.tzinfo is not None


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="naive"):
        with engine.begin() as conn:
            writes.store_snapshot(conn, payload=[], sport_key="x", source="live", as_of=datetime(2024, 1, 1),
                                  fetched_at=SNAP, odds_format="decimal")


def test_a_larger_payload_round_trips_every_row(engine: Engine) -> None:
    payload = _payload(n_events=200)
    _, inserted = _store(engine, payload)
    assert inserted == 200 * 2 * 3
    with engine.connect() as conn:
        frame = pl.DataFrame(conn.execute(select(normalized_odds)).mappings().all())
    assert frame.select(pl.struct("event_id", "bookmaker", "outcome").n_unique()).item() == 1200
