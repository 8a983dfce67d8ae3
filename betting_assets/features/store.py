"""Features between the warehouse and ``domain.features``: build a day's rows from stored
normalised odds and results, and recompute a sample straight from the raw snapshots for the
leakage guard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl
from sqlalchemy import Engine

from betting_assets.domain.data import quality
from betting_assets.domain.data.quality import QualityMode
from betting_assets.domain.features.build import FEATURE_COLUMNS, INFO_COLUMNS, FeatureConfig, build_features
from betting_assets.collection.collector import derive_snapshots
from betting_assets.settings import Settings
from betting_assets.warehouse import queries, writes
from betting_assets.domain.vocabulary import EventStatus

FEATURE_VERSION = "1"
EXCLUDED_STATUSES = (EventStatus.CANCELLED,)


def feature_config(settings: Settings) -> FeatureConfig:
    return FeatureConfig(decision_hours=tuple(settings.features.decision_hours), sharp_book=settings.features.sharp_book)


@dataclass
class FeatureBuild:
    frame: pl.DataFrame
    odds_rows: int


def _fixtures(engine: Engine, sport: str, start: datetime, end: datetime) -> pl.DataFrame:
    with engine.connect() as conn:
        return queries.events_of_days(conn, sport, start, end, excluded=EXCLUDED_STATUSES)


def build_days(engine: Engine, sport: str, days: list[tuple[datetime, datetime]], config: FeatureConfig) -> FeatureBuild:
    """Features of the events starting on the given days, built in one pass (the rating
    history is read and replayed once, not per day). Nothing is written: rows are published
    only once the leakage guard has passed them."""
    start, end = min(d[0] for d in days), max(d[1] for d in days)
    on_days = pl.any_horizontal([pl.col("commence_time").is_between(a, b, closed="left") for a, b in days])
    fixtures = _fixtures(engine, sport, start, end).filter(on_days)
    with engine.connect() as conn:
        odds = queries.odds_for_events(conn, fixtures["event_id"].to_list(), start - config.lookback, end)
        results = queries.finished_before(conn, [sport], end)
    return FeatureBuild(frame=build_features(odds, fixtures, results, config), odds_rows=odds.height)


def publish(engine: Engine, frame: pl.DataFrame) -> int:
    """Replaces the stored rows of these events with ``frame``: the step that makes audited
    features visible to the model, the backtests and the slips."""
    with engine.begin() as conn:
        return writes.replace_features(conn, frame, INFO_COLUMNS, FEATURE_COLUMNS, FEATURE_VERSION)


def recompute_from_raw(engine: Engine, sport: str, sample: pl.DataFrame, config: FeatureConfig,
                       quality_mode: QualityMode) -> pl.DataFrame:
    """The sampled rows rebuilt from the raw snapshots alone, every snapshot at or after the
    latest decision time left unread. In reject mode the quality rules drop the same rows the
    normaliser's rebuild drops."""
    if sample.is_empty():
        return sample
    cutoff = sample["decision_time"].max()
    start = sample["commence_time"].min() - config.lookback
    with engine.connect() as conn:
        snapshots = queries.snapshots_between(conn, sport, start, cutoff)
        fixtures = queries.events_by_id(conn, sample["event_id"].unique().to_list())
        results = queries.finished_before(conn, [sport], cutoff)
    rows, findings = derive_snapshots(snapshots, set(sample["event_id"].to_list()))
    if quality_mode == QualityMode.REJECT:
        rows, _ = quality.reject_rows(rows, quality.evaluate_normalized(rows, findings, None))
    rebuilt = build_features(rows, fixtures, results, config)
    return rebuilt.join(sample.select("event_id", "decision_time"), on=["event_id", "decision_time"])


def compare(stored: pl.DataFrame, rebuilt: pl.DataFrame, columns: list[str], tolerance: float = 1e-9) -> pl.DataFrame:
    """One row per (event, decision time, feature) whose stored value differs from the rebuilt
    one (a null on one side only counts as a difference), plus rows missing on either side."""
    key = ["event_id", "decision_time"]
    joined = stored.select(*key, *columns).join(rebuilt.select(*key, *columns), on=key, how="full",
                                                 suffix="_raw", coalesce=True)
    diffs = []
    for column in columns:
        a, b = pl.col(column), pl.col(f"{column}_raw")
        differs = (a.is_null() != b.is_null()) | ((a - b).abs() > tolerance)
        diffs.append(joined.filter(differs.fill_null(False)).select(
            *key, pl.lit(column).alias("feature"), a.alias("stored"), b.alias("from_raw")))
    return pl.concat(diffs)


def sample_rows(frame: pl.DataFrame, size: int, seed: int) -> pl.DataFrame:
    if frame.height <= size:
        return frame
    return frame.sample(n=size, seed=seed)

