"""Resources for a test: the product's defaults over a test's warehouse and sandbox, and the
same resources with some settings changed (instead of patching the environment)."""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource

from betting_assets.defs.resources import (
    ClockResource,
    OddsApiResource,
    SettingsResource,
    WarehouseResource,
    default_resources,
)
from betting_assets.defs.step_outputs import WarehouseIOManager


def sandbox_resources(settings: SettingsResource, db_url: str, sandbox_url: str, api_key: str = "test-key",
                      **given: Any) -> dict[str, Any]:
    return default_resources(
        settings,
        warehouse=WarehouseResource(settings=settings, database_url=db_url),
        odds_api=OddsApiResource(settings=settings, base_url=sandbox_url, api_key=api_key),
        clock=ClockResource(settings=settings, source="provider", base_url=sandbox_url),
        **given)


def with_settings(resources: dict[str, Any], **groups: dict[str, Any]) -> dict[str, Any]:
    """``resources`` with their settings' ``values`` changed by group; every resource over the old
    settings is rebuilt over the new, keeping its own fields."""
    old: SettingsResource = resources["settings"]
    values = {g: dict(v) for g, v in old.values.items()}
    for group, fields in groups.items():
        values.setdefault(group, {}).update(fields)
    new = SettingsResource(values=values)
    rebuilt: dict[str, Any] = {"settings": new}
    for key, resource in resources.items():
        if key == "settings":
            continue
        if isinstance(resource, ConfigurableResource) and "settings" in type(resource).model_fields:
            kept = {name: getattr(resource, name) for name in type(resource).model_fields if name != "settings"}
            resource = type(resource)(settings=new, **kept)
        rebuilt[key] = resource
    if "io_manager" in rebuilt:
        rebuilt["io_manager"] = WarehouseIOManager(warehouse=rebuilt["warehouse"])
    return rebuilt
