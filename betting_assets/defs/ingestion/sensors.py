"""Jobs, sensors and the discovery schedule of the ingestion stage.

The sensors read the warehouse and the clock, call ``domain.fetch_decisions`` and turn its
decision into run requests; everything they decide is written to the tick log.
"""


import json
from datetime import timedelta

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    sensor,
)

from betting_assets.defs.ingestion.assets import PARTITIONS, PROVIDER_TAGS, events, normalized_odds, odds_snapshots, scores
from betting_assets.defs.ingestion.partitions import partition_key
from betting_assets.defs.resources import ClockResource, OddsApiResource, ProviderUnreachable, WarehouseResource
from betting_assets.domain.fetch_decisions import decide_fetches, decide_scores
from betting_assets.settings import get_settings
from betting_assets.sources.odds_api import estimate_cost
from betting_assets.warehouse import queries

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

discovery_schedule = ScheduleDefinition(
    name="discover_events_hourly", job=discover_events, cron_schedule="7 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="The events endpoint is free: refresh the fixture list every hour.",
)


@sensor(job=collect_odds, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Requests one odds run per sport whose most urgent upcoming event is due for its tier.")
def odds_fetch_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource,
                      odds_api: OddsApiResource, clock: ClockResource) -> SensorResult | SkipReason:
    settings = odds_api.settings()
    try:
        now = clock.now()
    except ProviderUnreachable as exc:
        return SkipReason(f"odds not fetched: {exc}; the cursor is kept")
    with warehouse.connect() as conn:
        upcoming = queries.upcoming_events(conn, now, settings.sports)
        remaining = queries.credits_remaining(conn)
    decision = decide_fetches(
        upcoming, now, remaining=remaining, reserve=settings.credit_reserve,
        cost_per_call=estimate_cost(settings.markets, settings.regions, settings.bookmakers),
        cursor=json.loads(context.cursor) if context.cursor else None,
        retry_after=timedelta(minutes=settings.fetch_retry_minutes),
    )
    for line in decision.log:
        context.log.info(line)
    if not decision.requests:
        return SkipReason(f"{now.isoformat()}: {decision.skip_reason}")
    requests = []
    for fetch in decision.requests:
        context.log.info(f"{fetch.sport_key}: {fetch.due_events} of {fetch.upcoming_events} upcoming due "
                         f"({fetch.tier} tier, nearest in {fetch.hours_to_nearest:.2f} h)")
        requests.append(RunRequest(
            run_key=fetch.run_key,
            partition_key=partition_key(fetch.sport_key, now.date()),
            run_config={"ops": {"odds_snapshots": {"config": {"mode": "live"}}}},
            tags={"betting/tier": fetch.tier, "betting/due_events": str(fetch.due_events)},
        ))
    return SensorResult(run_requests=requests, cursor=json.dumps(decision.cursor, sort_keys=True))


@sensor(job=collect_scores, minimum_interval_seconds=120, default_status=DefaultSensorStatus.RUNNING,
        description="Polls scores for started, unfinished events until they are final.")
def scores_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource,
                  clock: ClockResource) -> SensorResult | SkipReason:
    settings = get_settings()
    try:
        now = clock.now()
    except ProviderUnreachable as exc:
        return SkipReason(f"scores not polled: {exc}")
    with warehouse.connect() as conn:
        awaiting = queries.awaiting_scores(conn, now, sports=settings.sports)
        remaining = queries.credits_remaining(conn)
    polls, log = decide_scores(awaiting, now, poll_every=timedelta(minutes=settings.scores_poll_minutes),
                               remaining=remaining, reserve=settings.credit_reserve)
    for line in log:
        context.log.info(line)
    if not polls:
        return SkipReason(f"{now.isoformat()}: {'; '.join(log)}")
    return SensorResult(run_requests=[
        RunRequest(run_key=poll.run_key, partition_key=partition_key(poll.sport_key, now.date()),
                   tags={"betting/awaiting": str(poll.awaiting)})
        for poll in polls
    ])


INGESTION_JOBS = [collect_odds, collect_scores, ingest_history, discover_events]
INGESTION_SENSORS = [odds_fetch_sensor, scores_sensor]
INGESTION_SCHEDULES = [discovery_schedule]
