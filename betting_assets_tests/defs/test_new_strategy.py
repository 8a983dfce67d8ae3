"""A new strategy is one class and one registration: registered here, and named in the live
strategies, it proposes its own slips through bet_slips, its bets are placed at paper and on the
sandbox's exchange under its name (``customerStrategyRef``), and the backtest's table scores it,
with nothing else in the product touched."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx
import polars as pl
import pytest
from click.testing import CliRunner
from dagster import DagsterInstance, materialize
from sqlalchemy import Engine

from betting_assets.cli import main
from betting_assets.defs.betting.assets import bet_slips
from betting_assets.defs.collection.assets import events
from betting_assets.defs.orders.assets import exchange_markets
from betting_assets.defs.orders.jobs import place_bets
from betting_assets.defs.resources import MlflowResource, SettingsResource, VenueResource
from betting_assets.domain.betting import strategies
from betting_assets.domain.betting.strategies import as_bets, best_prices
from betting_assets.domain.pricing.market_view import MarketView
from betting_assets.sandbox.exchange import DEFAULT_APP_KEY, DEFAULT_SESSION
from betting_assets.sandbox.server import SandboxServer
from betting_assets.settings import get_settings
from betting_assets.venues.betfair.venue import BOOK
from betting_assets.warehouse import ledger, queries
from betting_assets_tests.defs.bind import with_settings
from betting_assets_tests.defs.conftest import set_sandbox
from betting_assets_tests.defs.test_betfair_placement import MAPPED_AT
from betting_assets_tests.defs.test_betting_assets import _ingest_live

NAME = "draw_lift"
E0 = str(Path(__file__).resolve().parents[2] / "betting_assets" / "data" / "E0_2324.csv")


@dataclass
class DrawLift:
    """The draw of every match the sharp book prices, at its best price, held 10 % likelier than
    the sharp book's fair price says."""

    name: str
    lift: float = 0.10
    from_settings: ClassVar[dict[str, str]] = {}
    needs_model: ClassVar[bool] = False
    default_sizing: ClassVar[str] = "flat"
    sizing_methods: ClassVar[tuple[str, ...]] = ("flat", "kelly")

    def params(self) -> dict[str, Any]:
        return {"lift": self.lift}

    def select(self, view: MarketView) -> pl.DataFrame:
        draws = best_prices(view.offers.filter(pl.col("fair").is_not_null()), ("h2h",)).filter(pl.col("side") == "draw")
        return as_bets(draws, pl.col("fair") * (1 + self.lift), pl.col("fair_time"))


@pytest.fixture
def registered() -> Iterator[str]:
    strategies.register(NAME, DrawLift)
    try:
        yield NAME
    finally:
        strategies.unregister(NAME)


@pytest.fixture
def mlflow_resource(tmp_path: Path, settings: SettingsResource) -> MlflowResource:
    return MlflowResource(settings=settings, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.sqlite'}")


def test_a_new_strategy_proposes_bets_at_paper_and_is_backtested(
        registered: str, engine: Engine, resources: dict[str, object], sandbox: SandboxServer,
        mlflow_resource: MlflowResource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given = with_settings(resources, live={"strategies": f"{registered}=flat:1"}, sizing={"flat_stake": 5.0})
    _ingest_live(given, sandbox, "2023-08-12T12:40:00Z")   # before the 13:00 decision of the 14:00 games
    _ingest_live(given, sandbox, "2023-08-12T13:20:00Z")
    assert materialize([bet_slips], resources={**given, "mlflow": mlflow_resource},
                       instance=DagsterInstance.ephemeral()).success
    with engine.connect() as conn:
        slips = queries.slips_frame(conn)
    assert slips.height == 4 and set(slips["side"]) == {"draw"}   # the four 14:00 games, each its draw
    assert set(slips["strategy"]) == {registered} and all(k.startswith(f"{registered}|") for k in slips["idempotency_key"])
    assert (slips["stake"] == 5.0).all() and slips["model_version"].is_null().all()

    assert place_bets.execute_in_process(resources=given, instance=DagsterInstance.ephemeral()).success
    with engine.connect() as conn:
        bets = ledger.frame(conn)
    assert bets.height == 4 and set(bets["status"]) == {"placed"} and set(bets["strategy"]) == {registered}

    monkeypatch.setenv("BETTING_HOME", str(tmp_path / "cli"))
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["backtest", "run", "--data", E0, "--test-from", "2024-03-01",
                                       "--strategies", f"{registered},sharp_value"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output[-2000:]
    row = next(line for line in result.output.splitlines() if line.strip().startswith(registered))
    assert int(re.split(r"\s+", row.strip())[1]) > 0, row        # its bets counted in the table


def test_a_new_strategy_bets_on_the_exchange_under_its_own_name(
        registered: str, engine: Engine, resources: dict[str, object], sandbox: SandboxServer,
        mlflow_resource: MlflowResource, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BETTING_EXCHANGE_APP_KEY", DEFAULT_APP_KEY)
    monkeypatch.setenv("BETTING_EXCHANGE_SESSION_TOKEN", DEFAULT_SESSION)
    given = with_settings(resources, collection={"sports": ["soccer_epl"]}, live={"strategies": f"{registered}=flat:1"},
                          sizing={"flat_stake": 5.0}, exchange={"mode": "live", "broker": "betfair", "url": sandbox.url})
    live = {**given, "venue": VenueResource(settings=given["settings"])}   # type: ignore[arg-type]
    set_sandbox(sandbox, "exchange", {"reset": True, "script": [], "default": "book"})
    set_sandbox(sandbox, "clock", {"now": MAPPED_AT.isoformat()})
    assert materialize([events, exchange_markets], resources=live, instance=DagsterInstance.ephemeral()).success
    _ingest_live(live, sandbox, "2023-08-12T12:40:00Z")    # the prices before the 13:00 decision
    _ingest_live(live, sandbox, "2023-08-12T13:20:00Z")
    assert materialize([bet_slips], resources={**live, "mlflow": mlflow_resource},
                       instance=DagsterInstance.ephemeral()).success
    with engine.connect() as conn:
        slips = queries.slips_frame(conn)
    assert slips.height > 0 and set(slips["strategy"]) == {registered} and set(slips["bookmaker"]) == {BOOK}
    assert place_bets.execute_in_process(resources=live, instance=DagsterInstance.ephemeral()).success
    orders = httpx.get(f"{sandbox.url}/sandbox/exchange").json()["orders"]
    with engine.connect() as conn:
        placed = ledger.frame(conn).filter(pl.col("status") == "placed")
    assert placed.height == slips.height and {o["customerStrategyRef"] for o in orders} == {registered}
    assert {o["customerOrderRef"] for o in orders} == set(placed["customer_ref"])
