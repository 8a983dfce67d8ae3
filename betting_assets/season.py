"""``betting season``: the product operated for weeks by ``dagster-daemon``, as a deployment runs
it, over a past stretch of real fixtures on the sandbox, with nothing driven by hand.

The sandbox (``betting sandbox serve``, its own process, its account kept in a file) serves the
data as it stood at each moment. The history before the window is backfilled as the README's
backfill does and a first champion trained on it (``replay.warm_up``). Then every sensor is
started on a Dagster instance of the season's own and the daemon takes over: the discovery
sensor refreshes the fixture list, ``collection_plan_sensor`` plans, the odds and scores sensors
make the planned calls, ``slips_sensor`` proposes at decision time, ``placement_sensor`` places,
``settlement_sensor`` settles, ``retrain_sensor`` retrains on its cadence. All of them read the
sandbox's clock, and the season only moves that clock.

The clock goes from one moment the product acts at to the next (a midnight, a call the plan
holds, an event's decision time, a retry after a failed run), as ``betting replay`` steps it,
and at each it waits until the daemon is quiet: no run queued or in flight, and every sensor
ticked since the last run ended. With ``--speed N`` it runs between two moments at N times
real time instead of jumping, so the sensors also tick in between. Faults are injected on
request: provider errors and partial bodies throughout and, a quarter, a half and three quarters
of the way from the season's start to its last kick-off, the daemon killed with SIGKILL and started again (as a supervisor
would), a run's process killed with SIGKILL, the sandbox killed and started again. At the end
``betting report``'s table judges the season (the runs the season killed, and with provider
faults on the runs that failed on one, set apart and counted), ``bets.json`` holds the bets in
``betting replay``'s shape, and a table gives how the product aged, week by week.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from sqlalchemy import Engine, text

from betting_assets.replay import HISTORY, LEAD_IN, ReplayRefused, next_moment, set_environment, window_events
from betting_assets.settings import SANDBOX_API_KEY, Settings, mask_url

SEASON_TAG = "season"
REPO = Path(__file__).resolve().parent.parent
SENSORS = ("discovery_sensor", "collection_plan_sensor", "odds_fetch_sensor", "scores_sensor", "slips_sensor",
           "placement_sensor", "settlement_sensor", "retrain_sensor")
ACTIVE = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")
RETRY = timedelta(minutes=5)
"""after a failed run, the clock stops again this much later: the odds sensor asks a call that did
not land again after half the time its window has left, and a planned call has ten minutes"""
MOMENT_TIMEOUT_S = 1200.0
"""a moment the daemon has not finished in this long stops the season (five-fold load included)"""
CHAOS = ("daemon", "run", "sandbox")


class SeasonStalled(RuntimeError):
    """The daemon did not settle at a moment: what it was waiting for is in the message."""


@dataclass
class SeasonOptions:
    data: str
    start: datetime
    end: datetime
    speed: float = 0.0
    """0: jump from one moment to the next; N: run the clock between them at N × real time"""
    history: timedelta = HISTORY
    trials: int = 5
    database_url: str | None = None
    """an empty warehouse (PostgreSQL, say) instead of the season folder's SQLite file"""
    dagster_pg_url: str | None = None
    """Dagster's storage on PostgreSQL instead of the season folder's SQLite files"""
    faults: dict[str, Any] | None = None
    """the sandbox's provider faults throughout (``/sandbox/faults``' body)"""
    chaos: bool = False
    """kill -9 the daemon, a run's process and the sandbox, once each, at fixed points"""
    sensor_interval_s: int = 2


@dataclass
class Week:
    week: str
    moments: int = 0
    runs: int = 0
    event_log_mb: float = 0.0
    warehouse_mb: float = 0.0
    tick_ms_mean: float = 0.0
    tick_ms_max: float = 0.0
    ticks: int = 0
    daemon_rss_mb: float = 0.0


