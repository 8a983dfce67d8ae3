"""Dagster resources: the settings, and the warehouse, the odds provider, the clock, the
broker and MLflow built from them.

Settings reach definitions one way: the environment (``BETTING_*``, then ``.env``) is read by
``Settings`` inside ``SettingsResource``, which every other resource holds, and assets, checks,
sensors and ops take it as a parameter. Its ``values`` (group → field → value) are what a test
or a deployment sets on top of the environment; secrets never go there (a resource's config is
shown in the Dagster UI), so the API key and a password in the warehouse URL stay in the
environment. A resource builds one engine for a run and disposes of it after.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterator

from dagster import ConfigurableResource, InitResourceContext, SkipReason
from pydantic import PrivateAttr, SecretStr
from sqlalchemy import Connection, Engine

from betting_assets.clock import ProviderUnreachable, provider_now
from betting_assets.collection.collector import Collector
from betting_assets.orders import service
from betting_assets.orders.brokers import Broker
from betting_assets.settings import SECRET_FIELDS, Settings, SettingsError, env_name, load_settings
from betting_assets.sources.odds_api import OddsApiClient
from betting_assets.warehouse.engine import make_engine

if TYPE_CHECKING:
    from betting_assets.modelling.registry import Tracker
    from betting_assets.venues.betfair.client import PointedClient


class SettingsResource(ConfigurableResource):
    """``values``: settings by group on top of the environment, e.g.
    ``{"risk": {"max_day_exposure": 0.05}}`` (flat names such as ``min_edge`` work too)."""

    values: dict[str, Any] = {}
    _settings: Settings | None = PrivateAttr(default=None)

    def get(self) -> Settings:
        if self._settings is None:
            secret = [env_name(g, f) for g, f in SECRET_FIELDS if f in (self.values.get(g) or {})]
            if secret:
                raise SettingsError(f"set {', '.join(secret)} in the environment, not in the settings resource: "
                                    "its config is shown in the Dagster UI")
            self._settings = load_settings(**self.values)
        return self._settings


class WarehouseResource(ConfigurableResource):
    """The settings' warehouse (SQLite under the project home by default) unless ``database_url``
    names one."""

    settings: SettingsResource
    database_url: str | None = None
    _engine: Engine | None = PrivateAttr(default=None)

    def url(self) -> str:
        return self.database_url or self.settings.get().warehouse_url

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
    """The settings' provider unless ``base_url`` and ``api_key`` name another (the sandbox in tests
    and in the demo)."""

    settings: SettingsResource
    base_url: str | None = None
    api_key: str | None = None

    def client(self) -> OddsApiClient:
        return OddsApiClient.from_settings(self.settings.get(), base_url=self.base_url,
                                           api_key=SecretStr(self.api_key) if self.api_key else None)

    def collector(self, engine: Engine, clock_at: datetime | None = None) -> Collector:
        """``clock_at``: what ``ClockResource.log_time`` says the fetch log should keep."""
        settings = self.settings.get()
        collection = settings.collection
        return Collector(engine, self.client(), regions=collection.regions, markets=collection.markets,
                         odds_format=collection.odds_format, bookmakers=collection.bookmakers,
                         quality_mode=settings.quality.mode, clock_at=clock_at)


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

    settings: SettingsResource
    source: str | None = None
    base_url: str | None = None

    def uses_provider(self) -> bool:
        if self.source and self.source != "auto":
            return self.source == "provider"
        return self.settings.get().uses_provider_clock

    def now(self) -> datetime:
        if not self.uses_provider():
            return datetime.now(timezone.utc)
        return provider_now(self.base_url or self.settings.get().collection.odds_api_base_url)

    def log_time(self, now: datetime) -> datetime | None:
        """The time the fetch log keeps for calls made at ``now``: the provider's clock stands still
        between moves, so a run's calls are all at its time; the system clock moves on, so each
        call keeps its own (None)."""
        return now if self.uses_provider() else None


class ExchangeResource(ConfigurableResource):
    """The exchange's catalogue and books, for mapping events to markets (placing is the broker's):
    the settings' exchange unless ``base_url``, ``app_key`` and ``session_token`` name another
    (the sandbox's, in tests and the demo)."""

    settings: SettingsResource
    base_url: str | None = None
    app_key: str | None = None
    session_token: str | None = None

    def client(self) -> "PointedClient":
        from betting_assets.venues.betfair import client as exchange_client
        return exchange_client.from_settings(self.settings.get().exchange, base_url=self.base_url,
                                             app_key=self.app_key, session_token=self.session_token)

    @contextmanager
    def session(self, purpose: str) -> Iterator["PointedClient"]:
        """A logged-in client for one step, logged out after it; no session is the step's
        failure, saying ``purpose`` and what is missing."""
        from dagster import Failure

        from betting_assets.venues.betfair import client as exchange_client
        try:
            made = self.client()
        except exchange_client.ExchangeUnavailable as exc:
            raise Failure(f"{purpose}: {exc}") from None
        try:
            yield made
        finally:
            exchange_client.logout(made)


class BrokerResource(ConfigurableResource):
    """The broker the settings choose (``BETTING_BROKER``, ``BETTING_MODE``); refuses live
    placement that is not fully configured. With ``exchange``, the exchange broker's session is
    that resource's (the sandbox's, in the demo) rather than the settings' credentials."""

    settings: SettingsResource
    exchange: ExchangeResource | None = None
    _broker: Broker | None = PrivateAttr(default=None)

    def broker(self) -> Broker:
        """One broker (one exchange session) for the whole run."""
        if self._broker is None:
            self._broker = service.broker_for(self.settings.get(), self.exchange.client if self.exchange else None)
        return self._broker

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        close = getattr(self._broker, "close", None)
        if close is not None:
            close()
        self._broker = None


class MlflowResource(ConfigurableResource):
    """MLflow tracking and registry: the settings' (a SQLite store and local artifacts under the
    project home by default) unless ``tracking_uri`` names one."""

    settings: SettingsResource
    tracking_uri: str | None = None
    experiment: str = "betting_assets"

    def uri(self) -> str:
        return self.tracking_uri or self.settings.get().tracking_uri

    def tracker(self) -> "Tracker":
        from betting_assets.modelling.registry import Tracker

        return Tracker(self.uri(), self.settings.get().artifact_root, self.experiment)


def default_resources(settings: SettingsResource | None = None, **given: Any) -> dict[str, Any]:
    """Every resource, each over the same settings; ``given`` replaces some by key (a test's
    sandbox, the demo's), and a given resource keeps the settings it was built with."""
    settings = settings or SettingsResource()
    return {
        "settings": settings,
        "warehouse": WarehouseResource(settings=settings),
        "odds_api": OddsApiResource(settings=settings),
        "clock": ClockResource(settings=settings),
        "mlflow": MlflowResource(settings=settings),
        "broker": BrokerResource(settings=settings),
        "exchange": ExchangeResource(settings=settings),
    } | given
