"""``betting status`` over a warehouse with known fetches, findings and bets."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rich.console import Console
from sqlalchemy import Engine

from betting_assets.settings import Settings
from betting_assets.status import collect, render
from betting_assets.warehouse import ledger
from betting_assets.warehouse.tables import data_quality_log, fetch_log

NOW = datetime(2024, 3, 20, 12, 0, tzinfo=timezone.utc)


def test_status_reports_fetch_health_quality_storage_and_bets(engine: Engine) -> None:
    fetch = {"endpoint": "odds", "url": "http://x", "params": {}, "attempts": 1}
    with engine.begin() as conn:
        conn.execute(fetch_log.insert(), [
            {**fetch, "sport_key": "soccer_epl", "requested_at": NOW - timedelta(hours=h), "ok": ok,
             "clock_at": NOW - timedelta(hours=h), "requests_remaining": 900 - h, "requests_last": cost}
            for h, ok, cost in [(30, True, 50), (5, True, 3), (3, False, 0), (1, True, 3)]
        ] + [{**fetch, "sport_key": "soccer_epl", "requested_at": NOW + timedelta(hours=1), "ok": False,
              "clock_at": NOW + timedelta(hours=1),
              "requests_remaining": 1, "requests_last": 500}])   # after the report's time: not counted
        conn.execute(data_quality_log.insert(), [
            {"recorded_at": NOW - timedelta(days=d), "check_name": name, "severity": sev, "message": "m"}
            for d, name, sev in [(1, "overround_range", "warn"), (2, "overround_range", "warn"),
                                 (3, "market_complete", "error"), (10, "market_complete", "error")]])
    key = "e1|h2h|home|0|m@1"
    ledger.claim(engine, {"idempotency_key": key, "customer_ref": ledger.customer_ref(key), "broker": "paper",
                          "event_id": "e1", "sport_key": "soccer_epl", "commence_time": NOW + timedelta(hours=2),
                          "market": "h2h", "side": "home", "point": 0.0, "bookmaker": "bet365",
                          "requested_price": 2.0, "requested_stake": 12.5, "created_at": NOW, "updated_at": NOW})
    ledger.finish(engine, key, {"status": "placed", "stake": 12.5, "price": 2.0, "placed_at": NOW, "updated_at": NOW})
    report = collect(engine, Settings(sports=["soccer_epl", "basketball_nba"], bankroll=500.0), NOW,
                     with_registry=False)
    epl, nba = report.sports
    assert epl["fetches_24h"] == 3 and epl["success_rate_24h"] == pytest.approx(2 / 3)
    assert epl["last_fetch"] == (NOW - timedelta(hours=1)).isoformat()
    assert nba == {"sport": "basketball_nba", "last_fetch": None, "last_success": None, "fetches_24h": 0,
                   "success_rate_24h": None}
    assert report.credits_remaining == 899 and report.credits_spent_this_period == 56
    assert {(q["check"], q["findings"]) for q in report.quality} == {("overround_range", 2), ("market_complete", 1)}
    assert (report.open_bets, report.open_stake, report.bankroll) == (1, 12.5, 500.0)
    assert report.database_bytes is None or report.database_bytes > 0
    console = Console(record=True, width=120)
    render(report, console)
    shown = console.export_text()
    assert "67%" in shown and "899 remaining" in shown and "market_complete" in shown
    assert "1 open (12.50 staked)" in shown and "no champion yet" in shown


def test_the_status_command_prints_json(engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from click.testing import CliRunner

    from betting_assets.cli import main
    from betting_assets.settings import get_settings

    monkeypatch.setenv("BETTING_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(main, ["status", "--json", "--no-registry", "--at", NOW.isoformat()])
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    figures = json.loads(done.output)
    assert figures["now"] == NOW.isoformat() and figures["events"] == 0 and figures["bankroll"] == 1000.0


def test_fetches_are_reported_at_the_products_clock_they_were_made_at(engine: Engine) -> None:
    """Against the sandbox a call is made at the product's clock (``clock_at``) while the machine's
    says years later (``requested_at``): status reports the product's, as of the product's now
    (a demo's fetches used to read as "never")."""
    fetch = {"endpoint": "odds", "url": "http://x", "params": {}, "attempts": 1, "sport_key": "soccer_epl"}
    machine = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(fetch_log.insert(), [{**fetch, "requested_at": machine, "clock_at": NOW - timedelta(hours=2),
                                           "ok": True, "requests_remaining": 100, "requests_last": 3}])
    (epl,) = collect(engine, Settings(sports=["soccer_epl"]), NOW, with_registry=False).sports
    assert epl["last_fetch"] == epl["last_success"] == (NOW - timedelta(hours=2)).isoformat()
    assert epl["fetches_24h"] == 1 and epl["success_rate_24h"] == 1.0
