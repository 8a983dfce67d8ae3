"""A credit budget's collection plan: the provider calls worth most, in priority order, never
beyond what the budget leaves (``domain.credit_budget``).

A sport call returns every listed event of the sport and costs the same whatever their number
(markets × regions, a group of up to 10 bookmakers counting as one region, ×10 for historical
odds), so one call can serve many events. The plan buys, in this order:

1. a snapshot in the half hour before every event's decision time (what slips and backtests need);
2. a closing snapshot of every event, in its last half hour (what CLV needs);
3. a scores poll after every event should have ended (what settlement needs);
4. line-movement snapshots by tier (``domain.tiers``) while credits last, the closest tiers first.

Each of the first three is an interval-stabbing problem: every event gives a window, and the
fewest calls that hit every window are found greedily by window end (an exact minimum). A
snapshot is planned ten minutes before its window closes, so a sensor tick that comes late
still lands in it; a scores poll as early as every event it serves has ended. With too few
credits for all of them, the calls serving the most events are bought first. A call that
serves one event only goes to the per-event endpoint when that is cheaper (it bills the markets
it returns, so an event priced in fewer markets than asked costs less).
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

import polars as pl

from betting_assets.domain.collection.credit_budget import Budget, Wallet, day_start, period_start
from betting_assets.domain.data.quality import RESULT_GRACE
from betting_assets.domain.collection.tiers import FEED_LEAD, TIERS, tier_calls

DECISION, CLOSING, RESULTS, MOVEMENT = "decision", "closing", "results", "movement"
PRIORITIES = (DECISION, CLOSING, RESULTS, MOVEMENT)
ODDS, EVENT_ODDS, SCORES = "odds", "event_odds", "scores"
"""the endpoints a planned call uses, named as ``fetch_log`` names them"""
DECISION_WINDOW = timedelta(minutes=30)
"""a decision-time snapshot is one taken in the half hour before the decision"""
CLOSING_WINDOW = timedelta(minutes=30)
SLACK = timedelta(minutes=10)
"""a snapshot is planned this long before its window closes: a sensor tick may come late, and a
failed run is asked again within the window"""
RESULTS_AFTER = timedelta(minutes=150)
"""a scores poll is planned this long after kick-off, when a football or basketball game is over"""
MOVEMENT_GRACE = timedelta(minutes=30)
SCORES_COST = 2
"""a scores call with ``daysFrom`` (completed games) costs 2 credits"""
_TIER_RANK = {tier.name: rank for rank, tier in enumerate(TIERS)}


@dataclass(frozen=True)
class Pricing:
    """The provider's bill for a call: markets × regions (each group of up to 10 bookmakers one
    region), ×10 for historical snapshots; a per-event call bills the markets it returns. The
    markets may differ by priority (the closing snapshot may fetch only what bets and CLV use)."""

    markets: dict[str, tuple[str, ...]]
    regions: int = 1
    bookmakers: int | None = None
    historical: bool = False

    @property
    def units(self) -> int:
        return (math.ceil(self.bookmakers / 10) if self.bookmakers else self.regions) * (10 if self.historical else 1)

    def cost(self, priority: str) -> int:
        return SCORES_COST if priority == RESULTS else len(self.markets[priority]) * self.units

    def returned(self, priority: str, missing: Collection[str] = ()) -> tuple[str, ...]:
        """The markets a per-event call returns: those asked for, less those the event was asked
        for before and not priced in."""
        return tuple(m for m in self.markets[priority] if m not in missing)

    def event_cost(self, priority: str, missing: Collection[str] = ()) -> int:
        return len(self.returned(priority, missing)) * self.units

    @classmethod
    def uniform(cls, markets: int, regions: int = 1, **kw: object) -> Pricing:
        names = tuple(f"market_{i + 1}" for i in range(markets))
        return cls({p: names for p in (DECISION, CLOSING, MOVEMENT)}, regions, **kw)  # type: ignore[arg-type]

    @classmethod
    def of(cls, markets: list[str], *, regions: list[str], bookmakers: list[str] | None = None,
           closing: list[str] | None = None, movement: list[str] | None = None, historical: bool = False) -> Pricing:
        """Priced from settings: ``closing`` and ``movement`` markets default to all of ``markets``."""
        return cls({DECISION: tuple(markets), CLOSING: tuple(closing or markets), MOVEMENT: tuple(movement or markets)},
                   len(regions), len(bookmakers) if bookmakers else None, historical)


@dataclass(frozen=True)
class PlannedCall:
    sport_key: str
    at: datetime
    priority: str
    credits: int
    endpoint: str = ODDS
    event_id: str | None = None
    markets: tuple[str, ...] = ()
    serves: frozenset[int] = field(default_factory=frozenset)
    """the events (row numbers of the schedule) whose window this call was planned for"""
    due_until: datetime | None = None
    """past this, the call no longer serves its purpose: a sensor that missed it skips it (every
    planned call has one; a call already made needs none)"""


@dataclass
class Made:
    """Calls already made, so a live plan does not buy again what they already answered."""

    odds: dict[str, list[datetime]] = field(default_factory=dict)
    """sport → the sport-wide odds calls"""
    event_odds: dict[str, list[datetime]] = field(default_factory=dict)
    """event id → its per-event odds calls"""
    scores: dict[str, list[datetime]] = field(default_factory=dict)

    def add(self, sport: str, endpoint: str, event_id: str | None, at: datetime) -> None:
        """Keeps every list sorted."""
        if endpoint == EVENT_ODDS and event_id is not None:
            insort(self.event_odds.setdefault(event_id, []), at)
        else:
            insort((self.scores if endpoint == SCORES else self.odds).setdefault(sport, []), at)

    def last_odds(self, sport: str, event: str | None, before: datetime) -> datetime | None:
        found = [times[i - 1] for times in (self.odds.get(sport, []), self.event_odds.get(event or "", []))
                 if (i := bisect_left(times, before))]
        return max(found, default=None)


@dataclass
class CollectionPlan:
    calls: list[PlannedCall]
    events: int
    budget: Budget
    covered: dict[str, int]
    """events whose decision-time (all of them), closing or results window a call hits"""
    counted: dict[str, int]
    """the events each share is of: live, those whose windows were still ahead when planned"""
    snapshots: int
    """event snapshots bought: each odds call counts once for every listed event it returns"""
    spent_by_period: dict[datetime, int] = field(default_factory=dict)

    @property
    def credits(self) -> int:
        return sum(c.credits for c in self.calls)

    def share(self, priority: str) -> float:
        return self.covered[priority] / self.counted[priority] if self.counted[priority] else 0.0

    @property
    def snapshots_per_event(self) -> float:
        return self.snapshots / self.events if self.events else 0.0


class Window(NamedTuple):
    sport: str
    row: int
    low: datetime
    high: datetime


@dataclass
class _Schedule:
    sports: list[str]
    kicks: list[datetime]
    event_ids: list[str | None]
    missing: list[frozenset[str]]
    last: list[datetime | None]

    @classmethod
    def read(cls, frame: pl.DataFrame) -> _Schedule:
        frame = frame.sort("commence_time")
        n = frame.height

        def column(name: str) -> list:  # type: ignore[type-arg]
            return frame[name].to_list() if name in frame.columns else [None] * n

        missing = [frozenset(m or ()) for m in column("markets_missing")]
        return cls(frame["sport_key"].to_list(), frame["commence_time"].to_list(), column("event_id"), missing,
                   column("last_odds_at"))


def windows(schedule: _Schedule, priority: str, decision_leads: list[timedelta],
            results_after: timedelta = RESULTS_AFTER) -> list[Window]:
    found = []
    for row, (sport, kick) in enumerate(zip(schedule.sports, schedule.kicks)):
        if priority == DECISION:
            found.extend(Window(sport, row, kick - lead - DECISION_WINDOW, kick - lead) for lead in decision_leads)
        elif priority == CLOSING:
            found.append(Window(sport, row, kick - CLOSING_WINDOW, kick))
        else:
            found.append(Window(sport, row, kick + results_after, kick + RESULT_GRACE))
    return found


def plan_collection(schedule: pl.DataFrame, *, pricing: Pricing, decision_leads: list[timedelta],
                    budget: Budget | int | None = None, reset_day: int = 1, now: datetime | None = None,
                    feed_lead: timedelta = FEED_LEAD, movement: bool = True, results: bool = True,
                    made: Made | None = None, results_after: timedelta = RESULTS_AFTER) -> CollectionPlan:
    """The calls for ``schedule`` (``sport_key``, ``commence_time``; optionally ``event_id``,
    ``markets_missing``: markets asked for before that the event was not priced in, and
    ``last_odds_at``) that the budget pays for, each paid from the period it is made in.
    Without ``now`` the whole schedule is planned, each event listed from
    ``feed_lead`` before its kick-off (a season replayed); with ``now`` (live) every event is
    listed, calls start at ``now``, and windows ``made`` calls already hit are not bought again.
    Priorities are bought in order over the whole plan, so no period pays for movement while
    one of its decision, closing or results calls is unpaid."""
    if not isinstance(budget, Budget):
        budget = Budget(budget, reset_day)
    rows = _Schedule.read(schedule)
    made = made or Made()
    wallet = Wallet(budget)
    chosen: list[PlannedCall] = []
    short: set[datetime] = set()
    """periods where a decision, closing or results call could not be paid: no movement there"""
    every = {p: windows(rows, p, decision_leads, results_after) for p in (DECISION, CLOSING, RESULTS)}
    for priority in (DECISION, CLOSING, RESULTS):
        if priority == RESULTS and not results:
            continue
        hit = _Hits(chosen, made, rows, scores=priority == RESULTS)
        open_windows = []
        for w in every[priority]:
            low = max(w.low, now) if now is not None else w.low
            if low < w.high and not hit.any(w):
                open_windows.append(w._replace(low=low))
        calls = [_priced(call, priority, pricing, rows) for call in _stab(open_windows, priority)]
        for call in sorted(calls, key=lambda c: (-len(c.serves), c.at)):
            if wallet.pay(call.at, call.credits):
                chosen.append(call)
            else:
                short.add(period_start(call.at, budget.reset_day))
    if movement:
        bought = []
        for call in _movement(rows, chosen, pricing, now, feed_lead):
            if period_start(call.at, budget.reset_day) not in short and wallet.pay(call.at, call.credits, paced=True):
                bought.append(call)
        chosen.extend(bought)
    chosen.sort(key=lambda c: (c.at, c.sport_key, c.priority, c.event_id or ""))
    plan = _scored(chosen, made, rows, every, budget, feed_lead, now)
    plan.spent_by_period = dict(sorted(wallet.spent.items()))
    return plan


def _stab(open_windows: list[Window], priority: str) -> list[PlannedCall]:
    """The fewest calls hitting every window, per sport: by window end, a call ``SLACK`` before
    the earliest open end (or at its start, if shorter) hits every open window begun by then.
    A scores poll is made as each kick-off slot's games end (one per distinct start of a window):
    a result is then known ``results_after`` its kick-off, as the backtest books it, and a day's
    risk controls see it before the day's next decision, for 2 credits a slot."""
    if priority == RESULTS:
        return _polls(open_windows)
    calls = []
    for sport in sorted({w.sport for w in open_windows}):
        points: list[tuple[datetime, list[Window]]] = []
        for w in sorted((w for w in open_windows if w.sport == sport), key=lambda w: (w.high, w.low)):
            if points and points[-1][0] >= w.low:
                points[-1][1].append(w)
            else:
                points.append((max(w.high - SLACK, w.low), [w]))
        for at, served in points:
            if priority == RESULTS:
                at = max(w.low for w in served)
            calls.append(PlannedCall(sport, at, priority, 0, serves=frozenset(w.row for w in served),
                                     due_until=min(w.high for w in served)))
    return calls


