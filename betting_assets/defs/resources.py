"""Dagster resources over the warehouse and the odds provider, configured from settings.

The API key is read from the environment at run time (``EnvVar``), so it never appears in
run config or in the UI.
"""

from __future__ import annotations

from dagster import ConfigurableResource, EnvVar
from pydantic import SecretStr
from sqlalchemy import Engine

from betting_assets.settings import Settings, get_settings
from betting_assets.sources.odds_api import OddsApiClient
from betting_assets.warehouse.engine import make_engine


class WarehouseResource(ConfigurableResource):
    """Empty ``database_url`` means the settings' default (SQLite under the project home)."""

    database_url: str = ""

    def url(self) -> str:
        return self.database_url or get_settings().warehouse_url

    def engine(self) -> Engine:
        return make_engine(self.url())


class OddsApiResource(ConfigurableResource):
    base_url: str = ""
    api_key: str = ""

    def client(self) -> OddsApiClient:
        settings: Settings = get_settings()
        key = SecretStr(self.api_key) if self.api_key else settings.odds_api_key
        return OddsApiClient.from_settings(settings.model_copy(update={
            "odds_api_base_url": self.base_url or settings.odds_api_base_url,
            "odds_api_key": key,
        }))


def default_resources() -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(database_url=EnvVar("BETTING_DATABASE_URL") if _has("BETTING_DATABASE_URL") else ""),
        "odds_api": OddsApiResource(api_key=EnvVar("BETTING_ODDS_API_KEY") if _has("BETTING_ODDS_API_KEY") else ""),
    }


def _has(name: str) -> bool:
    import os

    return bool(os.environ.get(name))
