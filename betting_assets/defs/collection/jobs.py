"""The ingestion jobs: what the sensors, the schedule and the CLI backfills launch."""

from dagster import AssetSelection, define_asset_job

from betting_assets.defs.collection.assets import (
    PROVIDER_TAGS,
    collection_plan,
    events,
    normalized_odds,
    odds_snapshots,
    scores,
)
from betting_assets.defs.partitions import PARTITIONS, PLAN_PARTITIONS

collect_odds = define_asset_job(
    "collect_odds", selection=AssetSelection.assets(odds_snapshots, normalized_odds), partitions_def=PARTITIONS,
    description="Odds for one sport and day: live for today, tier-planned history for past days.",
    tags=PROVIDER_TAGS,
)
collect_scores = define_asset_job("collect_scores", selection=AssetSelection.assets(scores),
                                  partitions_def=PARTITIONS, tags=PROVIDER_TAGS)
ingest_history = define_asset_job(
    "ingest_history", selection=AssetSelection.assets(odds_snapshots, normalized_odds, scores),
    partitions_def=PARTITIONS, tags=PROVIDER_TAGS,
    description="Backfill target: odds, normalised odds and scores per sport and day.",
)
discover_events = define_asset_job("discover_events", selection=AssetSelection.assets(events))
plan_collection = define_asset_job(
    "plan_collection", selection=AssetSelection.assets(collection_plan), partitions_def=PLAN_PARTITIONS,
    description="The collection plan over every sport from today for 15 days (one run over the range).",
)
