"""Checks on ``settled_bets``: a bet can only settle once its event has a result, so this is
where a result that never came is flagged, across every event the warehouse holds; and where
the ledger is held to its promises (no open bet on a final event, no gap in the bankroll)."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check

from betting_assets.defs.check_results import recorded
from betting_assets.defs.orders.assets import exchange_markets, settled_bets
from betting_assets.defs.resources import ClockResource, SettingsResource, VenueResource, WarehouseResource
from betting_assets.domain.data import audits
from betting_assets.domain.data.normalize import Finding
from betting_assets.domain.data.quality import CheckOutcome
from betting_assets.domain.data.quality import RESULT_GRACE, results_overdue as rule
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



@asset_check(asset=exchange_markets, description="At a venue with a book of its own: every proposed slip's event and "
             "line is mapped to one of its runners (a slip that is not will be refused not_mapped at placement).")
def proposed_slips_mapped(context: AssetCheckExecutionContext, warehouse: WarehouseResource, clock: ClockResource,
                          venue: VenueResource) -> AssetCheckResult:
    now = clock.now()
    chosen = venue.venue()
    if not chosen.books_own_prices:
        return recorded(warehouse.engine(), CheckOutcome("proposed_slips_mapped", 0), "exchange_markets:slips", now,
                        venue=chosen.name.value)
    with warehouse.connect() as conn:
        slips = queries.proposed_slips(conn)
    missing = chosen.unmapped(warehouse.engine(), slips.select("slip_id", "event_id", "home_team", "away_team",
                                                                "market", "side", "point"))
    findings = [Finding("proposed_slips_mapped", "error",
                        f"slip {r['slip_id']} ({r['home_team']} v {r['away_team']}, {r['market']} {r['side']} "
                        f"{r['point']:g}) cannot be placed at {chosen.name}: {r['reason']}",
                        event_id=r["event_id"], market=r["market"]) for r in missing.iter_rows(named=True)]
    return recorded(warehouse.engine(), CheckOutcome("proposed_slips_mapped", slips.height, findings),
                    "exchange_markets:slips", now, proposed=slips.height, unmapped=missing.height)
