"""``betting doctor`` on an instance whose storage is shared (PostgreSQL, as production's): a run
whose last process is gone is not taken for dead unless every run is said to be on this machine,
since a run of another machine has a pid that means nothing here."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus
from sqlalchemy import Engine

from betting_assets import doctor
from betting_assets_tests.conftest import _postgres_url

WRITE_EVENT = """
import os, sys
from dagster import DagsterEvent, DagsterEventType, DagsterInstance
from dagster._core.events import EngineEventData
with DagsterInstance.from_config(sys.argv[1]) as instance:
    event = DagsterEvent(DagsterEventType.ENGINE_EVENT.value, "collect_odds", message="a step of a run whose process "
                         "then ends", event_specific_data=EngineEventData(), pid=os.getpid())
    instance.report_dagster_event(event, sys.argv[2])
"""
"""a run's process writes an event naming itself, then ends"""


@pytest.fixture
def shared_home(pg_admin: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    made = _postgres_url(pg_admin)
    url = next(made)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("storage:\n  postgres:\n    postgres_url:\n      env: DAGSTER_PG_URL\n"
                                       "telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_PG_URL", url)
    yield home
    next(made, None)


def test_a_shared_instance_is_not_judged_by_this_machines_processes(shared_home: Path) -> None:
    with DagsterInstance.from_config(str(shared_home)) as instance:
        run = instance.add_run(DagsterRun(job_name="collect_odds", run_id=str(uuid.uuid4()),
                                          status=DagsterRunStatus.STARTED))
        subprocess.run([sys.executable, "-c", WRITE_EVENT, str(shared_home), run.run_id], check=True,
                       env=os.environ.copy(), timeout=120)
        assert not doctor.local(instance)
        shared = doctor.examine(instance)
        assert not shared.processes_checked and shared.stuck == []      # another machine's run looks dead from here
        here = doctor.examine(instance, this_machine=True)
        (stuck,) = here.stuck
        assert stuck.run_id == run.run_id and "is gone" in stuck.why
        shown = subprocess.run([sys.executable, "-m", "betting_assets.cli", "doctor", "--home", str(shared_home)],
                               env=os.environ.copy(), capture_output=True, text=True, timeout=120)
        assert shown.returncode == 0 and "processes not looked at" in shown.stdout, shown.stdout + shown.stderr
        fixed = subprocess.run([sys.executable, "-m", "betting_assets.cli", "doctor", "--home", str(shared_home),
                                "--this-machine", "--fix"], env=os.environ.copy(), capture_output=True, text=True,
                               timeout=120)
        assert fixed.returncode == 0 and f"fixed: run {run.run_id[:8]} (collect_odds) marked failed" in fixed.stdout, \
            fixed.stdout + fixed.stderr
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
