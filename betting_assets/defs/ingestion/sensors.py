"""The fetch and scores sensors.

They read the warehouse and the clock, call ``domain.fetch_decisions`` and turn its decision
into run requests; everything they decide is written to the tick log. A provider whose clock
does not answer is a skip that says so, never a failed tick.
"""

import json
from datetime import timedelta

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from betting_assets.defs.ingestion.jobs import collect_odds, collect_scores
from betting_assets.defs.partitions import partition_key
from betting_assets.defs.resources import (
    ClockResource,
    OddsApiResource,
    SettingsResource,
    WarehouseResource,
    now_or_skip,
)
from betting_assets.domain.fetch_decisions import decide_fetches, decide_scores
from betting_assets.sources.odds_api import estimate_cost
from betting_assets.warehouse import queries


@sensor(job=collect_odds, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Requests one odds run per sport whose most urgent upcoming event is due for its tier.")
def odds_fetch_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource,
                      odds_api: OddsApiResource, clock: ClockResource,
                      settings: SettingsResource) -> SensorResult | SkipReason:
    cfg = settings.get()
    now = now_or_skip(clock, "odds not fetched")
    if isinstance(now, SkipReason):
        return now
    with warehouse.connect() as conn:
        upcoming = queries.upcoming_events(conn, now, cfg.collection.sports)
        remaining = queries.credits_remaining(conn)
    decision = decide_fetches(
        upcoming, now, remaining=remaining, reserve=cfg.collection.credit_reserve,
        cost_per_call=estimate_cost(cfg.collection.markets, cfg.collection.regions, cfg.collection.bookmakers),
        cursor=json.loads(context.cursor) if context.cursor else None,
        retry_after=timedelta(minutes=cfg.collection.fetch_retry_minutes),
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
                  clock: ClockResource, settings: SettingsResource) -> SensorResult | SkipReason:
    cfg = settings.get()
    now = now_or_skip(clock, "scores not polled")
    if isinstance(now, SkipReason):
        return now
    with warehouse.connect() as conn:
        awaiting = queries.awaiting_scores(conn, now, sports=cfg.collection.sports)
        remaining = queries.credits_remaining(conn)
    polls, log = decide_scores(awaiting, now, poll_every=timedelta(minutes=cfg.collection.scores_poll_minutes),
                               remaining=remaining, reserve=cfg.collection.credit_reserve)
    for line in log:
        context.log.info(line)
    if not polls:
        return SkipReason(f"{now.isoformat()}: {'; '.join(log)}")
    return SensorResult(run_requests=[
        RunRequest(run_key=poll.run_key, partition_key=partition_key(poll.sport_key, now.date()),
                   tags={"betting/awaiting": str(poll.awaiting)})
        for poll in polls
    ])
