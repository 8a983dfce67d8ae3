"""The ingestion assets. Each reads its inputs, calls the collector (``ingestion.py``) and
the quality rules, and returns what a person wants to see in the UI."""


import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import polars as pl
from dagster import (
    AssetExecutionContext,
    Backoff,
    BackfillPolicy,
    Config,
    Failure,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    asset,
)
from pydantic import Field, field_validator

from betting_assets import expectations
from betting_assets.dagster_home import PROVIDER_POOL
from betting_assets.defs import check_results as checks
from betting_assets.collection import planning
from betting_assets.defs.partitions import PARTITIONS, PLAN_PARTITIONS, SportDay, refuse_after_clock, run_days
from betting_assets.defs.metadata import column_schema, markdown_table, per_partition
from betting_assets.defs.resources import ClockResource, OddsApiResource, SettingsResource, WarehouseResource
from betting_assets.domain.data import quality
from betting_assets.domain.collection.collection_plan import CLOSING, DECISION, MOVEMENT, RESULTS
from betting_assets.domain.data.normalize import NORMALIZED_SCHEMA
from betting_assets.domain.collection.tiers import due_events
from betting_assets.domain.collection.fetch_decisions import clock_went_back
from betting_assets.collection.collector import IngestResult
from betting_assets.warehouse import health, locks, queries, writes
from betting_assets.warehouse import plan as plan_store
from betting_assets.domain.vocabulary import EventStatus

SCORES_WINDOW = timedelta(days=3)
PROVIDER_WAIT_S = 3600.0
"""how long a provider asset waits for another run's to finish before it fails"""
PARTITION_LOOKBACK = timedelta(days=2)
GROUP = "collection"
RAW_SPECS = {
    "required_fields": "Every event, bookmaker, market and outcome carries its required fields.",
    "no_future_prices": "No price is timestamped after the fetch that returned it.",
}
NORMALIZED_SPECS = {
    "prices_valid": "Decimal prices ≥ 1.01, American |a| ≥ 100, all numeric.",
    "no_duplicate_keys": "No natural key (event, bookmaker, market, outcome, point, time) twice in a snapshot.",
    "market_complete": "Every bookmaker market has all its outcomes at the same line.",
    "overround_range": "Overround inside its bookmaker kind's band for the market, calibrated on ten seasons of "
                       "real books (sharp −1–10 %, soft 0–35 % on the match result, 0–25 % handicaps, 0–15 % "
                       "totals, exchanges −2–10 %; warning outside); error below −5 % or above 50 %.",
    "line_moves": "No quote's implied probability jumps more than 0.15 between snapshots (warning).",
    "contract": "Great Expectations suite over the stored rows: types, nulls, ranges, unique keys.",
}
PROVIDER_TAGS = {"betting/provider": "odds_api"}
EVENTS_FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(hours=3), warn_window=timedelta(hours=2))
"""the fixture list is refreshed every hour (discovery_sensor): two missed refreshes warn"""
SCORES_FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(days=2), warn_window=timedelta(days=1))
"""the scores sensor polls while games are on; two days without a scores run means it stopped
(or a break with no games, which the warning says is possible)"""
PROVIDER_RETRY = RetryPolicy(max_retries=2, delay=1, backoff=Backoff.EXPONENTIAL)
"""a provider answer that could not be read fails the step; the step is asked again twice"""


class OddsConfig(Config):
    """``auto`` collects live odds for the clock's current day and history for past days. A
    planned call (the odds sensor's) may ask for fewer ``markets`` than configured, or for one
    event through the per-event endpoint (``event_id``)."""

    mode: str = Field(default="auto", pattern="^(auto|live|history)$",
                      description="auto, live (the clock's now) or history (historical snapshots)")
    markets: list[str] | None = Field(default=None, description="market keys, as the provider names them")
    event_id: str | None = Field(default=None, pattern="^[A-Za-z0-9_-]{1,64}$", description="one event's id")

    @field_validator("markets")
    @classmethod
    def _market_keys(cls, value: list[str] | None) -> list[str] | None:
        """A key the provider could not know would cost a call for nothing (the per-event endpoint
        takes keys beyond the featured markets, so the shape is checked, not the catalogue)."""
        if value is not None and (not value or any(not re.fullmatch(r"[a-z0-9_]{1,64}", m) for m in value)):
            raise ValueError(f"markets {value!r}: provider market keys (lower case, digits, _)")
        return value


