"""Dagster resources over the warehouse, the odds provider and the clock, configured from
settings.

The API key is read from the environment at run time (``EnvVar``), so it never appears in
run config or in the UI. A resource builds one engine for a run and disposes of it after.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterator

import httpx
from dagster import ConfigurableResource, EnvVar, InitResourceContext, SkipReason
from pydantic import PrivateAttr, SecretStr
from sqlalchemy import Connection, Engine

from betting_assets.domain.timeutil import parse_utc
from betting_assets.ingestion import Collector
from betting_assets.placement import service
from betting_assets.placement.brokers import Broker
from betting_assets.settings import Settings, get_settings
from betting_assets.sources.odds_api import OddsApiClient
from betting_assets.warehouse.engine import make_engine

if TYPE_CHECKING:
    from betting_assets.modelling.registry import Tracker


class WarehouseResource(ConfigurableResource):
    """Empty ``database_url`` means the settings' default (SQLite under the project home)."""

    database_url: str = ""
    _engine: Engine | None = PrivateAttr(default=None)

    def url(self) -> str:
        return self.database_url or get_settings().warehouse_url

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._engine = make_engine(self.url())

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url())
        return self._engine

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine().connect() as conn:
            yield conn


class OddsApiResource(ConfigurableResource):
    base_url: str = ""
    api_key: str = ""

    def settings(self) -> Settings:
        settings = get_settings()
        key = SecretStr(self.api_key) if self.api_key else settings.odds_api_key
        return settings.model_copy(update={
            "odds_api_base_url": self.base_url or settings.odds_api_base_url,
            "odds_api_key": key,
        })

    def client(self) -> OddsApiClient:
        return OddsApiClient.from_settings(self.settings())

    def collector(self, engine: Engine) -> Collector:
        settings = self.settings()
        return Collector(engine, self.client(), regions=settings.regions, markets=settings.markets,
                         odds_format=settings.odds_format, bookmakers=settings.bookmakers,
                         quality_mode=settings.data_quality_mode)


class ProviderUnreachable(RuntimeError):
    """The provider (or its clock) did not answer: a sensor skips saying so instead of failing."""


def now_or_skip(clock: "ClockResource", undone: str) -> "datetime | SkipReason":
    """The clock's time, or, when the provider's clock is down, the skip a sensor returns: what
    was not done, what is down and what to start (its cursor stays as it was)."""
    try:
        return clock.now()
    except ProviderUnreachable as exc:
        return SkipReason(f"{undone}: {exc}")


class ClockResource(ConfigurableResource):
    """The time sensors and live fetches act on. Against the sandbox it is the sandbox's own
    clock, so a test (or a demo) moves time by moving the sandbox."""

    source: str = ""
    base_url: str = ""

    def uses_provider(self) -> bool:
        if self.source:
            return self.source == "provider" or (self.source == "auto" and get_settings().uses_provider_clock)
        return get_settings().uses_provider_clock

    def now(self) -> datetime:
        if not self.uses_provider():
            return datetime.now(timezone.utc)
        base = self.base_url or get_settings().odds_api_base_url
        try:
            response = httpx.get(f"{base.rstrip('/')}/sandbox/clock", timeout=5.0)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise ProviderUnreachable(
                f"the provider clock at {base} is unreachable ({type(exc).__name__}): start the sandbox "
                "(make dev, or betting sandbox serve) or set BETTING_CLOCK=system for the real time") from exc
        now = parse_utc(response.json().get("now"))
        if now is None:
            raise ValueError(f"the provider clock at {base} answered without a readable time")
        return now


class BrokerResource(ConfigurableResource):
    """The broker the settings choose (``BETTING_BROKER``, ``BETTING_MODE``); refuses live
    placement that is not fully configured."""

    def broker(self) -> Broker:
        return service.broker_for(get_settings())


class MlflowResource(ConfigurableResource):
    """MLflow tracking and registry; empty ``tracking_uri`` means the settings' default (a SQLite
    store and local artifacts under the project home)."""

    tracking_uri: str = ""
    experiment: str = "betting_assets"

    def uri(self) -> str:
        return self.tracking_uri or get_settings().tracking_uri

    def tracker(self) -> "Tracker":
        from betting_assets.modelling.registry import Tracker

        return Tracker(self.uri(), get_settings().artifact_root, self.experiment)


def default_resources() -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(database_url=_env("BETTING_DATABASE_URL")),
        "odds_api": OddsApiResource(api_key=_env("BETTING_ODDS_API_KEY"),
                                    base_url=_env("BETTING_ODDS_API_BASE_URL")),
        "clock": ClockResource(source=_env("BETTING_CLOCK")),
        "mlflow": MlflowResource(tracking_uri=_env("BETTING_MLFLOW_TRACKING_URI")),
        "broker": BrokerResource(),
    }


def _env(name: str) -> object:
    return EnvVar(name) if os.environ.get(name) else ""
