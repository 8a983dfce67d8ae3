"""Backfills from the Dagster CLI in subprocesses, exactly as the README gives them: a
single-run partition range, and a run-per-partition job backfill queued on the instance and
launched by the daemon."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from sqlalchemy import Engine, func, select

from betting_assets.sandbox.server import SandboxServer
from betting_assets.warehouse.tables import fetch_log, normalized_odds, odds_snapshots
from betting_assets_tests.conftest import BUNDLED
from betting_assets_tests.defs.conftest import set_sandbox

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
WORKSPACE_LOCATION = "betting_assets.definitions"
"""what workspace.yaml (make dev), docker/workspace.yaml and the CLI's -m betting_assets.definitions all call it"""


def _env(db_url: str, sandbox: SandboxServer, home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "BETTING_DATABASE_URL": db_url, "BETTING_ODDS_API_BASE_URL": sandbox.url,
            "BETTING_ODDS_API_KEY": "test-key", "BETTING_CLOCK": "provider", "BETTING_HOME": str(home),
            "DAGSTER_HOME": str(home), "BETTING_RESULTS_DATA": str(BUNDLED)}


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (int(conn.scalar(select(func.count()).select_from(odds_snapshots)) or 0),
                int(conn.scalar(select(func.count()).select_from(normalized_odds)) or 0))


