"""MLflow: one run per training, the model registered, and the champion gate.

The gate scores the new version and the current champion on the same out-of-time events; the
``champion`` alias moves only when the new version's gain in log loss is beyond chance (its 95 %
paired bootstrap interval above zero), otherwise the new version becomes the ``challenger``. The
decision and both figures are tagged on the version, and its description says why.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib.metadata import version as package_version
from typing import Any

import mlflow
import numpy as np
import polars as pl
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from betting_assets.domain.betting.intervals import paired_difference
from betting_assets.domain.modelling.scoring import calibration_table, event_log_losses, log_loss
from betting_assets.modelling.plots import calibration_png, importance_png
from betting_assets.modelling.pyfunc import OutcomeModel
from betting_assets.domain.betting.claims import PRIOR_ALONE
from betting_assets.modelling.train import MarketComparison, TrainedModel

EXPERIMENT_KIND = "mlflow.experimentKind"
CHAMPION = "champion"
CHALLENGER = "challenger"


def model_name(three_way: bool) -> str:
    return "betting_assets_h2h_3way" if three_way else "betting_assets_h2h_2way"


MODEL_NAMES = (model_name(True), model_name(False))


@dataclass
class GateDecision:
    name: str
    version: str
    promoted: bool
    alias: str
    reason: str
    events: int
    new_log_loss: float
    champion_version: str | None = None
    champion_log_loss: float | None = None
    gain_low: float | None = None
    gain_high: float | None = None
    """95 % paired bootstrap interval of champion − new log loss over the same events"""
    vs_market: str | None = None
    """the new version against the best market reference, in the words the demo uses"""


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    run_id: str
    test_from: str | None


@dataclass
class TrainingRecord:
    run_id: str
    experiment_id: str
    model_uri: str
    gate: GateDecision
    oot: dict[str, float]
    calibration_png: bytes


class Tracker:
    """Tracking and registry at one URI; a local store keeps artifacts under ``artifact_root``."""

    def __init__(self, tracking_uri: str, artifact_root: str | None, experiment: str = "betting_assets") -> None:
        self.tracking_uri = tracking_uri
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            local = not tracking_uri.startswith(("http://", "https://", "databricks"))
            self.experiment_id = self.client.create_experiment(
                experiment, artifact_location=artifact_root if local else None)
        else:
            self.experiment_id = found.experiment_id
        if found is None or EXPERIMENT_KIND not in found.tags:
            # the UI would otherwise open the experiment as GenAI (traces), not model training
            self.client.set_experiment_tag(self.experiment_id, EXPERIMENT_KIND, "custom_model_development")

    def log_training(self, model: TrainedModel, oot_frame: pl.DataFrame, oot_labels: np.ndarray, probs: np.ndarray,
                     oot_metrics: dict[str, float], comparison: MarketComparison | None, *, run_name: str,
                     context: dict[str, Any], train: pl.DataFrame | None = None) -> TrainingRecord:
        """``probs``: the model's predictions for ``oot_frame``, already scored in ``oot_metrics``
        and against the market in ``comparison``."""
        name = model_name(len(model.classes) == 3)
        model_table = calibration_table(probs, oot_labels, model.classes)
        market_table = None
        if comparison is not None:
            market_table = calibration_table(comparison.reference_probs, oot_labels[comparison.priced], model.classes)
        vs_market = comparison.text() if comparison is not None else "no market price on the out-of-time events"
        description = (f"{name} trained on {context.get('train_events', '?')} events, tested out of time on "
                       f"{context.get('test_events', '?')} from {context.get('test_from', '?')[:10]}. {vs_market}. "
                       + (f"No tree split: {PRIOR_ALONE}. " if model.prior_only else
                          f"{model.split_trees} trees split (total gain {model.total_gain:.3g}). "))
        picture = calibration_png(model_table, market_table, f"{name}: out-of-time calibration")
        importance = model.importance()
        with mlflow.start_run(experiment_id=self.experiment_id, run_name=run_name, description=description) as run:
            mlflow.set_tags({"betting/model_name": name, **{f"betting/{k}": str(v) for k, v in context.items()},
                             "betting/prior_only": str(model.prior_only).lower(), "betting/vs_market": vs_market,
                             "betting/market_reference": comparison.reference if comparison else "none"})
            for frame, role in ((train, "training"), (oot_frame, "out_of_time")):
                if frame is not None and frame.height:
                    mlflow.log_input(_dataset(frame, model.features), context=role)
            mlflow.log_params({**{f"lgb_{k}": v for k, v in model.params.items()}, "prior": model.prior or "none",
                               "temperature": model.temperature, "num_rounds": model.num_rounds,
                               "n_features": len(model.features), "classes": ",".join(model.classes)})
            mlflow.log_metrics({"split_trees": model.split_trees, "total_gain": model.total_gain})
            for fold in model.folds:
                mlflow.log_metrics({f"fold_{k}": v for k, v in fold.metrics.items()}, step=fold.fold)
                mlflow.log_metric("fold_best_iteration", fold.best_iteration, step=fold.fold)
            mlflow.log_metrics({f"oot_{k}": v for k, v in oot_metrics.items()})
            mlflow.log_metrics({f"calibration_{k}": v for k, v in model.calibration.items()})
            mlflow.log_dict(_jsonable(model.study), "optuna/study_summary.json")
            if model.trials is not None:
                mlflow.log_text(model.trials.write_csv(), "optuna/trials.csv")
            mlflow.log_text(importance.write_csv(), "importance/feature_importance.csv")
            mlflow.log_image(_image(importance_png(importance)), "importance/feature_importance.png")
            mlflow.log_image(_image(picture), "calibration/calibration.png")
            mlflow.log_text(model_table.write_csv(), "calibration/calibration_table.csv")
            example = oot_frame.select(model.features).head(5).to_pandas()
            pyfunc_model = OutcomeModel(model)
            signature = infer_signature(example, pyfunc_model.predict(None, example))
            info = mlflow.pyfunc.log_model(
                name="model", python_model=pyfunc_model, signature=signature, input_example=example,
                registered_model_name=name, pip_requirements=_requirements(),
            )
            version = str(info.registered_model_version)
            gate = self.champion_gate(name, version, oot_frame, oot_labels, probs, vs_market)
            mlflow.set_tags({"betting/gate": "promoted" if gate.promoted else "refused",
                             "betting/model_version": version})
            mlflow.log_dict(asdict(gate), "gate/decision.json")
        return TrainingRecord(run_id=run.info.run_id, experiment_id=self.experiment_id, model_uri=info.model_uri,
                              gate=gate, oot=oot_metrics, calibration_png=picture)

    def champion_gate(self, name: str, version: str, frame: pl.DataFrame, labels: np.ndarray,
                      new_probs: np.ndarray, vs_market: str | None = None) -> GateDecision:
        new_loss = log_loss(new_probs, labels)
        try:
            current = self.client.get_model_version_by_alias(name, CHAMPION)
        except MlflowException:
            current = None
        if current is None or current.version == version:
            decision = GateDecision(name, version, True, CHAMPION, "no champion yet", len(labels), new_loss,
                                    vs_market=vs_market)
        else:
            champion = self.load(name, CHAMPION)
            inputs = champion.metadata.get_input_schema().input_names()
            champion_probs = champion.predict(frame.select(inputs).to_pandas()).to_numpy()
            champion_loss = log_loss(champion_probs, labels)
            gain = paired_difference(event_log_losses(champion_probs, labels), event_log_losses(new_probs, labels))
            better = gain is not None and gain.low > 0.0   # beyond chance: the interval holds no gain of zero or less
            if gain is None:
                spread = "too few events for an interval: kept as challenger"
            else:
                spread = (f"gain {gain.estimate:+.5f}, 95% CI {gain.low:+.5f} to {gain.high:+.5f}"
                          + (", within noise: kept as challenger" if gain.holds_zero and new_loss < champion_loss
                             else ", within noise" if gain.holds_zero else ""))
            reason = (f"out-of-time log loss {new_loss:.5f} {'<' if new_loss < champion_loss else '>='} champion "
                      f"v{current.version} {champion_loss:.5f} on the same {len(labels)} events ({spread})")
            decision = GateDecision(name, version, better, CHAMPION if better else CHALLENGER, reason, len(labels),
                                    new_loss, str(current.version), champion_loss,
                                    gain.low if gain else None, gain.high if gain else None, vs_market)
        self.client.set_registered_model_alias(name, decision.alias, version)
        tags = {"gate": "promoted" if decision.promoted else "refused", "gate_reason": decision.reason,
                "oot_log_loss": f"{new_loss:.6f}", "oot_events": str(len(labels))}
        if decision.champion_log_loss is not None:
            tags["champion_oot_log_loss"] = f"{decision.champion_log_loss:.6f}"
        if vs_market:
            tags["vs_market"] = vs_market
        for key, value in tags.items():
            self.client.set_model_version_tag(name, version, key, value)
        self.client.update_model_version(name, version, description=_version_description(decision))
        return decision

    def load(self, name: str, alias: str = CHAMPION) -> Any:
        return mlflow.pyfunc.load_model(f"models:/{name}@{alias}")

    def load_version(self, ref: ModelRef) -> Any:
        """The exact version an alias pointed to when ``ref`` was read, even if it moved since."""
        return mlflow.pyfunc.load_model(f"models:/{ref.name}/{ref.version}")

    def champion(self, name: str, alias: str = CHAMPION) -> ModelRef | None:
        """The version behind an alias, its run, and the first day it was not trained on."""
        found = self._champion_run(name, alias)
        return found[0] if found else None

    def _champion_run(self, name: str, alias: str = CHAMPION) -> tuple[ModelRef, Any] | None:
        try:
            version = self.client.get_model_version_by_alias(name, alias)
        except MlflowException:
            return None
        run = self.client.get_run(version.run_id)
        return ModelRef(name=name, version=str(version.version), run_id=version.run_id,
                        test_from=run.data.tags.get("betting/test_from")), run

    def champions(self) -> list[tuple[ModelRef, dict[str, float], dict[str, str]]]:
        """Each market kind's champion with its run's metrics (``oot_*`` are out of time) and tags
        (``betting/vs_market``, ``betting/prior_only`` …), read in one call per champion."""
        found = []
        for name in MODEL_NAMES:
            pair = self._champion_run(name)
            if pair is not None:
                ref, run = pair
                found.append((ref, dict(run.data.metrics), dict(run.data.tags)))
        return found

    def latest(self) -> list[tuple[ModelRef, dict[str, float], dict[str, str]]]:
        """Each market kind's newest version (the last training), with its run's metrics and tags."""
        found = []
        for name in MODEL_NAMES:
            versions = self.client.search_model_versions(f"name='{name}'")
            if not versions:
                continue
            newest = max(versions, key=lambda v: int(v.version))
            run = self.client.get_run(newest.run_id)
            found.append((ModelRef(name=name, version=str(newest.version), run_id=newest.run_id,
                                   test_from=run.data.tags.get("betting/test_from")),
                          dict(run.data.metrics), dict(run.data.tags)))
        return found

    def log_backtest(self, run_id: str, prefix: str, metrics: dict[str, Any], equity_png: bytes,
                     files: dict[str, str]) -> None:
        """Adds a backtest of the model's strategy to the model's own training run: counts and
        sums as they are, and each ratio only where its claim can stand (``claimable``), the
        ones left out named in a tag with the sample that was too small."""
        kept, left_out = claimable(metrics)
        for key, value in kept.items():
            self.client.log_metric(run_id, f"{prefix}_{key}", value)
        if left_out:
            self.client.set_tag(run_id, f"betting/{prefix}_not_logged", left_out)
        self.client.log_image(run_id, _image(equity_png), f"backtest/{prefix}_equity.png")
        for name, text in files.items():
            self.client.log_text(run_id, text, f"backtest/{name}")

    def alias_version(self, name: str, alias: str = CHAMPION) -> str | None:
        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            return None


def _image(png: bytes) -> Any:
    import io

    from PIL import Image

    return Image.open(io.BytesIO(png))


def _dataset(frame: pl.DataFrame, features: list[str]):  # type: ignore[no-untyped-def]
    """The feature rows a run saw, as an MLflow dataset: its span in the name, MLflow's digest of
    the rows, the schema and row count in the profile (the rows themselves stay in the warehouse)."""
    import mlflow.data

    kept = [c for c in ("event_id", "sport_key", "commence_time", "decision_time", *features) if c in frame.columns]
    span = f"{frame['commence_time'].min():%Y-%m-%d}..{frame['commence_time'].max():%Y-%m-%d}"
    return mlflow.data.from_polars(frame.select(kept), source="betting_assets warehouse: features",
                                   name=f"features {span} ({frame['event_id'].n_unique()} events)")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _requirements() -> list[str]:
    names = ["mlflow", "lightgbm", "polars", "pandas", "numpy", "scipy", "optuna"]
    return [f"{n}=={package_version(n)}" for n in names] + ["betting_assets"]



def _version_description(decision: GateDecision) -> str:
    """What the registry's page of a version says: where the gate put it and why, in words."""
    where = ("the champion" if decision.promoted else
             "the challenger (the champion stays: a model is promoted only on a gain beyond chance)")
    lines = [f"Gate: {where}.", decision.reason + "."]
    if decision.vs_market:
        lines.append(f"Against the market: {decision.vs_market}.")
    return "\n\n".join(lines)


