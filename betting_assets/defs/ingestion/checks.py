"""Freshness of upcoming events' odds against their tier (a check on ``events``), and the
period's credit spend against the budget and the plan (a check on ``collection_plan``):
properties of the whole collection, not of one partition."""


from datetime import timedelta

import polars as pl
from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check

from betting_assets.defs.check_results import recorded
from betting_assets.defs.resources import ClockResource, SettingsResource, WarehouseResource
from betting_assets.defs.metadata import markdown_table
from betting_assets.domain.credit_budget import budget_spend, period_start, spend_against_plan
from betting_assets.domain.fetch_decisions import missed_calls
from betting_assets.domain.normalize import Finding
from betting_assets.domain.quality import CheckOutcome
from betting_assets.domain.quality import odds_freshness as rule
from betting_assets.warehouse import health, queries
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
    budget = budget_spend(spent, remaining, collection.credit_budget, now, collection.credit_reset_day)
    live = billed.filter(pl.col("planned") & pl.col("sport_key").is_in(collection.sports))
    against = spend_against_plan(
        planned.select("sport_key", day=pl.col("at").dt.date().cast(pl.String), credits="credits"),
        live.select("sport_key", "day", "credits"))
    outcome = CheckOutcome("credit_budget", budget.checked + against.checked, budget.findings + against.findings)
    return recorded(warehouse.engine(), outcome, "fetch_log:credits", now, spent=spent,
                    budget=collection.credit_budget if collection.credit_budget is not None else "provider's remaining",
                    period_start=start.isoformat(), plan_followed_since=since.isoformat() if first else "no plan yet",
                    planned_by_now=int(planned["credits"].sum()),
                    spent_on_planned_endpoints=int(live["credits"].sum()),
                    spent_elsewhere=int(billed.filter(~pl.col("planned"))["credits"].sum()),
                    by_sport_day=markdown_table(_compared(planned, billed), limit=40))


def _compared(planned: pl.DataFrame, billed: pl.DataFrame) -> pl.DataFrame:
    keys = ["sport_key", "day"]
    plan = planned.group_by("sport_key", day=pl.col("at").dt.date().cast(pl.String)).agg(planned=pl.col("credits").sum())
    spent = billed.group_by(keys).agg(spent_live=pl.col("credits").filter(pl.col("planned")).sum(),
                                      spent_other=pl.col("credits").filter(~pl.col("planned")).sum())
    return plan.join(spent, on=keys, how="full", coalesce=True).fill_null(0).sort(keys)


FOLLOWED_WINDOW = timedelta(days=7)


@asset_check(asset="collection_plan", description="Every planned call whose window closed in the last week was made "
             "in it: the odds and scores sensors follow the plan (a warning names each call missed).")
def plan_followed(context: AssetCheckExecutionContext, warehouse: WarehouseResource, clock: ClockResource,
                  settings: SettingsResource) -> AssetCheckResult:
    now = clock.now()
    with warehouse.connect() as conn:
        planned = plan_store.plan_frame(conn, now - FOLLOWED_WINDOW, now, settings.get().collection.sports)
        made = plan_store.calls_made(conn, now - FOLLOWED_WINDOW, now + timedelta(minutes=5))
    closed = planned.filter(pl.col("due_until").is_not_null() & (pl.col("due_until") <= now))
    missed = missed_calls(closed, made, now)
    outcome = CheckOutcome("plan_followed", closed.height, [
        Finding("plan_followed", "warn", f"{c['sport_key']}: the {c['priority']} {c['endpoint']} call planned at "
                f"{c['at']:%Y-%m-%d %H:%M} was not made before {c['due_until']:%H:%M}",
                event_id=c["event_id"]) for c in missed])
    return recorded(warehouse.engine(), outcome, "collection_plan:followed", now, calls_due=closed.height,
                    calls_missed=len(missed))
