"""Dagster-layer fixtures: real resources over a migrated warehouse and the sandbox."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import pytest
from dagster import DagsterInstance, materialize
from sqlalchemy import Engine, select

from betting_assets.defs.ingestion.assets import normalized_odds, odds_snapshots, scores
from betting_assets.defs.resources import SettingsResource
from betting_assets.sandbox.server import SandboxServer
from betting_assets_tests.defs.bind import sandbox_resources
from betting_assets.warehouse.tables import odds_snapshots as odds_snapshots_table

DAY = "soccer_epl|2023-08-12"
_KEY = {"x-api-key": "test-key"}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def settings(home: Path) -> SettingsResource:
    """The settings every Dagster test runs with: the environment's, with the home in the test's
    folder; a test that needs others builds them with ``with_settings``."""
    return SettingsResource(values={"storage": {"home": str(home)}})


@pytest.fixture
def resources(engine: Engine, db_url: str, sandbox: SandboxServer, settings: SettingsResource) -> dict[str, object]:
    return sandbox_resources(settings, db_url, sandbox.url)


def set_sandbox(server: SandboxServer, path: str, doc: dict) -> dict:  # type: ignore[type-arg]
    response = httpx.post(f"{server.url}/sandbox/{path}", json=doc, headers=_KEY)
    response.raise_for_status()
    return response.json()


@pytest.fixture
def ingested(engine: Engine, sandbox: SandboxServer, resources: dict[str, object]) -> dict[str, object]:
    set_sandbox(sandbox, "clock", {"now": "2023-08-13T00:00:00Z"})
    done = materialize([odds_snapshots, normalized_odds, scores], resources=resources, partition_key=DAY,
                       instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert done.success
    # the day's fetches returned envelopes stamped on earlier days: derive those partitions too,
    # as a backfill in date order does (features read normalised rows over a lookback window)
    with engine.connect() as conn:
        days = {d.date() for d in conn.execute(select(odds_snapshots_table.c.as_of)).scalars()}
    for day in sorted(days - {date(2023, 8, 12)}):
        assert materialize([normalized_odds], resources=resources, partition_key=f"soccer_epl|{day.isoformat()}",
                           instance=DagsterInstance.ephemeral()).success
    return resources
