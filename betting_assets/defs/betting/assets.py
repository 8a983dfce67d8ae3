"""The backtests and bet_slips assets."""

from datetime import datetime, timedelta

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
from betting_assets.defs.resources import ClockResource, MlflowResource, SettingsResource, VenueResource, WarehouseResource
from betting_assets.defs.run_config import day_start, given

GROUP = "betting"
SLIP_PREVIEW = ["strategy", "commence_time", "home_team", "away_team", "market", "side", "point", "bookmaker",
                "quoted_price", "price", "prob", "edge", "stake", "model_version"]


class BacktestRunConfig(Config):
    """Unset (``None``) values take the settings (``BETTING_BACKTEST_*``, ``BETTING_MIN_EDGE``…)."""

    strategies: list[str] | None = Field(default=None, description="registered strategies to replay")
    start: str | None = Field(default=None, description="first kick-off day (ISO)")
    end: str | None = Field(default=None, description="day after the last kick-off day (ISO)")
    bankroll: float | None = Field(default=None, gt=0, description="starting bankroll")
    min_edge: float | None = Field(default=None, ge=0, le=1, description="minimum edge of every strategy that has one")
    gate_min_edge: float | None = Field(default=None, ge=-1, le=1, description="the gate's edge floor for this "
                                        "backtest only (e.g. -1, so that flat baselines are not refused); live "
                                        "placement never reads it")
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
        champion_probabilities,
        live_runs,
        needs_model,
        replay,
        strategy_runs,
        warehouse_history,
    )
    from betting_assets.domain.betting import backtest_export
    from betting_assets.domain.betting.backtest import BacktestResult
    from betting_assets.modelling.registry import MODEL_NAMES

    cfg = settings.get()
    if config.gate_min_edge is not None:   # a research backtest's floor, said in its metadata
        cfg = cfg.model_copy(update={"risk": cfg.risk.model_copy(update={"min_edge": config.gate_min_edge})})
    names = given(config.strategies, cfg.backtest.strategies)
    runs = strategy_runs(names, cfg, config.sizing, given(config.min_edge, None))
    live = live_runs(cfg)
    tracker = mlflow.tracker() if needs_model(runs + live) else None
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
    if config.gate_min_edge is not None:
        notes.append(f"research run: the gate's edge floor is {config.gate_min_edge:g} for this backtest only "
                     f"(the settings' is {settings.get().risk.min_edge:g})")
    model = None
    if tracker is not None and refs:
        model, refs, _ = champion_probabilities(tracker, history.features)
    if model is None:
        for kept in (runs, live):
            skipped = [r.strategy.name for r in kept if r.strategy.needs_model]
            kept[:] = [r for r in kept if not r.strategy.needs_model]
            if skipped and kept is runs:
                notes.append(f"{', '.join(skipped)} skipped: no champion model, or no stored features for its "
                             "out-of-time events")
    result = replay(history.odds, history.events, runs, cfg, start=start, end=end, model=model,
                    bankroll=config.bankroll, lookback=lookback, progress=context.log.info)
    account = replay(history.odds, history.events, live, cfg, start=start, end=end, model=model,
                     bankroll=config.bankroll, lookback=lookback, together=True) if live else None

    folder = cfg.home_dir / "backtests" / context.run.run_id
    files = report.write_exports(result, folder)
    equity = report.equity_png(result)
    # the headline first: the Plots view opens on the first figure, so the strategies that bet most
    # come before those that did not bet at all
    busiest = sorted(result.strategies, key=lambda s: (-int(s.metrics.get("bets") or 0), s.name))
    metadata: dict[str, object] = {
        "summary": MetadataValue.md("\n".join(f"- {line}" for line in report.summary_lines(result))),
        "comparison": MetadataValue.md(report.comparison_markdown(result)),
        **{k: v for strategy in busiest for k, v in strategy_figures(strategy.name, strategy.metrics).items()},
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
    metadata["refused_by_control"] = MetadataValue.md(report.refusals_markdown(result))
    if account is not None and account.account is not None:
        metadata["live_account"] = MetadataValue.md(report.account_markdown(account))
        metadata.update(strategy_figures("live_account", account.account.metrics))
    if notes:
        metadata["notes"] = MetadataValue.md("\n".join(f"- {n}" for n in notes))
    modelled = [s for s, r in zip(result.strategies, runs) if r.strategy.needs_model]
    if model is not None and tracker is not None and modelled:
        mine = BacktestResult(config=result.config, strategies=modelled)
        model_png = report.equity_png(mine, f"{', '.join(s.name for s in modelled)}: bankroll by day")
        csv = backtest_export.to_csv(mine)
        for ref in refs:
            tracker.log_backtest(ref.run_id, "backtest", mine.strategies[0].metrics, model_png,
                                 {"result.json": backtest_export.to_json(mine), "bets.csv": csv["bets.csv"],
                                  "comparison.md": report.comparison_markdown(result),
                                  "summary.md": "\n".join(report.summary_lines(result))})
        metadata["model_versions"] = MetadataValue.md("\n".join(
            f"- {r.name} v{r.version} (run {r.run_id}, out of time from {r.test_from})" for r in refs))
    return MaterializeResult(metadata=metadata)


@asset(
    group_name=GROUP,
    deps=["trained_model", "normalized_odds", "scores"],
    description="The live strategies' decision on the events whose decision time has come, as the backtest "
                "takes it: each registered strategy of BETTING_LIVE_STRATEGIES chooses on the market view at the "
                "decision time (the venue's own book where it has one), the account sizes the bets on the day's "
                "cash within risk's limits; one slip per strategy, event, market, outcome (and model version).",
    kinds={"polars", "sql"},
)
def bet_slips(context: AssetExecutionContext, warehouse: WarehouseResource, mlflow: MlflowResource,
              clock: ClockResource, settings: SettingsResource, venue: VenueResource) -> MaterializeResult:
    from betting_assets.betting.slips import proposals
    from betting_assets.orders.service import account_book
    from betting_assets.warehouse import writes

    cfg = settings.get()
    now = clock.now()
    engine = warehouse.engine()
    with venue.session("slips are priced where they are placed") as made:
        outcome = proposals(engine, mlflow.tracker, cfg, now, lambda: account_book(engine, cfg, made, now),
                            lambda offers, events: made.offers(engine, offers, events, now))
    inserted: list[str] = []
    with engine.begin() as conn:
        if not outcome.slips.is_empty():
            inserted = writes.propose_slips(conn, outcome.slips, created_at=now, run_id=context.run.run_id)
        writes.record_decisions(conn, outcome.decided, now, context.run.run_id)
    for name in outcome.skipped:
        context.log.warning(f"{name} did not decide: no champion model in the registry ({mlflow.uri()})")
    decision = outcome.decision
    context.log.info(f"bet_slips at {now:%Y-%m-%d %H:%M}: {outcome.events} events at their decision time, "
                     f"{decision.candidates if decision else 0} bets chosen by "
                     f"{', '.join(cfg.live.names)}, {outcome.slips.height} slips, {len(inserted)} new")
    by_strategy = (outcome.slips.group_by("strategy").agg(pl.len().alias("slips"), pl.col("stake").sum())
                   .sort("strategy") if outcome.slips.height else pl.DataFrame())
    return MaterializeResult(metadata={
        "now": MetadataValue.text(now.isoformat()),
        "events_at_decision": outcome.events,
        "live_strategies": MetadataValue.text(", ".join(str(s) for s in cfg.live.strategies)),
        "chosen": decision.candidates if decision else 0,
        "slips": outcome.slips.height,
        "new_slips": len(inserted),
        "already_proposed": outcome.slips.height - len(inserted),
        "day_cash": rounded(decision.cash if decision and decision.cash is not None else cfg.bankroll, 2),
        "stake_total": rounded(float(outcome.slips["stake"].sum()) if outcome.slips.height else 0.0, 2),
        "refused_before_sizing": MetadataValue.md(" · ".join(f"{k}: {v}" for k, v in sorted(
            (decision.refused if decision else {}).items())) or "none"),
        "by_strategy": markdown_table(by_strategy, digits=2) if by_strategy.height else MetadataValue.md("no slip"),
        "skipped": MetadataValue.md(", ".join(outcome.skipped) or "none"),
        "models": MetadataValue.md("\n".join(f"- {r.name} v{r.version}" for r in outcome.models) or "none"),
        "preview": markdown_table(outcome.slips.select(SLIP_PREVIEW)) if outcome.slips.height
        else MetadataValue.md("no slip: no strategy chose a bet the account could size"),
    })
