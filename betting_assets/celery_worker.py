"""The Celery app a step worker runs (``betting worker``): dagster-celery's own task, on an app
configured as the executor in ``definitions.executor`` configures its side. Settings that decide
when a task is acknowledged live on the worker, so both sides read them from here."""

from __future__ import annotations

from typing import Any

from celery import Celery

WORKER_CONFIG: dict[str, Any] = {
    "task_acks_late": True,               # a step is acknowledged when it ends ...
    "task_reject_on_worker_lost": True,   # ... so a worker killed mid-step gives it back to the broker
    "worker_cancel_long_running_tasks_on_connection_loss": True,   # a step it can no longer acknowledge stops
    "broker_connection_retry_on_startup": True,
}
"""what both the executor and the workers set on top of dagster-celery's defaults"""
RESULT_BACKEND = "rpc://"
"""steps' results go back over the broker (dagster-celery's default): a broker restart fails the run"""


def make_worker_app(broker: str) -> Celery:
    from dagster_celery.config import DEFAULT_CONFIG, dict_wrapper
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_task

    app = make_app({"broker": broker, "backend": RESULT_BACKEND, "include": [],
                    "config_source": dict_wrapper(dict(DEFAULT_CONFIG, **WORKER_CONFIG))})
    create_task(app)
    return app
