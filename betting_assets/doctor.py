"""``betting doctor``: what would stop an unattended season without a word, named, and with
``--fix`` freed.

A run whose process was killed (``kill -9``, an out-of-memory kill, a machine restart) stays
``STARTED`` in the instance, and a slot of the provider pool it held stays claimed: every later
provider step then waits for ever ("still blocked by limit for pool odds_api"). Dagster's run
monitor reaps such runs only for launchers that can ask after their workers, which the default
(a subprocess per run) and the CLI's in-process runs cannot; so the doctor looks at each active
run's process on this machine (the pid its events were written by): gone, the run is stuck. A
slot is held wrongly when its run is stuck or already over. Warehouse locks die with their
process (``flock``, or the PostgreSQL session), so one held is a live run's: it is named with
its holder, never broken.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from betting_assets.dagster_home import PROVIDER_POOL
from betting_assets.warehouse.locks import BANKROLL

LOCKS = (BANKROLL, PROVIDER_POOL)
"""the warehouse's named locks (``warehouse.locks``)"""


@dataclass(frozen=True)
class StuckRun:
    run_id: str
    job: str
    status: str
    pid: int | None
    last_event: str | None
    why: str


@dataclass(frozen=True)
class HeldSlot:
    pool: str
    run_id: str
    step_key: str
    run_status: str
    why: str


@dataclass
class Diagnosis:
    stuck: list[StuckRun] = field(default_factory=list)
    slots: list[HeldSlot] = field(default_factory=list)
    pending: int = 0
    """steps waiting for a provider slot"""
    locks: list[dict[str, Any]] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    processes_checked: bool = True
    """False where the instance's storage is shared across machines and its runs' processes were
    not looked at"""

    @property
    def healthy(self) -> bool:
        return not self.stuck and not self.slots

    def as_dict(self) -> dict[str, Any]:
        return {"stuck_runs": [asdict(s) for s in self.stuck], "held_slots": [asdict(s) for s in self.slots],
                "pending_steps": self.pending, "locks": self.locks, "fixed": self.fixed, "healthy": self.healthy,
                "processes_checked": self.processes_checked}


def process_alive(pid: int | None) -> bool | None:
    """Whether ``pid`` is a live Python process on this machine (None: no pid to ask about). A
    pid reused by another program since counts as gone."""
    if pid is None:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return True
    return "python" in command or "dagster" in command


def local(instance: Any) -> bool:
    """Whether every run of the instance ran on this machine: its storage is Dagster's SQLite
    files under ``DAGSTER_HOME`` (the embedded instance). A shared storage (PostgreSQL) may hold
    runs of other machines, whose pids mean nothing here."""
    return type(instance.run_storage).__name__.startswith("Sqlite")


def examine(instance: Any, engine: Engine | None = None, this_machine: bool | None = None) -> Diagnosis:
    """The active runs whose process is gone (asked only where every run is on this machine:
    ``this_machine``, by default when the storage is local), the provider-pool slots held by runs
    that are not running, and the warehouse locks now held."""
    from dagster import DagsterRunStatus, RunsFilter

    diagnosis = Diagnosis()
    diagnosis.processes_checked = local(instance) if this_machine is None else this_machine
    statuses = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
    active = instance.get_run_records(filters=RunsFilter(statuses=statuses)) if diagnosis.processes_checked else []
    for record in active:
        run = record.dagster_run
        entry, pid = last_process(instance, run.run_id)
        alive = process_alive(pid)
        if alive is False:
            when = datetime.fromtimestamp(entry.timestamp, timezone.utc).isoformat() if entry else None
            diagnosis.stuck.append(StuckRun(run.run_id, run.job_name, run.status.value, pid, when,
                                            f"its process (pid {pid}) is gone"))
    stuck = {s.run_id for s in diagnosis.stuck}
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        info = storage.get_concurrency_info(PROVIDER_POOL)
        diagnosis.pending = len(info.pending_steps)
        runs = {r.dagster_run.run_id: r.dagster_run for r in instance.get_run_records(
            filters=RunsFilter(run_ids=sorted(info.active_run_ids)))} if info.active_run_ids else {}
        for slot in info.claimed_slots:
            run = runs.get(slot.run_id)
            status = run.status.value if run is not None else "unknown"
            if slot.run_id in stuck:
                why = "its run's process is gone"
            elif run is None:
                why = "its run is not in the instance"
            elif run.is_finished:
                why = f"its run ended ({status})"
            else:
                continue
            diagnosis.slots.append(HeldSlot(PROVIDER_POOL, slot.run_id, slot.step_key, status, why))
    if engine is not None:
        diagnosis.locks = held_locks(engine)
    return diagnosis


def last_process(instance: Any, run_id: str) -> tuple[Any, int | None]:
    """The run's latest Dagster event that names its process, and that pid (user log lines do not)."""
    records = instance.event_log_storage.get_records_for_run(run_id, limit=200, ascending=False).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.pid is not None:
            return record.event_log_entry, int(event.pid)
    return (records[0].event_log_entry if records else None), None


def fix(instance: Any, diagnosis: Diagnosis) -> list[str]:
    """Marks each stuck run failed, saying why, and frees the slots and queued steps of those runs
    and of every run that holds a slot after its end."""
    done = []
    for stuck in diagnosis.stuck:
        run = instance.get_run_by_id(stuck.run_id)
        if run is not None and not run.is_finished:
            instance.report_run_failed(run, f"betting doctor: {stuck.why}; marked failed so that its pool slots "
                                            "are freed and the next run can go on")
            done.append(f"run {stuck.run_id[:8]} ({stuck.job}) marked failed: {stuck.why}")
    for run_id in sorted({s.run_id for s in diagnosis.stuck} | {s.run_id for s in diagnosis.slots}):
        freed = instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        if freed:
            done.append(f"{freed} {PROVIDER_POOL} slot(s) of run {run_id[:8]} freed")
    diagnosis.fixed = done
    return done


def held_locks(engine: Engine) -> list[dict[str, Any]]:
    """The warehouse locks held now, and by whom where the database can say (PostgreSQL: the
    session's pid, application and since when)."""
    from betting_assets.warehouse import locks

    held = []
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            for name in LOCKS:
                key = locks.advisory_key(name)
                row = conn.execute(text(
                    "SELECT a.pid, a.application_name, a.state, a.backend_start FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                    "AND l.classid = :hi AND l.objid = :lo AND l.database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database())"),
                    {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF}).first()
                if row is not None:
                    app = row.application_name or "no name"
                    held.append({"lock": name, "holder": f"PostgreSQL session {row.pid} ({app}, {row.state}) since "
                                 f"{row.backend_start.isoformat()}"})
        return held
    for name in LOCKS:
        try:
            with locks.named_lock(engine, name, timeout_s=0):
                pass
        except locks.LockTimeout:
            held.append({"lock": name, "holder": "a live process on this machine (flock beside the SQLite file)"})
    return held