def test_asset_materialize_over_a_partition_range(engine: Engine, db_url: str, sandbox: SandboxServer,
                                                  tmp_path: Path) -> None:
    """The README's route: ``betting backfill`` checks the keys, then runs ``dagster asset
    materialize --partition-range`` over them."""
    set_sandbox(sandbox, "clock", {"now": "2023-08-20T00:00:00Z"})
    done = subprocess.run(
        [str(BIN / "betting"), "backfill", "--select", "odds_snapshots,normalized_odds",
         "--from", "soccer_epl|2023-08-11", "--to", "soccer_epl|2023-08-13"],
        env=_env(db_url, sandbox, tmp_path / "home"), capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    snapshots, rows = _counts(engine)
    assert snapshots >= 6 and rows > 1000
    with engine.connect() as conn:
        days = {t.date().isoformat() for t in conn.execute(select(normalized_odds.c.commence_time)).scalars()}
    assert {"2023-08-11", "2023-08-12", "2023-08-13"} <= days


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_job_backfill_runs_per_partition_through_the_queue_and_daemon(
        engine: Engine, db_url: str, sandbox: SandboxServer, tmp_path: Path) -> None:
    set_sandbox(sandbox, "clock", {"now": "2023-08-20T00:00:00Z"})
    home = tmp_path / "home"
    env = _env(db_url, sandbox, home)
    (home / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n"
        "  config:\n    max_concurrent_runs: 2\ntelemetry:\n  enabled: false\n")
    done = subprocess.run(
        [str(BIN / "dagster"), "job", "backfill", "-m", "betting_assets.definitions", "-j", "ingest_history",
         "--from", "soccer_epl|2023-08-12", "--to", "soccer_epl|2023-08-13", "--noprompt"],
        env=env, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with DagsterInstance.from_config(str(home)) as instance:
        queued = instance.get_runs(RunsFilter(job_name="ingest_history"))
        assert len(queued) == 2 and {r.status for r in queued} == {DagsterRunStatus.QUEUED}
        # the runs name the code location they were queued from: the one make dev's workspace serves,
        # so the daemon of make dev (dagster dev -w workspace.yaml) launches them
        assert {r.remote_job_origin.location_name for r in queued} == {WORKSPACE_LOCATION}
        daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
                                  env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                runs = instance.get_runs(RunsFilter(job_name="ingest_history"))
                if all(r.status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE) for r in runs):
                    break
                time.sleep(2)
        finally:
            daemon.terminate()
            daemon.wait(30)
        runs = instance.get_runs(RunsFilter(job_name="ingest_history"))
        assert {r.status for r in runs} == {DagsterRunStatus.SUCCESS}
        assert sorted(r.tags["dagster/partition"] for r in runs) == ["soccer_epl|2023-08-12",
                                                                      "soccer_epl|2023-08-13"]
    snapshots, rows = _counts(engine)
    assert snapshots >= 4 and rows > 500


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_runs_launched_together_never_call_the_provider_at_the_same_time(
        engine: Engine, db_url: str, sandbox: SandboxServer, tmp_path: Path) -> None:
    """Two CLI runs at once, each of the provider's assets for its own day, on the embedded
    instance: one run's provider calls all end before the other's begin, and both succeed. (The
    pool alone cannot promise it on SQLite, where Dagster can give one slot to two steps started
    together; the warehouse lock around the provider assets does.)"""
    from betting_assets.dagster_home import initialise

    set_sandbox(sandbox, "clock", {"now": "2023-08-20T00:00:00Z"})
    set_sandbox(sandbox, "faults", {"latency_ms": 150})
    home = tmp_path / "home"
    initialise(home)    # as betting instance init does: storage and the pool's slot, before both runs
    env = _env(db_url, sandbox, home)
    runs = [subprocess.Popen(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "betting_assets.definitions",
         "--select", "odds_snapshots", "--partition", f"soccer_epl|2023-08-{day}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for day in (12, 13)]
    for run in runs:
        _, err = run.communicate(timeout=240)
        assert run.returncode == 0, err[-3000:]
    with DagsterInstance.from_config(str(home)) as instance:
        runs = [r for r in instance.get_runs() if r.is_success]
    assert len(runs) == 2
    with engine.connect() as conn:   # every provider call, as fetch_log timed it
        calls = conn.execute(select(fetch_log.c.params, fetch_log.c.requested_at, fetch_log.c.elapsed_ms)).all()
    spans: dict[str, tuple[datetime, datetime]] = {}
    for params, at, elapsed_ms in calls:
        day = str((params or {}).get("date") or "")[:10]
        end = at + timedelta(milliseconds=elapsed_ms or 0)
        low, high = spans.get(day, (at, end))
        spans[day] = (min(low, at), max(high, end))
    assert {"2023-08-12", "2023-08-13"} <= set(spans), spans
    (a_start, a_end), (b_start, b_end) = sorted(spans[d] for d in ("2023-08-12", "2023-08-13"))
    assert a_end <= b_start, f"provider calls overlapped: {a_start}-{a_end} and {b_start}-{b_end}"


def test_a_run_killed_mid_ingest_is_found_by_the_doctor_and_the_next_backfill_goes_on(
        engine: Engine, db_url: str, sandbox: SandboxServer, tmp_path: Path) -> None:
    """``kill -9`` of a README backfill while its provider step holds the pool's only slot: the
    dead run stays STARTED and its slot claimed; ``betting doctor`` names both (exit 1), the next
    ``betting backfill`` frees them (the run marked failed, saying why) and completes, and the
    doctor then finds nothing stuck."""
    import json
    import signal

    from betting_assets.dagster_home import PROVIDER_POOL

    set_sandbox(sandbox, "clock", {"now": "2023-08-20T00:00:00Z"})
    home = tmp_path / "home"
    env = _env(db_url, sandbox, home)
    subprocess.run([str(BIN / "betting"), "instance", "init"], env=env, check=True, capture_output=True, timeout=120)
    set_sandbox(sandbox, "faults", {"latency_ms": 4000, "only": "/odds"})    # the step stays inside its call
    backfill = [str(BIN / "betting"), "backfill", "--select", "odds_snapshots,normalized_odds",
                "--from", "soccer_epl|2023-08-11", "--to", "soccer_epl|2023-08-12"]
    victim = subprocess.Popen(backfill, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        with DagsterInstance.from_config(str(home)) as instance:
            deadline = time.monotonic() + 240
            while not instance.event_log_storage.get_concurrency_info(PROVIDER_POOL).claimed_slots:
                assert time.monotonic() < deadline and victim.poll() is None, "the run never took the slot"
                time.sleep(0.2)
    finally:
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(30)
    set_sandbox(sandbox, "faults", {})
    seen = subprocess.run([str(BIN / "betting"), "doctor", "--json"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert seen.returncode == 1, seen.stdout + seen.stderr[-2000:]
    assert seen.stdout.strip(), seen.stderr[-3000:]
    found = json.loads(seen.stdout)
    (stuck,) = found["stuck_runs"]
    assert stuck["status"] == "STARTED" and "is gone" in stuck["why"]
    assert [s["run_id"] for s in found["held_slots"]] == [stuck["run_id"]]
    again = subprocess.run(backfill, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"freed before the run: run {stuck['run_id'][:8]}" in again.stdout
    after = subprocess.run([str(BIN / "betting"), "doctor"], env=env, capture_output=True, text=True, timeout=120)
    assert after.returncode == 0 and "nothing stuck" in after.stdout, after.stdout + after.stderr[-2000:]
    with DagsterInstance.from_config(str(home)) as instance:
        dead = instance.get_run_by_id(stuck["run_id"])
        assert dead is not None and dead.status == DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_info(PROVIDER_POOL).claimed_slots
    snapshots, rows = _counts(engine)
    assert snapshots >= 2 and rows > 500
