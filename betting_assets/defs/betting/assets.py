"""The backtests and bet_slips assets."""

from datetime import datetime, timedelta
from typing import Any

from dagster import (
    AssetExecutionContext,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

import polars as pl
from pydantic import Field

from betting_assets.defs.metadata import markdown_table, percent, picture, rounded
from betting_assets.defs.resources import ClockResource, ExchangeResource, MlflowResource, SettingsResource, WarehouseResource
from betting_assets.defs.run_config import day_start, given

GROUP = "betting"
SLIP_PREVIEW = ["commence_time", "home_team", "away_team", "side", "bookmaker", "quoted_price", "price", "model_prob",
                "edge",
                "stake", "model_version"]


class BacktestRunConfig(Config):
    """Unset (``None``) values take the settings (``BETTING_BACKTEST_*``, ``BETTING_MIN_EDGE``…)."""

    strategies: list[str] | None = Field(default=None, description="registered strategies to replay")
    start: str | None = Field(default=None, description="first kick-off day (ISO)")
    end: str | None = Field(default=None, description="day after the last kick-off day (ISO)")
    bankroll: float | None = Field(default=None, gt=0, description="starting bankroll")
    min_edge: float | None = Field(default=None, description="minimum edge of every strategy that has one")
    sizing: dict[str, str] | None = Field(default=None, description="strategy → sizing method")


def as_percentages(table: pl.DataFrame) -> pl.DataFrame:
    """A breakdown with ROI, hit rate and CLV in percent, as in the comparison table."""
    shares = [c for c in ("roi", "hit_rate", "clv") if c in table.columns]
    return table.with_columns([(pl.col(c) * 100).alias(f"{c} %") for c in shares]).drop(shares)


def strategy_figures(name: str, metrics: dict[str, float]) -> dict[str, object]:
    """A strategy's headline figures as numbers the Plots tab can trend: bets and profit as
    they are, ROI, CLV, hit rate and drawdown in percent with the ROI and CLV intervals."""
    out: dict[str, object] = {f"{name}_bets": int(metrics.get("bets") or 0),
                              f"{name}_profit": rounded(metrics.get("profit") or 0.0, 2)}
    for key in ("roi", "roi_low", "roi_high", "clv", "clv_low", "clv_high", "hit_rate", "max_drawdown"):
        out[f"{name}_{key}_pct"] = percent(metrics.get(key))
    return out


@asset(
    group_name=GROUP,
    deps=["normalized_odds", "scores", "features", "trained_model"],
    description="Registered strategies replayed over history at the decision time (prices on offer then, "
                "results after): metrics, breakdowns, equity curves, JSON and CSV exports.",
    kinds={"polars", "mlflow"},
)
def backtests(context: AssetExecutionContext, config: BacktestRunConfig, warehouse: WarehouseResource,
              mlflow: MlflowResource, settings: SettingsResource) -> MaterializeResult:
    from betting_assets.betting import report
    from betting_assets.betting.pipeline import (
        MODEL_STRATEGY,
        champion_probabilities,
        replay,
        warehouse_history,
    )
    from betting_assets.domain.betting import backtest_export
    from betting_assets.domain.betting.backtest import BacktestResult
    from betting_assets.modelling.registry import MODEL_NAMES

    cfg = settings.get()
    names = given(config.strategies, cfg.backtest.strategies)
    tracker = mlflow.tracker() if MODEL_STRATEGY in names else None
    refs = [r for r in (tracker.champion(n) for n in MODEL_NAMES) if r is not None] if tracker else []
    start = day_start(given(config.start, cfg.backtest.from_day))
    if start is None and refs:
        start = min(datetime.fromisoformat(r.test_from) for r in refs if r.test_from) if any(
            r.test_from for r in refs) else None
    end = day_start(given(config.end, cfg.backtest.to_day))
    lookback = timedelta(days=30)
    history = warehouse_history(warehouse.engine(), cfg.collection.sports, start, end, cfg.model.decision_hours,
                                lookback)
    if history.events.is_empty():
        raise Failure("no events in the backtest window: ingest history first",
                      metadata={"start": str(start), "end": str(end), "sports": ", ".join(cfg.collection.sports)})
    notes = []
    model = None
    if MODEL_STRATEGY in names:
        if tracker is not None and refs:
            model, refs, _ = champion_probabilities(tracker, history.features)
        if model is None:
            names = [n for n in names if n != MODEL_STRATEGY]
            notes.append(f"{MODEL_STRATEGY} skipped: no champion model, or no stored features for its "
                         "out-of-time events")
    result = replay(history.odds, history.events, names, cfg, start=start, end=end, model=model,
                    sizing=config.sizing, min_edge=config.min_edge, bankroll=config.bankroll,
                    lookback=lookback, progress=context.log.info)

    folder = cfg.home_dir / "backtests" / context.run_id
    files = report.write_exports(result, folder)
    equity = report.equity_png(result)
    metadata: dict[str, object] = {
        "summary": MetadataValue.md("\n".join(f"- {line}" for line in report.summary_lines(result))),
        "comparison": MetadataValue.md(report.comparison_markdown(result)),
        "devig_method": MetadataValue.text(result.config["devig_method"]),
        "equity_curve": picture(equity, "equity curves"),
        "events": history.events.height,
        "window": MetadataValue.text(f"{start:%Y-%m-%d} .. {end:%Y-%m-%d}" if start and end else
                                     f"{start or 'all'} .. {end or 'latest'}"),
        "decision_hours": cfg.model.decision_hours,
        "exports": MetadataValue.path(str(folder)),
        "result_json": MetadataValue.path(str(files["result.json"])),
    }
    for strategy in result.strategies:
        metadata[f"{strategy.name}_by_market"] = markdown_table(as_percentages(strategy.breakdowns["market"]), digits=2)
        metadata.update(strategy_figures(strategy.name, strategy.metrics))
    if notes:
        metadata["notes"] = MetadataValue.md("\n".join(f"- {n}" for n in notes))
    if model is not None and tracker is not None:
        mine = BacktestResult(config=result.config, strategies=[result.strategy(MODEL_STRATEGY)])
        model_png = report.equity_png(mine, f"{MODEL_STRATEGY}: bankroll by day")
        csv = backtest_export.to_csv(mine)
        for ref in refs:
            tracker.log_backtest(ref.run_id, "backtest", mine.strategies[0].metrics, model_png,
                                 {"result.json": backtest_export.to_json(mine), "bets.csv": csv["bets.csv"],
                                  "comparison.md": report.comparison_markdown(result),
                                  "summary.md": "\n".join(report.summary_lines(result))})
        metadata["model_versions"] = MetadataValue.md("\n".join(
            f"- {r.name} v{r.version} (run {r.run_id}, out of time from {r.test_from})" for r in refs))
    return MaterializeResult(metadata=metadata)


def _on_exchange_book(engine: Any, exchange: ExchangeResource, now: datetime, propose: Any) -> Any:
    """Slips priced from the exchange's live books (kept whole in the warehouse), on one
    logged-in session."""
    from betting_assets.venues.betfair.markets import read_and_keep, runner_quotes

    with exchange.session("the exchange broker prices slips from the exchange's books") as client:
        return propose(lambda market_ids: runner_quotes(read_and_keep(engine, client, market_ids, now, "slips")))


@asset(
    group_name=GROUP,
    deps=["trained_model", "normalized_odds", "scores"],
    description="Proposals for events whose decision time has come: the champion's probabilities against the "
                "best price on offer (with the exchange broker, the exchange's best back net of commission on the "
                "mapped markets), Kelly-sized; one per event, market, outcome and model version.",
    kinds={"polars", "sql"},
)
def bet_slips(context: AssetExecutionContext, warehouse: WarehouseResource, mlflow: MlflowResource,
              clock: ClockResource, settings: SettingsResource, exchange: ExchangeResource) -> MaterializeResult:
    from betting_assets.betting.slips import proposals

    cfg = settings.get()
    now = clock.now()
    engine = warehouse.engine()
    if cfg.exchange.broker == "exchange":
        outcome = _on_exchange_book(engine, exchange, now,
                                    lambda quotes: proposals(engine, mlflow.tracker(), cfg, now, quotes))
    else:
        outcome = proposals(engine, mlflow.tracker(), cfg, now)
    if outcome.missing_models and not outcome.models:
        raise Failure("no champion model in the registry: materialise trained_model first",
                      metadata={"models": ", ".join(outcome.missing_models), "tracking_uri": mlflow.uri()})
    inserted: list[str] = []
    if not outcome.slips.is_empty():
        from betting_assets.warehouse import writes

        with engine.begin() as conn:
            inserted = writes.propose_slips(conn, outcome.slips, created_at=now, run_id=context.run_id)
    context.log.info(f"bet_slips at {now:%Y-%m-%d %H:%M}: {outcome.events} events at their decision time, "
                     f"{outcome.slips.height} slips above the minimum edge, {len(inserted)} new")
    return MaterializeResult(metadata={
        "now": MetadataValue.text(now.isoformat()),
        "events_at_decision": outcome.events,
        "slips": outcome.slips.height,
        "new_slips": len(inserted),
        "already_proposed": outcome.slips.height - len(inserted),
        "bankroll": rounded(float(outcome.slips["bankroll"][0]) if outcome.slips.height else cfg.bankroll, 2),
        "stake_total": rounded(float(outcome.slips["stake"].sum()) if outcome.slips.height else 0.0, 2),
        "min_edge_pct": percent(cfg.backtest.min_edge),
        "models": MetadataValue.md("\n".join(f"- {r.name} v{r.version}" for r in outcome.models) or "none"),
        "preview": markdown_table(outcome.slips.select(SLIP_PREVIEW)) if outcome.slips.height
        else MetadataValue.md("no slip above the minimum edge"),
    })
