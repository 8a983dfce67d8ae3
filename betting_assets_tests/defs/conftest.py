"""Dagster-layer fixtures: real resources over a migrated warehouse and the sandbox."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from betting_assets.defs.resources import ClockResource, OddsApiResource, WarehouseResource
from betting_assets.sandbox.server import SandboxServer


@pytest.fixture
def resources(engine: Engine, db_url: str, sandbox: SandboxServer) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(database_url=db_url),
        "odds_api": OddsApiResource(base_url=sandbox.url, api_key="test-key"),
        "clock": ClockResource(source="provider", base_url=sandbox.url),
    }


def set_sandbox(server: SandboxServer, path: str, doc: dict) -> dict:  # type: ignore[type-arg]
    response = httpx.post(f"{server.url}/sandbox/{path}", json=doc)
    response.raise_for_status()
    return response.json()
