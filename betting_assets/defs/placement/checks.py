"""Checks on ``settled_bets``: a bet can only settle once its event has a result, so this is
where a result that never came is flagged, across every event the warehouse holds."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check

from betting_assets.defs.ingestion.checks import recorded
from betting_assets.defs.placement.assets import settled_bets
from betting_assets.defs.resources import ClockResource, WarehouseResource
from betting_assets.domain.quality import RESULT_GRACE, results_overdue as rule
from betting_assets.warehouse import queries


@asset_check(asset=settled_bets, description=f"Every event that started more than {RESULT_GRACE.total_seconds() / 3600:g} h "
             "ago has a result, or is cancelled or postponed.")
def results_overdue(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                    clock: ClockResource) -> AssetCheckResult:
    now = clock.now()
    with warehouse.connect() as conn:
        started = queries.started_before(conn, now)
    outcome = rule(started, now)
    return recorded(warehouse.engine(), outcome, "events:results", now, overdue=len(outcome.findings))


PLACEMENT_CHECKS = [results_overdue]
