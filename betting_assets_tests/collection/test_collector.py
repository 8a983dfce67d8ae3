"""Collection through the client into the warehouse, on both databases, over real HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import Engine, func, select

from betting_assets.collection.collector import Collector
from betting_assets.sandbox.server import SandboxServer
from betting_assets.sources.odds_api import OddsApiClient
from betting_assets.warehouse.tables import data_quality_log, events, fetch_log, normalized_odds, odds_snapshots

START = datetime(2023, 8, 11, 0, tzinfo=timezone.utc)
END = datetime(2023, 8, 20, 0, tzinfo=timezone.utc)


def _collector(engine: Engine, server: SandboxServer, **kw) -> Collector:  # type: ignore[no-untyped-def]
    client = OddsApiClient(server.url, "test-key", sleep=lambda s: None, **kw)
    return Collector(engine, client, regions=["uk", "eu"], markets=["h2h", "totals", "spreads"])


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: int(conn.scalar(select(func.count()).select_from(t)) or 0)
                for t in (events, odds_snapshots, normalized_odds, fetch_log, data_quality_log)}


def _set(server: SandboxServer, path: str, doc: dict) -> None:  # type: ignore[type-arg]
    httpx.post(f"{server.url}/sandbox/{path}", json=doc, headers={"x-api-key": "test-key"}).raise_for_status()


def test_backfill_then_scores_fill_the_warehouse_idempotently(engine: Engine, sandbox: SandboxServer,
                                                             bundled_market) -> None:  # type: ignore[no-untyped-def]
    _set(sandbox, "clock", {"now": "2023-08-23T00:00:00Z"})
    collector = _collector(engine, sandbox)
    result = collector.backfill("soccer_epl", START, END)
    assert result.snapshots > 5 and result.rows > 1000 and result.errors == []
    first = _counts(engine)
    quotes = bundled_market.quotes
    in_window = quotes.filter((quotes["snapshot_time"] >= START) & (quotes["snapshot_time"] <= END))
    assert first["events"] == in_window["event_id"].n_unique()
    with engine.connect() as conn:
        distinct_quotes = conn.execute(select(
            normalized_odds.c.event_id, normalized_odds.c.bookmaker, normalized_odds.c.market,
            normalized_odds.c.outcome, normalized_odds.c.point, normalized_odds.c.last_update).distinct()).all()
    assert len(distinct_quotes) == in_window.height  # every real quote once, none invented
    again = collector.backfill("soccer_epl", START, END)
    assert again.snapshots == 0 and again.rows == 0 and again.duplicate_snapshots == result.snapshots
    assert _counts(engine)["normalized_odds"] == first["normalized_odds"]
    collector.scores("soccer_epl", days_from=3)
    with engine.connect() as conn:
        finals = conn.execute(select(events.c.home_score, events.c.away_score).where(events.c.status == "final")).all()
    assert len(finals) > 0 and all(h >= 0 and a >= 0 for h, a in finals)


def test_every_odds_row_was_known_at_its_snapshot_time(engine: Engine, sandbox: SandboxServer) -> None:
    _set(sandbox, "clock", {"now": "2023-08-23T00:00:00Z"})
    _collector(engine, sandbox).backfill("soccer_epl", START, END)
    with engine.connect() as conn:
        late = conn.scalar(select(func.count()).where(
            (normalized_odds.c.last_update > normalized_odds.c.snapshot_time)
            | (normalized_odds.c.snapshot_time >= normalized_odds.c.commence_time)))
    assert late == 0


def test_bad_responses_leave_stored_rows_intact_and_are_recorded(engine: Engine, sandbox: SandboxServer) -> None:
    _set(sandbox, "clock", {"now": "2023-08-12T10:00:00Z"})
    collector = _collector(engine, sandbox)
    collector.live_odds("soccer_epl")
    before = _counts(engine)
    with engine.connect() as conn:
        stored = conn.execute(select(normalized_odds).order_by(*normalized_odds.primary_key.columns)).all()

    _set(sandbox, "faults", {"malformed_rate": 1.0})
    result = collector.live_odds("soccer_epl")
    assert result.errors and "not valid JSON" in result.errors[0]
    _set(sandbox, "faults", {"partial_rate": 1.0, "seed": 3})
    _set(sandbox, "clock", {"now": "2023-08-12T11:30:00Z"})
    collector.live_odds("soccer_epl")
    _set(sandbox, "faults", {})

    after = _counts(engine)
    with engine.connect() as conn:
        kept = conn.execute(select(normalized_odds).where(normalized_odds.c.snapshot_id == 1)
                            .order_by(*normalized_odds.primary_key.columns)).all()
        malformed_body = conn.scalar(select(fetch_log.c.body).where(fetch_log.c.ok.is_(False)))
        checks = {c for (c,) in conn.execute(select(data_quality_log.c.check_name))}
    assert kept == stored
    assert after["odds_snapshots"] == before["odds_snapshots"] + 1  # the partial one, stored whole
    assert malformed_body and len(malformed_body) > 10
    assert "malformed_response" in checks
    assert checks & {"event_required_fields", "price_valid"}


def test_outage_mid_backfill_keeps_data_and_a_rerun_completes(engine: Engine, sandbox: SandboxServer) -> None:
    _set(sandbox, "clock", {"now": "2023-08-23T00:00:00Z"})
    complete = _collector(engine, sandbox).backfill("soccer_epl", START, END)
    expected = _counts(engine)["normalized_odds"]
    with engine.begin() as conn:
        conn.execute(normalized_odds.delete())
        conn.execute(odds_snapshots.delete())
    _set(sandbox, "faults", {"error_rates": {"503": 0.5}, "seed": 11})
    collector = _collector(engine, sandbox, max_retries=0)
    try:
        collector.backfill("soccer_epl", START, END)
    except Exception:  # noqa: BLE001 - the outage is the point
        pass
    interrupted = _counts(engine)["normalized_odds"]
    assert interrupted < expected
    _set(sandbox, "faults", {})
    _collector(engine, sandbox).backfill("soccer_epl", START, END)
    assert _counts(engine)["normalized_odds"] == expected == complete.rows


def test_rebuild_derives_the_same_rows_from_raw_and_is_idempotent(engine: Engine, sandbox: SandboxServer) -> None:
    _set(sandbox, "clock", {"now": "2023-08-23T00:00:00Z"})
    collector = _collector(engine, sandbox)
    collector.backfill("soccer_epl", START, START + timedelta(days=2))
    expected = _counts(engine)["normalized_odds"]
    with engine.begin() as conn:
        conn.execute(normalized_odds.delete())
    far = START + timedelta(days=30)
    assert collector.rebuild("soccer_epl", START - timedelta(days=30), far).rows == expected
    assert collector.rebuild("soccer_epl", START - timedelta(days=30), far).rows == expected
    assert _counts(engine)["normalized_odds"] == expected


def test_a_collector_refuses_a_client_that_already_reports_elsewhere() -> None:
    """Taking over another observer's client would silently stop its log."""
    import pytest

    seen: list[object] = []
    client = OddsApiClient("http://127.0.0.1:9", "test-key", observer=seen.append)
    with pytest.raises(ValueError, match="already reports its attempts elsewhere"):
        Collector(None, client, regions=["uk"], markets=["h2h"])  # type: ignore[arg-type]
    assert client.observer == seen.append
    client.close()
