"""Steps on Celery workers, as a deployment past one machine runs them (docker/docker-compose.yml):
the machine's RabbitMQ as the broker (a virtual host of the test's own), Dagster's storage and the
warehouse on PostgreSQL, MLflow as a server, and two `betting worker` processes as two hosts.
Each worker runs in a folder of its own and, where the test may make mount namespaces (as root),
in one where the launching host's folder is an empty tmpfs: whatever a step needs has to come
from a server.

The same backfill and the same training, run once on the workers and once in one process, must
leave the same warehouse and the same registry; a worker killed mid-step hands its step to the
other, which finishes the run with nothing written twice; a broker restarted mid-step fails the
run at once with the reason, and the backfill run again completes it. The provider pool holds
across workers and runs throughout: no two provider steps of any run overlap in time."""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
from sqlalchemy import Engine, MetaData, select

from betting_assets.domain.features.build import FEATURE_COLUMNS, INFO_COLUMNS
from betting_assets.modelling.registry import Tracker
from betting_assets.sandbox.server import SandboxServer
from betting_assets.warehouse import migrate, writes
from betting_assets.warehouse.engine import make_engine
from betting_assets.warehouse.tables import events, fetch_log, step_outputs
from betting_assets_tests.conftest import BUNDLED, REPO, _postgres_url
from betting_assets_tests.defs.conftest import set_sandbox
from betting_assets_tests.modelling.conftest import simulated_rows

BIN = Path(sys.executable).parent
DAYS = ("soccer_epl|2023-08-11", "soccer_epl|2023-08-13")
TEST_FROM = "2022-07-01"
"""the simulated history's out-of-time window: its last 100 of 500 events"""
UNSHARED = {"built_at", "updated_at", "requested_at", "fetched_at", "elapsed_ms", "requests_remaining", "requests_used",
            "requests_billed"}
"""what two runs cannot share: the real time of a write or a call, and the provider's running
count of the one account both use, which the other's calls have moved in between"""


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


@pytest.fixture
def broker() -> Iterator[str]:
    """A virtual host of this test's own on the machine's RabbitMQ (127.0.0.1:5672)."""
    vhost = f"betting_test_{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture
def databases(pg_admin: Engine) -> Iterator[dict[str, str]]:
    made = {name: _postgres_url(pg_admin) for name in ("dagster", "workers", "one_process")}
    urls = {name: next(g) for name, g in made.items()}
    yield urls
    for g in made.values():
        next(g, None)


def _seed(url: str) -> Engine:
    """The warehouse before either run: migrated, with the labelled feature rows the training reads."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    frame = simulated_rows(500, seed=11, signal=1.5, market_noise=1.5).with_columns(sport_key=pl.lit("soccer_epl"))
    with engine.begin() as conn:
        conn.execute(events.insert(), [
            {"event_id": r["event_id"], "sport_key": "soccer_epl", "commence_time": r["commence_time"],
             "home_team": f"H{i % 10}", "away_team": f"A{i % 10}", "status": "final", "completed": True,
             "home_score": {0: 2, 1: 1, 2: 0}[r["label"]], "away_score": {0: 0, 1: 1, 2: 1}[r["label"]],
             "first_seen_at": r["commence_time"], "updated_at": r["commence_time"]}
            for i, r in enumerate(frame.iter_rows(named=True))])
        writes.replace_features(conn, frame, INFO_COLUMNS, FEATURE_COLUMNS, "test")
    return engine


def _tables(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows as a user reads them: no surrogate keys, no wall-clock stamps, sorted."""
    meta = MetaData()
    meta.reflect(engine)
    found: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name, table in sorted(meta.tables.items()):
            if name in ("alembic_version", "step_outputs"):
                continue
            keep = [c for c in table.columns if c.name not in UNSHARED and not _surrogate(c)]
            found[name] = sorted((tuple(repr(v) for v in row) for row in conn.execute(select(*keep))))
    return found


def _paid_calls(engine: Engine) -> collections.Counter[tuple[Any, ...]]:
    """Every logged call that cost credits, with what it cost."""
    with engine.connect() as conn:
        rows = conn.execute(select(fetch_log.c.endpoint, fetch_log.c.url, fetch_log.c.params, fetch_log.c.clock_at,
                                   fetch_log.c.requests_last).where(fetch_log.c.requests_last > 0)).all()
    return collections.Counter(tuple(repr(v) for v in row) for row in rows)