def _polls(open_windows: list[Window]) -> list[PlannedCall]:
    slots: dict[tuple[str, datetime], list[Window]] = {}
    for w in open_windows:
        slots.setdefault((w.sport, w.low), []).append(w)
    return [PlannedCall(sport, at, RESULTS, 0, serves=frozenset(w.row for w in served),
                        due_until=min(w.high for w in served))
            for (sport, at), served in sorted(slots.items())]


def _priced(call: PlannedCall, priority: str, pricing: Pricing, rows: _Schedule) -> PlannedCall:
    """A sport call, or a per-event call when it serves one event and that is cheaper."""
    cost = pricing.cost(priority)
    if priority == RESULTS:
        return PlannedCall(call.sport_key, call.at, priority, cost, SCORES, None, (), call.serves, call.due_until)
    if len(call.serves) == 1:
        (row,) = call.serves
        single = pricing.event_cost(priority, rows.missing[row])
        if rows.event_ids[row] is not None and 0 < single < cost:
            return PlannedCall(call.sport_key, call.at, priority, single, EVENT_ODDS, rows.event_ids[row],
                               pricing.returned(priority, rows.missing[row]), call.serves, call.due_until)
    return PlannedCall(call.sport_key, call.at, priority, cost, ODDS, None, pricing.markets[priority], call.serves,
                       call.due_until)


