"""The backtests and bet_slips assets on a real Dagster instance, warehouse (both databases),
sandbox and MLflow store: a backtest of a real EPL day with the champion's strategy logged to
its run, and slips proposed once for the matches at their decision time."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import sqlalchemy.exc
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, SkipReason, build_sensor_context, materialize
from mlflow import MlflowClient
from sqlalchemy import Engine

from betting_assets.defs.betting.assets import backtests, bet_slips
from betting_assets.defs.betting.sensors import slips_sensor
from betting_assets.defs.run_keys import RUN_KEY_TAG
from betting_assets.definitions import defs
from betting_assets.defs.features.assets import features
from betting_assets.defs.collection.assets import normalized_odds, odds_snapshots
from betting_assets.defs.resources import MlflowResource, SettingsResource
from betting_assets.domain.betting import backtest_export
from betting_assets.modelling.pipeline import fit_and_log
from betting_assets.modelling.registry import Tracker
from betting_assets.modelling.train import TrainConfig
from betting_assets.sandbox.server import SandboxServer
from betting_assets.warehouse import queries
from betting_assets.warehouse.tables import bet_slips as slips_table
from betting_assets_tests.defs.conftest import DAY, set_sandbox
from betting_assets_tests.modelling.conftest import simulated_rows

KICK_OFF_14 = {"Bournemouth", "Brighton and Hove Albion", "Everton", "Sheffield United"}   # as The Odds API names them


@pytest.fixture
def mlflow_resource(tmp_path: Path, settings: SettingsResource) -> MlflowResource:
    return MlflowResource(settings=settings, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.sqlite'}")


def _champion(tracker: Tracker, home_bias: float | None = None) -> str:
    """Registers a champion trained on simulated rows; with ``home_bias`` nearly every result
    in training is a home win, so the model sees value in home prices."""
    rows = simulated_rows(300, seed=3, market_noise=0.2)
    if home_bias is not None:
        rng = np.random.default_rng(4)
        rows = rows.with_columns(label=pl.Series(rng.choice(3, rows.height, p=[home_bias, (1 - home_bias) / 2,
                                                                             (1 - home_bias) / 2]), dtype=pl.Int32))
        rows = rows.with_columns([pl.lit(None, pl.Float64).alias(c) for c in rows.columns
                                  if c.startswith(("sharp_", "cons_"))])
    outcome = fit_and_log(rows, three_way=True, test_from=None, config=TrainConfig(n_trials=2), tracker=tracker,
                          context={})
    assert outcome.record is not None
    return outcome.record.run_id


def _metadata(result, key: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    (event,) = [m for m in result.get_asset_materialization_events() if m.asset_key == AssetKey(key)]
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def test_backtest_of_a_real_day_with_the_champion_logged_to_its_run(
        engine: Engine, ingested: dict[str, object], mlflow_resource: MlflowResource, home: Path) -> None:
    assert materialize([features], resources=ingested, partition_key=DAY, instance=DagsterInstance.ephemeral()).success
    run_id = _champion(mlflow_resource.tracker())
    config = {"ops": {"backtests": {"config": {
        "strategies": ["flat_home", "flat_favourite", "sharp_value", "arbitrage", "model_value"],
        "start": "2023-08-12", "end": "2023-08-13", "min_edge": 0.0,
        "gate_min_edge": -1.0}}}}        # the gate's floor lowered for this backtest only: flat bets pass it
    result = materialize([backtests], resources={**ingested, "mlflow": mlflow_resource}, run_config=config,
                         instance=DagsterInstance.ephemeral())
    assert result.success
    metadata = _metadata(result, "backtests")
    assert "| strategy |" in str(metadata["refused_by_control"]) or metadata["refused_by_control"] == \
        "no candidate refused by a control"
    assert "| account |" in str(metadata["live_account"])      # the live strategies together, as they bet
    for name in ("flat_home", "sharp_value", "arbitrage", "model_value"):
        assert f"| {name} |" in str(metadata["comparison"])
    assert str(metadata["equity_curve"]).startswith("![equity curves](data:image/png;base64,")
    exported = backtest_export.from_json(Path(str(metadata["result_json"])).read_text())
    flat = exported.strategy("flat_home")
    assert flat.metrics["bets"] == 6 and flat.bets["event_id"].n_unique() == 6
    assert (flat.bets["snapshot_time"] < flat.bets["decision_time"]).all()
    assert exported.strategy("model_value").metrics["bets"] > 0
    # the Plots view opens on the first figure: the strategy that bet most, not one that never bet
    numbers = [k for k, v in metadata.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    assert numbers[0].endswith("_bets") and metadata[numbers[0]] == max(
        s.metrics["bets"] for s in exported.strategies) > 0
    for name in ("comparison.csv", "bets.csv", "equity.csv", "by_market.csv", "equity.png"):
        assert (Path(str(metadata["exports"])) / name).stat().st_size > 0
    run = MlflowClient(tracking_uri=mlflow_resource.uri()).get_run(run_id)
    assert run.data.metrics["backtest_bets"] == exported.strategy("model_value").metrics["bets"]
    artifacts = {a.path for a in MlflowClient(tracking_uri=mlflow_resource.uri()).list_artifacts(run_id, "backtest")}
    assert {"backtest/result.json", "backtest/backtest_equity.png", "backtest/bets.csv"} <= artifacts


def _ingest_live(resources: dict[str, object], sandbox: SandboxServer, now: str) -> None:
    set_sandbox(sandbox, "clock", {"now": now})
    assert materialize([odds_snapshots, normalized_odds], resources=resources, partition_key=DAY,
                       instance=DagsterInstance.ephemeral()).success


def test_bet_slips_for_the_matches_at_their_decision_time_are_proposed_once(
        engine: Engine, resources: dict[str, object], sandbox: SandboxServer, mlflow_resource: MlflowResource,
        home: Path) -> None:
    """The live strategies (sharp_value and model_value, half the day's cash each) decide the
    14:00 games once, at 13:20: each slip names its strategy, the model's carry its version, all
    within risk's limits; a second run finds nothing left to decide, and the sensor stops asking."""
    _ingest_live(resources, sandbox, "2023-08-12T12:40:00Z")   # before the 13:00 decision of the 14:00 games
    _ingest_live(resources, sandbox, "2023-08-12T13:20:00Z")   # the prices on offer now
    _champion(mlflow_resource.tracker(), home_bias=0.8)
    all_resources = {**resources, "mlflow": mlflow_resource}
    instance = DagsterInstance.ephemeral()
    with build_sensor_context(resources=resources, instance=instance) as context:
        request = slips_sensor(context)
        assert request.run_key == slips_sensor(context).run_key     # a repeated tick is harmless
        job = defs.resolve_job_def("propose_bets")                  # a run killed under that key is asked again
        instance.create_run_for_job(job_def=job, tags={RUN_KEY_TAG: request.run_key}, status=DagsterRunStatus.FAILURE)
        assert slips_sensor(context).run_key == f"{request.run_key}:2"
        instance.create_run_for_job(job_def=job, tags={RUN_KEY_TAG: f"{request.run_key}:2"},
                                    status=DagsterRunStatus.STARTED)
        assert slips_sensor(context).run_key == f"{request.run_key}:2"   # not while the second is under way
    first = materialize([bet_slips], resources=all_resources, instance=DagsterInstance.ephemeral())
    assert first.success
    with engine.connect() as conn:
        slips = queries.slips_frame(conn)
        decided = queries.decisions_frame(conn)
    now = datetime(2023, 8, 12, 13, 20, tzinfo=timezone.utc)
    settings = resources["settings"].get()  # type: ignore[attr-defined]
    assert slips.height > 0 and set(slips["home_team"]) <= KICK_OFF_14
    assert (slips["decision_time"] <= now).all() and (slips["commence_time"] > now).all()
    assert set(slips["status"]) == {"proposed"} and set(slips["strategy"]) <= {"sharp_value", "model_value"}
    modelled = slips.filter(pl.col("strategy") == "model_value")
    assert modelled.height and set(modelled["model_version"]) == {"1"}
    assert slips.filter(pl.col("strategy") == "sharp_value")["model_version"].is_null().all()
    assert (slips["edge"] >= settings.risk.min_edge).all() and (slips["stake"] <= settings.risk.max_stake).all()
    assert (slips["bankroll"] == 0.5 * settings.bankroll).all()          # each strategy's half of the day's cash
    assert slips["idempotency_key"].n_unique() == slips.height
    assert all(k.startswith(f"{s}|") for k, s in slips.select("idempotency_key", "strategy").iter_rows())
    assert all("edge" in r and "sizing on" in r for r in slips["rationale"]), slips["rationale"][0]
    assert _metadata(first, "bet_slips")["new_slips"] == slips.height
    assert decided.height == 4 and set(decided["decided_at"]) == {now}   # the four 14:00 games, decided once

    again = materialize([bet_slips], resources=all_resources, instance=DagsterInstance.ephemeral())
    assert _metadata(again, "bet_slips")["events_at_decision"] == 0
    with engine.connect() as conn:
        assert queries.slips_frame(conn).height == slips.height
    row = {k: v for k, v in slips.row(0, named=True).items() if k != "slip_id"}
    with pytest.raises(sqlalchemy.exc.IntegrityError), engine.begin() as conn:
        conn.execute(slips_table.insert(), [row])
    with build_sensor_context(resources=resources, instance=DagsterInstance.ephemeral()) as context:
        assert isinstance(slips_sensor(context), SkipReason)               # nothing left to decide


def test_without_a_champion_the_model_strategy_sits_out_and_the_others_decide(
        engine: Engine, resources: dict[str, object], sandbox: SandboxServer, mlflow_resource: MlflowResource,
        home: Path) -> None:
    _ingest_live(resources, sandbox, "2023-08-12T13:20:00Z")
    result = materialize([bet_slips], resources={**resources, "mlflow": mlflow_resource},
                         instance=DagsterInstance.ephemeral())
    assert result.success
    assert _metadata(result, "bet_slips")["skipped"] == "model_value"
    with engine.connect() as conn:
        assert set(queries.slips_frame(conn)["strategy"].to_list()) <= {"sharp_value"}
        assert queries.decisions_frame(conn).height == 4
