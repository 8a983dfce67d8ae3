"""The Definitions the code location loads (``workspace.yaml``): everything defined at module
level under ``defs/`` (one folder per stage, a module per kind), found by Dagster's loader,
with the resources of ``defs/resources.py``. The demo binds the same graph to its sandbox."""

from __future__ import annotations

from typing import Any

from dagster import Definitions, load_defs

import betting_assets.defs
from betting_assets.defs.resources import default_resources


def build_defs(resources: dict[str, Any] | None = None) -> Definitions:
    """``resources`` replace the defaults by key (see ``default_resources``)."""
    return Definitions.merge(load_defs(betting_assets.defs),
                             Definitions(resources=default_resources(**(resources or {}))))


defs = build_defs()
