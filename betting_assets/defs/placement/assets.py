"""The ``settled_bets`` asset: the ledger's placed bets settled against final scores."""

import base64

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from betting_assets.defs.resources import ClockResource, WarehouseResource
from betting_assets.settings import get_settings
from betting_assets.warehouse import ledger

GROUP = "placement"


@asset(
    group_name=GROUP,
    deps=["bet_slips", "scores"],
    description="Placed bets settled against final scores (win, loss, push, void, quarter lines), the bankroll "
                "history after each, P&L, ROI and CLV; the risk gate reads its drawdown and losses from here.",
    kinds={"sql"},
)
def settled_bets(context: AssetExecutionContext, warehouse: WarehouseResource, clock: ClockResource) -> MaterializeResult:
    from betting_assets.placement.settle import bankroll_png, settle_placed, summary

    settings = get_settings()
    engine = warehouse.engine()
    done = settle_placed(engine, settings, clock.now())
    with engine.connect() as conn:
        everything = ledger.frame(conn)
        history = ledger.bankroll_frame(conn)
    figures = summary(everything)
    context.log.info(f"settled {done.settled} bets, {done.still_open} still open; {figures}")
    metadata: dict[str, object] = {
        "settled_now": done.settled,
        "still_open": done.still_open,
        **{k: MetadataValue.float(float(v)) if isinstance(v, float) else v for k, v in figures.items()
           if v is not None},
        "bankroll": float(history["bankroll"][-1]) if history.height else settings.bankroll,
    }
    if history.height:
        png = bankroll_png(history, settings.bankroll)
        metadata["bankroll_curve"] = MetadataValue.md(
            "![bankroll](data:image/png;base64," + base64.b64encode(png).decode() + ")")
    return MaterializeResult(metadata=metadata)  # type: ignore[arg-type]


PLACEMENT_ASSETS = [settled_bets]
