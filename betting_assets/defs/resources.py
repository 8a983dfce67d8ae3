"""Dagster resources: the settings, and the warehouse, the odds provider, the clock, the
venue and MLflow built from them.

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
from betting_assets.settings import SECRET_FIELDS, ClockSource, Settings, SettingsError, env_name, load_settings
from betting_assets.sources.odds_api import OddsApiClient
from betting_assets.warehouse.engine import make_engine

if TYPE_CHECKING:
    from betting_assets.modelling.registry import Tracker
    from betting_assets.venues.base import Venue


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
    _clients: list[OddsApiClient] = PrivateAttr(default_factory=list)

    def client(self) -> OddsApiClient:
        """A client of the step's own, closed with the step (its connections to the provider)."""
        client = OddsApiClient.from_settings(self.settings.get(), base_url=self.base_url,
                                             api_key=SecretStr(self.api_key) if self.api_key else None)
        self._clients.append(client)
        return client

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        while self._clients:
            self._clients.pop().close()

    def collector(self, engine: Engine, clock_at: datetime | None = None) -> Collector:
        """``clock_at``: what ``ClockResource.log_time`` says the fetch log should keep."""
        settings = self.settings.get()
        collection = settings.collection
        return Collector(engine, self.client(), regions=collection.regions, markets=collection.markets,
                         odds_format=collection.odds_format, bookmakers=collection.bookmakers,
                         quality_mode=settings.quality.mode, clock_at=clock_at, budget=collection.credit_budget,
                         reset_day=collection.credit_reset_day)


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
    source: ClockSource | None = None
    base_url: str | None = None

    def uses_provider(self) -> bool:
        if self.source is not None and ClockSource(self.source) is not ClockSource.AUTO:
            return ClockSource(self.source) is ClockSource.PROVIDER
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


class VenueResource(ConfigurableResource):
    """Where bets go: the settings' venue (``BETTING_BROKER``, ``BETTING_MODE``), refused when live
    placement is not fully configured. ``base_url``, ``app_key`` and ``session_token`` name
    another exchange to reach (the sandbox's, in tests and the demo) instead of the settings'
    credentials. One venue, one session, for the whole run."""

    settings: SettingsResource
    base_url: str | None = None
    app_key: str | None = None
    session_token: str | None = None
    _venue: Any = PrivateAttr(default=None)

    def venue(self) -> "Venue":
        if self._venue is None:
            from betting_assets.venues import venue_for
            from betting_assets.venues.betfair import client as betfair_client

            settings = self.settings.get()
            given = self.base_url or self.app_key or self.session_token
            connect = (lambda: betfair_client.from_settings(
                settings.exchange, base_url=self.base_url, app_key=self.app_key,
                session_token=self.session_token)) if given else None
            self._venue = venue_for(settings, connect)
        return self._venue  # type: ignore[no-any-return]

    @contextmanager
    def session(self, purpose: str) -> Iterator["Venue"]:
        """The venue, logged in for one step; no session is the step's failure, saying
        ``purpose`` and what is missing."""
        from dagster import Failure

        from betting_assets.venues import VenueRefused
        from betting_assets.venues.base import VenueError

        try:
            with self.venue().session(purpose) as venue:
                yield venue
        except (VenueRefused, VenueError) as exc:
            raise Failure(f"{purpose}: {exc}") from None

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._venue is not None:
            self._venue.close()
        self._venue = None


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
    from betting_assets.defs.step_outputs import WarehouseIOManager

    settings = settings or SettingsResource()
    chosen = {
        "settings": settings,
        "warehouse": WarehouseResource(settings=settings),
        "odds_api": OddsApiResource(settings=settings),
        "clock": ClockResource(settings=settings),
        "mlflow": MlflowResource(settings=settings),
        "venue": VenueResource(settings=settings),
    } | given
    return {"io_manager": WarehouseIOManager(warehouse=chosen["warehouse"])} | chosen
