"""Freshness of upcoming events' odds against their tier (a check on ``events``), and the
period's credit spend against the budget and the plan (a check on ``collection_plan``):
properties of the whole collection, not of one partition."""


from datetime import timedelta

import polars as pl
from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check

from betting_assets.defs.check_results import recorded
from betting_assets.defs.resources import ClockResource, SettingsResource, WarehouseResource
from betting_assets.collection import planning
from betting_assets.defs.metadata import markdown_table, picture
from betting_assets.defs.partitions import plan_end
from betting_assets.domain.collection.credit_budget import budget_spend, period_limit, period_start, spend_against_plan
from betting_assets.domain.collection.fetch_decisions import MADE_SKEW, missed_calls
from betting_assets.domain.data.normalize import Finding
from betting_assets.domain.data.quality import CheckOutcome
from betting_assets.domain.data.quality import odds_freshness as rule
from betting_assets.warehouse import health, queries
from betting_assets.modelling.plots import plan_png
from betting_assets.warehouse import plan as plan_store


@asset_check(asset="events", description="Upcoming events have odds no older than 1.5 × their tier's interval.")
def odds_freshness(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                   clock: ClockResource) -> AssetCheckResult:
    now = clock.now()
    with warehouse.connect() as conn:
        upcoming = queries.upcoming_events(conn, now)
    return recorded(warehouse.engine(), rule(upcoming, now), "events:freshness", now)


@asset_check(asset="collection_plan", description="This period's credits (every call's x-requests-last in "
             "fetch_log) within BETTING_CREDIT_BUDGET (unset: spent plus the provider's remaining): an error once "
             "over it, a warning from 80 % or when the pace would pass it before the reset, and a warning for every "
             "sport and day whose live calls cost more than the plan's calls due by then.")
def credit_budget(context: AssetCheckExecutionContext, warehouse: WarehouseResource, clock: ClockResource,
                  settings: SettingsResource) -> AssetCheckResult:
    """On the product's clock, the one the plan and the fetch log's ``clock_at`` are kept in."""
    now = clock.now()
    collection = settings.get().collection
    start = period_start(now, collection.credit_reset_day)
    with warehouse.connect() as conn:
        remaining, spent = health.credits(conn, now, start)
        first = plan_store.first_planned(conn)
        since = max(start, first) if first is not None else now     # spend is held to a plan once there is one
        planned = plan_store.plan_frame(conn, since, now, collection.sports)
        billed = plan_store.spent_by_sport_day(conn, since, now)
        ahead = plan_store.plan_frame(conn, now, plan_end(now.date()), collection.sports)
    budget = budget_spend(spent, remaining, collection.credit_budget, now, collection.credit_reset_day)
    against, table = spend_against_plan(planned, billed.filter(pl.col("sport_key").is_in(collection.sports)))
    outcome = CheckOutcome("credit_budget", budget.checked + against.checked, budget.findings + against.findings)
    limit = period_limit(collection.credit_budget, spent, remaining)
    left = max(0, limit - spent) if limit is not None else None
    return recorded(warehouse.engine(), outcome, "fetch_log:credits", now, spent=spent,
                    budget=collection.credit_budget if collection.credit_budget is not None else "provider's remaining",
                    period_start=start.isoformat(), plan_followed_since=since.isoformat() if first else "no plan yet",
                    planned_by_now=int(table["planned"].sum()), spent_on_planned_endpoints=int(table["spent_live"].sum()),
                    spent_elsewhere=int(table["spent_other"].sum()), by_sport_day=markdown_table(table, limit=40),
                    plan_ahead=picture(plan_png(planning.by_sport_day(ahead), left,
                                                f"Planned credits from {now:%Y-%m-%d %H:%M} UTC"),
                                       "planned credits per day"))


FOLLOWED_WINDOW = timedelta(days=7)


@asset_check(asset="collection_plan", description="Every planned call whose window closed in the last week was made "
             "in it: the odds and scores sensors follow the plan (a warning names each call missed).")
def plan_followed(context: AssetCheckExecutionContext, warehouse: WarehouseResource, clock: ClockResource,
                  settings: SettingsResource) -> AssetCheckResult:
    now = clock.now()
    with warehouse.connect() as conn:
        planned = plan_store.plan_frame(conn, now - FOLLOWED_WINDOW, now, settings.get().collection.sports)
        made = plan_store.calls_made(conn, now - FOLLOWED_WINDOW, now + MADE_SKEW)
    closed = planned.filter(pl.col("due_until") <= now)
    missed = missed_calls(closed, made, now)
    outcome = CheckOutcome("plan_followed", closed.height, [
        Finding("plan_followed", "warn", f"{c['sport_key']}: the {c['priority']} {c['endpoint']} call planned at "
                f"{c['at']:%Y-%m-%d %H:%M} was not made before {c['due_until']:%H:%M}",
                event_id=c["event_id"]) for c in missed])
    return recorded(warehouse.engine(), outcome, "collection_plan:followed", now, calls_due=closed.height,
                    calls_missed=len(missed))
