"""The sensor that launches one place_bets run per bet_slips materialisation."""

from dagster import AssetKey, DefaultSensorStatus, EventLogEntry, RunRequest, SensorEvaluationContext, asset_sensor

from betting_assets.defs.orders.jobs import place_bets


@asset_sensor(asset_key=AssetKey("bet_slips"), job=place_bets, minimum_interval_seconds=30,
              default_status=DefaultSensorStatus.STOPPED,
              description="One place_bets run per bet_slips materialisation (the run key is that run's id).")
def placement_sensor(context: SensorEvaluationContext, asset_event: EventLogEntry) -> RunRequest:
    return RunRequest(run_key=f"bet_slips:{asset_event.run_id}",
                      tags={"betting/slips_run": asset_event.run_id})
