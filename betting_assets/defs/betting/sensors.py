"""The sensor that proposes slips when events reach their decision time."""

import hashlib

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from betting_assets.defs.betting.jobs import propose_bets
from betting_assets.defs.cadence import every
from betting_assets.defs.resources import ClockResource, SettingsResource, WarehouseResource, now_or_skip
from betting_assets.defs.run_keys import ATTEMPTS, retryable
from betting_assets.warehouse import queries


@sensor(job=propose_bets, minimum_interval_seconds=every(60), default_status=DefaultSensorStatus.STOPPED,
        description="Requests bet slips whenever the set of events at their decision time changes.")
def slips_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource,
                 clock: ClockResource, settings: SettingsResource) -> RunRequest | SkipReason:
    cfg = settings.get()
    now = now_or_skip(clock, "no slips proposed")
    if isinstance(now, SkipReason):
        return now
    with warehouse.connect() as conn:
        due = queries.at_decision(conn, now, cfg.model.decision_hours, cfg.collection.sports)
    if due.is_empty():
        return SkipReason(f"no event at its decision time at {now:%Y-%m-%d %H:%M}")
    ids = sorted(due["event_id"].to_list())
    key = retryable(context.instance, f"slips:{hashlib.sha256('|'.join(ids).encode()).hexdigest()[:16]}")
    if key is None:
        return SkipReason(f"slips for these {len(ids)} events failed {ATTEMPTS} times: see the propose_bets runs")
    return RunRequest(run_key=key, tags={"betting/events_at_decision": str(len(ids))})
