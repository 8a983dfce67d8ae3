"""The Definitions the code location loads (``workspace.yaml``): everything defined at module
level under ``defs/`` (one folder per stage, a module per kind), found by Dagster's loader,
with the resources of ``defs/resources.py``. The demo binds the same graph to its sandbox."""

from __future__ import annotations

from typing import Any

from dagster import Definitions, ExecutorDefinition, in_process_executor, load_defs

import betting_assets.defs
from betting_assets.defs.resources import default_resources
from betting_assets.settings import env_name, load_settings


def executor() -> ExecutorDefinition:
    """Every job runs its steps in the run's own process unless a Celery broker is set: they are
    few and follow one another (the provider's calls one at a time), and a process per step,
    Dagster's default, would load the definitions again for each, three seconds of imports per
    asset check. With a broker, each step is a task on whichever worker takes it (``betting
    worker``); the run's process only orders them and claims the provider pool's slots, so the
    pool holds across workers. A task is acknowledged when it ends, not when it starts: a worker
    killed mid-step hands its step back to the broker and another worker runs it again."""
    broker = load_settings().storage.celery_broker
    if broker is None or not broker.get_secret_value():
        return in_process_executor
    from dagster_celery import celery_executor

    from betting_assets.celery_worker import RESULT_BACKEND, WORKER_CONFIG

    return celery_executor.configured({
        "broker": {"env": env_name("storage", "celery_broker")},
        "backend": RESULT_BACKEND,
        "config_source": WORKER_CONFIG,
    }, name="celery")


def build_defs(resources: dict[str, Any] | None = None) -> Definitions:
    """``resources`` replace the defaults by key (see ``default_resources``)."""
    return Definitions.merge(load_defs(betting_assets.defs),
                             Definitions(resources=default_resources(**(resources or {})), executor=executor()))


defs = build_defs()
