"""Freshness of upcoming events' odds against their tier, and the month's credit spend against
the budget: properties of the whole collection, not of one partition, so they are checks on
``events``."""


from datetime import datetime, timezone

from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check

from betting_assets.defs.check_results import recorded
from betting_assets.defs.resources import ClockResource, SettingsResource, WarehouseResource
from betting_assets.domain.collection_budget import budget_spend, period_start
from betting_assets.domain.quality import odds_freshness as rule
from betting_assets.warehouse import health, queries


@asset_check(asset="events", description="Upcoming events have odds no older than 1.5 × their tier's interval.")
def odds_freshness(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                   clock: ClockResource) -> AssetCheckResult:
    now = clock.now()
    with warehouse.connect() as conn:
        upcoming = queries.upcoming_events(conn, now)
    return recorded(warehouse.engine(), rule(upcoming, now), "events:freshness", now)


@asset_check(asset="events", description="This month's credits spent (every call's x-requests-last in fetch_log) "
             "are within BETTING_CREDIT_BUDGET (unset: spent plus the provider's remaining), warning from 80 % "
             "or when the pace would pass it before the reset.")
def credit_budget(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                  settings: SettingsResource) -> AssetCheckResult:
    """On the wall clock, not the provider's: credits are billed by the real month, whatever
    time a sandbox replays."""
    now = datetime.now(timezone.utc)
    collection = settings.get().collection
    start = period_start(now, collection.credit_reset_day)
    with warehouse.connect() as conn:
        remaining, spent = health.credits(conn, now, start)
    outcome = budget_spend(spent, remaining, collection.credit_budget, now, collection.credit_reset_day)
    return recorded(warehouse.engine(), outcome, "fetch_log:credits", now, spent=spent,
                    budget=collection.credit_budget if collection.credit_budget is not None else "provider's remaining",
                    period_start=start.isoformat())
