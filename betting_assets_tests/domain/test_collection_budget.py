"""The credit-budget planner: exact prices, calls shared across events and priorities, the
fewest calls for full capture, and, over random schedules and budgets, never a period over
its budget and never a movement snapshot bought while a decision or closing one is missing."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from betting_assets.domain.collection_budget import (
    CLOSING,
    CLOSING_WINDOW,
    DECISION,
    DECISION_WINDOW,
    MOVEMENT,
    Pricing,
    period_start,
    plan_collection,
)

DAY = datetime(2024, 3, 2, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


def _schedule(*kicks: tuple[str, datetime]) -> pl.DataFrame:
    return pl.DataFrame({"sport_key": [s for s, _ in kicks], "commence_time": [k for _, k in kicks]})


def test_a_call_is_priced_as_the_provider_bills_it() -> None:
    assert Pricing.uniform(3, regions=2).cost(DECISION) == 6
    assert Pricing.uniform(2, bookmakers=12).cost(CLOSING) == 4          # 12 bookmakers bill as 2 regions
    assert Pricing.uniform(2, bookmakers=10).cost(CLOSING) == 2
    assert Pricing.uniform(3, historical=True).cost(MOVEMENT) == 30
    assert Pricing({DECISION: 3, CLOSING: 1, MOVEMENT: 2}).cost(CLOSING) == 1   # closing fetches only h2h


def test_one_call_serves_every_event_whose_window_it_hits_and_counts_once() -> None:
    """Two 15:00 kick-offs and one at 17:30, decisions an hour before: hand-counted, two
    decision calls (13:59, 16:29) and two closing calls (14:59, 17:29), at 3 + 1 credits."""
    kicks = _schedule(("soccer_epl", DAY.replace(hour=15)), ("soccer_epl", DAY.replace(hour=15)),
                      ("soccer_epl", DAY.replace(hour=17, minute=30)))
    plan = plan_collection(kicks, pricing=Pricing({DECISION: 3, CLOSING: 1, MOVEMENT: 3}), decision_leads=[HOUR],
                           movement=False)
    assert [(c.at.strftime("%H:%M"), c.priority, c.credits) for c in plan.calls] == [
        ("13:59", DECISION, 3), ("14:59", CLOSING, 1), ("16:29", DECISION, 3), ("17:29", CLOSING, 1)]
    assert plan.credits == 8 and plan.share(DECISION) == plan.share(CLOSING) == 1.0
    assert plan.snapshots == 2 * 2 + 1 * 4          # the 15:00 matches are in all four calls' answers
    late = plan_collection(kicks, pricing=Pricing.uniform(3), decision_leads=[timedelta(minutes=15)], movement=False)
    assert [c.at.strftime("%H:%M") for c in late.calls] == ["14:44", "17:14"]   # each also the closing snapshot
    assert late.share(CLOSING) == 1.0 and late.credits == 6


def test_a_short_budget_buys_decision_snapshots_first_then_closing_then_movement() -> None:
    """Six kick-offs late in a month (their whole feed life in it), a credit a call."""
    kicks = _schedule(*[("soccer_epl", DAY.replace(day=25) + timedelta(hours=3 * i)) for i in range(6)])
    cost = Pricing.uniform(1)
    full = plan_collection(kicks, pricing=cost, decision_leads=[HOUR], movement=False)
    assert full.credits == 12 and full.share(DECISION) == full.share(CLOSING) == 1.0
    tight = plan_collection(kicks, pricing=cost, decision_leads=[HOUR], budget=8)
    assert tight.share(DECISION) == 1.0 and tight.share(CLOSING) == pytest.approx(2 / 6) and tight.credits == 8
    assert not [c for c in tight.calls if c.priority == MOVEMENT]
    roomy = plan_collection(kicks, pricing=cost, decision_leads=[HOUR], budget=100)
    assert roomy.share(CLOSING) == 1.0 and [c for c in roomy.calls if c.priority == MOVEMENT]


def test_over_random_schedules_and_budgets_no_period_overspends_and_priorities_hold() -> None:
    rng = random.Random(20)
    for case in range(80):
        start = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(days=rng.randrange(0, 300))
        kicks = _schedule(*[(rng.choice(["soccer_epl", "soccer_germany_bundesliga"]),
                             start + timedelta(minutes=15 * rng.randrange(0, 4 * 24 * 60)))
                            for _ in range(rng.randrange(1, 60))])
        budget = rng.choice([None, 0, 5, 40, 200, 2000])
        leads = rng.choice([[HOUR], [HOUR, timedelta(hours=6)], [timedelta(minutes=20)]])
        pricing = Pricing({DECISION: rng.randrange(1, 4), CLOSING: rng.randrange(1, 4), MOVEMENT: rng.randrange(1, 4)},
                          regions=rng.randrange(1, 3))
        reset = rng.randrange(1, 29)
        plan = plan_collection(kicks, pricing=pricing, decision_leads=leads, budget=budget, reset_day=reset)
        spent: dict[datetime, int] = {}
        for call in plan.calls:
            assert call.credits == pricing.cost(call.priority)
            spent[period_start(call.at, reset)] = spent.get(period_start(call.at, reset), 0) + call.credits
        assert spent == plan.spent_by_period                      # every call paid from its own period
        if budget is None:
            assert plan.share(DECISION) == plan.share(CLOSING) == 1.0
            continue
        assert all(v <= budget for v in spent.values()), (case, spent)
        moved = {period_start(c.at, reset) for c in plan.calls if c.priority == MOVEMENT}
        times: dict[str, list[datetime]] = {}
        for c in plan.calls:
            times.setdefault(c.sport_key, []).append(c.at)
        for sport, kick in kicks.iter_rows():
            windows = [(kick - lead - DECISION_WINDOW, kick - lead) for lead in leads] + [(kick - CLOSING_WINDOW, kick)]
            for low, high in windows:
                if period_start(high - timedelta(minutes=1), reset) in moved:     # movement bought in its period:
                    assert any(low <= t < high for t in times.get(sport, [])), (case, sport, kick)   # so it is hit


def test_the_months_spend_is_held_to_the_budget() -> None:
    from betting_assets.domain.collection_budget import budget_spend

    mid = datetime(2024, 4, 16, tzinfo=timezone.utc)                 # half of April's period from a reset on the 1st
    assert budget_spend(100, None, 1000, mid).passed
    over = budget_spend(1_200, None, 1000, mid)
    assert not over.passed and over.findings[0].severity == "error"
    assert over.findings[0].message == "1,200 credits spent since 2024-04-01, over the budget of 1,000"
    near = budget_spend(850, None, 1000, mid).findings[0]
    assert near.severity == "warn" and "850 of 1,000 credits spent since 2024-04-01 (85%)" in near.message
    pace = budget_spend(600, None, 1000, mid).findings[0]       # 600 in half the month: 1,200 by the reset
    assert pace.severity == "warn" and pace.message.startswith("at this pace the period spends 1,200 of 1,000")
    provider = budget_spend(900, 100, None, mid).findings[0]     # no budget set: spent plus what remains
    assert "900 of 1,000" in provider.message
    assert budget_spend(900, None, None, mid).checked == 0       # nothing to hold it to
    assert budget_spend(10, None, 1000, datetime(2024, 4, 20, tzinfo=timezone.utc), reset_day=18).passed
