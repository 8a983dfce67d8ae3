"""The exchange's markets for the upcoming events, the ``bets`` ledger asset and
``settled_bets``: the ledger's placed bets settled against final scores."""

import polars as pl
from dagster import AssetExecutionContext, AssetSpec, MaterializeResult, MetadataValue, asset

from betting_assets.defs.metadata import markdown_table, percent, picture, rounded
from betting_assets.defs.resources import ClockResource, OddsApiResource, SettingsResource, VenueResource, WarehouseResource
from betting_assets.warehouse import ledger

GROUP = "orders"

bets = AssetSpec(
    "bets", deps=["bet_slips"], group_name=GROUP, kinds={"sql"},
    description="The ledger: every placement attempt of a slip (pending, placed, rejected with its reasons, "
                "settled), written by the place_bets job, which records a materialisation of it each run.")


@asset(
    group_name=GROUP,
    deps=[bets, "scores"],
    description="Placed bets settled against final scores (win, loss, push, void, quarter lines), and a venue's "
                "that settles its own by its cleared reports (its profit and commission, cross-checked against the "
                "scores), the bankroll history after each, P&L, ROI and CLV; the risk gate reads its drawdown and "
                "losses from here.",
    kinds={"sql"},
)
def settled_bets(context: AssetExecutionContext, warehouse: WarehouseResource, clock: ClockResource,
                 settings: SettingsResource, venue: VenueResource) -> MaterializeResult:
    from betting_assets.orders.settle import bankroll_png, settle_placed, summary

    cfg = settings.get()
    engine = warehouse.engine()
    done = settle_placed(engine, cfg, clock.now(), venue=lambda: _session(venue))
    for finding in done.findings:
        context.log.warning(finding.message)
    with engine.connect() as conn:
        everything = ledger.frame(conn)
        history = ledger.bankroll_frame(conn)
    figures = summary(everything)
    context.log.info(f"settled {done.settled} bets, {done.still_open} still open; {figures}")
    fractions = ("roi", "roi_low", "roi_high", "mean_clv", "clv_low", "clv_high")
    metadata: dict[str, object] = {
        "settled_now": done.settled,
        "settled_by_exchange": done.by_exchange,
        "exchange_mismatches": len(done.findings),
        "still_open": done.still_open,
        "settled_bets": int(figures["settled_bets"] or 0),
        "open_bets": int(figures["open_bets"] or 0),
        "clv_bets": int(figures["clv_bets"] or 0),
        "turnover": rounded(figures["turnover"] or 0.0, 2),
        "pnl": rounded(figures["profit"] or 0.0, 2),
        "commission_paid": rounded(figures["commission"] or 0.0, 2),
        **{f"{k}_pct": percent(figures[k]) for k in fractions},
        "bankroll": rounded(float(history["bankroll"][-1]) if history.height else cfg.bankroll, 2),
    }
    if done.account is not None:
        context.log.info(done.account.describe())
        metadata["account_check"] = done.account.describe()
        if done.account.difference is not None:
            metadata["account_difference"] = rounded(done.account.difference, 2)
    if history.height:
        png = bankroll_png(history, cfg.bankroll)
        metadata["bankroll_curve"] = picture(png, "bankroll")
    return MaterializeResult(metadata=metadata)  # type: ignore[arg-type]


def _session(venue: VenueResource):  # type: ignore[no-untyped-def]
    """The venue, logged in for settlement (asked only when a bet of a venue that settles its own
    is open)."""
    with venue.session("bets settle from their venue's cleared reports") as made:
        return made


@asset(
    group_name=GROUP,
    deps=["events"],
    description="The upcoming events mapped to the exchange's markets and runners (by sport, kick-off within 30 "
                "min and team names on MATCH_ODDS; never a guess), with their OVER_UNDER_25 and ASIAN_HANDICAP "
                "markets: the market, selection, handicap and version a bet on each side and line goes to; an "
                "event left unmapped is a data-quality finding naming the candidates.",
    kinds={"sql"},
)
def exchange_markets(context: AssetExecutionContext, warehouse: WarehouseResource, venue: VenueResource,
                     clock: ClockResource, settings: SettingsResource, odds_api: OddsApiResource) -> MaterializeResult:
    now = clock.now()

    def participants(sport: str) -> list[str]:
        from betting_assets.defs.collection.assets import provider_turn

        from betting_assets.sources.errors import OddsApiError

        try:
            with provider_turn(warehouse):   # one provider call at a time: credits are read off its running counter
                return odds_api.collector(warehouse.engine(), clock.log_time(now)).participants(sport, now)
        except OddsApiError as exc:          # the names are then learned from the upcoming events' alone
            context.log.warning(f"{sport}: the feed's participants could not be read ({exc}); names are learned "
                                "from the upcoming events' teams")
            return []

    with venue.session("the mapping reads the venue's catalogue") as made:
        outcome = made.map_markets(warehouse.engine(), now, settings.get().collection.sports, participants)
    if outcome is None:
        return MaterializeResult(metadata={"venue": MetadataValue.text(made.name.value), "note": MetadataValue.text(
            f"the {made.name} venue takes any bookmaker's line: nothing to map")})
    events = outcome.events.height
    methods = outcome.runners.unique("event_id").group_by("method").len().sort("method")
    for row in outcome.unmapped.iter_rows(named=True):
        context.log.warning(f"not mapped: {row['match']}: {row['reason']}"
                            + (f" (candidates: {row['candidates']})" if row["candidates"] else ""))
    return MaterializeResult(metadata={
        "events": events,
        "mapped_events": outcome.mapped_events,
        "mapped_pct": percent(outcome.mapped_events / events) if events else MetadataValue.null(),
        "unmapped_events": outcome.unmapped.height,
        "new_findings": outcome.findings_new,
        "dagster/row_count": outcome.runners.height,
        "by_method": MetadataValue.md(" · ".join(f"{m}: {n}" for m, n in methods.iter_rows()) or "none"),
        "markets": MetadataValue.md(" · ".join(f"{t}: {n}" for t, n in outcome.runners.group_by("market_type").agg(
            pl.col("market_id").n_unique()).sort("market_type").iter_rows()) or "none"),
        "unmapped": markdown_table(outcome.unmapped.select("match", "reason", "candidates"), limit=20),
        "names_learned": markdown_table(learned_table(outcome.learned), limit=60),
        "scope": MetadataValue.text(f"scheduled events of {', '.join(settings.get().collection.sports)} within 7 "
                                    "days, against the exchange's catalogue over the same window"),
    })



def learned_table(learned: dict) -> pl.DataFrame:  # type: ignore[type-arg]
    """The feed's team names paired with the exchange's, how, and those that fit two ways."""
    rows = [{"sport": sport, "feed": feed, "exchange": name, "how": how}
            for sport, names in sorted(learned.items()) for feed, (name, how) in sorted(names.pairs.items())]
    rows += [{"sport": sport, "feed": feed, "exchange": " or ".join(options), "how": "ambiguous: not paired"}
             for sport, names in sorted(learned.items()) for feed, options in sorted(names.ambiguous.items())]
    return pl.DataFrame(rows, schema={"sport": pl.String, "feed": pl.String, "exchange": pl.String, "how": pl.String})
