"""What a season of odds collection costs, tiered against fixed polling, from a real schedule.

Credits follow the provider's rule: each odds call costs markets × regions, whatever the
number of events it returns, and an empty answer costs nothing. So fixed polling is charged
only for polls while some event is in the feed (a winter break or a summer is free for both
policies).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from betting_assets.domain.collection.tiers import tier_calls

CLOSING_WINDOW = timedelta(minutes=30)


@dataclass(frozen=True)
class SportQuota:
    sport_key: str
    events: int
    tiered_calls: int
    fixed_calls: int
    closing_captured: int
    calls_by_tier: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class QuotaReport:
    sports: list[SportQuota]
    cost_per_call: int
    fixed_interval: timedelta

    @property
    def tiered_credits(self) -> int:
        return sum(s.tiered_calls for s in self.sports) * self.cost_per_call

    @property
    def fixed_credits(self) -> int:
        return sum(s.fixed_calls for s in self.sports) * self.cost_per_call

    @property
    def ratio(self) -> float:
        return self.fixed_credits / self.tiered_credits if self.tiered_credits else float("inf")

    @property
    def events(self) -> int:
        return sum(s.events for s in self.sports)

    @property
    def closing_share(self) -> float:
        return sum(s.closing_captured for s in self.sports) / self.events if self.events else 0.0


def simulate_quota(schedule: pl.DataFrame, *, markets: int, regions: int, lead: timedelta = timedelta(days=14),
                   fixed_interval: timedelta = timedelta(minutes=30),
                   tick: timedelta = timedelta(minutes=1)) -> QuotaReport:
    """``schedule`` has ``sport_key`` and ``commence_time``; each event joins the feed ``lead``
    before it starts (bookmakers price a round or two ahead)."""
    sports: list[SportQuota] = []
    for (sport,), group in sorted(schedule.group_by("sport_key"), key=lambda item: str(item[0][0])):
        commences = sorted(group["commence_time"].to_list())
        start, end = commences[0] - lead, commences[-1]
        plans = tier_calls(commences, start, end, lead=lead, tick=tick)
        times = [p.at for p in plans]
        captured = 0
        for kickoff in commences:
            index = bisect_left(times, kickoff - CLOSING_WINDOW)
            captured += int(index < len(times) and times[index] < kickoff)
        by_tier: dict[str, int] = {}
        for plan in plans:
            by_tier[plan.tier] = by_tier.get(plan.tier, 0) + 1
        fixed = _charged_polls(commences, lead, start, fixed_interval)
        sports.append(SportQuota(str(sport), len(commences), len(plans), fixed, captured, by_tier))
    return QuotaReport(sports, markets * regions, fixed_interval)


def _charged_polls(commences: list[datetime], lead: timedelta, start: datetime, every: timedelta) -> int:
    """Polls on the fixed grid from ``start`` that fall while at least one event is listed."""
    spans: list[list[datetime]] = []
    for kickoff in commences:
        if spans and kickoff - lead <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], kickoff)
        else:
            spans.append([kickoff - lead, kickoff])
    total = 0
    for since, until in spans:
        first = -(-(since - start) // every)
        last = -(-(until - start) // every)
        total += max(0, last - first)
    return total
