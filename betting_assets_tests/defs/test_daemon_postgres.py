"""The production shape on one machine: the warehouse and Dagster's storage on PostgreSQL, the
webserver and the daemon as real processes, the odds sensor making the collection plan's calls
against the sandbox while its clock moves, and the runs it launched writing rows."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from dagster import DagsterInstance, RunsFilter, materialize
from sqlalchemy import Engine, func, select

from betting_assets.defs.collection.assets import collection_plan, events
from betting_assets.defs.partitions import plan_range
from betting_assets.defs.resources import SettingsResource
from betting_assets.sandbox.server import SandboxServer
from betting_assets.warehouse import migrate
from betting_assets.warehouse.engine import make_engine
from betting_assets.warehouse.tables import odds_snapshots
from betting_assets_tests.conftest import REPO, _postgres_url
from betting_assets_tests.defs.bind import sandbox_resources
from betting_assets_tests.defs.conftest import set_sandbox

SENSOR_INTERVAL_S = 15
"""the daemon's tick for every sensor here (BETTING_SENSOR_INTERVAL_S): what is tested is that it runs them, not how often"""


@pytest.fixture
def databases(pg_admin: Engine) -> Iterator[tuple[str, str]]:
    """A warehouse database and a Dagster storage database, dropped afterwards."""
    made = [_postgres_url(pg_admin), _postgres_url(pg_admin)]
    warehouse, dagster = (next(g) for g in made)
    yield warehouse, dagster
    for g in made:
        next(g, None)


def _wait_for(what: str, check, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(2.0)
    raise TimeoutError(f"{what} did not happen within {seconds:.0f} s")


@pytest.mark.timeout(900)   # 45 s alone; its waits add up to 555 s on a machine loaded five-fold
def test_the_daemon_runs_the_sensors_on_postgres_and_the_runs_write_rows(
        databases: tuple[str, str], sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse_url, dagster_url = databases
    warehouse = make_engine(warehouse_url)
    migrate.upgrade(warehouse)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_PG_URL": dagster_url,
           "BETTING_DATABASE_URL": warehouse_url, "BETTING_HOME": str(tmp_path / "betting_home"),
           "BETTING_ODDS_API_BASE_URL": sandbox.url, "BETTING_ODDS_API_KEY": "test-key", "BETTING_CLOCK": "provider",
           "BETTING_SPORTS": "soccer_epl", "BETTING_SENSOR_INTERVAL_S": str(SENSOR_INTERVAL_S)}
    # 12 August 2023, 12:40: the 14:00 games are an hour and twenty minutes away
    set_sandbox(sandbox, "clock", {"now": "2023-08-12T12:40:00Z"})
    settings = SettingsResource(values={"collection": {"sports": ["soccer_epl"]},   # the bundled sample's one league
                                        "storage": {"home": str(tmp_path / "betting_home")}})
    resources = sandbox_resources(settings, warehouse_url, sandbox.url)
    assert materialize([events], resources=resources, instance=DagsterInstance.ephemeral()).success
    # the plan the odds sensor follows (collection_plan_sensor would ask for it after the discovery)
    assert materialize([collection_plan], resources=resources, instance=DagsterInstance.ephemeral(),
                       tags=plan_range(["soccer_epl"], date(2023, 8, 12))).success

    scripts = Path(sys.executable).parent
    workspace = str(REPO / "workspace.yaml")
    port = 3000 + os.getpid() % 1000
    logs = {name: (tmp_path / f"{name}.log").open("wb") for name in ("webserver", "daemon")}
    processes = [
        subprocess.Popen([str(scripts / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(port)],
                         env=env, cwd=REPO, start_new_session=True, stdout=logs["webserver"], stderr=subprocess.STDOUT),
        subprocess.Popen([str(scripts / "dagster-daemon"), "run", "-w", workspace], env=env, cwd=REPO,
                         start_new_session=True, stdout=logs["daemon"], stderr=subprocess.STDOUT),
    ]
    try:
        monkeypatch.setenv("DAGSTER_PG_URL", dagster_url)  # the test reads the same instance
        with DagsterInstance.from_config(str(home)) as instance:
            def runs(status_ok: bool = True) -> list:  # type: ignore[type-arg]
                found = instance.get_runs(filters=RunsFilter(job_name="collect_odds"))
                return [r for r in found if r.is_success] if status_ok else found

            def snapshots() -> int:
                with warehouse.connect() as conn:
                    return int(conn.scalar(select(func.count(func.distinct(odds_snapshots.c.as_of)))) or 0)

            _wait_for("the webserver", lambda: _answers(f"http://127.0.0.1:{port}/server_info"), 120)
            _wait_for("a first collect_odds run", lambda: len(runs()) >= 1 and snapshots() >= 1, 240)
            set_sandbox(sandbox, "clock", {"now": "2023-08-12T13:50:00Z"})   # the planned closing snapshot
            _wait_for("a second run after the clock moved", lambda: len(runs()) >= 2 and snapshots() >= 2,
                      SENSOR_INTERVAL_S + 180)
            launched = runs(status_ok=False)
            assert all(r.tags.get("betting/provider") == "odds_api" for r in launched)
            assert {r.tags.get("dagster/sensor_name") for r in launched} == {"odds_fetch_sensor"}
            assert all(r.tags.get("dagster/partition") == "soccer_epl|2023-08-12" for r in launched)
        with warehouse.connect() as conn:
            stamps = sorted(conn.execute(select(odds_snapshots.c.as_of).distinct()).scalars())
        assert stamps[0].isoformat() <= "2023-08-12T12:40:00+00:00" < stamps[-1].isoformat()
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        warehouse.dispose()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
