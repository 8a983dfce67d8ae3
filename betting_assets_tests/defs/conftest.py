"""Dagster-layer fixtures: real resources over a migrated warehouse and the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import polars as pl
import pytest
from dagster import DagsterInstance, materialize
from sqlalchemy import Engine, select

from betting_assets.defs.collection.assets import normalized_odds, odds_snapshots, scores
from betting_assets.defs.resources import SettingsResource
from betting_assets.domain.pricing.market_view import offers_at
from betting_assets.domain.orders.risk import BookQuote
from betting_assets.venues.betfair.markets import exchange_offers
from betting_assets.domain.betting.decisions import SLIP_COLUMNS, idempotency_key
from betting_assets.domain.betting.strategies import best_prices
from betting_assets.sandbox.server import SandboxServer
from betting_assets.warehouse import queries, writes
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


NOW = datetime(2023, 8, 12, 13, 20, tzinfo=timezone.utc)


@pytest.fixture
def priced(engine: Engine, resources: dict[str, object], sandbox: SandboxServer, home: Path) -> pl.DataFrame:
    """The odds of 12 August 2023 as on offer at 13:20, and one slip per 14:00 match on its
    best home price, its model probability set 5 % above that price's implied one."""
    set_sandbox(sandbox, "clock", {"now": NOW.isoformat()})
    assert materialize([odds_snapshots, normalized_odds], resources=resources, partition_key=DAY,
                       instance=DagsterInstance.ephemeral()).success
    return _propose(engine, NOW)


def _propose(engine: Engine, now: datetime, stake: float = 20.0, edge: float = 0.05,
             exchange_quotes: Callable[[list[str]], dict[tuple[str, int, float], BookQuote]] | None = None) -> pl.DataFrame:
    """One slip per due match on its best home price (the exchange's best back, net of
    commission, with ``exchange_quotes``), its model probability ``edge`` above that price's."""
    with engine.connect() as conn:
        due = queries.at_decision(conn, now, 1.0, ["soccer_epl"])
        odds = queries.odds_for_events(conn, due["event_id"].to_list(), now - timedelta(days=3), now + timedelta(seconds=1))
        mapping = queries.exchange_markets_frame(conn, due["event_id"].to_list())
    cuts = due.select("event_id", "sport_key", "commence_time",
                      decision_time=pl.lit(now + timedelta(seconds=1)).cast(pl.Datetime("us", "UTC")))
    offers = offers_at(odds, cuts, sharp_book="pinnacle")
    if exchange_quotes is not None:
        offers = exchange_offers(offers, mapping, exchange_quotes(mapping["market_id"].unique().to_list()), 0.05, now)
    else:
        offers = offers.with_columns(market_version=pl.lit(None, pl.Int64), available_size=pl.lit(None, pl.Float64))
    best = best_prices(offers, ("h2h",)).filter(pl.col("side") == "home")
    slips = best.join(due.select("event_id", "home_team", "away_team"), on="event_id").with_columns(
        strategy=pl.lit("model_value"), model_name=pl.lit("test_model"), model_version=pl.lit("1"),
        model_prob=(1 + edge) / pl.col("price"), prob=(1 + edge) / pl.col("price"),
        fair_prob=pl.col("fair"), edge=pl.lit(edge), kelly=pl.lit(0.01), stake=pl.lit(stake), bankroll=pl.lit(1000.0),
        equity=pl.lit(1000.0), group_key=pl.lit(None, pl.String),
        rationale=pl.lit("planted edge"), price_time=pl.col("snapshot_time"), decision_time=pl.lit(now).cast(
            pl.Datetime("us", "UTC")))
    slips = slips.with_columns(idempotency_key=pl.Series([
        idempotency_key("model_value", r["event_id"], r["market"], r["side"], r["point"], "test_model@1")
        for r in slips.iter_rows(named=True)])).select(SLIP_COLUMNS)
    with engine.begin() as conn:
        writes.propose_slips(conn, slips, created_at=now)
    return slips
