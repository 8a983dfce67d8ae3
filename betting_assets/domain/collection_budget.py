"""A credit budget's collection plan: the odds calls worth most, in priority order, never beyond
the budget of each period.

A sport call returns every listed event of the sport and costs the same whatever their number
(markets × regions, a group of up to 10 bookmakers counting as one region, ×10 for historical
odds), so one call can serve many events. The plan buys, per period:

1. a snapshot at or just before every event's decision time (what slips and backtests need);
2. a closing snapshot of every event (what CLV needs);
3. line-movement snapshots by tier (``domain.tiers``) while credits last.

Each of the first two is an interval-stabbing problem: every event gives a window, and the
fewest calls that hit every window are found greedily by window end (an exact minimum). With
too few credits for all of them, the calls serving the most events are bought first.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from betting_assets.domain.normalize import Finding
from betting_assets.domain.quality import CheckOutcome
from betting_assets.domain.tiers import plan_fetches

DECISION, CLOSING, MOVEMENT = "decision", "closing", "movement"
PRIORITIES = (DECISION, CLOSING, MOVEMENT)
DECISION_WINDOW = timedelta(minutes=30)
"""a decision-time snapshot is one taken in the half hour before the decision"""
CLOSING_WINDOW = timedelta(minutes=30)
TICK = timedelta(minutes=1)


@dataclass(frozen=True)
class Pricing:
    """The provider's bill for one odds call: markets × regions (each group of up to 10
    bookmakers one region), ×10 for historical snapshots. ``markets`` may differ by priority
    (the closing snapshot may fetch only what bets and CLV use)."""

    markets: dict[str, int]
    regions: int = 1
    bookmakers: int | None = None
    historical: bool = False

    def cost(self, priority: str) -> int:
        regions = math.ceil(self.bookmakers / 10) if self.bookmakers else self.regions
        return self.markets[priority] * regions * (10 if self.historical else 1)

    @classmethod
    def uniform(cls, markets: int, regions: int = 1, **kw: object) -> Pricing:
        return cls({p: markets for p in PRIORITIES}, regions, **kw)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PlannedCall:
    sport_key: str
    at: datetime
    priority: str
    credits: int
    serves: frozenset[int] = field(default_factory=frozenset)
    """the events (row numbers of the schedule) whose window this call hits"""


@dataclass
class CollectionPlan:
    calls: list[PlannedCall]
    events: int
    budget: int | None
    decision_covered: int
    closing_covered: int
    snapshots: int
    """event snapshots bought: each call counts once for every listed event it returns"""
    spent_by_period: dict[datetime, int] = field(default_factory=dict)

    @property
    def credits(self) -> int:
        return sum(c.credits for c in self.calls)

    def share(self, priority: str) -> float:
        covered = self.decision_covered if priority == DECISION else self.closing_covered
        return covered / self.events if self.events else 0.0

    @property
    def snapshots_per_event(self) -> float:
        return self.snapshots / self.events if self.events else 0.0


def period_start(moment: datetime, reset_day: int) -> datetime:
    """The start of the monthly budget period holding ``moment`` (the period resets on
    ``reset_day`` at midnight UTC)."""
    start = moment.replace(day=min(reset_day, 28), hour=0, minute=0, second=0, microsecond=0)
    if start > moment:
        month = start.month - 1 or 12
        start = start.replace(year=start.year - (start.month == 1), month=month)
    return start


def next_period(start: datetime) -> datetime:
    return start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)


WARN_SHARE = 0.8


def budget_spend(spent: int, remaining: int | None, budget: int | None, now: datetime,
                 reset_day: int = 1) -> CheckOutcome:
    """This period's spend (the ``x-requests-last`` of every call since the reset) against the
    budget (unset: what was spent plus what the provider says remains): an error once over it,
    a warning from 80 % of it or when the pace so far would pass it before the reset."""
    start = period_start(now, reset_day)
    end = next_period(start)
    limit = budget if budget is not None else (spent + remaining if remaining is not None else None)
    if limit is None:
        return CheckOutcome("credit_budget", 0)
    findings = []
    left = (end - now).total_seconds() / 86_400
    if spent > limit:
        findings.append(Finding("credit_budget", "error", f"{spent:,} credits spent since {start:%Y-%m-%d}, over the "
                                f"budget of {limit:,}"))
    elif spent >= WARN_SHARE * limit:
        findings.append(Finding("credit_budget", "warn", f"{spent:,} of {limit:,} credits spent since "
                                f"{start:%Y-%m-%d} ({spent / limit:.0%}), {left:.1f} days before the reset"))
    else:
        elapsed = (now - start) / (end - start)
        if elapsed >= 0.1 and spent / elapsed > limit:
            findings.append(Finding("credit_budget", "warn", f"at this pace the period spends {spent / elapsed:,.0f} "
                                    f"of {limit:,} credits ({spent:,} in its first {elapsed:.0%})"))
    return CheckOutcome("credit_budget", 1, findings)


def plan_collection(schedule: pl.DataFrame, *, pricing: Pricing, decision_leads: list[timedelta],
                    budget: int | None = None, reset_day: int = 1, feed_lead: timedelta = timedelta(days=14),
                    movement: bool = True, tiered: dict[str, list[datetime]] | None = None) -> CollectionPlan:
    """The calls for ``schedule`` (``sport_key``, ``commence_time``), the calls made in each
    monthly period within ``budget`` credits (no limit when None). An event is listed from
    ``feed_lead`` before its kick-off, and a call serves the events listed then. Periods are
    bought priority by priority over the whole schedule, so a period never pays for movement
    while one of its decision or closing calls is unpaid. ``tiered``: the movement calls by
    sport (``tiered_calls``), when several budgets are planned over one schedule."""
    rows = schedule.select("sport_key", "commence_time").sort("commence_time")
    sports = rows["sport_key"].to_list()
    kicks = rows["commence_time"].to_list()
    wallet = Wallet(budget, reset_day)
    chosen: list[PlannedCall] = []
    short: set[datetime] = set()
    """periods where a decision or closing call could not be paid: no movement is bought there"""
    windows: dict[str, list[tuple[str, int, datetime, datetime]]] = {DECISION: [], CLOSING: []}
    for r, (sport, kick) in enumerate(zip(sports, kicks)):
        for lead in decision_leads:
            windows[DECISION].append((sport, r, kick - lead - DECISION_WINDOW, kick - lead))
        windows[CLOSING].append((sport, r, kick - CLOSING_WINDOW, kick))
    for priority in (DECISION, CLOSING):
        times = _times(chosen)
        open_windows = [w for w in windows[priority] if not _hit(times.get(w[0], []), w[2], w[3])]
        for call, ends in sorted(_stab(open_windows, priority, pricing.cost(priority)),
                                 key=lambda found: (-len(found[0].serves), found[0].at)):
            if wallet.pay(call):
                chosen.append(call)
            else:
                short.update(period_start(end - TICK, reset_day) for end in ends)
    if movement:
        for sport, times in sorted((tiered if tiered is not None else tiered_calls(rows, feed_lead)).items()):
            taken = {c.at for c in chosen if c.sport_key == sport}
            for at in times:
                call = PlannedCall(sport, at, MOVEMENT, pricing.cost(MOVEMENT))
                if at not in taken and period_start(at, reset_day) not in short and wallet.pay(call):
                    chosen.append(call)
    chosen.sort(key=lambda c: (c.at, c.sport_key))
    plan = _scored(chosen, sports, kicks, decision_leads, budget, feed_lead)
    plan.spent_by_period = dict(sorted(wallet.spent.items()))
    return plan


def tiered_calls(schedule: pl.DataFrame, feed_lead: timedelta = timedelta(days=14)) -> dict[str, list[datetime]]:
    """The tier rules' calls per sport over ``schedule`` (``domain.tiers.plan_fetches``), each
    event listed from ``feed_lead`` before its kick-off: what movement snapshots are bought from."""
    found = {}
    for (sport,), group in schedule.group_by("sport_key"):
        kicks = sorted(group["commence_time"].to_list())
        fetches = plan_fetches([(k - feed_lead, k) for k in kicks], kicks[0] - feed_lead, kicks[-1], TICK)
        found[str(sport)] = [f.at for f in fetches]
    return found


@dataclass
class Wallet:
    """The credits left in each budget period; a call is paid from the period it is made in."""

    budget: int | None
    reset_day: int = 1
    spent: dict[datetime, int] = field(default_factory=dict)

    def pay(self, call: PlannedCall) -> bool:
        period = period_start(call.at, self.reset_day)
        if self.budget is not None and self.spent.get(period, 0) + call.credits > self.budget:
            return False
        self.spent[period] = self.spent.get(period, 0) + call.credits
        return True


def _stab(windows: list[tuple[str, int, datetime, datetime]], priority: str,
          cost: int) -> list[tuple[PlannedCall, list[datetime]]]:
    """The fewest calls hitting every window, per sport, each with the ends of the windows it
    hits: by window end, a call a tick before the earliest open end hits every open window
    that has begun by then."""
    calls = []
    for sport in sorted({w[0] for w in windows}):
        pending = sorted((w for w in windows if w[0] == sport), key=lambda w: w[3])
        while pending:
            at = pending[0][3] - TICK
            hit = [w for w in pending if w[2] <= at < w[3]]
            calls.append((PlannedCall(sport, at, priority, cost, frozenset(w[1] for w in hit)), [w[3] for w in hit]))
            pending = [w for w in pending if not (w[2] <= at < w[3])]
    return calls


def _scored(calls: list[PlannedCall], sports: list[str], kicks: list[datetime], leads: list[timedelta],
            budget: int | None, feed_lead: timedelta) -> CollectionPlan:
    """How much of every priority the calls buy, counted from the calls themselves (not from
    what they were bought for)."""
    by_sport = _times(calls)
    decided = closed = snapshots = 0
    for sport, kick in zip(sports, kicks):
        times = by_sport.get(sport, [])
        decided += all(_hit(times, kick - lead - DECISION_WINDOW, kick - lead) for lead in leads)
        closed += _hit(times, kick - CLOSING_WINDOW, kick)
        snapshots += bisect_left(times, kick) - bisect_left(times, kick - feed_lead)
    return CollectionPlan(calls, len(kicks), budget, decided, closed, snapshots)


def _times(calls: list[PlannedCall]) -> dict[str, list[datetime]]:
    found: dict[str, list[datetime]] = {}
    for call in calls:
        found.setdefault(call.sport_key, []).append(call.at)
    return {sport: sorted(times) for sport, times in found.items()}


def _hit(times: list[datetime], low: datetime, high: datetime) -> bool:
    """Whether some call in sorted ``times`` falls in [low, high)."""
    index = bisect_left(times, low)
    return index < len(times) and times[index] < high


def full_capture(schedule: pl.DataFrame, *, pricing: Pricing, decision_leads: list[timedelta],
                 feed_lead: timedelta = timedelta(days=14)) -> CollectionPlan:
    """The fewest credits that capture every decision time and every close (no movement)."""
    return plan_collection(schedule, pricing=pricing, decision_leads=decision_leads, feed_lead=feed_lead,
                           movement=False)


def budget_curve(schedule: pl.DataFrame, *, pricing: Pricing, decision_leads: list[timedelta],
                 feed_lead: timedelta = timedelta(days=14), points: int = 16) -> pl.DataFrame:
    """Coverage against the monthly budget, on a grid up to what full tiered movement costs:
    credits spent, the decision-time and closing shares, snapshots per event."""
    tiered = tiered_calls(schedule, feed_lead)
    roomy = plan_collection(schedule, pricing=pricing, decision_leads=decision_leads, feed_lead=feed_lead,
                            tiered=tiered)
    top = max(max(roomy.spent_by_period.values(), default=1), 1)
    rows = []
    for step in range(1, points + 1):
        budget = round(top * step / points)
        plan = plan_collection(schedule, pricing=pricing, decision_leads=decision_leads, budget=budget,
                               feed_lead=feed_lead, tiered=tiered)
        rows.append({"budget": budget, "credits": plan.credits, "decision": plan.share(DECISION),
                     "closing": plan.share(CLOSING), "snapshots_per_event": plan.snapshots_per_event})
    return pl.DataFrame(rows)
