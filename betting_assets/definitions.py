"""The one Definitions object the code location loads (``workspace.yaml``)."""

from __future__ import annotations

from dagster import Definitions

from betting_assets.defs.resources import default_resources

defs = Definitions(resources=default_resources())
