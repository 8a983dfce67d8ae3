"""What a failed run says to a person: the op's own error, not Dagster's wrapper around it."""

from __future__ import annotations

from typing import Any

from dagster import DagsterEventType, DagsterInstance


def root_cause(error: Any) -> str:
    """The innermost error of a step failure: Dagster wraps the op's own exception in one that
    only names the op, and the user needs the op's reason."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    message = (error.message or "").strip()
    head, _, rest = message.partition(": ")
    if error.cls_name and head.endswith(error.cls_name):
        return f"{error.cls_name}: {rest}"   # the class once, without its module
    return f"{error.cls_name}: {message}"


def first_step_error(instance: DagsterInstance, run_id: str) -> str | None:
    """The first failed step of a run and its own error, or None when no step failed (a run
    killed outright, or one that failed before any step began)."""
    for record in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        error = event.event_specific_data.error if event and event.event_specific_data else None
        if error is not None:
            return f"{event.step_key}: {root_cause(error)}"
    return None
