"""The ``place_bets`` op job with its ops and failure alert, and the ``settle_bets`` job."""

from collections.abc import Iterator

import polars as pl
from dagster import (
    AssetMaterialization,
    AssetSelection,
    Config,
    Failure,
    HookContext,
    In,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    define_asset_job,
    failure_hook,
    job,
    op,
)
from pydantic import Field

from betting_assets.defs.metadata import markdown_table
from betting_assets.defs.orders.assets import exchange_markets, settled_bets
from betting_assets.defs.resources import ClockResource, SettingsResource, VenueResource, WarehouseResource
from betting_assets.orders import service
from betting_assets.venues import VenueRefused
from betting_assets.venues.base import Venue
from betting_assets.warehouse import ledger, queries


class PlaceBetsConfig(Config):
    """Unset: every proposed slip not yet in the ledger."""

    slip_ids: list[int] | None = Field(default=None, description="only these slips")
    limit: int | None = Field(default=None, ge=1, description="at most this many slips, oldest first")


def _venue(venue: VenueResource) -> Venue:
    try:
        return venue.venue()
    except VenueRefused as exc:
        raise Failure(f"placement refused: {exc}") from exc


def _report(context: OpExecutionContext, outcome: service.PlacementReport) -> None:
    if outcome.counts:
        context.log.info(", ".join(f"{k}: {v}" for k, v in sorted(outcome.counts.items())))
        for row in outcome.rows:
            if row["reason"]:
                context.log.info(f"slip {row['slip']} of {row['strategy']} ({row['match']}, {row['market']} "
                                 f"{row['side']} at {row['price']} with {row['bookmaker']}): {row['outcome']}: "
                                 f"{row['reason']}")


@op(out=Out(dict), description="Brings resting orders up to date (matched since, ended, cancelled once they "
    "waited BETTING_EXCHANGE_ORDER_PATIENCE_S, or moved by their strategy with BETTING_EXCHANGE_REPRICE) and "
    "settles pending ledger rows left by an earlier run with the venue's record.")
def reconcile_pending(context: OpExecutionContext, warehouse: WarehouseResource, venue: VenueResource,
                      clock: ClockResource, settings: SettingsResource) -> dict:  # type: ignore[type-arg]
    cfg = settings.get()
    outcome = service.reconcile(warehouse.engine(), _venue(venue), clock.now(), cfg.risk.min_stake,
                                service.patience(cfg), service.movers(cfg))
    _report(context, outcome)
    return outcome.counts


@op(ins={"after": In(Nothing)}, out=Out(list), description="Proposed slips not yet in the ledger, with the "
    "price each bookmaker offers now.")
def load_slips(context: OpExecutionContext, config: PlaceBetsConfig, warehouse: WarehouseResource,
               venue: VenueResource, clock: ClockResource,
               settings: SettingsResource) -> list:  # type: ignore[type-arg]
    rows = service.candidate_rows(warehouse.engine(), settings.get(), _venue(venue), clock.now(),
                                  context.run_id, config.slip_ids or None, config.limit)
    context.log.info(f"{len(rows)} proposed slips to place")
    return rows


@op(out=Out(list), description="Refuses slips whose market closed (final) or whose price fell beyond the "
    "tolerance (the slip stays proposed).")
def recheck_prices(context: OpExecutionContext, warehouse: WarehouseResource, clock: ClockResource,
                   rows: list, settings: SettingsResource) -> list:  # type: ignore[type-arg]
    outcome = service.PlacementReport()
    cfg = settings.get()
    fresh, closed, moved = service.recheck_rows(rows, cfg.risk, clock.now(), outcome, cfg.exchange.commission,
                                                cfg.risk.min_stake)
    service.record_refusals(warehouse.engine(), closed, moved, service.attempt_tag(context.run_id))
    _report(context, outcome)
    return fresh


@op(out=Out(Nothing), description="Under the bankroll lock: the gate's controls over the account the ledger "
    "folds to (every rejection written with its reasons), then each accepted bet claimed in the ledger (pending) "
    "and sent to the venue, its answer recorded.")
