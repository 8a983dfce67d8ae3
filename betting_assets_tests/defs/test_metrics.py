"""``betting metrics serve`` as an operator runs it, a process of its own over the warehouse and the
Dagster instance, scraped over HTTP and read by Prometheus' own text-format parser: every figure
equals what the warehouse and the instance hold at the sandbox's clock; ``/health`` answers 200,
and 503 naming a warehouse that does not answer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from dagster import DagsterInstance
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, func, select

from betting_assets.dagster_home import initialise
from betting_assets.sandbox.server import SandboxServer
from betting_assets.warehouse import health, ledger
from betting_assets.warehouse.tables import odds_snapshots
from betting_assets_tests.defs.conftest import NOW
from betting_assets_tests.defs.test_orders import _run

STARTUP_S = 120
"""a loaded machine imports the product five times slower than an idle one"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_are_what_the_warehouse_and_the_instance_hold(
        engine: Engine, db_url: str, resources: dict[str, object], priced: object, sandbox: SandboxServer,
        tmp_path: Path) -> None:
    home = initialise(tmp_path / "dagster").parent
    with DagsterInstance.from_config(str(home)) as instance:
        assert _run(resources, instance=instance).success          # place_bets, on the instance served
    port = _port()
    env = {**os.environ, "BETTING_HOME": str(tmp_path / "home"), "BETTING_DATABASE_URL": db_url,
           "DAGSTER_HOME": str(home), "BETTING_ODDS_API_BASE_URL": sandbox.url, "BETTING_CLOCK": "provider",
           "BETTING_SPORTS": "soccer_epl"}
    served = subprocess.Popen([sys.executable, "-m", "betting_assets.cli", "metrics", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            try:
                up = httpx.get(f"{url}/health", timeout=10)
                break
            except httpx.TransportError:
                assert served.poll() is None and time.monotonic() < deadline, served.communicate()[1][-2000:]
                time.sleep(0.5)
        assert up.status_code == 200 and up.json() == {"warehouse": "ok", "dagster": "ok"}
        scraped = _scrape(url)
        with engine.connect() as conn:
            bankroll = ledger.current_bankroll(conn, 1000.0)
            open_bets, at_risk = health.open_book(conn)
            statuses = ledger.counts_by_status(conn)
            newest = conn.scalar(select(func.max(odds_snapshots.c.as_of)).where(odds_snapshots.c.sport_key == "soccer_epl"))
        assert open_bets > 0 and statuses.get("placed", 0) > 0
        assert scraped[("betting_open_bets", ())] == open_bets
        assert scraped[("betting_open_exposure", ())] == pytest.approx(at_risk)
        assert scraped[("betting_bankroll", ())] == pytest.approx(bankroll)
        assert {k[1][0][1]: v for k, v in scraped.items() if k[0] == "betting_bets"} == statuses
        assert scraped[("betting_clock_from_provider", ())] == 1.0
        assert scraped[("betting_clock_timestamp_seconds", ())] == NOW.timestamp()     # the sandbox's clock
        age = scraped[("betting_last_snapshot_age_seconds", (("sport", "soccer_epl"),))]
        assert age == pytest.approx((NOW - newest.replace(tzinfo=NOW.tzinfo)).total_seconds())
        assert timedelta(seconds=age) < timedelta(days=1)
        assert scraped[("dagster_job_last_run", (("job", "place_bets"), ("status", "SUCCESS")))] == 1.0
        assert ("dagster_job_last_run_end_timestamp_seconds", (("job", "place_bets"),)) in scraped
    finally:
        served.terminate()
        served.communicate(timeout=30)


def test_health_names_a_warehouse_that_does_not_answer() -> None:
    from betting_assets.metrics import health as check
    from betting_assets.warehouse.engine import make_engine

    gone = make_engine("postgresql+psycopg2://postgres@127.0.0.1:1/nowhere")   # nothing listens on port 1
    try:
        code, state = check(gone, None)
    finally:
        gone.dispose()
    assert code == 503 and state["warehouse"].startswith("OperationalError: "), state


def test_status_reports_at_the_providers_clock(db_url: str, engine: Engine, sandbox: SandboxServer,
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a sandbox demo the product's time is the sandbox's: ``betting status`` reports there,
    not at the machine's time (which would show every fetch as weeks in the future)."""
    import json

    from click.testing import CliRunner

    from betting_assets.cli import main
    from betting_assets_tests.defs.conftest import set_sandbox

    set_sandbox(sandbox, "clock", {"now": NOW.isoformat()})
    for name, value in {"BETTING_HOME": str(tmp_path), "BETTING_DATABASE_URL": db_url, "BETTING_CLOCK": "provider",
                        "BETTING_ODDS_API_BASE_URL": sandbox.url}.items():
        monkeypatch.setenv(name, value)
    from betting_assets.settings import get_settings

    get_settings.cache_clear()     # settings another test in this process read are not these
    try:
        done = CliRunner().invoke(main, ["status", "--json", "--no-registry"])
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["now"] == NOW.isoformat()