@contextmanager
def provider_turn(warehouse: WarehouseResource) -> Iterator[None]:
    """One provider asset at a time across processes, held in the warehouse (a file lock beside
    SQLite, an advisory lock on PostgreSQL). The pool should already ensure it, but on SQLite
    Dagster's slot claim reads a free slot and takes it in two statements, so two runs starting
    together can both get it; this lock is what makes the credits and rate limits safe."""
    with locks.named_lock(warehouse.engine(), PROVIDER_POOL, timeout_s=PROVIDER_WAIT_S):
        yield


@asset(
    group_name=GROUP,
    description="Upcoming events per sport, discovered through the provider's free events endpoint.",
    freshness_policy=EVENTS_FRESHNESS,
    kinds={"sql"},
    op_tags=PROVIDER_TAGS,
    retry_policy=PROVIDER_RETRY,
    pool=PROVIDER_POOL,
)
def events(context: AssetExecutionContext, warehouse: WarehouseResource, odds_api: OddsApiResource,
           clock: ClockResource, settings: SettingsResource) -> MaterializeResult:
    with provider_turn(warehouse):
        now = clock.now()
        collector = odds_api.collector(warehouse.engine(), clock.log_time(now))
        discovered = {sport: collector.discover_events(sport, now=now) for sport in settings.get().collection.sports}
        with warehouse.connect() as conn:
            upcoming = queries.upcoming_events(conn, now)
        by_tier = (
            due_events(upcoming, now).group_by("sport_key", "tier").agg(events=pl.len(), due=pl.col("due").sum())
            .sort("sport_key", "events", descending=[False, True])
        )
        return MaterializeResult(metadata={
            "dagster/row_count": upcoming.height,
            "clock": now.isoformat(),
            "discovered": MetadataValue.json({s: r.events for s, r in discovered.items()}),
            "status_changes": MetadataValue.json({s: r.status_changes for s, r in discovered.items()}),
            "upcoming_by_tier": markdown_table(by_tier, limit=30),
            "preview": markdown_table(upcoming.sort("commence_time").select(
                "sport_key", "commence_time", "home_team", "away_team", "last_odds_at")),
        })


@asset(
    group_name=GROUP,
    partitions_def=PARTITIONS,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=checks.specs("odds_snapshots", RAW_SPECS),
    description="Raw provider responses, append-only and stored whole, with fetch tier, hours to "
                "start and quota headers. Live for the clock's current day; for past days, "
                "historical snapshots at the times the tiered sensor would have fetched.",
    kinds={"sql"},
    op_tags=PROVIDER_TAGS,
    retry_policy=PROVIDER_RETRY,
    pool=PROVIDER_POOL,
)
def odds_snapshots(context: AssetExecutionContext, config: OddsConfig, warehouse: WarehouseResource,
                   odds_api: OddsApiResource, clock: ClockResource, settings: SettingsResource) -> MaterializeResult:
    with provider_turn(warehouse):
        now = clock.now()
        collector = odds_api.collector(warehouse.engine(), clock.log_time(now))
        total = IngestResult()
        days = run_days(context)
        parts: list[dict[str, object]] = []
        refuse_after_clock(days, now, "odds cannot be fetched from the future")
        for index, day in enumerate(days, start=1):
            live = config.mode == "live" or (config.mode == "auto" and day.end > now)
            if live and config.event_id:
                result = collector.event_odds(day.sport_key, config.event_id, now=now, derive=False,
                                              markets=config.markets)
            elif live:
                result = collector.live_odds(day.sport_key, now=now, derive=False, markets=config.markets)
            else:
                def progress(plan, status, _day=day):  # type: ignore[no-untyped-def]
                    context.log.debug(f"{_day.sport_key} {plan.at.isoformat()} {plan.tier}: {status}")
                result = collector.backfill_day(day.sport_key, day.start, min(day.end, now), progress=progress)
            total.add(result)
            parts.append({"partition": str(day.key), "snapshots_new": result.snapshots,
                          "snapshots_already_stored": result.duplicate_snapshots})
            context.log.info(f"[{index}/{len(days)}] {day.sport_key} {day.day} ({'live' if live else 'history'}): "
                             f"{result.snapshots} new snapshots ({result.incomplete_snapshots} incomplete)")
        with warehouse.connect() as conn:
            held = _partition_snapshots(conn, days, set(total.snapshot_ids))
            scopes = queries.snapshot_events(conn, [s.snapshot_id for s in held if s.source == "event"])
            preview = queries.snapshots_preview(conn, total.snapshot_ids)
            remaining = queries.credits_remaining(conn)
        mode = settings.get().quality.mode
        outcomes = {o.name: o for o in total.outcomes}
        outcomes["required_fields"] = complete = quality.snapshots_complete(held, scopes)
        if total.errors:
            raise Failure(f"{len(total.errors)} provider answers could not be read (kept in fetch_log and "
                          f"data_quality_log; {collector.credits_charged} credits charged): "
                          + "; ".join(total.errors[:3]),
                          metadata={"credits_charged": collector.credits_charged})
        results = [checks.result(outcomes.get(name) or quality.CheckOutcome(name, 0), mode) for name in RAW_SPECS]
        return MaterializeResult(
            metadata=per_partition({
                "dagster/row_count": total.snapshots,
                "snapshots_new": total.snapshots,
                "snapshots_already_stored": total.duplicate_snapshots,
                "snapshots_incomplete": complete.errors,
                "events": preview["events"].max() if not preview.is_empty() else 0,
                "bookmakers": len(total.bookmakers),
                "credits_spent": collector.credits_charged,
                "credits_remaining": remaining if remaining is not None else MetadataValue.null(),
                "fetches_by_tier": MetadataValue.json(total.tiers),
                "preview": markdown_table(preview, limit=12),
                "dagster/column_schema": column_schema({
                    "snapshot_id": pl.Int64, "sport_key": pl.String, "source": pl.String, "as_of": pl.Datetime(),
                    "fetched_at": pl.Datetime(), "fetch_tier": pl.String, "hours_to_commence": pl.Float64,
                    "requests_remaining": pl.Int64, "requests_last": pl.Int64, "payload": pl.String,
                }),
            }, [p["partition"] for p in parts], parts),  # type: ignore[misc]
            check_results=results,
        )


