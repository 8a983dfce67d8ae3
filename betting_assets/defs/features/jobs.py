"""The features job: a sport's days built in one run (the CLI backfills and the demo use it)."""

from dagster import AssetSelection, define_asset_job

from betting_assets.defs.features.assets import features
from betting_assets.defs.partitions import PARTITIONS

build_features = define_asset_job(
    "build_features", selection=AssetSelection.assets(features), partitions_def=PARTITIONS,
    description="Features per sport and day, published only when the no_lookahead guard passes.",
    tags={"betting/stage": "features"})