def _same_warehouse(engines: dict[str, Engine], most_again: int | None = None) -> None:
    """Every table as one process leaves it. A step run again after a fault may log calls twice,
    since it made them twice (at most ``most_again``), but never one that cost credits."""
    tables = {name: _tables(engine) for name, engine in engines.items()}
    for name, rows in tables["one_process"].items():
        if name != "fetch_log":
            assert tables["workers"][name] == rows, name
    calls = {name: collections.Counter(tables[name]["fetch_log"]) for name in tables}
    assert calls["one_process"] <= calls["workers"]
    again = list((calls["workers"] - calls["one_process"]).elements())
    assert most_again is None or len(again) <= most_again, again
    assert _paid_calls(engines["workers"]) == _paid_calls(engines["one_process"]), again


def _surrogate(column: Any) -> bool:
    """A number the database handed out (or a reference to one), which depends on write order."""
    integer = str(column.type) in ("BIGINT", "INTEGER")
    return integer and ((column.primary_key and column.autoincrement is not False) or bool(column.foreign_keys))


def _registry(uri: str) -> list[tuple[str, str, str, dict[str, float]]]:
    tracker = Tracker(uri, None)
    found = []
    for model in tracker.client.search_registered_models():
        for version in tracker.client.search_model_versions(f"name = '{model.name}'"):
            run = tracker.client.get_run(version.run_id)
            metrics = {k: round(v, 12) for k, v in run.data.metrics.items()}
            found.append((model.name, str(version.version), ",".join(sorted(model.aliases)), metrics))
    return sorted(found)


class Hosts:
    """The launching host's environment and the worker hosts."""

    def __init__(self, tmp: Path, base: dict[str, str]) -> None:
        self.tmp, self.base = tmp, base
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.folders: dict[str, Path] = {}
        self.hidden = tmp                        # the launching host's folder, out of the workers' sight
        self.isolated = os.geteuid() == 0 and shutil.which("unshare") is not None and subprocess.run(
            ["unshare", "-m", "--propagation", "private", "true"], capture_output=True).returncode == 0

    def start_worker(self, name: str) -> None:
        folder = Path(tempfile.mkdtemp(prefix=f"betting-{name}-"))   # outside the launching host's tmp_path
        self.folders[name] = folder
        env = {k: v for k, v in self.base.items() if k not in ("DAGSTER_HOME", "BETTING_HOME", "HOME")}
        env |= {"HOME": str(folder), "BETTING_HOME": str(folder / "betting"), "DAGSTER_HOME": str(folder / "dagster"),
                "MPLCONFIGDIR": str(folder / "mpl"), "PYTHONDONTWRITEBYTECODE": "1"}
        command = [str(BIN / "betting"), "worker", "--name", f"{name}@{name}"]
        if self.isolated:
            command = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                       'mount -t tmpfs none "$0" && exec "$@"', str(self.hidden), *command]
        log = (self.tmp / f"{name}.log").open("wb")
        self.workers[name] = subprocess.Popen(command, env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT,
                                              start_new_session=True)

    def kill(self, name: str) -> None:
        os.killpg(self.workers[name].pid, signal.SIGKILL)
        self.workers[name].wait(timeout=60)

    def stop(self) -> None:
        for process in self.workers.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.workers.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        for folder in self.folders.values():
            shutil.rmtree(folder, ignore_errors=True)


def _start(cmd: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], Path]:
    return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT), log


def _celery_starts(instance: DagsterInstance, run_ids: list[str]) -> list[tuple[str, str, str, float]]:
    """(run, step, worker, when) of each step a worker began, from the run's own log."""
    found = []
    for run_id in run_ids:
        for record in instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT).records:
            event = record.event_log_entry.dagster_event
            if event is not None:
                meta = event.engine_event_data.metadata or {}
                if "Celery worker" in meta:
                    found.append((run_id, event.step_key or "", meta["Celery worker"].value,
                                  record.event_log_entry.timestamp))
    return found