def gate_and_place(context: OpExecutionContext, warehouse: WarehouseResource, venue: VenueResource,
                   clock: ClockResource, rows: list, settings: SettingsResource) -> None:  # type: ignore[type-arg]
    cfg = settings.get()
    outcome = service.PlacementReport()
    service.gate_and_place(warehouse.engine(), _venue(venue), rows, cfg, clock.now(), lambda: service.kill_reason(cfg),
                           outcome, cfg.risk.min_stake)
    _report(context, outcome)


@op(ins={"placed": In(Nothing)},
    description="The run's summary from the ledger: the rows this run wrote, by status, with their reasons; "
                "recorded as a materialisation of the bets asset.")
def record_run(context: OpExecutionContext, warehouse: WarehouseResource, settings: SettingsResource,
               reconciled: dict) -> Iterator[AssetMaterialization | Output[dict]]:  # type: ignore[type-arg]
    limits = settings.get().risk
    with warehouse.connect() as conn:
        mine = ledger.of_run(conn, context.run_id)
        totals = ledger.counts_by_status(conn)
        names = queries.match_names(conn, mine["event_id"].unique().to_list()) if mine.height else {}
    counts = {**{f"reconciled_{k}": v for k, v in reconciled.items()},
              **dict(mine.group_by("status").len().iter_rows())}
    by_rule = (mine.filter(pl.col("refusal_codes").is_not_null()).select(pl.col("refusal_codes").str.split(","))
               .explode("refusal_codes").group_by("refusal_codes").len().sort("refusal_codes"))
    orders = mine.with_columns(match=pl.col("event_id").replace_strict(names, default=pl.col("event_id")))
    metadata = {
        **{k: MetadataValue.int(v) for k, v in counts.items()},
        "ledger_rows": MetadataValue.int(sum(totals.values())),
        "limits_in_force": MetadataValue.md("| limit | value |\n|---|---|\n" + "\n".join(
            f"| {name} | {getattr(limits, name)} |" for name in type(limits).model_fields)),
        "refused_by_rule": MetadataValue.md(" · ".join(f"{code}: {n}" for code, n in by_rule.iter_rows()) or "none"),
        **{f"ledger_{k}": MetadataValue.int(v) for k, v in sorted(totals.items())},
        "orders": markdown_table(orders.select("slip_id", "strategy", "match", "market", "side", "bookmaker",
                                               "requested_price", "price", "stake", "status", "refusal_codes",
                                               "reasons"), limit=25,
                                 digits=2)
        if mine.height else MetadataValue.md("nothing this run"),
    }
    yield AssetMaterialization(asset_key="bets", metadata=metadata,
                               description=f"place_bets wrote {mine.height} ledger rows")
    yield Output(counts, metadata=metadata)


@failure_hook()
def alert_on_failure(context: HookContext) -> None:
    """Logs which op failed, in the run's own log; the operator is told by ``run_failure_alerts``,
    which sees every job's failures, a run killed outright included."""
    context.log.error(f"place_bets: op {context.op.name} failed in run {context.run_id}: {context.op_exception}")


RISK_OVERRIDE = """resources:
  settings:
    config:
      values:
        risk:
          max_stake: 25.0
          max_day_exposure: 0.1"""
"""what to paste in the Launchpad to run place_bets once under tighter limits (any field of
``RiskLimits``); the environment's settings stay as they are for every other run"""


@job(hooks={alert_on_failure}, description="Places proposed bet slips: reconcile → load → re-check prices → the "
     "gate and the venue (one run at a time per bankroll, two-phase ledger) → record. The limits in force are on "
     "each run's bets materialisation. To run once under other limits, open the Launchpad and paste:\n\n"
     f"```yaml\n{RISK_OVERRIDE}\n```",
     tags={"betting/stage": "placement"})
def place_bets() -> None:
    reconciled = reconcile_pending()
    rows = load_slips(after=reconciled)
    placed = gate_and_place(recheck_prices(rows))
    record_run(reconciled, placed=placed)


settle_bets = define_asset_job(
    "settle_bets", selection=AssetSelection.assets(settled_bets), tags={"betting/stage": "settlement"},
    description="Settles placed bets whose events are final, with the checks on the ledger.")


map_exchange_markets = define_asset_job(
    "map_exchange_markets", selection=AssetSelection.assets(exchange_markets),
    description="The upcoming events mapped to the venue's markets and runners (a venue with a book of its own).",
    tags={"betting/stage": "placement"})

