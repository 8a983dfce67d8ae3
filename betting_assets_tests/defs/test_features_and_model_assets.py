"""Features and the trained model as Dagster assets on a real instance, both databases: the
leakage guard passes on real EPL history and blocks downstream when features peek ahead; the
model asset trains, logs to MLflow and reports the gate."""

from __future__ import annotations

import dataclasses

from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, materialize
from sqlalchemy import Engine, select

from betting_assets.features import store as feature_store
from betting_assets.defs.features.assets import features
from betting_assets.defs.modelling.assets import trained_model
from betting_assets.defs.resources import MlflowResource, SettingsResource
from betting_assets.domain.features.build import FEATURE_COLUMNS, INFO_COLUMNS
from betting_assets.warehouse import writes
from betting_assets.warehouse.tables import data_quality_log, events
from betting_assets.warehouse.tables import features as features_table
from betting_assets_tests.defs.conftest import DAY
from betting_assets_tests.modelling.conftest import simulated_rows



def _checks(result) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def _materialized(result) -> set[str]:  # type: ignore[no-untyped-def]
    return {m.asset_key.path[-1] for m in result.get_asset_materialization_events()}


def test_features_of_a_real_day_pass_the_leakage_guard(engine: Engine, ingested: dict[str, object]) -> None:
    result = materialize([features], resources=ingested, partition_key=DAY, instance=DagsterInstance.ephemeral(),
                         raise_on_error=False)
    assert result.success and _checks(result) == {"no_lookahead": True}
    with engine.connect() as conn:
        stored = conn.execute(select(features_table.c.event_id, features_table.c.decision_time,
                                     features_table.c.commence_time, features_table.c["values"])).all()
    assert len(stored) == 6
    for _, decision, commence, values in stored:
        assert commence - decision == timedelta(hours=1)
        assert abs(values["sharp_mult_home"] + values["sharp_mult_draw"] + values["sharp_mult_away"] - 1) < 1e-9
    # re-materialising replaces, never duplicates
    assert materialize([features], resources=ingested, partition_key=DAY,
                       instance=DagsterInstance.ephemeral()).success
    with engine.connect() as conn:
        assert len(conn.execute(select(features_table.c.event_id)).all()) == 6


def _stored(engine: Engine) -> set[tuple]:  # type: ignore[type-arg]
    with engine.connect() as conn:
        return {(e, d, v, str(sorted(values.items()))) for e, d, v, values in conn.execute(select(
            features_table.c.event_id, features_table.c.decision_time, features_table.c.feature_version,
            features_table.c["values"])).all()}


def test_features_that_peek_past_the_decision_time_fail_the_guard_are_never_published(
        engine: Engine, ingested: dict[str, object], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert materialize([features], resources=ingested, partition_key=DAY, instance=DagsterInstance.ephemeral()).success
    audited = _stored(engine)
    assert len(audited) == 6
    real_build = feature_store.build_days

    def leaky(engine_, sport, days, config):  # type: ignore[no-untyped-def]
        """Builds at kick-off (the closing prices) but files the rows under the decision time."""
        at_kickoff = real_build(engine_, sport, days, dataclasses.replace(config, decision_hours=(0.0,)))
        frame = at_kickoff.frame.with_columns(decision_time=pl.col("commence_time") - timedelta(hours=1))
        return feature_store.FeatureBuild(frame, at_kickoff.odds_rows)

    monkeypatch.setattr(feature_store, "build_days", leaky)
    resources = {**ingested, "mlflow": MlflowResource(settings=ingested["settings"],
                                                      tracking_uri=f"sqlite:///{tmp_path / 'mlflow.sqlite'}")}
    result = materialize([features, trained_model], resources=resources, partition_key=DAY,
                         instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert _checks(result) == {"no_lookahead": False}
    assert "trained_model" not in _materialized(result)
    with engine.connect() as conn:
        logged = conn.execute(select(data_quality_log.c.check_name, data_quality_log.c.event_id)
                              .where(data_quality_log.c.check_name == "no_lookahead")).all()
    assert logged and all(event_id for _, event_id in logged)
    # what the model, the backtests and the slips read in a later run is what passed the guard, unchanged
    assert _stored(engine) == audited


def test_model_asset_trains_logs_and_reports_the_gate(engine: Engine, db_url: str, tmp_path: Path,
                                                      settings: SettingsResource) -> None:
    frame = simulated_rows(500, seed=11, market_noise=0.2)
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with engine.begin() as conn:
        conn.execute(events.insert(), [
            {"event_id": r["event_id"], "sport_key": "soccer_epl", "commence_time": r["commence_time"],
             "home_team": f"H{i % 10}", "away_team": f"A{i % 10}", "status": "final", "completed": True,
             "home_score": {0: 2, 1: 1, 2: 0}[r["label"]], "away_score": {0: 0, 1: 1, 2: 1}[r["label"]],
             "first_seen_at": now, "updated_at": now}
            for i, r in enumerate(frame.iter_rows(named=True))])
        writes.replace_features(conn, frame.with_columns(sport_key=pl.lit("soccer_epl")), INFO_COLUMNS,
                                FEATURE_COLUMNS, "test")
    from betting_assets.defs.resources import WarehouseResource

    mlflow_resource = MlflowResource(settings=settings, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.sqlite'}")
    config = {"ops": {"trained_model": {"config": {"n_trials": 2, "test_from": frame["commence_time"][400].date().isoformat()}}}}
    result = materialize([trained_model], resources={"settings": settings, "mlflow": mlflow_resource,
                                                     "warehouse": WarehouseResource(settings=settings, database_url=db_url)},
                         instance=DagsterInstance.ephemeral(), run_config=config)
    assert result.success
    (event,) = [m for m in result.get_asset_materialization_events() if m.asset_key == AssetKey("trained_model")]
    metadata = {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
    assert "**champion** (v1): no champion yet" in metadata["3way_gate"]
    assert metadata["3way_calibration"].startswith("![calibration](data:image/png;base64,")
    assert "betting_assets_h2h_3way" in metadata["models"]
    assert mlflow_resource.tracker().alias_version("betting_assets_h2h_3way") == "1"
    # what a user trends and follows: numbers, and links between Dagster and MLflow both ways
    # the gain over the market, with its interval, is the first figure the Plots view shows; the log
    # losses of a window of its own are words, not a trend across trainings on other windows
    numbers = [k for k, v in metadata.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    assert numbers[:3] == ["3way_gain_vs_market", "3way_gain_vs_market_low", "3way_gain_vs_market_high"]
    assert metadata["3way_oot_events"] == 100 and not any("log_loss" in k for k in numbers)
    assert metadata["3way_log_loss"].startswith("model 0.") and "on 100 events from" in metadata["3way_log_loss"]
    assert metadata["3way_mlflow_version"].endswith("/#/models/betting_assets_h2h_3way/versions/1")
    tracker = mlflow_resource.tracker()
    run = tracker.client.get_run(metadata["3way_run_id"])
    assert metadata["3way_mlflow_run"].endswith(f"/runs/{run.info.run_id}")
    assert run.data.tags["betting/dagster_run_url"].endswith(f"/runs/{result.run_id}")
    assert run.data.tags["mlflow.note.content"].startswith("betting_assets_h2h_3way trained on 400 events")
    inputs = {i.tags[0].value: i.dataset for i in run.inputs.dataset_inputs}
    assert set(inputs) == {"training", "out_of_time"} and "(400 events)" in inputs["training"].name
    assert tracker.client.get_experiment(tracker.experiment_id).tags["mlflow.experimentKind"] == \
        "custom_model_development"
