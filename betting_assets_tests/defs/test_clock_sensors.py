"""The sensors that stand where cron schedules would: discovery and retraining follow the
product's clock (the sandbox's, which a season moves), on a real Dagster instance."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from dagster import DagsterEvent, DagsterEventType, DagsterRunStatus, SensorResult, SkipReason

from betting_assets.defs.collection.sensors import discovery_sensor
from betting_assets.defs.features.jobs import build_features
from betting_assets.defs.modelling.sensors import RETRAIN_TAG, retrain_sensor
from betting_assets.definitions import defs
from betting_assets.sandbox.server import SandboxServer
from betting_assets_tests.defs.bind import with_settings
from betting_assets_tests.defs.test_ingestion_sensors import Ticker

T0 = datetime(2023, 8, 14, 9, 30, tzinfo=timezone.utc)


def _requests(result: SensorResult | SkipReason) -> list:  # type: ignore[type-arg]
    return list(result.run_requests or []) if isinstance(result, SensorResult) else []


def test_discovery_refreshes_the_fixture_list_every_period_of_the_products_clock(
        sandbox: SandboxServer, resources: dict[str, object]) -> None:
    ticker = Ticker(sandbox, with_settings(resources, collection={"discovery_minutes": 180}))
    ticker.at(T0)
    (first,) = _requests(ticker.tick(discovery_sensor))
    assert first.tags["betting/clock_at"] == T0.isoformat()
    ticker.at(T0 + timedelta(minutes=179))
    assert isinstance(ticker.tick(discovery_sensor), SkipReason)   # however often the daemon ticks
    ticker.at(T0 + timedelta(minutes=180))
    (second,) = _requests(ticker.tick(discovery_sensor))
    assert second.run_key != first.run_key
    ticker.at(T0 - timedelta(days=1))   # a clock moved back (a replayed window) asks at once
    assert len(_requests(ticker.tick(discovery_sensor))) == 1


def test_retraining_builds_the_days_since_then_trains_every_period(
        sandbox: SandboxServer, resources: dict[str, object]) -> None:
    resources = with_settings(resources, model={"retrain_days": 7, "holdout_days": 28},
                              collection={"sports": "soccer_epl,soccer_germany_bundesliga"})
    ticker = Ticker(sandbox, resources)
    ticker.at(T0)
    started = ticker.tick(retrain_sensor)
    assert not _requests(started) and "the first at 2023-08-21" in str(started.skip_reason)  # type: ignore[union-attr]
    ticker.at(T0 + timedelta(days=6, hours=23))
    assert isinstance(ticker.tick(retrain_sensor), SkipReason)
    now = T0 + timedelta(days=7)
    ticker.at(now)
    features = _requests(ticker.tick(retrain_sensor))
    assert {r.tags["betting/sport"] for r in features} == {"soccer_epl", "soccer_germany_bundesliga"}
    assert {r.job_name for r in features} == {"build_features"}
    for request in features:   # the days since the last retraining, three more for late results, to yesterday
        assert request.tags["dagster/asset_partition_range_start"].endswith("2023-08-11")
        assert request.tags["dagster/asset_partition_range_end"].endswith("2023-08-20")
    waiting = ticker.tick(retrain_sensor)
    assert isinstance(waiting, SkipReason) and "features building (0 of 2" in str(waiting.skip_message)
    job = defs.resolve_job_def(build_features.name)

    def launched(requests: list) -> list:  # type: ignore[type-arg]
        return [ticker.instance.create_run_for_job(job_def=job, tags=r.tags, status=DagsterRunStatus.STARTED)
                for r in requests]

    def ended(run, ok: bool) -> None:  # type: ignore[no-untyped-def]
        if ok:
            ticker.instance.report_dagster_event(DagsterEvent(event_type_value=DagsterEventType.RUN_SUCCESS.value,
                                                              job_name=run.job_name), run_id=run.run_id)
        else:
            ticker.instance.report_run_failed(run)

    runs = launched(features)
    assert not _requests(ticker.tick(retrain_sensor))   # not before every features run has ended
    ended(runs[0], ok=False)   # a killed features run: its days would be missing from the training
    ended(runs[1], ok=True)
    (again,) = _requests(ticker.tick(retrain_sensor))
    assert again.tags["betting/sport"] == runs[0].tags["betting/sport"] and again.tags["betting/attempt"] == "2"
    assert again.tags["dagster/asset_partition_range_start"] == features[0].tags["dagster/asset_partition_range_start"]
    (rerun,) = launched([again])
    assert not _requests(ticker.tick(retrain_sensor))
    ended(rerun, ok=True)
    (train,) = _requests(ticker.tick(retrain_sensor))
    assert train.job_name == "train_model" and train.tags[RETRAIN_TAG] == now.isoformat()
    assert train.run_config["ops"]["trained_model"]["config"]["test_from"] == "2023-07-24"   # 28 days before
    assert json.loads(ticker.cursor or "{}")["from"] == "2023-08-18"   # the built days, less three for late results
    assert isinstance(ticker.tick(retrain_sensor), SkipReason)   # trained once for the period
    ticker.at(now + timedelta(days=7))
    later = _requests(ticker.tick(retrain_sensor))
    assert len(later) == 2 and all(r.tags["dagster/asset_partition_range_start"].endswith("2023-08-18") for r in later)
    for _ in range(3):   # a sport failing every time puts the training off, and its days stay to build
        runs = launched(later)
        for run in runs:
            ended(run, ok=run.tags["betting/sport"] != "soccer_epl")
        later = _requests(ticker.tick(retrain_sensor))
    assert not later and json.loads(ticker.cursor or "{}") == {
        "cycle": (now + timedelta(days=7)).isoformat(), "phase": "put_off", "from": "2023-08-18"}
    ticker.at(now + timedelta(days=14))
    assert all(r.tags["dagster/asset_partition_range_start"].endswith("2023-08-18")
               for r in _requests(ticker.tick(retrain_sensor)))