def _movement(rows: _Schedule, chosen: list[PlannedCall], pricing: Pricing, now: datetime | None,
              feed_lead: timedelta) -> list[PlannedCall]:
    """The tier rules' calls per sport around the sport calls already planned (each refreshes
    every listed event, so the tiers count from it), the closest tiers first."""
    found = []
    for sport in sorted(set(rows.sports)):
        index = [i for i, s in enumerate(rows.sports) if s == sport and (now is None or rows.kicks[i] > now)]
        if not index:
            continue
        kicks = [rows.kicks[i] for i in index]
        forced = [c.at for c in chosen if c.sport_key == sport and c.endpoint == ODDS]
        if now is None:
            calls = tier_calls(kicks, kicks[0] - feed_lead, kicks[-1], lead=feed_lead, forced=forced)
        else:
            calls = tier_calls(kicks, now, kicks[-1], lead=None, last=[rows.last[i] for i in index], forced=forced)
        found.extend((_TIER_RANK[c.tier], PlannedCall(sport, c.at, MOVEMENT, pricing.cost(MOVEMENT), ODDS, None,
                                                      pricing.markets[MOVEMENT], due_until=c.at + MOVEMENT_GRACE))
                     for c in calls)
    return [call for _, call in sorted(found, key=lambda f: (f[0], f[1].at, f[1].sport_key))]


