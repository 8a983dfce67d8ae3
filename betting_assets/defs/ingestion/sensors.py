"""The collection sensors: one keeps the collection plan current, the odds and scores sensors
make its calls as they come due.

They read the warehouse and the clock, call ``domain.fetch_decisions`` and turn its decision
into run requests; everything they decide is written to the tick log. A provider whose clock
does not answer is a skip that says so, never a failed tick.
"""

import json
from datetime import timedelta

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from betting_assets.defs.ingestion.jobs import collect_odds, collect_scores, plan_collection
from betting_assets.defs.partitions import partition_key, plan_range
from betting_assets.defs.resources import ClockResource, SettingsResource, WarehouseResource, now_or_skip
from betting_assets.domain.collection_plan import EVENT_ODDS, MOVEMENT_GRACE, ODDS, SCORES
from betting_assets.domain.fetch_decisions import follow_plan, late_results, plan_stale
from betting_assets.domain.quality import RESULT_GRACE
from betting_assets.warehouse import plan as plan_store
from betting_assets.warehouse import queries

MADE_SKEW = timedelta(minutes=5)
"""a call logged a moment after the clock was read still counts as made by now"""


@sensor(job=plan_collection, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Makes the collection plan again after each read of the fixture list and at each new day.")
def collection_plan_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource, clock: ClockResource,
                           settings: SettingsResource) -> RunRequest | SkipReason:
    now = now_or_skip(clock, "plan not checked")
    if isinstance(now, SkipReason):
        return now
    with warehouse.connect() as conn:
        discovered, planned = plan_store.last_discovery(conn), plan_store.last_planned(conn)
    reason = plan_stale(discovered, planned, now)
    if reason is None:
        return SkipReason(f"the plan of {planned.isoformat() if planned else '-'} is current")
    context.log.info(f"{reason}: planning again from {now.isoformat()}")
    sports = settings.get().collection.sports
    stamp = discovered.isoformat() if discovered else "never"
    return RunRequest(run_key=f"plan|{stamp}|{now.date().isoformat()}",
                      tags={**plan_range(list(sports), now.date()), "betting/replan": reason[:200]})


@sensor(job=collect_odds, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Makes the collection plan's odds calls (sport-wide or per event) as they come due.")
def odds_fetch_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource, clock: ClockResource,
                      settings: SettingsResource) -> SensorResult | SkipReason:
    cfg = settings.get()
    now = now_or_skip(clock, "odds not fetched")
    if isinstance(now, SkipReason):
        return now
    with warehouse.connect() as conn:
        if plan_store.last_planned(conn) is None:
            return SkipReason(f"{now.isoformat()}: no collection plan yet (collection_plan_sensor asks for one once "
                              "the fixture list is read, or materialise collection_plan)")
        due = plan_store.due_calls(conn, now, cfg.collection.sports, MOVEMENT_GRACE)
        made = plan_store.calls_made(conn, now - timedelta(days=1), now + MADE_SKEW)
        remaining = queries.credits_remaining(conn)
    decision = follow_plan(due, made, now, endpoints=(ODDS, EVENT_ODDS), remaining=remaining,
                           reserve=cfg.collection.credit_reserve,
                           cursor=json.loads(context.cursor) if context.cursor else None,
                           retry_after=timedelta(minutes=cfg.collection.fetch_retry_minutes))
    for line in decision.log:
        context.log.info(line)
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


@sensor(job=collect_scores, minimum_interval_seconds=120, default_status=DefaultSensorStatus.RUNNING,
        description="Makes the collection plan's scores polls, and polls again for a game still without a result "
                    "after its planned poll.")
def scores_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource, clock: ClockResource,
                  settings: SettingsResource) -> SensorResult | SkipReason:
    cfg = settings.get()
    now = now_or_skip(clock, "scores not polled")
    if isinstance(now, SkipReason):
        return now
    with warehouse.connect() as conn:
        due = plan_store.due_calls(conn, now, cfg.collection.sports, MOVEMENT_GRACE)
        made = plan_store.calls_made(conn, now - timedelta(days=3), now + MADE_SKEW)
        awaiting = queries.awaiting_scores(conn, now, sports=cfg.collection.sports)
        remaining = queries.credits_remaining(conn)
    decision = follow_plan(due, made, now, endpoints=(SCORES,), remaining=remaining,
                           reserve=cfg.collection.credit_reserve,
                           cursor=json.loads(context.cursor) if context.cursor else None,
                           retry_after=timedelta(minutes=cfg.collection.fetch_retry_minutes))
    late = late_results(awaiting, made, now, RESULT_GRACE)
    for line in decision.log:
        context.log.info(line)
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
