"""The one Definitions object the code location loads (``workspace.yaml``)."""

from __future__ import annotations

from dagster import Definitions

from betting_assets.defs.backtesting.assets import BACKTESTING_ASSETS, BACKTESTING_JOBS, BACKTESTING_SENSORS
from betting_assets.defs.features.assets import FEATURE_ASSETS
from betting_assets.defs.ingestion.assets import INGESTION_ASSETS
from betting_assets.defs.ingestion.freshness import odds_freshness
from betting_assets.defs.ingestion.sensors import INGESTION_JOBS, INGESTION_SCHEDULES, INGESTION_SENSORS
from betting_assets.defs.modelling.assets import MODELLING_ASSETS
from betting_assets.defs.placement.assets import PLACEMENT_ASSETS
from betting_assets.defs.placement.checks import PLACEMENT_CHECKS
from betting_assets.defs.placement.jobs import PLACEMENT_JOBS, PLACEMENT_SENSORS
from betting_assets.defs.resources import default_resources

defs = Definitions(
    assets=[*INGESTION_ASSETS, *FEATURE_ASSETS, *MODELLING_ASSETS, *BACKTESTING_ASSETS, *PLACEMENT_ASSETS],
    asset_checks=[odds_freshness, *PLACEMENT_CHECKS],
    jobs=[*INGESTION_JOBS, *BACKTESTING_JOBS, *PLACEMENT_JOBS],
    sensors=[*INGESTION_SENSORS, *BACKTESTING_SENSORS, *PLACEMENT_SENSORS],
    schedules=INGESTION_SCHEDULES,
    resources=default_resources(),
)
