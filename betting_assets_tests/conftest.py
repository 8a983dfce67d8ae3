"""Fixtures: a fresh database per test on SQLite and PostgreSQL, real shared data, a sandbox."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from betting_assets.sandbox.server import SandboxServer, SandboxState, load_market
from betting_assets.warehouse import migrate
from betting_assets.warehouse.engine import make_engine

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BETTING_SHARED_DATA", REPO.parent / "shared" / "data" / "football-data"))
BUNDLED = REPO / "betting_assets" / "data"
PG_ADMIN_URL = os.environ.get("BETTING_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def _require_postgres() -> bool:
    return os.environ.get("BETTING_REQUIRE_POSTGRES", "") not in ("", "0")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"shared data not found at {SHARED_DATA}")
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001
        engine.dispose()
        if _require_postgres():
            pytest.fail(f"PostgreSQL is required (BETTING_REQUIRE_POSTGRES) but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    yield engine
    engine.dispose()


def _postgres_url(pg_admin: Engine) -> Iterator[str]:
    name = f"betting_test_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with pg_admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
        return
    yield from _postgres_url(request.getfixturevalue("pg_admin"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def bundled_market():  # type: ignore[no-untyped-def]
    return load_market(str(BUNDLED / "E0_2324.csv"))


@pytest.fixture
def sandbox(bundled_market) -> Iterator[SandboxServer]:  # type: ignore[no-untyped-def]
    state = SandboxState(bundled_market, api_key="test-key")
    with SandboxServer(state) as server:
        yield server


@dataclass
class DemoRun:
    done: subprocess.CompletedProcess[str]
    figures: dict[str, Any]
    home: Path


def run_demo_cli(workdir: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``betting demo`` in its own process and home (and Dagster instance under it)."""
    home = workdir / "home"
    env = {**os.environ, "BETTING_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    env.pop("BETTING_SPORTS", None)
    summary = workdir / "summary.json"
    done = subprocess.run([sys.executable, "-m", "betting_assets.cli", "demo", *args, "--summary-json", str(summary)],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads(summary.read_text())


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """Two months of the bundled sample through the whole demo, once per test session."""
    workdir = tmp_path_factory.mktemp("demo")
    done, figures = run_demo_cli(workdir, "--from", "2023-08-10", "--to", "2023-10-10", "--trials", "3",
                                 "--live-moments", "2")
    return DemoRun(done, figures, workdir / "home")


def free_port() -> int:
    """A port no server on this machine listens on, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


WORKERS = 2
"""``make test``'s workers"""


DEMO_MINUTES = 5.0
"""the tests that read the shared demo, counted as one long unit: the demo itself, make dev over
its home in the browser test, and the checks of what it made"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long`` start at once, one set on each of ``make test``'s two workers, and
    the short ones fill in around them. pytest-xdist's worksteal gives each worker a contiguous
    share of the list (and steals from its end), so each share begins with the long units it is
    given: the longest first (``long(minutes=…)``), each to the share with the fewest minutes.
    The tests of the shared demo are one unit, so the demo runs once, not once per worker."""
    demo = [i for i in items if "demo_run" in getattr(i, "fixturenames", ())]
    for item in demo:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEMO_TIMEOUT))   # the first one's setup runs the whole demo

    def minutes(item: pytest.Item) -> float:
        marker = item.get_closest_marker("long")
        return float(marker.kwargs.get("minutes", 5)) if marker else 0.0

    units = [(minutes(i), [i]) for i in items if minutes(i)] + ([(DEMO_MINUTES, demo)] if demo else [])
    placed = {id(i) for _, unit in units for i in unit}
    shorts = [i for i in items if id(i) not in placed]
    shares: list[list[pytest.Item]] = [[] for _ in range(WORKERS)]
    loads = [0.0] * WORKERS
    for weight, unit in sorted(units, key=lambda u: u[0], reverse=True):
        least = loads.index(min(loads))
        shares[least] += unit
        loads[least] += weight
    size = len(items) // WORKERS   # as worksteal splits: the first worker takes the smaller half
    ordered: list[pytest.Item] = []
    for share in shares:
        room = max(0, size - len(share))
        ordered += share + shorts[:room]
        shorts = shorts[room:]
    items[:] = ordered + shorts


DEMO_TIMEOUT = 1500
"""seconds a test that first needs ``demo_run`` may take: the demo's own run (600 s at most on a
machine loaded five-fold), its UI servers, and the test"""


@pytest.fixture
def mlflow_server(pg_admin: Engine, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The server's URL and the folder its artifacts are served from."""
    store = tmp_path / "server-artifacts"
    database = _postgres_url(pg_admin)
    backend = next(database)
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = tmp_path / "mlflow-server.log"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", backend,
         "--artifacts-destination", str(store), "--serve-artifacts"],
        cwd=tmp_path, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300          # its migrations on a fresh database, on a loaded machine
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("mlflow server did not answer")
            time.sleep(1)
        yield url, store
    finally:
        if server.poll() is None:
            os.killpg(server.pid, 15)
            server.wait(timeout=60)
        database.close()                           # drops the database
