"""Freshness of upcoming events' odds against their tier: a property of the whole fixture
list, not of one partition, so it is a check on ``events``."""


from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check

from betting_assets.defs.check_results import recorded
from betting_assets.defs.resources import ClockResource, WarehouseResource
from betting_assets.domain.quality import odds_freshness as rule
from betting_assets.warehouse import queries


@asset_check(asset="events", description="Upcoming events have odds no older than 1.5 × their tier's interval.")
def odds_freshness(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                   clock: ClockResource) -> AssetCheckResult:
    now = clock.now()
    with warehouse.connect() as conn:
        upcoming = queries.upcoming_events(conn, now)
    return recorded(warehouse.engine(), rule(upcoming, now), "events:freshness", now)
