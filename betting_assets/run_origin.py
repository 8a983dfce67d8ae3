"""Where a run made in this process says it comes from. The demo and the replay execute the
product's jobs in process, bound to their sandbox; Dagster records such a run with no code
location, so the UI cannot re-execute it ("Expected non-None value" at the parent's origin). Each
is recorded as a run of the code location that serves the same jobs (``workspace.yaml``, ``-m
betting_assets.definitions``), whose re-execution then runs them with that location's resources."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LOCATION = "betting_assets.definitions"
"""the code location's name wherever it is served: workspace.yaml, ``-m``, docker's workspace"""


def job_origin(job_name: str, location: str = LOCATION) -> Any:
    """The origin the webserver gives a job of ``location`` loaded from the module (its name and
    repository are what a re-execution looks up)."""
    from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
    from dagster._core.remote_origin import (
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    target = LoadableTargetOrigin(executable_path=sys.executable, module_name=LOCATION, working_directory=os.getcwd())
    code_location = ManagedGrpcPythonEnvCodeLocationOrigin(target, location_name=location)
    return RemoteJobOrigin(RemoteRepositoryOrigin(code_location, SINGLETON_REPOSITORY_NAME), job_name)


@contextmanager
def from_code_location(instance: Any, location: str = LOCATION) -> Iterator[None]:
    """Runs ``instance`` creates meanwhile for an in-process execution carry ``location``'s origin.
    ``execute_in_process`` takes no origin, so the instance's run factory is wrapped for the
    while, and restored after."""
    create = instance.create_run_for_job

    def with_origin(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("remote_job_origin") is None and "job_def" in kwargs:
            kwargs["remote_job_origin"] = job_origin(kwargs["job_def"].name, location)
        return create(*args, **kwargs)

    instance.create_run_for_job = with_origin
    try:
        yield
    finally:
        del instance.create_run_for_job
