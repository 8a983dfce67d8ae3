"""The Definitions the code location loads (``workspace.yaml``): everything defined at module
level under ``defs/`` (one folder per stage, a module per kind), found by Dagster's loader,
with the resources of ``defs/resources.py``. The demo binds the same graph to its sandbox."""

from __future__ import annotations

from typing import Any

from dagster import Definitions, in_process_executor, load_defs

import betting_assets.defs
from betting_assets.defs.resources import default_resources


def build_defs(resources: dict[str, Any] | None = None) -> Definitions:
    """``resources`` replace the defaults by key (see ``default_resources``).

    Every job runs its steps in the run's own process: they are few and follow one another (the
    provider's calls one at a time), and a process per step, Dagster's default, would load the
    definitions again for each, three seconds of imports per asset check."""
    return Definitions.merge(load_defs(betting_assets.defs),
                             Definitions(resources=default_resources(**(resources or {})), executor=in_process_executor))


defs = build_defs()