class _Hits:
    """Which windows the calls chosen or made so far hit: a sport call hits the windows of every
    event of its sport, a per-event call only its own event's."""

    def __init__(self, chosen: list[PlannedCall], made: Made, rows: _Schedule, scores: bool) -> None:
        self.rows = rows
        self.by_sport: dict[str, list[datetime]] = {}
        self.by_event: dict[str, list[datetime]] = {}
        for sport, times in (made.scores if scores else made.odds).items():
            self.by_sport.setdefault(sport, []).extend(times)
        if not scores:
            for event, times in made.event_odds.items():
                self.by_event.setdefault(event, []).extend(times)
        for call in chosen:
            if (call.endpoint == SCORES) != scores:
                continue
            if call.endpoint == EVENT_ODDS and call.event_id is not None:
                self.by_event.setdefault(call.event_id, []).append(call.at)
            else:
                self.by_sport.setdefault(call.sport_key, []).append(call.at)
        for times in (*self.by_sport.values(), *self.by_event.values()):
            times.sort()

    def any(self, w: Window) -> bool:
        event = self.rows.event_ids[w.row]
        return _hit(self.by_sport.get(w.sport, []), w.low, w.high) or (
            event is not None and _hit(self.by_event.get(event, []), w.low, w.high))

    def odds_times(self, row: int) -> tuple[list[datetime], list[datetime]]:
        event = self.rows.event_ids[row]
        return self.by_sport.get(self.rows.sports[row], []), self.by_event.get(event, []) if event else []


def _scored(calls: list[PlannedCall], made: Made, rows: _Schedule, every: dict[str, list[Window]], budget: Budget,
            feed_lead: timedelta, now: datetime | None) -> CollectionPlan:
    """How much of every priority the calls (and those already made) buy, counted from the calls
    themselves, not from what they were bought for. Live, a share is of the events whose window
    was still ahead at ``now`` (or answered before it)."""
    odds, scores = _Hits(calls, made, rows, scores=False), _Hits(calls, made, rows, scores=True)
    covered = dict.fromkeys(every, 0)
    counted = dict.fromkeys(every, 0)
    for priority, found in every.items():
        hits = scores if priority == RESULTS else odds
        answered: dict[int, bool] = {}
        closed: set[int] = set()
        for w in found:
            answered[w.row] = answered.get(w.row, True) and hits.any(w)
            if now is not None and w.high <= now:
                closed.add(w.row)
        for row, done in answered.items():
            if done or row not in closed:
                counted[priority] += 1
                covered[priority] += done
    snapshots = 0
    for row, kick in enumerate(rows.kicks):
        since = kick - feed_lead if now is None else max(now, kick - feed_lead)
        snapshots += sum(bisect_left(t, kick) - bisect_left(t, since) for t in odds.odds_times(row))
    return CollectionPlan(calls, len(rows.kicks), budget, covered, counted, snapshots)


def _hit(times: list[datetime], low: datetime, high: datetime) -> bool:
    """Whether some time in sorted ``times`` falls in [low, high)."""
    index = bisect_left(times, low)
    return index < len(times) and times[index] < high


