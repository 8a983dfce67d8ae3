"""The live collection plan as a service: read what a plan is made from out of the warehouse,
plan with ``domain.collection_plan`` within the credit budget, and keep it in
``collection_plan`` for the sensors to follow. Dagster assets and the CLI both call this module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Engine

from betting_assets.domain.collection.collection_plan import DECISION_WINDOW, CollectionPlan, Made, Pricing, plan_collection
from betting_assets.domain.collection.credit_budget import Budget, period_limit, period_start
from betting_assets.domain.data.quality import RESULT_GRACE
from betting_assets.settings import CollectionSettings, Settings
from betting_assets.warehouse import health
from betting_assets.warehouse import plan as stored


def pricing(collection: CollectionSettings) -> Pricing:
    return Pricing.of(collection.markets, regions=collection.regions, bookmakers=collection.bookmakers or None,
                      closing=collection.closing_markets or None, movement=collection.movement_markets or None)


def decision_leads(settings: Settings) -> list[timedelta]:
    """Every configured decision time (the features' and the model's), in hours before kick-off."""
    hours = sorted({*settings.features.decision_hours, settings.model.decision_hours})
    return [timedelta(hours=h) for h in hours]


@dataclass
class LivePlan:
    plan: CollectionPlan
    now: datetime
    period_start: datetime
    budget: int | None
    budget_source: str
    spent: int
    """credits spent this period before the plan, on the product's clock"""

    @property
    def left(self) -> int | None:
        return None if self.budget is None else max(0, self.budget - self.spent)

    def rows(self) -> list[dict[str, Any]]:
        return [{"sport_key": c.sport_key, "at": c.at, "priority": c.priority, "endpoint": c.endpoint,
                 "event_id": c.event_id, "markets": ",".join(c.markets), "credits": c.credits,
                 "events_served": len(c.serves), "due_until": c.due_until, "planned_at": self.now,
                 "budget": self.budget} for c in self.plan.calls]


def made_calls(calls: pl.DataFrame) -> Made:
    made = Made()
    for sport, endpoint, event, at in calls.select("sport_key", "endpoint", "event_id", "clock_at").iter_rows():
        made.add(sport, endpoint, event, at)
    return made


def live_plan(engine: Engine, settings: Settings, now: datetime, until: datetime, remaining: int | None = None
              ) -> LivePlan:
    """The plan from ``now`` to ``until`` for the configured sports: the events starting by then
    and those awaiting a result, within what the period's budget leaves (``BETTING_CREDIT_BUDGET``;
    unset, what was spent plus what the provider says remains), the calls already made counted
    as made. ``remaining``: the provider's word when the fetch log has none yet."""
    collection = settings.collection
    leads = decision_leads(settings)
    start = period_start(now, collection.credit_reset_day)
    since = now - max(max(leads) + DECISION_WINDOW, RESULT_GRACE) - timedelta(hours=1)
    with engine.connect() as conn:
        frame = stored.schedule(conn, now, until, collection.sports, RESULT_GRACE)
        missing = stored.markets_missing(conn, frame["event_id"].to_list())
        made = stored.calls_made(conn, since, now)
        logged, spent = health.credits(conn, now, start)
    remaining = logged if logged is not None else remaining
    budget = period_limit(collection.credit_budget, spent, remaining)
    source = ("BETTING_CREDIT_BUDGET" if collection.credit_budget is not None else
              "the provider's remaining credits plus this period's spend" if budget is not None else
              "unknown (no provider answer yet): no limit")
    frame = frame.with_columns(markets_missing=pl.Series(
        [missing.get(e, []) for e in frame["event_id"].to_list()], dtype=pl.List(pl.String)))
    plan = plan_collection(frame, pricing=pricing(collection), decision_leads=leads, now=now,
                           budget=Budget(budget, collection.credit_reset_day, {start: spent}, paced_from=now),
                           made=made_calls(made), results_after=timedelta(minutes=collection.results_after_minutes),
                           movement=collection.movement)
    return LivePlan(plan, now, start, budget, source, spent)


def by_sport_day(calls: pl.DataFrame) -> pl.DataFrame:
    """Planned calls and credits per sport, UTC day and priority, as the asset shows them."""
    if calls.is_empty():
        return pl.DataFrame(schema={"sport_key": pl.String, "day": pl.String, "priority": pl.String,
                                    "calls": pl.UInt32, "credits": pl.Int64, "events_served": pl.Int64})
    return (calls.with_columns(day=pl.col("at").dt.date().cast(pl.String))
            .group_by("sport_key", "day", "priority")
            .agg(calls=pl.len(), credits=pl.col("credits").sum(), events_served=pl.col("events_served").sum())
            .sort("sport_key", "day", "priority"))

