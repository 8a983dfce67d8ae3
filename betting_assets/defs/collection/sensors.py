"""The collection sensors: one refreshes the fixture list, one keeps the collection plan
current, the odds and scores sensors make its calls as they come due.

They read the warehouse and the clock, call ``domain.fetch_decisions`` and turn its decision
into run requests; everything they decide is written to the tick log. A provider whose clock
does not answer is a skip that says so, never a failed tick.
"""

import json
from datetime import datetime, timedelta

import polars as pl
from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor
from sqlalchemy import Connection

from betting_assets.defs.cadence import every
from betting_assets.defs.collection.jobs import collect_odds, collect_scores, discover_events, plan_collection
from betting_assets.defs.partitions import partition_key, plan_end, plan_range
from betting_assets.defs.resources import ClockResource, SettingsResource, WarehouseResource, now_or_skip
from betting_assets.domain.collection.collection_plan import EVENT_ODDS, ODDS, SCORES
from betting_assets.domain.collection.fetch_decisions import (
    MADE_SKEW,
    TickDecision,
    clock_went_back,
    follow_plan,
    late_results,
    plan_key,
    replan_reason,
)
from betting_assets.domain.data.quality import RESULT_GRACE
from betting_assets.settings import Settings
from betting_assets.warehouse import plan as plan_store
from betting_assets.warehouse import queries


@sensor(job=discover_events, minimum_interval_seconds=every(60), default_status=DefaultSensorStatus.RUNNING,
        description="Refreshes the fixture list every BETTING_DISCOVERY_MINUTES (an hour) of the product's clock; "
                    "the events endpoint is free.")
def discovery_sensor(context: SensorEvaluationContext, clock: ClockResource,
                     settings: SettingsResource) -> SensorResult | SkipReason:
    """A sensor and not a cron schedule: a schedule ticks on the machine's clock, so on the
    sandbox, whose clock a season or a test moves, it would discover at the wrong times."""
    now = now_or_skip(clock, "fixture list not refreshed")
    if isinstance(now, SkipReason):
        return now
    every_ = timedelta(minutes=settings.get().collection.discovery_minutes)
    last = datetime.fromisoformat(context.cursor) if context.cursor else None
    if last is not None and last <= now < last + every_:
        return SkipReason(f"fixture list refreshed at {last.isoformat()}; next at {(last + every_).isoformat()}")
    return SensorResult(run_requests=[RunRequest(run_key=f"discover:{now.isoformat()}",
                                                 tags={"betting/clock_at": now.isoformat()})],
                        cursor=now.isoformat())


@sensor(job=plan_collection, minimum_interval_seconds=every(60), default_status=DefaultSensorStatus.RUNNING,
        description="Makes the collection plan again when the fixture list changes and at each new day.")
def collection_plan_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource, clock: ClockResource,
                           settings: SettingsResource) -> SensorResult | SkipReason:
    now = now_or_skip(clock, "plan not checked")
    if isinstance(now, SkipReason):
        return now
    sports = list(settings.get().collection.sports)
    with warehouse.connect() as conn:
        went_back = clock_went_back(now, plan_store.last_planned(conn))
        fixtures = plan_store.schedule(conn, now, plan_end(now.date()), sports, RESULT_GRACE)
    if went_back:
        return SkipReason(went_back)
    key = plan_key(fixtures, now)
    reason = replan_reason(context.cursor, key)
    if reason is None:
        return SkipReason(f"the plan asked for is current: {fixtures.height} events, the fixture list unchanged today")
    context.log.info(f"{reason}: planning again from {now.isoformat()} for {fixtures.height} events")
    return SensorResult(run_requests=[RunRequest(run_key=f"{key}|{now.isoformat()}",
                                                 tags={**plan_range(sports, now.date()), "betting/replan": reason})],
                        cursor=key)


@sensor(job=collect_odds, minimum_interval_seconds=every(60), default_status=DefaultSensorStatus.RUNNING,
        description="Makes the collection plan's odds calls (sport-wide or per event) as they come due.")