def full_capture(schedule: pl.DataFrame, *, pricing: Pricing, decision_leads: list[timedelta],
                 feed_lead: timedelta = FEED_LEAD) -> CollectionPlan:
    """The fewest credits that capture every decision time and every close (no movement, no scores)."""
    return plan_collection(schedule, pricing=pricing, decision_leads=decision_leads, feed_lead=feed_lead,
                           movement=False, results=False)


def simulate_collection(schedule: pl.DataFrame, *, pricing: Pricing, decision_leads: list[timedelta],
                        budget: int | None, reset_day: int = 1, feed_lead: timedelta = FEED_LEAD,
                        replan_every: timedelta = timedelta(days=1)) -> CollectionPlan:
    """What the sensors would buy over a real schedule with a monthly budget: the plan re-made
    every ``replan_every`` on the events listed by then (paced over the days left in the period,
    as live), the calls due before the next plan made, their credits spent."""
    frame = schedule.sort("commence_time").with_row_index("_row")
    kicks = frame["commence_time"].to_list()
    rows = _Schedule.read(frame)
    every = {p: windows(rows, p, decision_leads) for p in (DECISION, CLOSING, RESULTS)}
    if not kicks:
        return _scored([], Made(), rows, every, Budget(budget, reset_day), feed_lead, None)
    made, done, spent = Made(), [], {}
    moment = day_start(kicks[0] - feed_lead)
    end = kicks[-1] + RESULT_GRACE
    while moment < end:
        listed = frame.filter((pl.col("commence_time") - feed_lead <= moment)
                              & (pl.col("commence_time") + RESULT_GRACE > moment))
        if listed.height:
            listed = listed.with_columns(last_odds_at=pl.Series(_last_odds(listed, made, feed_lead, moment),
                                                                dtype=pl.Datetime("us", "UTC")))
            plan = plan_collection(listed, pricing=pricing, decision_leads=decision_leads, now=moment,
                                   budget=Budget(budget, reset_day, dict(spent), paced_from=moment),
                                   feed_lead=feed_lead, made=made)
            for call in plan.calls:
                if call.at < moment + replan_every:
                    served = frozenset(int(listed["_row"][r]) for r in call.serves)
                    done.append(PlannedCall(call.sport_key, call.at, call.priority, call.credits, call.endpoint,
                                            call.event_id, call.markets, served, call.due_until))
                    made.add(call.sport_key, call.endpoint, call.event_id, call.at)
                    period = period_start(call.at, reset_day)
                    spent[period] = spent.get(period, 0) + call.credits
        moment += replan_every
    plan = _scored(sorted(done, key=lambda c: c.at), Made(), rows, every, Budget(budget, reset_day), feed_lead, None)
    plan.spent_by_period = dict(sorted(spent.items()))
    return plan


def _last_odds(listed: pl.DataFrame, made: Made, feed_lead: timedelta, moment: datetime) -> list[datetime | None]:
    """Each listed event's last snapshot before ``moment``: the latest call of its sport (or of
    itself) since it was listed."""
    events = listed["event_id"].to_list() if "event_id" in listed.columns else [None] * listed.height
    out = []
    for sport, kick, event in zip(listed["sport_key"].to_list(), listed["commence_time"].to_list(), events):
        last = made.last_odds(sport, event, moment)
        out.append(last if last is not None and last >= kick - feed_lead else None)
    return out


def budget_curve(schedule: pl.DataFrame, *, pricing: Pricing, decision_leads: list[timedelta],
                 feed_lead: timedelta = FEED_LEAD, points: int = 8) -> pl.DataFrame:
    """Coverage against the monthly budget, on a grid up to what full tiered movement costs in
    the busiest month (planned over the whole schedule at once): credits spent, the
    decision-time, closing and results shares, snapshots per event, each from the day-by-day
    replay."""
    roomy = plan_collection(schedule, pricing=pricing, decision_leads=decision_leads, feed_lead=feed_lead)
    top = max(max(roomy.spent_by_period.values(), default=1), 1)
    rows = []
    for step in range(1, points + 1):
        budget = round(top * step / points)
        plan = simulate_collection(schedule, pricing=pricing, decision_leads=decision_leads, budget=budget,
                                   feed_lead=feed_lead)
        rows.append({"budget": budget, "credits": plan.credits, "decision": plan.share(DECISION),
                     "closing": plan.share(CLOSING), "results": plan.share(RESULTS),
                     "snapshots_per_event": plan.snapshots_per_event})
    return pl.DataFrame(rows)
