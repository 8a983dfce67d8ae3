"""Checks on ``settled_bets``: a bet can only settle once its event has a result, so this is
where a result that never came is flagged, across every event the warehouse holds; and where
the ledger is held to its promises (no open bet on a final event, no gap in the bankroll)."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check

from betting_assets.defs.check_results import recorded
from betting_assets.defs.placement.assets import settled_bets
from betting_assets.defs.resources import ClockResource, SettingsResource, WarehouseResource
from betting_assets.domain import audits
from betting_assets.domain.quality import RESULT_GRACE, results_overdue as rule
from betting_assets.warehouse import ledger, queries


@asset_check(asset=settled_bets, description=f"Every event that started more than {RESULT_GRACE.total_seconds() / 3600:g} h "
             "ago has a result, or is cancelled or postponed.")
def results_overdue(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                    clock: ClockResource) -> AssetCheckResult:
    now = clock.now()
    with warehouse.connect() as conn:
        started = queries.started_before(conn, now)
    outcome = rule(started, now)
    return recorded(warehouse.engine(), outcome, "events:results", now, overdue=len(outcome.findings))


@asset_check(asset=settled_bets, description="No placed bet is left open once its event is final.")
def final_bets_settled(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                       clock: ClockResource) -> AssetCheckResult:
    now = clock.now()
    with warehouse.connect() as conn:
        placed = ledger.open_bets_with_event_status(conn)
    outcome = audits.final_bets_settled(placed, now)
    return recorded(warehouse.engine(), outcome, "bets:settlement", now, open_bets=placed.height)


@asset_check(asset=settled_bets, description="The bankroll history is continuous: each entry is the one before it "
             "(the starting bankroll first) plus its change.")
def bankroll_continuous(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                        clock: ClockResource, settings: SettingsResource) -> AssetCheckResult:
    with warehouse.connect() as conn:
        history = ledger.bankroll_frame(conn)
    outcome = audits.bankroll_continuous(history, settings.get().bankroll)
    return recorded(warehouse.engine(), outcome, "bets:bankroll", clock.now(), entries=history.height)

