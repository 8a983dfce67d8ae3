"""The sensors of the live loop's last steps: one place_bets run per bet_slips materialisation,
one settle_bets run per scores materialisation, each asked again when its run failed."""

from dagster import DefaultSensorStatus, SensorEvaluationContext, SensorResult, sensor

from betting_assets.defs.cadence import every
from betting_assets.defs.orders.jobs import place_bets, settle_bets
from betting_assets.defs.run_keys import each_materialization


@sensor(job=place_bets, minimum_interval_seconds=every(30), default_status=DefaultSensorStatus.STOPPED,
        description="One place_bets run per bet_slips materialisation (the run key is that run's id), asked again "
                    "when it failed.")
def placement_sensor(context: SensorEvaluationContext) -> SensorResult:
    return each_materialization(context, "bet_slips", "bet_slips", "betting/slips_run")


@sensor(job=settle_bets, minimum_interval_seconds=every(60), default_status=DefaultSensorStatus.STOPPED,
        description="One settle_bets run per scores materialisation: placed bets settle as soon as their results "
                    "come in (the run key is the scores run's id), asked again when it failed.")
def settlement_sensor(context: SensorEvaluationContext) -> SensorResult:
    return each_materialization(context, "scores", "scores", "betting/scores_run")