def _partition_snapshots(conn, days: list[SportDay], fetched: set[int]) -> list:  # type: ignore[no-untyped-def, type-arg]
    """The snapshots the partition holds (stamped on its days) and those this run fetched
    (a historical answer may be stamped a little earlier), judged with their neighbours so a
    complete re-fetch of the same time counts."""
    held = []
    for day in days:
        heads = queries.snapshot_heads(conn, day.sport_key, day.start - PARTITION_LOOKBACK, day.end)
        scopes = queries.snapshot_events(conn, [s.snapshot_id for s in heads if s.source == "event"])
        current = {s.snapshot_id for s in quality.current_snapshots(heads, scopes)}
        held.extend(s for s in heads if s.snapshot_id in current and (s.as_of >= day.start or s.snapshot_id in fetched))
    return held


@asset(
    group_name=GROUP,
    partitions_def=PARTITIONS,
    backfill_policy=BackfillPolicy.single_run(),
    deps=[odds_snapshots],
    check_specs=checks.specs("normalized_odds", NORMALIZED_SPECS),
    description="One row per event, bookmaker, market, outcome, point and snapshot time, rebuilt "
                "idempotently from the raw snapshots of the partition.",
    kinds={"polars", "sql"},
)
def normalized_odds(context: AssetExecutionContext, warehouse: WarehouseResource,
                    odds_api: OddsApiResource, settings: SettingsResource) -> MaterializeResult:
    collector = odds_api.collector(warehouse.engine())
    mode = settings.get().quality.mode
    outcomes: list[quality.CheckOutcome] = []
    frames: list[pl.DataFrame] = []
    snapshots = rows = rejected = 0
    parts: list[dict[str, object]] = []
    for day in run_days(context):
        rebuilt = collector.rebuild(day.sport_key, day.start, day.end)
        outcomes = quality.merge(outcomes, rebuilt.outcomes)
        snapshots, rows, rejected = snapshots + rebuilt.snapshots, rows + rebuilt.rows, rejected + rebuilt.rejected
        with warehouse.connect() as conn:
            frames.append(queries.normalized_between(conn, day.sport_key, day.start, day.end))
        parts.append({"partition": str(day.key), "rows": frames[-1].height, "snapshots": rebuilt.snapshots,
                      "events": frames[-1]["event_id"].n_unique()})
    stored = pl.concat(frames) if frames else pl.DataFrame(schema=NORMALIZED_SCHEMA)
    outcomes.append(expectations.validate_normalized(stored))
    by_name = {o.name: o for o in outcomes}
    with warehouse.connect() as conn:
        named = {f.event_id for o in outcomes for f in o.findings[:500] if f.event_id}
        names = queries.match_names(conn, sorted(named))
    results = [checks.result(by_name.get(name) or quality.CheckOutcome(name, 0), mode, names=names)
               for name in NORMALIZED_SPECS]
    per_market = stored.group_by("market").agg(rows=pl.len(), events=pl.col("event_id").n_unique(),
                                                bookmakers=pl.col("bookmaker").n_unique()).sort("market")
    return MaterializeResult(
        metadata=per_partition({
            "dagster/row_count": stored.height,
            "rows": stored.height,
            "snapshots": snapshots,
            "events": stored["event_id"].n_unique(),
            "bookmakers": stored["bookmaker"].n_unique(),
            "invalid_rows": stored.filter(~pl.col("is_valid")).height,
            "rejected_rows": rejected,
            "quality_mode": str(mode),
            "by_market": markdown_table(per_market),
            "preview": markdown_table(stored.sort("snapshot_time", "event_id").select(
                "snapshot_time", "event_id", "bookmaker", "market", "outcome", "point", "price_decimal",
                "implied_prob")),
            "dagster/column_schema": column_schema(NORMALIZED_SCHEMA),
        }, [p["partition"] for p in parts], parts),  # type: ignore[misc]
        check_results=results,
    )