@dataclass
class SeasonOutcome:
    folder: Path
    moments: int = 0
    runs_by_job: dict[str, int] = field(default_factory=dict)
    runs_by_status: dict[str, int] = field(default_factory=dict)
    injected: list[dict[str, str]] = field(default_factory=list)
    """each fault the season injected: what, when (product clock), which run it killed"""
    weeks: list[Week] = field(default_factory=list)
    report: Any = None
    provider_used: int = 0
    """the sandbox's own count of credits it billed, from its account file"""
    trained: bool = False
    warehouse: str = ""
    dagster_storage: str = ""
    elapsed_s: float = 0.0
    clock: datetime | None = None
    """the sandbox's clock when the season ended"""
    bets: int = 0
    """bets placed in the window, written to bets.json in ``betting replay``'s shape"""

    def as_dict(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "moments": self.moments, "runs_by_job": self.runs_by_job,
                "runs_by_status": self.runs_by_status, "injected": self.injected,
                "weeks": [asdict(w) for w in self.weeks], "provider_used": self.provider_used,
                "trained": self.trained, "warehouse": self.warehouse, "dagster_storage": self.dagster_storage,
                "elapsed_s": round(self.elapsed_s, 1), "bets": self.bets,
                "clock": self.clock.isoformat() if self.clock else None, "report": self.report.as_dict() if self.report else None}


def season_folder(settings: Settings, start: datetime, end: datetime) -> Path:
    return settings.home_dir / "seasons" / f"{start:%Y-%m-%d}_{end:%Y-%m-%d}"


