"""The embedded Dagster instance's configuration (``make demo``, ``make dev``, the README's
backfills): Dagster's SQLite storage under ``DAGSTER_HOME`` with the same provider limit as
production (a queue of at most four runs; one provider call at a time), so runs launched
together never call the odds provider at the same time."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

PROVIDER_POOL = "odds_api"
"""the concurrency pool of every asset and op that calls the odds provider"""

MAX_RUNS = 4
EMBEDDED_CONFIG = f"""\
# Written by betting_assets (betting instance init). Storage: Dagster's SQLite files here.
concurrency:
  runs:
    # the run queue, as in production's dagster.yaml: the daemon (dagster dev) starts at most 4
    max_concurrent_runs: {MAX_RUNS}
  # every asset or op that calls the odds provider is in the pool {PROVIDER_POOL} (the only
  # pool): one of them at a time across all runs, as its credits and rate limits are shared
  pools:
    default_limit: 1
# the daemon fails a run that never started and frees the pool slots of a run that has ended;
# runs whose process was killed are found and freed by `betting doctor`
run_monitoring:
  enabled: true
  start_timeout_seconds: 300
  free_slots_after_run_end_seconds: 60
telemetry:
  enabled: false
"""


def home_of(settings: Any) -> Path:
    """The project's Dagster instance folder: ``DAGSTER_HOME``, else ``dagster`` under the home."""
    return Path(os.environ.get("DAGSTER_HOME") or settings.home_dir / "dagster")


def prepare(home: Path) -> Path:
    """Creates ``home`` with the embedded configuration unless it already has a dagster.yaml,
    which is left as it is (a user's or production's own)."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(EMBEDDED_CONFIG, encoding="utf-8")
    return config


def initialise(home: Path) -> Path:
    """``prepare``, then the instance's storage and the provider pool's slots created now rather
    than by the first run that uses the pool (two runs started together on SQLite could each
    add one). The provider assets also hold a warehouse lock, since Dagster's claim of a slot
    on SQLite can still admit two steps at once."""
    from dagster import DagsterInstance

    config = prepare(home)
    with DagsterInstance.from_config(str(home)) as instance:
        ensure_pool(instance)
    return config


def ensure_pool(instance) -> None:  # type: ignore[no-untyped-def]
    """Gives the provider pool its configured limit unless it has one already."""
    storage = instance.event_log_storage
    if storage.get_concurrency_info(PROVIDER_POOL).slot_count == 0:
        storage.initialize_concurrency_limit_to_default(PROVIDER_POOL)


if __name__ == "__main__":
    print(prepare(Path(sys.argv[1])))