@asset(
    group_name=GROUP,
    partitions_def=PARTITIONS,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=checks.specs("scores", {"scores_sane": "Scores are non-negative integers; a final "
                                                       "event has both; an event that started more than 6 h "
                                                       "ago has its result."}),
    description="Results and the event lifecycle (scheduled, live, final, cancelled, postponed) for "
                "the events starting in the partition. The provider's scores endpoint reaches three "
                "days back; older history takes final scores from BETTING_RESULTS_DATA.",
    freshness_policy=SCORES_FRESHNESS,
    kinds={"sql"},
    op_tags=PROVIDER_TAGS,
    retry_policy=PROVIDER_RETRY,
    pool=PROVIDER_POOL,
)
def scores(context: AssetExecutionContext, warehouse: WarehouseResource, odds_api: OddsApiResource,
           clock: ClockResource, settings: SettingsResource) -> MaterializeResult:
    with provider_turn(warehouse):
        cfg = settings.get()
        now = clock.now()
        collector = odds_api.collector(warehouse.engine(), clock.log_time(now))
        by_sport: dict[str, list[SportDay]] = defaultdict(list)
        for day in run_days(context):
            by_sport[day.sport_key].append(day)
        refuse_after_clock([d for days in by_sport.values() for d in days], now, "its results cannot be known yet")
        updated = 0
        results_frame: pl.DataFrame | None = None
        unresolved: list[str] = []
        errors: list[str] = []
        for sport, days in by_sport.items():
            if any(d.end > now - SCORES_WINDOW and d.start <= now for d in days):
                result = collector.scores(sport, days_from=3)
                updated += result.events
                errors.extend(result.errors)
            old = [d for d in days if d.end <= now - SCORES_WINDOW]
            if old and cfg.collection.results_data is not None:
                if results_frame is None:
                    from betting_assets.sources.football_data import read_football_data

                    results_frame = read_football_data(cfg.collection.results_data).events
                for day in old:
                    updated += collector.import_results(results_frame, sport, day.start, day.end)
            elif old:
                unresolved.extend(f"{d.sport_key} {d.day}" for d in old)
        if errors:
            raise Failure(f"the scores answer could not be read ({collector.credits_charged} credits charged; the body "
                          "is kept in fetch_log): " + "; ".join(errors[:3]),
                          metadata={"credits_charged": collector.credits_charged})
        if unresolved:
            context.log.warning(f"{len(unresolved)} partitions are older than the provider's scores window and "
                                "BETTING_RESULTS_DATA is not set: their results stay unknown")
        with warehouse.connect() as conn:
            frame = pl.concat([queries.events_between(conn, d.sport_key, d.start, d.end)
                               for days in by_sport.values() for d in days])
        outcome = quality.scores_sanity(frame, now)
        with warehouse.engine().begin() as conn:
            writes.record_findings(conn, outcome.findings, source="scores")
        status = frame.group_by("status").agg(events=pl.len()).sort("status")
        keys = [str(d.key) for days in by_sport.values() for d in days]
        day_key = pl.concat_str("sport_key", pl.lit("|"), pl.col("commence_time").dt.date().cast(pl.String))
        counted = {r["partition"]: r for r in frame.group_by(day_key.alias("partition")).agg(
            events=pl.len(), final=(pl.col("status") == EventStatus.FINAL).sum()).iter_rows(named=True)}
        parts = [{"partition": k, "events": counted.get(k, {}).get("events", 0),
                  "final": counted.get(k, {}).get("final", 0)}
                 for k in keys]
        return MaterializeResult(
            metadata=per_partition({
                "dagster/row_count": frame.height,
                "events": frame.height,
                "updated": updated,
                "credits_spent": collector.credits_charged,
                "by_status": markdown_table(status),
                "without_results_source": len(unresolved),
                "preview": markdown_table(frame.filter(pl.col("status") == EventStatus.FINAL).sort("commence_time").select(
                    "commence_time", "home_team", "away_team", "home_score", "away_score")),
            }, keys, parts),
            check_results=[checks.result(outcome, cfg.quality.mode)],
        )