RATIOS_WITH_INTERVALS = ("roi", "clv", "hit_rate")
RATIOS_WITHOUT = ("sharpe", "sortino", "calmar", "profit_factor")


def claimable(metrics: dict[str, Any]) -> tuple[dict[str, float], str]:
    """The backtest figures worth logging: a ratio with an interval together with its interval, or
    not at all when the sample gave none; a ratio without an interval (Sharpe, Sortino, Calmar,
    profit factor) only over the samples an interval needs (``intervals.MIN_ITEMS`` bets and
    ``MIN_CLUSTERS`` days). What was left out, and why, in a sentence."""
    from betting_assets.domain.betting.intervals import MIN_CLUSTERS, MIN_ITEMS

    numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    bets, days = int(numbers.get("bets", 0)), int(numbers.get("bet_days", numbers.get("days", 0)))
    dropped = []
    for ratio in RATIOS_WITH_INTERVALS:
        if ratio in numbers and (f"{ratio}_low" not in numbers or f"{ratio}_high" not in numbers):
            dropped.append(ratio)
    if bets < MIN_ITEMS or days < MIN_CLUSTERS:
        dropped.extend(r for r in RATIOS_WITHOUT if r in numbers)
    kept = {k: v for k, v in numbers.items() if k not in dropped}
    if not dropped:
        return kept, ""
    return kept, (f"{', '.join(dropped)} not logged: {bets} bets over {days} days give no interval (claims need "
                  f"{MIN_ITEMS} bets and {MIN_CLUSTERS} days)")
