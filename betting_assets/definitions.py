"""The Definitions the code location loads (``workspace.yaml``), and the same graph bound to
other resources for the demo, which runs it against its own sandbox."""

from __future__ import annotations

from typing import Any

from dagster import Definitions

from betting_assets.defs.backtesting.assets import BACKTESTING_ASSETS, BACKTESTING_JOBS, BACKTESTING_SENSORS
from betting_assets.defs.backtesting.checks import BACKTESTING_CHECKS
from betting_assets.defs.features.assets import FEATURE_ASSETS, FEATURE_JOBS
from betting_assets.defs.ingestion.assets import INGESTION_ASSETS
from betting_assets.defs.ingestion.freshness import odds_freshness
from betting_assets.defs.ingestion.sensors import INGESTION_JOBS, INGESTION_SCHEDULES, INGESTION_SENSORS
from betting_assets.defs.modelling.assets import MODELLING_ASSETS, MODELLING_JOBS
from betting_assets.defs.modelling.checks import MODELLING_CHECKS
from betting_assets.defs.placement.assets import PLACEMENT_ASSETS, SETTLEMENT_JOBS
from betting_assets.defs.placement.checks import PLACEMENT_CHECKS
from betting_assets.defs.placement.jobs import PLACEMENT_JOBS, PLACEMENT_SENSORS
from betting_assets.defs.resources import default_resources


def build_defs(resources: dict[str, Any] | None = None) -> Definitions:
    return Definitions(
        assets=[*INGESTION_ASSETS, *FEATURE_ASSETS, *MODELLING_ASSETS, *BACKTESTING_ASSETS, *PLACEMENT_ASSETS],
        asset_checks=[odds_freshness, *MODELLING_CHECKS, *BACKTESTING_CHECKS, *PLACEMENT_CHECKS],
        jobs=[*INGESTION_JOBS, *FEATURE_JOBS, *MODELLING_JOBS, *BACKTESTING_JOBS, *SETTLEMENT_JOBS, *PLACEMENT_JOBS],
        sensors=[*INGESTION_SENSORS, *BACKTESTING_SENSORS, *PLACEMENT_SENSORS],
        schedules=INGESTION_SCHEDULES,
        resources=resources or default_resources(),
    )


defs = build_defs()
