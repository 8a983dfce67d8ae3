"""The credit-budget planner: exact prices, per-event calls billed by the markets they return,
calls shared across events and priorities, the fewest calls for full capture, and, over random
schedules and budgets (a season replayed, or live and paced), never a period over its budget
and never a movement snapshot bought while a decision, closing or results call is missing."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from betting_assets.domain.collection.collection_plan import (
    CLOSING,
    CLOSING_WINDOW,
    DECISION,
    DECISION_WINDOW,
    EVENT_ODDS,
    MOVEMENT,
    ODDS,
    RESULTS,
    RESULTS_AFTER,
    SCORES,
    Made,
    Pricing,
    plan_collection,
    simulate_collection,
)
from betting_assets.domain.collection.credit_budget import Budget, budget_spend, day_start, period_start, spend_against_plan
from betting_assets.domain.data.quality import RESULT_GRACE

DAY = datetime(2024, 3, 2, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


def _schedule(*kicks: tuple[str, datetime]) -> pl.DataFrame:
    return pl.DataFrame({"sport_key": [s for s, _ in kicks], "commence_time": [k for _, k in kicks]})


def _clock(call: object) -> tuple[str, str, int]:
    return call.at.strftime("%H:%M"), call.priority, call.credits  # type: ignore[attr-defined]


def test_a_call_is_priced_as_the_provider_bills_it() -> None:
    assert Pricing.uniform(3, regions=2).cost(DECISION) == 6
    assert Pricing.uniform(2, bookmakers=12).cost(CLOSING) == 4          # 12 bookmakers bill as 2 regions
    assert Pricing.uniform(2, bookmakers=10).cost(CLOSING) == 2
    assert Pricing.uniform(3, historical=True).cost(MOVEMENT) == 30
    settings = Pricing.of(["h2h", "totals", "spreads"], regions=["uk", "eu"], closing=["h2h"])
    assert (settings.cost(DECISION), settings.cost(CLOSING), settings.cost(MOVEMENT)) == (6, 2, 6)
    assert settings.cost(RESULTS) == 2                                    # scores with daysFrom
    # a per-event call bills the markets it returns: an event without spreads costs 2 × 2
    assert settings.event_cost(DECISION, {"spreads"}) == 4
    assert settings.event_cost(DECISION) == 6
    assert Pricing.of(["h2h", "totals"], regions=["uk"], historical=True).event_cost(DECISION, {"totals"}) == 10


def test_one_call_serves_every_event_whose_window_it_hits_and_counts_once() -> None:
    """Two 15:00 kick-offs and one at 17:30, decisions an hour before: hand-counted, two
    decision calls (13:50, 16:20: ten minutes before each window closes), two closing calls
    (14:50, 17:20) at 3 and 1 credits, and a scores poll 150 minutes after each kick-off slot
    (17:30 for the two 15:00 games, 20:00 for the 17:30 one) for 2 each: a result is known then,
    as the backtest books it."""
    kicks = _schedule(("soccer_epl", DAY.replace(hour=15)), ("soccer_epl", DAY.replace(hour=15)),
                      ("soccer_epl", DAY.replace(hour=17, minute=30)))
    pricing = Pricing({DECISION: ("h2h", "totals", "spreads"), CLOSING: ("h2h",), MOVEMENT: ("h2h",)})
    plan = plan_collection(kicks, pricing=pricing, decision_leads=[HOUR], movement=False)
    assert [_clock(c) for c in plan.calls] == [
        ("13:50", DECISION, 3), ("14:50", CLOSING, 1), ("16:20", DECISION, 3), ("17:20", CLOSING, 1),
        ("17:30", RESULTS, 2), ("20:00", RESULTS, 2)]
    assert [c.endpoint for c in plan.calls] == [ODDS] * 4 + [SCORES] * 2
    assert plan.calls[1].markets == ("h2h",)
    assert plan.credits == 12 and plan.share(DECISION) == plan.share(CLOSING) == plan.share(RESULTS) == 1.0
    assert plan.snapshots == 2 * 2 + 1 * 4          # the 15:00 matches are in all four odds calls' answers
    late = plan_collection(kicks, pricing=Pricing.uniform(3), decision_leads=[timedelta(minutes=15)], movement=False,
                           results=False)
    assert [c.at.strftime("%H:%M") for c in late.calls] == ["14:35", "17:05"]   # each also the closing snapshot
    assert late.share(CLOSING) == 1.0 and late.credits == 6


def test_an_isolated_kick_off_priced_in_fewer_markets_goes_to_the_per_event_endpoint() -> None:
    kicks = pl.DataFrame({"sport_key": ["soccer_epl"] * 2, "event_id": ["a", "b"],
                          "commence_time": [DAY.replace(hour=12), DAY.replace(hour=20)],
                          "markets_missing": [["spreads"], []]})
    pricing = Pricing.of(["h2h", "totals", "spreads"], regions=["uk"])
    plan = plan_collection(kicks, pricing=pricing, decision_leads=[HOUR], movement=False, results=False)
    by_event = {(c.event_id, c.priority): c for c in plan.calls}
    assert by_event[("a", DECISION)].endpoint == EVENT_ODDS and by_event[("a", DECISION)].credits == 2
    assert by_event[("a", DECISION)].markets == ("h2h", "totals")
    assert {c.endpoint for c in plan.calls if c.event_id is None} == {ODDS}     # b offers every market
    assert plan.credits == 2 + 2 + 3 + 3 and plan.share(DECISION) == plan.share(CLOSING) == 1.0
    # a per-event call answers for its own event only: the 12:00 match's two are not b's
    assert plan.snapshots == 2 + 2


def test_a_short_budget_buys_decision_snapshots_first_then_closing_then_movement() -> None:
    """Six kick-offs late in a month (their whole feed life in it), a credit an odds call."""
    kicks = _schedule(*[("soccer_epl", DAY.replace(day=25) + timedelta(hours=3 * i)) for i in range(6)])
    cost = Pricing.uniform(1)
    full = plan_collection(kicks, pricing=cost, decision_leads=[HOUR], movement=False, results=False)
    assert full.credits == 12 and full.share(DECISION) == full.share(CLOSING) == 1.0
    tight = plan_collection(kicks, pricing=cost, decision_leads=[HOUR], budget=8)
    assert tight.share(DECISION) == 1.0 and tight.share(CLOSING) == pytest.approx(2 / 6) and tight.credits == 8
    assert not [c for c in tight.calls if c.priority in (MOVEMENT, RESULTS)]
    roomy = plan_collection(kicks, pricing=cost, decision_leads=[HOUR], budget=100)
    assert roomy.share(CLOSING) == roomy.share(RESULTS) == 1.0 and [c for c in roomy.calls if c.priority == MOVEMENT]


def _assert_holds(plan: object, kicks: pl.DataFrame, pricing: Pricing, leads: list[timedelta], budget: int | None,
                  reset: int, case: object, spent_before: dict[datetime, int] | None = None,
                  now: datetime | None = None) -> None:
    """No period over its budget (with what was spent before the plan), every call priced as
    billed and paid from its own period, and no movement in a period that misses a decision,
    closing or results window the plan could still have hit."""
    spent: dict[datetime, int] = {}
    for call in plan.calls:  # type: ignore[attr-defined]
        assert call.credits == pricing.cost(call.priority)
        spent[period_start(call.at, reset)] = spent.get(period_start(call.at, reset), 0) + call.credits
    assert spent == plan.spent_by_period, case  # type: ignore[attr-defined]
    if budget is None:
        return
    for period, credits in spent.items():
        assert credits + (spent_before or {}).get(period, 0) <= budget, (case, period, credits)
    moved = {period_start(c.at, reset) for c in plan.calls if c.priority == MOVEMENT}  # type: ignore[attr-defined]
    times: dict[tuple[str, bool], list[datetime]] = {}
    for c in plan.calls:  # type: ignore[attr-defined]
        times.setdefault((c.sport_key, c.priority == RESULTS), []).append(c.at)
    for sport, kick in kicks.select("sport_key", "commence_time").iter_rows():
        odds = [(kick - lead - DECISION_WINDOW, kick - lead) for lead in leads] + [(kick - CLOSING_WINDOW, kick)]
        for (low, high), scores in [(w, False) for w in odds] + [((kick + RESULTS_AFTER, kick + RESULT_GRACE), True)]:
            if now is not None and high <= now:
                continue                                           # closed before the plan was made
            low = max(low, now) if now is not None else low
            if period_start(high - timedelta(minutes=1), reset) in moved and period_start(low, reset) in moved:
                assert any(low <= t < high for t in times.get((sport, scores), [])), (case, sport, kick, scores)


def test_over_random_schedules_and_budgets_no_period_overspends_and_priorities_hold() -> None:
    rng = random.Random(20)
    for case in range(80):
        start = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(days=rng.randrange(0, 300))
        kicks = _schedule(*[(rng.choice(["soccer_epl", "soccer_germany_bundesliga"]),
                             start + timedelta(minutes=15 * rng.randrange(0, 4 * 24 * 60)))
                            for _ in range(rng.randrange(1, 60))])
        budget = rng.choice([None, 0, 5, 40, 200, 2000])
        leads = rng.choice([[HOUR], [HOUR, timedelta(hours=6)], [timedelta(minutes=20)]])
        pricing = Pricing({DECISION: ("a",) * rng.randrange(1, 4), CLOSING: ("b",) * rng.randrange(1, 4),
                           MOVEMENT: ("c",) * rng.randrange(1, 4)}, regions=rng.randrange(1, 3))
        reset = rng.randrange(1, 29)
        plan = plan_collection(kicks, pricing=pricing, decision_leads=leads, budget=budget, reset_day=reset)
        _assert_holds(plan, kicks, pricing, leads, budget, reset, case)
        if budget is None:
            assert plan.share(DECISION) == plan.share(CLOSING) == plan.share(RESULTS) == 1.0


def test_live_plans_keep_to_what_the_period_has_left_and_pace_movement_over_its_days() -> None:
    """Planned from a moment inside a period that has already spent part of its budget: the
    plan never passes what is left, and movement never takes more, by the end of any day, than
    that day's share of it (what every event needs is bought first, unpaced)."""
    rng = random.Random(7)
    for case in range(60):
        now = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(days=rng.randrange(0, 300), minutes=rng.randrange(0, 1440))
        kicks = _schedule(*[(rng.choice(["a", "b"]), now + timedelta(minutes=15 * rng.randrange(1, 4 * 24 * 14)))
                            for _ in range(rng.randrange(1, 50))])
        budget, reset = rng.choice([20, 60, 300, 3000]), rng.randrange(1, 29)
        before = {period_start(now, reset): rng.randrange(0, 20)}
        pricing = Pricing.uniform(rng.randrange(1, 3), regions=rng.randrange(1, 3))
        plan = plan_collection(kicks, pricing=pricing, decision_leads=[HOUR], now=now,
                               budget=Budget(budget, reset, before, paced_from=now))
        assert all(c.at >= now for c in plan.calls)
        _assert_holds(plan, kicks, pricing, [HOUR], budget, reset, case, before, now)
        period = period_start(now, reset)
        left = budget - before[period]
        first = day_start(now)
        days = -(-(period.replace(month=period.month % 12 + 1, year=period.year + (period.month == 12)) - first)
                 // timedelta(days=1))
        in_period = sorted((c for c in plan.calls if period_start(c.at, reset) == period), key=lambda c: c.at)
        for i in range(days):
            by_then = first + timedelta(days=i + 1)
            spent = sum(c.credits for c in in_period if c.at < by_then)
            moved = [c for c in in_period if c.priority == MOVEMENT and c.at < by_then]
            if moved:
                assert spent <= left * (i + 1) // days, (case, i, spent, left, days)


def test_a_live_plan_does_not_buy_again_what_a_call_already_made_answered() -> None:
    now = DAY.replace(hour=13, minute=40)
    kicks = pl.DataFrame({"sport_key": ["soccer_epl"], "event_id": ["x"], "commence_time": [DAY.replace(hour=15)]})
    made = Made()
    made.add("soccer_epl", ODDS, None, DAY.replace(hour=13, minute=35))
    plan = plan_collection(kicks, pricing=Pricing.uniform(3), decision_leads=[HOUR], now=now, made=made,
                           movement=False)
    assert [(c.priority, c.at.strftime("%H:%M")) for c in plan.calls] == [(CLOSING, "14:50"), (RESULTS, "17:30")]
    assert plan.share(DECISION) == 1.0
    passed = plan_collection(kicks, pricing=Pricing.uniform(3), decision_leads=[HOUR], now=now, movement=False)
    assert passed.counted[DECISION] == 1 and passed.calls[0].at == DAY.replace(hour=13, minute=50)  # still open
    gone = plan_collection(kicks, pricing=Pricing.uniform(3), decision_leads=[HOUR], movement=False,
                           now=DAY.replace(hour=14, minute=10))
    assert gone.counted[DECISION] == 0 and gone.share(CLOSING) == 1.0      # a window closed unanswered is not a share


def test_a_season_replayed_day_by_day_never_passes_a_monthly_budget() -> None:
    rng = random.Random(5)
    kicks = _schedule(*[(rng.choice(["a", "b"]), DAY + timedelta(minutes=15 * rng.randrange(0, 4 * 24 * 75)))
                        for _ in range(150)])
    pricing = Pricing.uniform(3, regions=2)
    roomy = simulate_collection(kicks, pricing=pricing, decision_leads=[HOUR], budget=None)
    assert roomy.share(DECISION) == roomy.share(CLOSING) == roomy.share(RESULTS) == 1.0
    for budget in (150, 600):
        plan = simulate_collection(kicks, pricing=pricing, decision_leads=[HOUR], budget=budget)
        assert max(plan.spent_by_period.values()) <= budget
        assert plan.credits < roomy.credits and plan.share(DECISION) >= plan.share(CLOSING)


def test_the_months_spend_is_held_to_the_budget() -> None:
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


def test_spend_beyond_the_plan_is_named_per_sport_and_day() -> None:
    planned = pl.DataFrame({"sport_key": ["a", "a", "b"], "at": [DAY.replace(hour=h) for h in (12, 14, 15)],
                            "credits": [6, 6, 6]})
    billed = pl.DataFrame({"sport_key": ["a", "b", "c", "a"], "day": ["2024-03-02"] * 4,
                           "planned": [True, True, True, False], "credits": [12, 10, 2, 60]})
    outcome, table = spend_against_plan(planned, billed)
    assert outcome.checked == 3
    assert [f.message for f in outcome.findings] == [
        "b 2024-03-02: 10 credits spent against 6 planned (+4)", "c 2024-03-02: 2 credits spent against 0 planned (+2)"]
    # a backfill's historical calls are the user's own spend, shown apart and never held to the plan
    assert table.filter(pl.col("sport_key") == "a").row(0, named=True) == {
        "sport_key": "a", "day": "2024-03-02", "planned": 12, "spent_live": 12, "spent_other": 60}
    assert spend_against_plan(planned, billed.filter(pl.col("sport_key") == "a"))[0].passed
