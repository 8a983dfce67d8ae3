"""Retraining on the product's clock: every ``BETTING_MODEL_RETRAIN_DAYS`` the features of the
days since the last retraining are built, then ``train_model`` runs on them, its out-of-time
evaluation the last ``BETTING_MODEL_HOLDOUT_DAYS``. The champion alias moves only when the new
version wins there (the training's own gate), so a retraining never makes the live model worse
on what it was judged on.

A sensor and not a schedule: a schedule ticks on the machine's clock, which a season on the
sandbox does not follow. It is off by default, as training costs minutes of CPU each time;
start it in the UI (Automation) or with ``dagster sensor start retrain_sensor``.
"""

import json
from datetime import date, datetime, timedelta
from typing import Any

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from betting_assets.defs.cadence import every
from betting_assets.defs.features.jobs import build_features
from betting_assets.defs.modelling.jobs import train_model
from betting_assets.defs.partitions import partition_key
from betting_assets.defs.resources import ClockResource, SettingsResource, now_or_skip

RETRAIN_TAG = "betting/retrain"
LATE_RESULTS = timedelta(days=3)
"""a day's features are built again this long after: the results that label them may come late"""
FEATURE_ATTEMPTS = 3
"""a sport's features are asked for this many times in a cycle before its training is put off"""


@sensor(jobs=[build_features, train_model], minimum_interval_seconds=every(60),
        default_status=DefaultSensorStatus.STOPPED,
        description="Every BETTING_MODEL_RETRAIN_DAYS of the product's clock: the features of the days since the "
                    "last retraining, then train_model on them (the champion moves only past its gate).")
def retrain_sensor(context: SensorEvaluationContext, clock: ClockResource,
                   settings: SettingsResource) -> SensorResult | SkipReason:
    """The cursor keeps the cycle, its phase and ``from``: the first day whose features are not
    known built. It moves on only once every sport's features were built, so days a failed run
    left out are built again by the next cycle, and a training never runs on features missing
    from its own out-of-time days."""
    now = now_or_skip(clock, "no retraining")
    if isinstance(now, SkipReason):
        return now
    cfg = settings.get()
    state = json.loads(context.cursor) if context.cursor else {}
    if state.get("phase") == "features":
        return _after_features(context, cfg.model.holdout_days, state, now)
    period = timedelta(days=cfg.model.retrain_days)
    cycle = datetime.fromisoformat(state["cycle"]) if state.get("cycle") else None
    if cycle is None:   # the period counts from when the sensor was started: train_model by hand for a model now
        return SensorResult(skip_reason=f"retraining every {cfg.model.retrain_days} days from {now.isoformat()}; "
                            f"the first at {(now + period).isoformat()}",
                            cursor=json.dumps({"cycle": now.isoformat(), "phase": "started"}))
    if cycle <= now < cycle + period:
        return SkipReason(f"retrained at {cycle.isoformat()}; next at {(cycle + period).isoformat()}")
    first = date.fromisoformat(state["from"]) if state.get("from") else \
        ((cycle if cycle <= now else now - period) - LATE_RESULTS).date()
    days = [first + timedelta(days=i) for i in range((now.date() - first).days)]
    if not days:
        return SkipReason(f"{now.isoformat()}: no finished day to build features for")
    sports = list(cfg.collection.sports)
    context.log.info(f"retraining at {now.isoformat()}: features of {days[0]}..{days[-1]} for {', '.join(sports)}")
    cursor = {"cycle": now.isoformat(), "phase": "features", "from": days[0].isoformat(), "to": days[-1].isoformat(),
              "attempts": {sport: 1 for sport in sports}}
    return SensorResult(run_requests=[_features(cursor, sport) for sport in sports], cursor=json.dumps(cursor))


def _features(cursor: dict[str, Any], sport: str) -> RunRequest:
    attempt = cursor["attempts"][sport]
    return RunRequest(
        run_key=f"retrain:{cursor['cycle']}:features:{sport}:{attempt}", job_name=build_features.name,
        tags={RETRAIN_TAG: cursor["cycle"], "betting/sport": sport, "betting/attempt": str(attempt),
              "dagster/asset_partition_range_start": str(partition_key(sport, date.fromisoformat(cursor["from"]))),
              "dagster/asset_partition_range_end": str(partition_key(sport, date.fromisoformat(cursor["to"])))})


def _after_features(context: SensorEvaluationContext, holdout_days: int, state: dict[str, Any],
                    now: datetime) -> SensorResult | SkipReason:
    """The cycle's features runs ended: train, ask again for a sport whose run failed, or put
    the training off to the next cycle once a sport has failed ``FEATURE_ATTEMPTS`` times."""
    cycle = state["cycle"]
    runs = context.instance.get_runs(RunsFilter(job_name=build_features.name, tags={RETRAIN_TAG: cycle}))
    latest: dict[str, Any] = {}
    for run in runs:
        sport, attempt = run.tags.get("betting/sport"), int(run.tags.get("betting/attempt", "1"))
        if sport in state["attempts"] and attempt == state["attempts"][sport]:
            latest[sport] = run
    if len(latest) < len(state["attempts"]) or not all(r.is_finished for r in latest.values()):
        return SkipReason(f"retraining of {cycle}: features building ({len(latest)} of {len(state['attempts'])} "
                          "sports' runs launched)")
    failed = sorted(s for s, r in latest.items() if r.status != DagsterRunStatus.SUCCESS)
    if failed:
        again = [s for s in failed if state["attempts"][s] < FEATURE_ATTEMPTS]
        if len(again) < len(failed):
            context.log.warning(f"retraining of {cycle}: the features of {', '.join(failed)} failed "
                                f"{FEATURE_ATTEMPTS} times; the next cycle builds them from {state['from']} again")
            return SensorResult(skip_reason=f"retraining of {cycle} put off: features of {', '.join(failed)} failed",
                                cursor=json.dumps({"cycle": cycle, "phase": "put_off", "from": state["from"]}))
        context.log.warning(f"retraining of {cycle}: the features of {', '.join(failed)} failed; asking again")
        state["attempts"].update({s: state["attempts"][s] + 1 for s in again})
        return SensorResult(run_requests=[_features(state, s) for s in again], cursor=json.dumps(state))
    test_from = (datetime.fromisoformat(cycle) - timedelta(days=holdout_days)).date().isoformat()
    context.log.info(f"retraining of {cycle}: train_model, out of time from {test_from}")
    built_to = date.fromisoformat(state["to"])
    return SensorResult(run_requests=[RunRequest(
        run_key=f"retrain:{cycle}:train", job_name=train_model.name,
        run_config={"ops": {"trained_model": {"config": {"test_from": test_from}}}},
        tags={RETRAIN_TAG: cycle, "betting/clock_at": now.isoformat()})],
        cursor=json.dumps({"cycle": cycle, "phase": "trained",
                           "from": (built_to + timedelta(days=1) - LATE_RESULTS).isoformat()}))