def _wait_for_step(instance: DagsterInstance, before: set[str], step: str, seconds: float) -> str:
    """The worker that began ``step`` in a run launched after ``before``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        runs = [r.run_id for r in instance.get_runs() if r.run_id not in before]
        begun = [w for _, s, w, _ in _celery_starts(instance, runs) if s == step]
        if begun:
            return begun[0]
        time.sleep(0.2)
    raise TimeoutError(f"no worker began {step} within {seconds:.0f} s")


def _workers(instance: DagsterInstance, run_ids: list[str]) -> dict[tuple[str, str], list[str]]:
    """(step, run) → the workers that began it, in order."""
    found: dict[tuple[str, str], list[str]] = {}
    for run_id, step, worker, _ in sorted(_celery_starts(instance, run_ids), key=lambda s: s[3]):
        found.setdefault((step, run_id), []).append(worker)
    return found


PROVIDER_STEPS = {"events", "odds_snapshots", "scores"}
"""the assets in the provider pool (``pool=odds_api``, one slot)"""
STEP_ENDS = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}


def _provider_spans(instance: DagsterInstance, run_ids: list[str]) -> list[tuple[float, float, str]]:
    """Each provider step's first start to its end, over every run, in time order."""
    spans: dict[tuple[str, str], list[float]] = {}
    for run_id in run_ids:
        for record in instance.get_records_for_run(run_id, of_type=STEP_ENDS).records:
            event = record.event_log_entry.dagster_event
            if event is not None and event.step_key in PROVIDER_STEPS:
                spans.setdefault((run_id, event.step_key), []).append(record.event_log_entry.timestamp)
    return sorted((min(t), max(t), f"{step} of run {run[:8]}") for (run, step), t in spans.items())


def _overlaps(instance: DagsterInstance) -> list[tuple[str, str]]:
    """Pairs of provider steps, over every run on the instance, that ran at the same time."""
    spans = _provider_spans(instance, [r.run_id for r in instance.get_runs()])
    return [(a, b) for (_, end_a, a), (start_b, _, b) in zip(spans, spans[1:]) if end_a > start_b]


