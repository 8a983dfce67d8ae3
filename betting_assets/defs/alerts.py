"""Every failed run of every job in the location told to the operator (``alerts``): Dagster's
own run-failure sensor, so a run killed outright (no op failed, no hook fired) is told too."""

from __future__ import annotations

from dagster import DefaultSensorStatus, RunFailureSensorContext, SkipReason, run_failure_sensor

from betting_assets import alerts
from betting_assets.defs.resources import SettingsResource
from betting_assets.defs.run_errors import first_step_error


ALERT_INTERVAL_S = 30
"""fixed: a failure told within half a minute is soon enough, and BETTING_SENSOR_INTERVAL_S (a
season's fast clock) should not make the daemon ask every few seconds"""


@run_failure_sensor(name="run_failure_alerts", minimum_interval_seconds=ALERT_INTERVAL_S,
                    default_status=DefaultSensorStatus.RUNNING,
                    description="Posts every failed run of any job to BETTING_ALERT_WEBHOOK_URL and the Telegram chat "
                                "of BETTING_ALERT_TELEGRAM_TOKEN / _CHAT_ID, whichever are set.")
def run_failure_alerts(context: RunFailureSensorContext, settings: SettingsResource) -> SkipReason | None:
    cfg = settings.get()
    if not alerts.targets(cfg):
        return SkipReason("no alert channel set (BETTING_ALERT_WEBHOOK_URL, BETTING_ALERT_TELEGRAM_TOKEN)")
    run = context.dagster_run
    error = first_step_error(context.instance, run.run_id) or context.failure_event.message or "the run failed"
    partition = run.tags.get("dagster/partition")
    text = (f"betting_assets: {run.job_name} failed in run {run.run_id[:8]}"
            + (f" (partition {partition})" if partition else "") + f": {error}")
    for problem in alerts.send(cfg, text, {"job": run.job_name, "run_id": run.run_id, "partition": partition,
                                           "error": error}):
        context.log.error(problem)
    return None
