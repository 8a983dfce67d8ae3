"""The trained_model asset: LightGBM tuned by Optuna on every stored feature row, logged to
MLflow, registered, and promoted to ``champion`` only past the gate."""

from typing import TYPE_CHECKING

from dagster import (
    AssetExecutionContext,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from betting_assets.defs.metadata import markdown_table, picture, rounded
from betting_assets.defs.resources import MlflowResource, SettingsResource, WarehouseResource
from betting_assets.defs.run_config import day_start, given
from betting_assets.domain.betting.claims import PRIOR_ALONE

import polars as pl
from pydantic import Field

if TYPE_CHECKING:
    from betting_assets.modelling.pipeline import TrainingResult

GROUP = "modelling"


class TrainingConfig(Config):
    """Unset (``None``) values take the settings (``BETTING_MODEL_*``)."""

    n_trials: int | None = Field(default=None, ge=1, description="Optuna trials")
    test_from: str | None = Field(default=None, description="first out-of-time day (ISO)")
    train_from: str | None = Field(default=None, description="first training day (ISO)")


@asset(
    group_name=GROUP,
    deps=["features"],
    description="LightGBM per market kind (1X2, two-way), Optuna on time-ordered folds, tracked in "
                "MLflow; the champion alias moves only when the new version wins out of time.",
    kinds={"lightgbm", "mlflow"},
)
def trained_model(context: AssetExecutionContext, config: TrainingConfig, warehouse: WarehouseResource,
                  mlflow: MlflowResource, settings: SettingsResource) -> MaterializeResult:
    # imported here: LightGBM, Optuna and MLflow would add ~2 s to every load of the definitions
    from betting_assets.modelling.pipeline import fit_and_log, warehouse_training_frame
    from betting_assets.modelling.train import TrainConfig

    cfg = settings.get()
    frame = warehouse_training_frame(warehouse.engine(), cfg.collection.sports, cfg.model.decision_hours,
                                     day_start(given(config.train_from, cfg.model.train_from)))
    if frame.is_empty():
        raise Failure("no labelled feature rows: materialise features for finished events first",
                      metadata={"sports": ", ".join(cfg.collection.sports)})
    train_config = TrainConfig(n_trials=given(config.n_trials, cfg.model.trials), n_folds=cfg.model.folds)
    tracker = mlflow.tracker()
    outcomes: "list[TrainingResult]" = []
    for three_way in (True, False):
        if frame.filter(pl.col("three_way") == three_way).is_empty():
            continue
        outcomes.append(fit_and_log(
            frame, three_way=three_way, test_from=day_start(given(config.test_from, cfg.model.test_from)),
            config=train_config, tracker=tracker,
            context={"dagster_run_id": context.run.run_id,
                     "dagster_run_url": f"{cfg.storage.dagster_ui_url.rstrip('/')}/runs/{context.run.run_id}"},
            progress=context.log.info))
    metadata: dict[str, object] = {"models": MetadataValue.md(_summary(outcomes))}
    for outcome in outcomes:
        record = outcome.record
        assert record is not None
        prefix = "3way" if outcome.three_way else "2way"
        metadata.update(_figures(prefix, outcome))
        metadata[f"{prefix}_gate"] = MetadataValue.md(
            f"**{record.gate.alias}** (v{record.gate.version}): {record.gate.reason}")
        metadata[f"{prefix}_vs_market"] = MetadataValue.text(outcome.market.text() if outcome.market else
                                                             "no market price on the out-of-time events")
        metadata[f"{prefix}_trees"] = MetadataValue.text(
            f"no tree split: {PRIOR_ALONE}" if outcome.model.prior_only else
            f"{outcome.model.split_trees} trees split, total gain {outcome.model.total_gain:.3g}")
        metadata[f"{prefix}_folds"] = markdown_table(pl.DataFrame(
            [{"fold": f.fold, "train": f.train_events, "valid": f.valid_events, "rounds": f.best_iteration,
              **{k: v for k, v in f.metrics.items() if "log_loss" in k}} for f in outcome.model.folds]), digits=5)
        metadata[f"{prefix}_calibration"] = picture(record.calibration_png, "calibration")
        metadata[f"{prefix}_run_id"] = MetadataValue.text(record.run_id)
        ui = cfg.storage.mlflow_ui_url.rstrip("/")
        metadata[f"{prefix}_mlflow_run"] = MetadataValue.url(
            f"{ui}/#/experiments/{record.experiment_id}/runs/{record.run_id}")
        metadata[f"{prefix}_mlflow_version"] = MetadataValue.url(
            f"{ui}/#/models/{outcome.name}/versions/{record.gate.version}")
    metadata["tracking_uri"] = MetadataValue.text(mlflow.uri())
    return MaterializeResult(metadata=metadata)


def _figures(prefix: str, outcome: "TrainingResult") -> dict[str, object]:
    """The headline first: the gain over the market with its interval and sample, which the Plots
    view trends across trainings. Each training is scored on its own out-of-time window, so the
    log losses themselves (a harder window has higher ones for model and market alike) are words,
    not a trend that would join different windows; their paired difference is the gain."""
    oot = outcome.oot
    figures: dict[str, object] = {}
    for key in ("gain_vs_market", "gain_vs_market_low", "gain_vs_market_high", "market_events"):
        if key in oot:
            figures[f"{prefix}_{key}"] = int(oot[key]) if key == "market_events" else rounded(oot[key], 5)
    figures |= {
        f"{prefix}_oot_events": outcome.test_events, f"{prefix}_train_events": outcome.train_events,
        f"{prefix}_split_trees": outcome.model.split_trees,
        f"{prefix}_version": int(outcome.record.gate.version) if outcome.record else MetadataValue.null(),
        f"{prefix}_log_loss": MetadataValue.text(
            f"model {oot['log_loss']:.5f}" + (f", market {oot['market_log_loss']:.5f}" if "market_log_loss" in oot
                                              else "") +
            f" on {outcome.test_events} events from {outcome.test_from:%Y-%m-%d} (this window's own)"),
    }
    return figures


def _summary(outcomes: "list[TrainingResult]") -> str:
    lines = ["| model | version | alias | train | test from | test events | log loss | best sharp log loss | "
             "gain (95% CI) | Brier |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for o in outcomes:
        gate = o.record.gate if o.record else None
        lines.append(
            f"| {o.name} | {gate.version if gate else '-'} | {gate.alias if gate else '-'} | {o.train_events} | "
            f"{o.test_from:%Y-%m-%d} | {o.test_events} | {o.oot['log_loss']:.5f} | "
            f"{o.oot.get('market_log_loss', float('nan')):.5f} | {_gain(o.oot)} | {o.oot['brier']:.5f} |")
    return "\n".join(lines)


def _gain(oot: dict[str, float]) -> str:
    if "gain_vs_market_low" not in oot:
        return "–"
    return (f"{oot['gain_vs_market']:+.4f} ({oot['gain_vs_market_low']:+.4f} to {oot['gain_vs_market_high']:+.4f})")