def _run(cmd: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return done


@pytest.mark.long(minutes=3.5)
@pytest.mark.timeout(2400)   # 3.5 minutes alone; eleven backfills, two trainings and place_bets on a loaded machine
def test_the_backfill_and_the_training_on_two_celery_workers_match_one_process(
        broker: str, databases: dict[str, str], sandbox: SandboxServer,
        mlflow_server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server_url, _ = mlflow_server
    set_sandbox(sandbox, "clock", {"now": "2023-08-20T00:00:00Z"})
    home = tmp_path / "launcher"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    base = {**os.environ, "DAGSTER_HOME": str(home), "BETTING_HOME": str(home), "DAGSTER_PG_URL": databases["dagster"],
            "BETTING_ODDS_API_BASE_URL": sandbox.url, "BETTING_ODDS_API_KEY": "test-key", "BETTING_CLOCK": "provider",
            "BETTING_SPORTS": "soccer_epl", "BETTING_RESULTS_DATA": str(BUNDLED), "BETTING_MODEL_TRIALS": "4",
            "BETTING_MODEL_TEST_FROM": TEST_FROM, "BETTING_MODEL_TRAIN_FROM": "2022-01-01"}
    on_workers = base | {"BETTING_CELERY_BROKER": broker, "BETTING_DATABASE_URL": databases["workers"],
                         "BETTING_MLFLOW_TRACKING_URI": server_url}
    one_process = base | {"BETTING_DATABASE_URL": databases["one_process"],
                          "BETTING_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.sqlite'}",
                          "BETTING_MLFLOW_ARTIFACT_ROOT": (tmp_path / "mlartifacts").as_uri()}
    one_process.pop("BETTING_CELERY_BROKER", None)
    engines = {name: _seed(databases[name]) for name in ("workers", "one_process")}
    hosts = Hosts(tmp_path, on_workers)
    try:
        for name in ("host1", "host2"):
            hosts.start_worker(name)
        for env in (on_workers, one_process):
            _run([str(BIN / "betting"), "backfill", "--from", DAYS[0], "--to", DAYS[1]], env, 600)
            _run([str(BIN / "dagster"), "asset", "materialize", "-m", "betting_assets.definitions",
                  "--select", "trained_model"], env, 600)

        tables = {name: _tables(engine) for name, engine in engines.items()}
        assert tables["workers"]["normalized_odds"] and tables["workers"]["features"]
        for name, rows in tables["one_process"].items():
            assert tables["workers"][name] == rows, name
        registry, alone = _registry(server_url), _registry(one_process["BETTING_MLFLOW_TRACKING_URI"])
        assert [r[:3] for r in registry] == [r[:3] for r in alone] and registry
        assert any(r[3].get("split_trees", 0) > 0 for r in registry), registry     # a model, not the prior alone
        for mine, theirs in zip(registry, alone):
            assert {k: v for k, v in mine[3].items() if theirs[3].get(k) != v} == {}, mine[:2]

        # place_bets's ops hand each other values: through the warehouse, whichever worker runs the next
        _run([str(BIN / "dagster"), "job", "execute", "-m", "betting_assets.definitions", "-j", "place_bets"],
             on_workers, 600)
        with engines["workers"].connect() as conn:
            handed = set(conn.execute(select(step_outputs.c.step_key, step_outputs.c.output_name)).all())
        assert {("reconcile_pending", "result"), ("load_slips", "result"), ("recheck_prices", "result")} <= handed

        # a worker killed mid-step while two backfills share the provider pool: the broker hands the
        # step to a worker still up, both runs finish, nothing is written twice, and the provider's
        # steps never overlap, on whatever worker they ran
        set_sandbox(sandbox, "clock", {"now": "2023-08-28T00:00:00Z"})
        later = [("soccer_epl|2023-08-18", "soccer_epl|2023-08-19"), ("soccer_epl|2023-08-25", "soccer_epl|2023-08-26")]
        monkeypatch.setenv("DAGSTER_PG_URL", databases["dagster"])
        with DagsterInstance.from_config(str(home)) as instance:
            before = {r.run_id for r in instance.get_runs()}
            assert len(before) == 5 and all(r.status == DagsterRunStatus.SUCCESS for r in instance.get_runs())
            assert {w for _, _, w, _ in _celery_starts(instance, list(before))} == {"host1@host1", "host2@host2"}
            assert not (home / "storage").exists() or not [   # the fs IO manager's pickles would be here
                f for f in (home / "storage").rglob("*") if f.is_file() and "compute_logs" not in f.parts]
            launched = [_start([str(BIN / "betting"), "backfill", "--from", a, "--to", b], on_workers, tmp_path / f"bf{i}.log")
                        for i, (a, b) in enumerate(later)]
            victim = _wait_for_step(instance, before, "odds_snapshots", 300)
            time.sleep(1.0)                                   # well inside the step: its calls are under way
            hosts.kill(victim.split("@")[0])
            hosts.start_worker("host3")                       # the killed host comes back as a new worker
            for process, log in launched:
                assert process.wait(timeout=900) == 0, log.read_text()[-5000:]
            new_runs = [r for r in instance.get_runs() if r.run_id not in before]
            assert len(new_runs) == 2 and all(r.status == DagsterRunStatus.SUCCESS for r in new_runs)
            workers_by_step = _workers(instance, [r.run_id for r in new_runs])
            redone = [k for k, began in workers_by_step.items()
                      if k[0] == "odds_snapshots" and began[0] == victim and len(began) > 1 and victim not in began[1:]]
            assert redone, f"no odds step ran twice after {victim} was killed: {workers_by_step}"
            assert not (overlaps := _overlaps(instance)), f"provider steps ran at the same time: {overlaps}"
        for a, b in later:
            _run([str(BIN / "betting"), "backfill", "--from", a, "--to", b], one_process, 600)
        _same_warehouse(engines, most_again=2)     # the killed attempt's calls were made and stay logged

        # the broker restarted while a step runs: the run fails at once and says why, the operator runs
        # the backfill again, and the warehouse is as one process leaves it
        set_sandbox(sandbox, "clock", {"now": "2023-09-04T00:00:00Z"})
        third = ("soccer_epl|2023-09-01", "soccer_epl|2023-09-02")
        backfill = [str(BIN / "betting"), "backfill", "--from", third[0], "--to", third[1]]
        with DagsterInstance.from_config(str(home)) as instance:
            before = {r.run_id for r in instance.get_runs()}
            process, log = _start(backfill, on_workers, tmp_path / "bf-broker.log")
            _wait_for_step(instance, before, "odds_snapshots", 300)
            _rabbitmqctl("stop_app")
            try:
                time.sleep(3.0)
            finally:
                _rabbitmqctl("start_app")
            assert process.wait(timeout=600) != 0
            (failed,) = [r for r in instance.get_runs() if r.run_id not in before]
            assert failed.status == DagsterRunStatus.FAILURE
            said = [r.event_log_entry.dagster_event.event_specific_data.error.message
                    for r in instance.get_records_for_run(failed.run_id, of_type=DagsterEventType.RUN_FAILURE).records
                    if r.event_log_entry.dagster_event is not None]
            assert said and "Connection" in said[0], said
            _run(backfill, on_workers, 600)
            overlaps = _overlaps(instance)
        _run(backfill, one_process, 600)
        _same_warehouse(engines)
        assert not overlaps, f"provider steps ran at the same time: {overlaps}"
    finally:
        hosts.stop()
        for engine in engines.values():
            engine.dispose()
