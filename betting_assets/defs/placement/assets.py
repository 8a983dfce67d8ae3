"""The ``bets`` ledger asset and ``settled_bets``: the ledger's placed bets settled against
final scores."""

from dagster import AssetExecutionContext, AssetSpec, MaterializeResult, asset

from betting_assets.defs.metadata import percent, picture, rounded
from betting_assets.defs.resources import ClockResource, SettingsResource, WarehouseResource
from betting_assets.warehouse import ledger

GROUP = "placement"

bets = AssetSpec(
    "bets", deps=["bet_slips"], group_name=GROUP, kinds={"sql"},
    description="The ledger: every placement attempt of a slip (pending, placed, rejected with its reasons, "
                "settled), written by the place_bets job, which records a materialisation of it each run.")


@asset(
    group_name=GROUP,
    deps=[bets, "scores"],
    description="Placed bets settled against final scores (win, loss, push, void, quarter lines), the bankroll "
                "history after each, P&L, ROI and CLV; the risk gate reads its drawdown and losses from here.",
    kinds={"sql"},
)
def settled_bets(context: AssetExecutionContext, warehouse: WarehouseResource, clock: ClockResource, settings: SettingsResource) -> MaterializeResult:
    from betting_assets.placement.settle import bankroll_png, settle_placed, summary

    cfg = settings.get()
    engine = warehouse.engine()
    done = settle_placed(engine, cfg, clock.now())
    with engine.connect() as conn:
        everything = ledger.frame(conn)
        history = ledger.bankroll_frame(conn)
    figures = summary(everything)
    context.log.info(f"settled {done.settled} bets, {done.still_open} still open; {figures}")
    fractions = ("roi", "roi_low", "roi_high", "mean_clv", "clv_low", "clv_high")
    metadata: dict[str, object] = {
        "settled_now": done.settled,
        "still_open": done.still_open,
        "settled_bets": int(figures["settled_bets"] or 0),
        "open_bets": int(figures["open_bets"] or 0),
        "clv_bets": int(figures["clv_bets"] or 0),
        "turnover": rounded(figures["turnover"] or 0.0, 2),
        "pnl": rounded(figures["profit"] or 0.0, 2),
        **{f"{k}_pct": percent(figures[k]) for k in fractions},
        "bankroll": rounded(float(history["bankroll"][-1]) if history.height else cfg.bankroll, 2),
    }
    if history.height:
        png = bankroll_png(history, cfg.bankroll)
        metadata["bankroll_curve"] = picture(png, "bankroll")
    return MaterializeResult(metadata=metadata)  # type: ignore[arg-type]
