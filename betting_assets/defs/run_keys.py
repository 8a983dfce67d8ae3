"""Run keys that let a failed run be asked again.

Dagster launches one run per run key, for ever: that is what makes a sensor's request
idempotent. But a run whose process was killed, or that failed, then blocks every later request
for the same work, so slips due at a decision time would never be proposed. ``retryable`` keeps
the key while its run succeeded or is under way, and moves to ``key:2``, ``key:3`` once the run
under the current one failed.
"""

from __future__ import annotations

import json
from typing import Any

from dagster import DagsterRunStatus, RunsFilter

RUN_KEY_TAG = "dagster/run_key"
ATTEMPTS = 3


def retryable(instance: Any, key: str, attempts: int = ATTEMPTS) -> str | None:
    """The run key to request ``key``'s work under, or None once ``attempts`` runs of it failed."""
    for attempt in range(1, attempts + 1):
        current = key if attempt == 1 else f"{key}:{attempt}"
        runs = instance.get_runs(RunsFilter(tags={RUN_KEY_TAG: current}), limit=1)
        if not runs or runs[0].status not in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
            return current
    return None


def each_materialization(context: Any, asset: str, prefix: str, tag: str) -> Any:
    """One run per materialisation of ``asset`` (run key ``prefix:<the run that made it>``), as an
    asset sensor gives, and, when that run failed (its process killed, say), the same again
    under the next key: an asset sensor moves past the event it answered, so a failed run of it
    would never be asked again. The cursor keeps the last event read and the ones whose run has
    not succeeded yet, with the key each was last asked under."""
    from dagster import AssetKey, AssetRecordsFilter, RunRequest, SensorResult

    state = json.loads(context.cursor) if context.cursor else None
    instance = context.instance
    if state is None:   # as an asset sensor starts: from the latest event
        records = list(instance.fetch_materializations(AssetKey(asset), limit=1).records)
        state = {"after": None, "open": {}}
    else:
        records = list(instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(asset), after_storage_id=state["after"]), limit=100,
            ascending=True).records)
    if records:
        state["after"] = max(r.storage_id for r in records)
    waiting: dict[str, str | None] = {**state["open"], **{r.run_id: None for r in records}}
    requests, still = [], {}
    for run_id, asked in waiting.items():
        key = retryable(instance, f"{prefix}:{run_id}")
        if key is None:
            context.log.warning(f"{prefix}:{run_id} failed {ATTEMPTS} times: not asked again")
            continue
        runs = instance.get_runs(RunsFilter(tags={RUN_KEY_TAG: key}), limit=1)
        if runs and runs[0].status == DagsterRunStatus.SUCCESS:
            continue
        still[run_id] = key
        if key != asked:
            requests.append(RunRequest(run_key=key, tags={tag: run_id}))
    state["open"] = still
    return SensorResult(run_requests=requests, cursor=json.dumps(state))
