"""Checks on ``backtests`` and ``bet_slips`` that re-derive their claims from the warehouse:
every backtest bet's price was on offer at its decision, the ledgers add up to the comparison,
every slip is within the gate's static bounds at the price on offer when it was proposed."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetKey, MetadataValue, asset_check

from betting_assets.defs.betting.assets import backtests, bet_slips
from betting_assets.defs.check_results import recorded
from betting_assets.defs.resources import ClockResource, SettingsResource, WarehouseResource
from betting_assets.domain.data import audits
from betting_assets.domain.pricing.commission import net_price
from betting_assets.venues.betfair.venue import BOOK as BROKER_BOOK
from betting_assets.venues.betfair.runners import index_runners, runner_key
from betting_assets.domain.features.build import FeatureConfig
from betting_assets.domain.pricing.market_view import offers_at
from betting_assets.domain.data.quality import CheckOutcome
from betting_assets.venues.betfair.markets import runner_quotes
from betting_assets.venues import rules_of
from betting_assets.warehouse import queries

BACKTEST_LOOKBACK = timedelta(days=30)
"""the backtests asset's quote lookback: an older quote is not on offer"""


def _latest(context: AssetCheckExecutionContext, key: str):  # type: ignore[no-untyped-def]
    """The latest materialisation of ``key``: the run and metadata the check is about."""
    return context.instance.get_latest_materialization_event(AssetKey(key))


def _backtest_result(context: AssetCheckExecutionContext):  # type: ignore[no-untyped-def]
    from betting_assets.domain.betting.backtest_export import from_json

    event = _latest(context, "backtests")
    if event is None:
        return None
    path = event.asset_materialization.metadata["result_json"].value
    return from_json(Path(path).read_text(encoding="utf-8"))


def _nothing(why: str) -> AssetCheckResult:
    return AssetCheckResult(passed=True, metadata={"checked": 0, "note": MetadataValue.text(why)})


@asset_check(asset=backtests, description="Every backtest bet's price is a valid quote of that bookmaker's line, in "
             "a snapshot the warehouse holds from before the bet's decision time (and at most 30 days older).")
def prices_on_offer(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                    clock: ClockResource) -> AssetCheckResult:
    result = _backtest_result(context)
    if result is None:
        return _nothing("no backtest yet")
    bets = pl.concat([s.bets.with_columns(strategy=pl.lit(s.name)) for s in result.strategies if s.bets.height]
                     or [pl.DataFrame()], how="diagonal")
    if bets.is_empty():
        return _nothing("the backtest placed no bet")
    with warehouse.connect() as conn:
        odds = queries.odds_for_events(conn, bets["event_id"].unique().to_list(),
                                       bets["snapshot_time"].min(),  # type: ignore[arg-type]
                                       bets["decision_time"].max())  # type: ignore[arg-type]
    outcome = audits.prices_on_offer(bets, odds, BACKTEST_LOOKBACK)
    return recorded(warehouse.engine(), outcome, "backtests:prices", clock.now(), bets=bets.height)


@asset_check(asset=backtests, description="Each strategy's bets, turnover and profit summed over its ledger equal "
             "its row in the comparison (to the cent).")
def ledger_adds_up(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                   clock: ClockResource) -> AssetCheckResult:
    result = _backtest_result(context)
    if result is None:
        return _nothing("no backtest yet")
    outcome = audits.ledger_adds_up([(s.name, s.metrics, s.bets) for s in result.strategies])
    return recorded(warehouse.engine(), outcome, "backtests:ledger", clock.now(), strategies=len(result.strategies))


def _latest_slips(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> pl.DataFrame:
    event = _latest(context, "bet_slips")
    if event is None:
        return pl.DataFrame()
    with warehouse.connect() as conn:
        return queries.slips_of_run(conn, event.run_id)


@asset_check(asset=bet_slips, description="Every slip of the latest proposal passes the risk gate's static "
             "controls (odds bounds, minimum edge, minimum and maximum stake) at the bankroll it was sized on.")
def slips_within_bounds(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                        clock: ClockResource, settings: SettingsResource) -> AssetCheckResult:
    slips = _latest_slips(context, warehouse)
    outcome = audits.slips_within_bounds(slips, settings.get().risk, rules_of(settings.get().exchange.broker)) \
        if slips.height else \
        CheckOutcome("slips_within_bounds", 0)
    return recorded(warehouse.engine(), outcome, "bet_slips:bounds", clock.now(), slips=slips.height)


@asset_check(asset=bet_slips, description="Every slip of the latest proposal carries the price its bookmaker "
             "offered for that line when it was proposed (read back from the normalised odds, or for the "
             "exchange's own prices from its stored book), net of commission at an exchange.")
def slip_prices_current(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                        clock: ClockResource, settings: SettingsResource) -> AssetCheckResult:
    slips = _latest_slips(context, warehouse)
    if slips.is_empty():
        return recorded(warehouse.engine(), CheckOutcome("slip_prices_current", 0), "bet_slips:prices", clock.now())
    cfg = settings.get()
    lookback = FeatureConfig().lookback
    offered = []
    exchange = slips.filter(pl.col("bookmaker") == BROKER_BOOK)
    with warehouse.connect() as conn:
        for created, group in slips.filter(pl.col("bookmaker") != BROKER_BOOK).group_by("created_at"):
            odds = queries.odds_for_events(conn, group["event_id"].unique().to_list(),
                                           group["commence_time"].min() - lookback, created[0])  # type: ignore[operator]
            cuts = group.select("event_id", "sport_key", "commence_time").unique("event_id").with_columns(
                decision_time=pl.lit(created[0]).cast(pl.Datetime("us", "UTC")))
            offers = offers_at(odds, cuts, sharp_book=cfg.features.sharp_book, lookback=lookback,
                               commission=cfg.exchange.commission)
            offered.append(group.join(offers, on=["event_id", "market", "side", "point", "bookmaker"], how="left")
                           .select("slip_id", pl.col("price_right").alias("price_then")))
        if exchange.height:
            offered.append(_from_exchange_books(conn, exchange, cfg.exchange.commission))
    outcome = audits.slip_prices_current(slips, pl.concat(offered) if offered else pl.DataFrame(
        schema={"slip_id": pl.Int64, "price_then": pl.Float64}))
    return recorded(warehouse.engine(), outcome, "bet_slips:prices", clock.now(), slips=slips.height)


def _from_exchange_books(conn: Any, slips: pl.DataFrame, commission: float) -> pl.DataFrame:
    """Slips priced at the exchange: the best back of their runner in the market's book as stored
    at or before the slip was proposed (read as betfairlightweight reads the exchange's answer),
    net of commission."""
    from betfairlightweight.resources import MarketBook

    index = index_runners(queries.exchange_markets_frame(conn, slips["event_id"].unique().to_list()))
    found = []
    for (created,), group in slips.group_by("created_at"):
        mapped = {s["slip_id"]: index.get(runner_key(s)) for s in group.iter_rows(named=True)}
        stored = queries.exchange_books_before(conn, sorted({r["market_id"] for r in mapped.values() if r}), created)
        quotes = runner_quotes({market: MarketBook(**payload) for market, payload in stored.items()})
        for slip_id, hit in mapped.items():
            quote = quotes.get((hit["market_id"], hit["selection_id"], hit["handicap"])) if hit else None
            found.append({"slip_id": slip_id, "price_then": net_price(quote.back_price, commission)
                          if quote and quote.back_price is not None else None})
    return pl.DataFrame(found, schema={"slip_id": pl.Int64, "price_then": pl.Float64})