@asset(
    group_name=GROUP,
    partitions_def=PLAN_PARTITIONS,
    backfill_policy=BackfillPolicy.single_run(),
    deps=[events],
    description="The provider calls the credit budget buys, per sport and day: a snapshot before every "
                "decision time, a closing snapshot, a scores poll after each game, then line movement by "
                "tier while credits last. The odds and scores sensors make exactly these calls.",
    kinds={"sql"},
)
def collection_plan(context: AssetExecutionContext, warehouse: WarehouseResource, odds_api: OddsApiResource,
                    clock: ClockResource, settings: SettingsResource) -> MaterializeResult:
    cfg = settings.get()
    now = clock.now()
    days = run_days(context)
    sports = sorted({d.sport_key for d in days})
    start, end = min(d.start for d in days), max(d.end for d in days)
    if end <= now:
        raise Failure(f"a plan is for days to come: {days[-1].key} ended before the clock ({now.isoformat()})",
                      allow_retries=False)
    remaining = None
    with warehouse.connect() as conn:
        went_back = clock_went_back(now, plan_store.last_planned(conn))
        known, _ = health.credits(conn, now, now)
    if went_back:
        raise Failure(went_back, allow_retries=False)
    if known is None and cfg.collection.credit_budget is None:
        with provider_turn(warehouse):         # the free sports list says what the plan has to spend
            remaining = odds_api.collector(warehouse.engine(), clock.log_time(now)).client.sports().quota.remaining
    live = planning.live_plan(warehouse.engine(), cfg, now, end, remaining)
    with warehouse.engine().begin() as conn:
        stored = plan_store.replace_plan(conn, live.rows(), now, sports, start, end)
        held = plan_store.plan_frame(conn, start, end, sports)
    ahead = held.filter(pl.col("at") >= now)
    table = planning.by_sport_day(held)
    parts = [{"partition": str(d.key), **_day_totals(table, d)} for d in days]
    plan = live.plan
    shares = {f"{name}_share_%": MetadataValue.float(round(100 * plan.share(key), 1))
              for key, name in ((DECISION, "decision"), (CLOSING, "closing"), (RESULTS, "results"))}
    context.log.info(f"{stored} calls planned from {now.isoformat()} for {len(sports)} sports; budget "
                     f"{live.budget if live.budget is not None else 'unlimited'} ({live.budget_source}), "
                     f"{live.spent:,} spent this period")
    return MaterializeResult(metadata=per_partition({
        "dagster/row_count": stored,
        "calls_planned": stored,
        "credits_planned": int(ahead["credits"].sum()),
        "credits_planned_this_period": plan.spent_by_period.get(live.period_start, 0),
        "budget": live.budget if live.budget is not None else MetadataValue.null(),
        "budget_source": live.budget_source,
        "credits_spent_this_period": live.spent,
        "credits_left_this_period": live.left if live.left is not None else MetadataValue.null(),
        "period_start": live.period_start.isoformat(),
        "events": plan.events,
        **{f"{name}_events": plan.counted[key] for key, name in
           ((DECISION, "decision"), (CLOSING, "closing"), (RESULTS, "results"))},
        **shares,
        "snapshots_per_event": MetadataValue.float(round(plan.snapshots_per_event, 1)),
        "next_calls": markdown_table(ahead.select(
            "at", "sport_key", "priority", "endpoint", "event_id", "markets", "credits", "events_served"), limit=15),
        "clock": now.isoformat(),
    }, [p["partition"] for p in parts], parts))  # type: ignore[misc]


def _day_totals(table: pl.DataFrame, day: SportDay) -> dict[str, object]:
    mine = table.filter((pl.col("sport_key") == day.sport_key) & (pl.col("day") == day.day.isoformat()))
    by = {r["priority"]: r for r in mine.iter_rows(named=True)}
    return {"calls": int(mine["calls"].sum()), "credits": int(mine["credits"].sum()),
            **{f"{p}_calls": int(by[p]["calls"]) if p in by else 0 for p in (DECISION, CLOSING, RESULTS, MOVEMENT)}}
