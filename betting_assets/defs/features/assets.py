"""The features asset: a sport-day's events at each decision time, and the blocking guard that
proves no feature saw data from after its decision time."""

from collections import defaultdict
from datetime import datetime

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

import polars as pl

from betting_assets.features import store as feature_store
from betting_assets.defs.partitions import PARTITIONS, SportDay, run_days
from betting_assets.defs.metadata import markdown_table, per_partition
from betting_assets.defs.resources import SettingsResource, WarehouseResource
from betting_assets.domain.features.build import FEATURE_COLUMNS
from betting_assets.domain.data.normalize import Finding
from betting_assets.warehouse import writes

GROUP = "features"
LEAKAGE_SAMPLE = 12
PREVIEW = ["event_id", "decision_time", "home_team", "away_team", "sharp_mult_home", "sharp_mult_draw",
           "sharp_mult_away", "cons_home", "best_home", "elo_diff", "form_gd_home", "rest_home"]


@asset(
    group_name=GROUP,
    partitions_def=PARTITIONS,
    backfill_policy=BackfillPolicy.single_run(),
    deps=["normalized_odds", "scores"],
    description="One row per event and decision time, from odds and results known strictly before it; "
                "published to the warehouse only when the leakage guard passes.",
    kinds={"polars", "sql"},
    check_specs=[AssetCheckSpec(
        "no_lookahead", asset="features", blocking=True,
        description="A sample recomputed from the raw snapshots with a strict cut-off at each decision "
                    "time matches the stored features exactly (a difference means look-ahead, or normalised "
                    "odds missing for part of the lookback window).")],
)
def features(context: AssetExecutionContext, warehouse: WarehouseResource,
             settings: SettingsResource):  # type: ignore[no-untyped-def]
    cfg = settings.get()
    config = feature_store.feature_config(cfg)
    engine = warehouse.engine()
    days: list[SportDay] = run_days(context)
    by_sport: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for day in days:
        by_sport[day.sport_key].append((day.start, day.end))
    built: list[pl.DataFrame] = []
    odds_rows = 0
    for sport, spans in by_sport.items():
        result = feature_store.build_days(engine, sport, spans, config)
        built.append(result.frame)
        odds_rows += result.odds_rows
        context.log.info(f"features: {sport}, {len(spans)} days, {result.frame.height} rows")
    frame = pl.concat(built) if built else pl.DataFrame()
    checked, mismatches = _leakage_guard(context, engine, days, frame, config, cfg.quality.mode)
    passed = mismatches.is_empty()
    published = feature_store.publish(engine, frame) if passed and frame.height else 0
    if not passed:
        context.log.error(f"no_lookahead failed: {frame.height} rows not published; the rows stored before stay "
                          "as they were")
        with engine.begin() as conn:
            writes.record_findings(conn, [
                Finding("no_lookahead", "error", f"{r['feature']} stored {r['stored']} but {r['from_raw']} "
                        "from raw snapshots cut at the decision time (look-ahead, or normalised odds missing upstream)", event_id=r["event_id"],
                        context={"decision_time": str(r["decision_time"])})
                for r in mismatches.head(200).iter_rows(named=True)], source="features")
    coverage = {c: round(1 - frame[c].null_count() / frame.height, 3) for c in FEATURE_COLUMNS} if frame.height else {}
    yield MaterializeResult(metadata=per_partition({
        "dagster/row_count": frame.height,
        "rows": frame.height,
        "published": published,
        "events": frame["event_id"].n_unique() if frame.height else 0,
        "odds_rows_read": odds_rows,
        "decision_hours": MetadataValue.text(", ".join(str(h) for h in config.decision_hours)),
        "sharp_book": config.sharp_book,
        "sharp_priced_share": coverage.get("sharp_mult_home", 0.0),
        "coverage": MetadataValue.md("| feature | non-null share |\n| --- | --- |\n" + "\n".join(
            f"| {k} | {v:.3f} |" for k, v in coverage.items())),
        "preview": markdown_table(frame.select([c for c in PREVIEW if c in frame.columns])) if frame.height
        else MetadataValue.md("no events in these partitions"),
    }, [str(d.key) for d in days], _by_partition(days, frame)))
    yield AssetCheckResult(
        check_name="no_lookahead", passed=passed,
        severity=AssetCheckSeverity.ERROR,
        metadata={"sampled_rows": checked, "mismatches": mismatches.height,
                  "sample": markdown_table(mismatches) if not passed else MetadataValue.md("all equal")},
    )


def _by_partition(days: list[SportDay], frame: pl.DataFrame) -> list[dict[str, object]]:
    counted: dict[str, dict[str, int]] = {}
    if frame.height:
        day_key = pl.concat_str("sport_key", pl.lit("|"), pl.col("commence_time").dt.date().cast(pl.String))
        counted = {r["partition"]: r for r in frame.group_by(day_key.alias("partition")).agg(
            rows=pl.len(), events=pl.col("event_id").n_unique()).iter_rows(named=True)}
    return [{"partition": str(d.key), "rows": counted.get(str(d.key), {}).get("rows", 0),
             "events": counted.get(str(d.key), {}).get("events", 0)} for d in days]


def _leakage_guard(context: AssetExecutionContext, engine, days: list[SportDay], frame: pl.DataFrame,  # type: ignore[no-untyped-def]
                   config: feature_store.FeatureConfig, quality_mode: str) -> tuple[int, pl.DataFrame]:
    """Recomputes up to ``LEAKAGE_SAMPLE`` rows per sport (spread over the partitions) from raw."""
    if frame.is_empty():
        return 0, pl.DataFrame()
    checked, found = 0, []
    for sport in frame["sport_key"].unique().sort().to_list():
        rows = frame.filter(pl.col("sport_key") == sport)
        sample = feature_store.sample_rows(rows, LEAKAGE_SAMPLE, seed=len(days))
        for _, part in sample.group_by(pl.col("commence_time").dt.date(), maintain_order=True):
            rebuilt = feature_store.recompute_from_raw(engine, sport, part, config, quality_mode)
            found.append(feature_store.compare(part, rebuilt, FEATURE_COLUMNS))
        checked += sample.height
    mismatches = pl.concat(found) if found else pl.DataFrame()
    context.log.info(f"no_lookahead: {checked} rows recomputed from raw snapshots, {mismatches.height} differences")
    return checked, mismatches
