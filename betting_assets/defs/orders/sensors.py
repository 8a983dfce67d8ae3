"""The sensors of the live loop's last steps: one place_bets run per bet_slips materialisation,
one settle_bets run per scores materialisation."""

from dagster import AssetKey, DefaultSensorStatus, EventLogEntry, RunRequest, SensorEvaluationContext, asset_sensor

from betting_assets.defs.orders.jobs import place_bets, settle_bets


@asset_sensor(asset_key=AssetKey("bet_slips"), job=place_bets, minimum_interval_seconds=30,
              default_status=DefaultSensorStatus.STOPPED,
              description="One place_bets run per bet_slips materialisation (the run key is that run's id).")
def placement_sensor(context: SensorEvaluationContext, asset_event: EventLogEntry) -> RunRequest:
    return RunRequest(run_key=f"bet_slips:{asset_event.run_id}",
                      tags={"betting/slips_run": asset_event.run_id})


@asset_sensor(asset_key=AssetKey("scores"), job=settle_bets, minimum_interval_seconds=60,
              default_status=DefaultSensorStatus.STOPPED,
              description="One settle_bets run per scores materialisation: placed bets settle as soon as their "
                          "results come in (the run key is the scores run's id).")
def settlement_sensor(context: SensorEvaluationContext, asset_event: EventLogEntry) -> RunRequest:
    return RunRequest(run_key=f"scores:{asset_event.run_id}", tags={"betting/scores_run": asset_event.run_id})