def odds_fetch_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource, clock: ClockResource,
                      settings: SettingsResource) -> SensorResult | SkipReason:
    cfg = settings.get()
    now = now_or_skip(clock, "odds not fetched")
    if isinstance(now, SkipReason):
        return now
    with warehouse.connect() as conn:
        if not plan_store.has_plan(conn):
            return SkipReason(f"{now.isoformat()}: no collection plan yet (collection_plan_sensor asks for one, or "
                              "materialise collection_plan)")
        decision, _ = _decide(context, conn, cfg, now, (ODDS, EVENT_ODDS), timedelta(days=1))
    if not decision.requests:
        return SkipReason(f"{now.isoformat()}: {decision.skip_reason}")
    requests = []
    for fetch in decision.requests:
        context.log.info(f"{fetch.sport_key}: {', '.join(fetch.priorities)} call planned at {fetch.at.isoformat()} "
                         f"({fetch.endpoint}{' ' + fetch.event_id if fetch.event_id else ''}, "
                         f"{','.join(fetch.markets)}, up to {fetch.credits} credits)")
        requests.append(RunRequest(
            run_key=fetch.run_key,
            partition_key=partition_key(fetch.sport_key, now.date()),
            run_config={"ops": {"odds_snapshots": {"config": {
                "mode": "live", "markets": fetch.markets, "event_id": fetch.event_id}}}},
            tags={"betting/priority": ",".join(fetch.priorities), "betting/planned_at": fetch.at.isoformat(),
                  "betting/endpoint": fetch.endpoint},
        ))
    return SensorResult(run_requests=requests, cursor=json.dumps(decision.cursor, sort_keys=True))


@sensor(job=collect_scores, minimum_interval_seconds=every(120), default_status=DefaultSensorStatus.RUNNING,
        description="Makes the collection plan's scores polls, and polls again for a game still without a result "
                    "after its planned poll.")
def scores_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource, clock: ClockResource,
                  settings: SettingsResource) -> SensorResult | SkipReason:
    cfg = settings.get()
    now = now_or_skip(clock, "scores not polled")
    if isinstance(now, SkipReason):
        return now
    with warehouse.connect() as conn:
        decision, made = _decide(context, conn, cfg, now, (SCORES,), timedelta(days=3))
        awaiting = queries.awaiting_scores(conn, now, sports=cfg.collection.sports)
    late = late_results(awaiting, made, now, RESULT_GRACE)
    waiting = {str(s): g.height for (s,), g in awaiting.group_by("sport_key")} if awaiting.height else {}
    requests = [RunRequest(run_key=poll.run_key, partition_key=partition_key(poll.sport_key, now.date()),
                           tags={"betting/awaiting": str(waiting.get(poll.sport_key, 0)),
                                 "betting/planned_at": poll.at.isoformat()})
                for poll in decision.requests]
    planned_sports = {poll.sport_key for poll in decision.requests}
    for poll in late:
        if poll.sport_key not in planned_sports:
            context.log.info(f"{poll.sport_key}: {poll.late} games past their planned poll without a result; "
                             "polling again")
            requests.append(RunRequest(run_key=poll.run_key, partition_key=partition_key(poll.sport_key, now.date()),
                                       tags={"betting/awaiting": str(poll.late), "betting/late": "true"}))
    if not requests:
        return SkipReason(f"{now.isoformat()}: {decision.skip_reason}")
    return SensorResult(run_requests=requests, cursor=json.dumps(decision.cursor, sort_keys=True))


def _decide(context: SensorEvaluationContext, conn: Connection, cfg: Settings, now: datetime,
            endpoints: tuple[str, ...], lookback: timedelta) -> tuple[TickDecision, pl.DataFrame]:
    """The plan's calls of ``endpoints`` due now and not made (calls made over ``lookback``
    count), logged to the tick; and the calls made, for what else the sensor weighs."""
    made = plan_store.calls_made(conn, now - lookback, now + MADE_SKEW)
    decision = follow_plan(plan_store.due_calls(conn, now, cfg.collection.sports), made, now, endpoints=endpoints,
                           remaining=queries.credits_remaining(conn), reserve=cfg.collection.credit_reserve,
                           cursor=json.loads(context.cursor) if context.cursor else None,
                           retry_after=timedelta(minutes=cfg.collection.fetch_retry_minutes))
    for line in decision.log:
        context.log.info(line)
    return decision, made