def instance_config(postgres: bool) -> str:
    """The season's instance: production's shape (the run queue, one provider call at a time, run
    monitoring), its loops shortened for a clock that moves hours in seconds."""
    storage = "storage:\n  postgres:\n    postgres_url:\n      env: DAGSTER_PG_URL\n" if postgres else ""
    return f"""\
# Written by betting season: the daemon operates the product over a past window on the sandbox.
{storage}run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
concurrency:
  runs:
    max_concurrent_runs: 4
  pools:
    default_limit: 1
run_monitoring:
  enabled: true
  start_timeout_seconds: 300
  poll_interval_seconds: 5
  free_slots_after_run_end_seconds: 1
sensors:
  use_threads: true
  num_workers: 8
telemetry:
  enabled: false
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Processes:
    """The sandbox, the code server and the daemon as processes of their own, each in its own
    session so that a kill reaches it and its children only. The code location is served as a
    deployment serves it (``dagster code-server start``, as in ``docker/``): the daemon reloads
    its workspace every minute, which for a location it spawned itself would mean a new server
    and its imports each time."""

    def __init__(self, folder: Path, env: dict[str, str], data: str, port: int, start: datetime) -> None:
        self.folder, self.env, self.data, self.port, self.start = folder, env, data, port, start
        self.sandbox: subprocess.Popen[bytes] | None = None
        self.daemon: subprocess.Popen[bytes] | None = None
        self.code: subprocess.Popen[bytes] | None = None
        self.code_port = _free_port()
        self.workspace = folder / "workspace.yaml"
        self.workspace.write_text("load_from:\n  - grpc_server:\n      host: 127.0.0.1\n"
                                  f"      port: {self.code_port}\n      location_name: betting_assets.definitions\n",
                                  encoding="utf-8")
        self.daemons = 0
        self.groups: list[int] = []
        """the process groups of every daemon started: a killed daemon's code server outlives it"""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _log(self, name: str) -> Any:
        return (self.folder / f"{name}.log").open("ab")

    def start_sandbox(self) -> None:
        self.sandbox = subprocess.Popen(
            [sys.executable, "-m", "betting_assets.cli", "sandbox", "serve", "--data", self.data, "--port",
             str(self.port), "--clock", self.start.isoformat(), "--state", str(self.folder / "sandbox.json")],
            env=self.env, cwd=self.folder, stdout=self._log("sandbox"), stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.sandbox.poll() is not None:
                raise RuntimeError(f"the sandbox exited ({self.sandbox.returncode}): see {self.folder / 'sandbox.log'}")
            try:
                httpx.get(f"{self.url}/sandbox/clock", timeout=2.0).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.5)
        raise RuntimeError(f"the sandbox did not answer within 300 s: see {self.folder / 'sandbox.log'}")

    def start_code_server(self) -> None:
        dagster = Path(sys.executable).parent / "dagster"
        self.code = subprocess.Popen([str(dagster), "code-server", "start", "-h", "127.0.0.1", "-p",
                                      str(self.code_port), "-m", "betting_assets.definitions"], env=self.env, cwd=REPO,
                                     stdout=self._log("code_server"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.code.poll() is not None:
                raise RuntimeError(f"the code server exited ({self.code.returncode}): see "
                                   f"{self.folder / 'code_server.log'}")
            done = subprocess.run([str(dagster), "api", "grpc-health-check", "-p", str(self.code_port)],
                                  env=self.env, capture_output=True, timeout=120)
            if done.returncode == 0:
                return
            time.sleep(1.0)
        raise RuntimeError(f"the code server did not answer within 300 s: see {self.folder / 'code_server.log'}")

    def start_daemon(self) -> None:
        daemon = Path(sys.executable).parent / "dagster-daemon"
        self.daemon = subprocess.Popen([str(daemon), "run", "-w", str(self.workspace)], env=self.env,
                                       cwd=REPO, stdout=self._log("daemon"), stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.daemons += 1
        self.groups.append(self.daemon.pid)

    def kill(self, process: subprocess.Popen[bytes] | None, group: bool = False) -> None:
        if process is None or process.poll() is not None:
            return
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait(30)

    def stop(self) -> None:
        for process in (self.daemon, self.code, self.sandbox):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in (self.daemon, self.code, self.sandbox):
            if process is None:
                continue
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(30)
        for group in self.groups:
            try:
                os.killpg(group, signal.SIGTERM)
            except ProcessLookupError:
                pass


def run_season(settings: Settings, options: SeasonOptions, step: Callable[[str], None] = lambda _: None) -> SeasonOutcome:
    from betting_assets.sandbox.server import load_market

    market = load_market(options.data)
    sports = [s["key"] for s in market.sports()]
    lead = timedelta(hours=settings.model.decision_hours)
    kicks = window_events(market, sports, options.start, options.end, lead)
    if not kicks:
        raise ReplayRefused(f"no event kicks off in {options.start:%Y-%m-%d}..{options.end:%Y-%m-%d} in "
                            f"{options.data}")
    folder = season_folder(settings, options.start, options.end)
    if folder.exists():
        step(f"replacing the earlier season of this window in {folder}")
        shutil.rmtree(folder)
    (folder / "dagster").mkdir(parents=True)
    (folder / "dagster" / "dagster.yaml").write_text(instance_config(options.dagster_pg_url is not None),
                                                     encoding="utf-8")
    url = options.database_url or f"sqlite:///{folder / 'warehouse.sqlite'}"
    port = _free_port()
    environment = {
        "DAGSTER_HOME": str(folder / "dagster"), "BETTING_DATABASE_URL": url,
        "BETTING_MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.sqlite'}",
        "BETTING_MLFLOW_ARTIFACT_ROOT": (folder / "mlartifacts").as_uri(), "BETTING_SPORTS": ",".join(sports),
        "BETTING_ODDS_API_BASE_URL": f"http://127.0.0.1:{port}", "BETTING_ODDS_API_KEY": SANDBOX_API_KEY,
        "BETTING_CLOCK": "provider", "BETTING_SENSOR_INTERVAL_S": str(options.sensor_interval_s),
        "BETTING_MODEL_TRIALS": str(options.trials),
    }
    for name, value in (("BETTING_DISCOVERY_MINUTES", "1440"), ("BETTING_FETCH_RETRY_MINUTES", "5")):
        environment.setdefault(name, os.environ.get(name, value))
    if options.dagster_pg_url:
        environment["DAGSTER_PG_URL"] = options.dagster_pg_url
    from betting_assets.demo import _football_data_files

    if _football_data_files(options.data):
        environment["BETTING_RESULTS_DATA"] = str(Path(options.data).resolve())
    outcome = SeasonOutcome(folder=folder, warehouse=mask_url(url),
                            dagster_storage=mask_url(options.dagster_pg_url) if options.dagster_pg_url
                            else str(folder / "dagster"))
    began = time.monotonic()
    with set_environment(environment):
        from betting_assets.settings import load_settings

        _season(load_settings(), options, market, sports, kicks, folder, url, port, {**os.environ}, outcome, step)
    outcome.elapsed_s = time.monotonic() - began
    (folder / "season.json").write_text(json.dumps(outcome.as_dict(), indent=2, default=str), encoding="utf-8")
    return outcome


def _season(settings: Settings, options: SeasonOptions, market: Any, sports: list[str], kicks: list[datetime],
            folder: Path, url: str, port: int, env: dict[str, str], outcome: SeasonOutcome,
            step: Callable[[str], None]) -> None:
    from dagster import DagsterInstance

    from betting_assets.betting import parity
    from betting_assets.dagster_home import ensure_pool
    from betting_assets.demo_pipeline import DemoRunner
    from betting_assets.replay import empty_warehouse, from_ledger, warm_up
    from betting_assets.season_report import report
    from betting_assets.warehouse import migrate
    from betting_assets.warehouse.engine import make_engine

    engine = make_engine(url)
    migrate.upgrade(engine)
    if options.database_url:
        empty_warehouse(engine, url)
    processes = _Processes(folder, env, options.data, port, options.start)
    step(f"the sandbox on {processes.url}, its account kept in {folder / 'sandbox.json'}")
    processes.start_sandbox()
    try:
        with DagsterInstance.from_config(str(folder / "dagster")) as instance:
            ensure_pool(instance)
            remote = SimpleNamespace(url=processes.url, state=SimpleNamespace(api_key=None))
            values: dict[str, Any] = {"collection": {"sports": sports}}
            runner = DemoRunner(settings, values, remote, options.start - options.history - LEAD_IN,  # type: ignore[arg-type]
                                options.end, launcher=SEASON_TAG, instance=instance)
            results_from_files = "BETTING_RESULTS_DATA" in env
            outcome.trained = warm_up(runner, settings, sports, options.start, options.history, options.trials,
                                      results_from_files, step)
            processes.start_code_server()
            _start_sensors(processes.workspace, env, step)
            if options.faults:
                _post(processes.url, "/sandbox/faults", options.faults)
                step(f"provider faults from now on: {json.dumps(options.faults)}")
            processes.start_daemon()
            step(f"dagster-daemon started (pid {processes.daemon.pid if processes.daemon else '?'}); "
                 f"the clock from {options.start:%Y-%m-%d} to {options.end:%Y-%m-%d}, {len(kicks)} kick-offs")
            try:
                _operate(instance, engine, settings, options, processes, kicks[-1], outcome, step)
            finally:
                processes.stop()
            _tally(instance, outcome)
            outcome.provider_used, now = _account(folder)
            outcome.clock = now
            bets, _ = from_ledger(engine, settings, options.start, options.end)
            (folder / "bets.json").write_text(parity.to_json(bets), encoding="utf-8")
            outcome.bets = bets.height
            outcome.report = report(engine, settings, options.start, options.end, now, instance,
                                    injected={f["run_id"] for f in outcome.injected if f.get("run_id")},
                                    provider_used=outcome.provider_used,
                                    provider_faults=bool(options.faults) or options.chaos)
    finally:
        processes.stop()
        engine.dispose()


def _start_sensors(workspace: Path, env: dict[str, str], step: Callable[[str], None]) -> None:
    """Every sensor on, the ones that move money or CPU included (off by default in a deployment)."""
    dagster = Path(sys.executable).parent / "dagster"
    done = subprocess.run([str(dagster), "sensor", "start", "--start-all", "-w", str(workspace)],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"dagster sensor start --start-all failed: {(done.stderr or done.stdout)[-1500:]}")
    step("every sensor started: " + ", ".join(SENSORS))


def _post(base: str, path: str, body: dict[str, Any]) -> None:
    httpx.post(f"{base}{path}", json=body, timeout=30.0).raise_for_status()


def _account(folder: Path) -> tuple[int, datetime]:
    """The sandbox's own count of credits it billed, and its clock, from its account file."""
    from betting_assets.domain.timeutil import parse_utc

    kept = json.loads((folder / "sandbox.json").read_text(encoding="utf-8"))
    now = parse_utc(kept["now"])
    assert now is not None
    return int(kept["used"]), now


def _operate(instance: Any, engine: Engine, settings: Settings, options: SeasonOptions, processes: _Processes,
             last_kick: datetime, outcome: SeasonOutcome, step: Callable[[str], None]) -> None:
    """The clock moved from moment to moment, the daemon left to act at each, faults injected at
    their points, and the product's ageing sampled at each new week."""
    from betting_assets.domain.data.quality import RESULT_GRACE

    stop = max(last_kick + RESULT_GRACE, options.end)
    chaos = [(options.start + (last_kick - options.start) * (i + 1) / (len(CHAOS) + 1), what)
             for i, what in enumerate(CHAOS)] if options.chaos else []
    clock = options.start - timedelta(microseconds=1)
    retry: datetime | None = None
    pending_kill = False
    week: Week | None = None
    since_week = time.time()
    while True:
        planned = next_moment(engine, settings, clock, options.start, options.end, stop, midnights=False)
        first = options.start if outcome.moments == 0 else None
        due = [m for m in (first, planned, retry, _discovery_due(instance, settings, clock), stop)
               if m is not None and clock < m <= stop]
        if not due:
            break
        moment = min(due)
        label = f"{moment.isocalendar()[0]}-W{moment.isocalendar()[1]:02d}"
        if week is None or week.week != label:
            if week is not None:
                _sample(instance, engine, processes, week, since_week)
                outcome.weeks.append(week)
                step(f"week {week.week}: {week.moments} moments, {week.runs} runs, event log "
                     f"{week.event_log_mb:.1f} MB, warehouse {week.warehouse_mb:.1f} MB, sensor tick "
                     f"{week.tick_ms_mean:.0f} ms mean, daemon {week.daemon_rss_mb:.0f} MB")
            week, since_week = Week(week=label), time.time()
        _move_clock(processes.url, clock, moment, options.speed)
        clock, outcome.moments, week.moments = moment, outcome.moments + 1, week.moments + 1
        injected = chaos.pop(0)[1] if chaos and chaos[0][0] <= moment else None
        began = time.time()
        if injected == "sandbox":
            _kill_sandbox(processes, moment, outcome, step)
        if injected == "daemon":
            processes.kill(processes.daemon)
            outcome.injected.append({"fault": "daemon killed (SIGKILL) and started again", "at": moment.isoformat()})
            step(f"{moment:%Y-%m-%d %H:%M}: dagster-daemon killed with SIGKILL; started again")
            processes.start_daemon()
        if injected == "run":
            pending_kill = True
        if injected in ("sandbox", "daemon"):   # what the sensors saw while it was down does not settle the moment
            began = time.time()
        launched, killed = _settle(instance, processes, began, moment, step, kill_a_run=pending_kill)
        if killed is not None:
            pending_kill = False
            outcome.injected.append({"fault": f"{killed.job_name} run's process killed (SIGKILL)",
                                     "at": moment.isoformat(), "run_id": killed.run_id})
        week.runs += len(launched)
        failed = [r for r in launched if r.dagster_run.status.value == "FAILURE"]
        with (processes.folder / "moments.jsonl").open("a", encoding="utf-8") as log:
            log.write(json.dumps({"moment": moment.isoformat(), "wall_s": round(time.time() - began, 1),
                                  "runs": sorted(r.dagster_run.job_name for r in launched),
                                  "failed": [r.dagster_run.job_name for r in failed], "fault": injected}) + "\n")
        retry = moment + RETRY if failed else None
        if failed:
            step(f"{moment:%Y-%m-%d %H:%M}: {len(failed)} run(s) failed "
                 f"({', '.join(sorted({r.dagster_run.job_name for r in failed}))}); the clock stops again at "
                 f"{retry:%H:%M}")
    if week is not None:
        _sample(instance, engine, processes, week, since_week)
        outcome.weeks.append(week)


def _discovery_due(instance: Any, settings: Settings, clock: datetime) -> datetime | None:
    """When the discovery sensor asks for the fixture list next (its last run's clock plus
    ``BETTING_DISCOVERY_MINUTES``): the clock stops there, so fixtures listed in a break are
    found and planned for as a deployment would find them."""
    from dagster import RunsFilter

    runs = instance.get_runs(RunsFilter(job_name="discover_events", tags={"dagster/sensor_name": "discovery_sensor"}),
                             limit=1)
    stamp = runs[0].tags.get("betting/clock_at") if runs else None
    if stamp is None:
        return None
    return max(datetime.fromisoformat(stamp) + timedelta(minutes=settings.collection.discovery_minutes),
               clock + timedelta(microseconds=1))


def _move_clock(base: str, clock: datetime, moment: datetime, speed: float) -> None:
    if speed > 0:
        now = clock
        while now < moment:
            time.sleep(1.0)
            now = min(moment, now + timedelta(seconds=speed))
            _post(base, "/sandbox/clock", {"now": now.isoformat()})
        return
    _post(base, "/sandbox/clock", {"now": moment.isoformat()})


def _kill_sandbox(processes: _Processes, moment: datetime, outcome: SeasonOutcome,
                  step: Callable[[str], None]) -> None:
    """The provider gone for a while: the sensors skip, saying it is unreachable, and calls in
    flight fail and are asked again; its account survives, as the real provider's does."""
    processes.kill(processes.sandbox, group=True)
    step(f"{moment:%Y-%m-%d %H:%M}: the sandbox killed with SIGKILL; down for 15 s")
    time.sleep(15.0)
    processes.start_sandbox()
    outcome.injected.append({"fault": "sandbox killed (SIGKILL), down 15 s, started again", "at": moment.isoformat()})


def _active(instance: Any) -> list[Any]:
    from dagster import DagsterRunStatus, RunsFilter

    return list(instance.get_run_records(filters=RunsFilter(statuses=[DagsterRunStatus(s) for s in ACTIVE])))


def _settle(instance: Any, processes: _Processes, began: float, moment: datetime, step: Callable[[str], None],
            kill_a_run: bool = False) -> tuple[list[Any], Any]:
    """Waits until the daemon is quiet at this moment: no run queued or in flight and every
    sensor ticked after the last run ended (so what a run wrote has been seen). A daemon that
    died by itself is started again and said so. ``kill_a_run``: SIGKILL to the process of the
    first run seen in flight. Returns the runs created at this moment and the run killed."""
    from dagster import RunsFilter

    deadline = time.monotonic() + MOMENT_TIMEOUT_S
    created_after = datetime.fromtimestamp(began, timezone.utc)
    killed = None
    while True:
        if processes.daemon is not None and processes.daemon.poll() is not None:
            step(f"{moment:%Y-%m-%d %H:%M}: dagster-daemon exited by itself ({processes.daemon.returncode}); "
                 "starting it again")
            processes.start_daemon()
        active = _active(instance)
        if kill_a_run and killed is None:
            killed = _kill_one(instance, active, moment, step)
        ticked: list[str] = []
        if not active:
            runs = list(instance.get_run_records(filters=RunsFilter(created_after=created_after)))
            ticked = _ticked_since(instance, max([began] + [r.end_time or 0.0 for r in runs]))
            if len(ticked) == len(SENSORS) and not _active(instance):
                return runs, killed
        if time.monotonic() > deadline:
            waiting = [r.dagster_run.job_name + " " + r.dagster_run.status.value for r in active]
            missing = sorted(set(SENSORS) - set(ticked))
            raise SeasonStalled(f"at {moment.isoformat()} the daemon did not settle in {MOMENT_TIMEOUT_S:.0f} s: "
                                f"runs {', '.join(waiting) or 'none'}; sensors not ticked since "
                                f"{', '.join(missing) or 'none'} (see {processes.folder / 'daemon.log'})")
        time.sleep(1.0 if killed is not None or not kill_a_run else 0.2)


def _kill_one(instance: Any, active: list[Any], moment: datetime, step: Callable[[str], None]) -> Any:
    """SIGKILL to the run worker of a run in flight (its own process, not the code server that
    launched it); the run, or None when none has one yet."""
    from betting_assets.doctor import last_process

    for record in active:
        run = record.dagster_run
        if run.status.value != "STARTED":
            continue
        _, pid = last_process(instance, run.run_id)
        if pid is None or pid == os.getpid():
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except FileNotFoundError:
            continue
        if "api grpc" in command or "code-server" in command or "dagster-daemon" in command:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        step(f"{moment:%Y-%m-%d %H:%M}: the process of {run.job_name} run {run.run_id[:8]} (pid {pid}) killed "
             "with SIGKILL")
        return run
    return None


def _ticked_since(instance: Any, since: float) -> list[str]:
    """The sensors whose last tick began after ``since`` and has ended."""
    from dagster._core.scheduler.instigation import InstigatorType, TickStatus

    done = []
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.instigator_name not in SENSORS:
            continue
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
        if ticks and ticks[0].timestamp > since and ticks[0].status != TickStatus.STARTED:
            done.append(state.instigator_name)
    return done


def _sample(instance: Any, engine: Engine, processes: _Processes, week: Week, since: float) -> None:
    """The week's ageing: storage sizes at its end, its sensor ticks' time, the daemon's memory."""
    from dagster._core.scheduler.instigation import InstigatorType

    durations = []
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id, after=since, limit=10_000):
            if tick.end_timestamp:
                durations.append((tick.end_timestamp - tick.timestamp) * 1000.0)
    week.ticks = len(durations)
    week.tick_ms_mean = sum(durations) / len(durations) if durations else 0.0
    week.tick_ms_max = max(durations) if durations else 0.0
    week.warehouse_mb = _database_mb(engine)
    week.event_log_mb = _event_log_mb(instance, processes.folder / "dagster")
    week.daemon_rss_mb = _tree_rss_mb(processes.daemon.pid) if processes.daemon is not None else 0.0


def _database_mb(engine: Engine) -> float:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return float(conn.scalar(text("SELECT pg_database_size(current_database())")) or 0) / 2**20
    path = engine.url.database
    return sum(p.stat().st_size for p in Path(path).parent.glob(Path(path).name + "*")) / 2**20 if path else 0.0


def _event_log_mb(instance: Any, home: Path) -> float:
    storage = instance.event_log_storage
    if type(storage).__name__.startswith("Postgres"):
        from sqlalchemy import create_engine

        pg = create_engine(os.environ["DAGSTER_PG_URL"])
        try:
            with pg.connect() as conn:
                return float(conn.scalar(text("SELECT pg_database_size(current_database())")) or 0) / 2**20
        finally:
            pg.dispose()
    return sum(p.stat().st_size for p in (home / "history").rglob("*.db")) / 2**20 if (home / "history").exists() \
        else 0.0


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the daemon and its code server)."""
    total, pids = 0, [pid]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
        pids.extend(int(c) for c in children)
    return total / 1024.0


def _tally(instance: Any, outcome: SeasonOutcome) -> None:
    for record in instance.get_run_records():
        run = record.dagster_run
        outcome.runs_by_job[run.job_name] = outcome.runs_by_job.get(run.job_name, 0) + 1
        outcome.runs_by_status[run.status.value] = outcome.runs_by_status.get(run.status.value, 0) + 1
