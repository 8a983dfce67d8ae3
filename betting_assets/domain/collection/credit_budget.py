"""A credit budget: monthly periods from a reset day, a wallet that never pays past a period's
budget (and, live, spreads what is left over the days remaining), and the spend checks.

Live, the planner sees only the events listed so far (about two weeks ahead), not the whole
period: if line movement could take everything left, a fixture list published next week would
find nothing left for its decision-time and closing snapshots. So a live plan paces what it
buys at will: a paced call is paid only if, by the end of each remaining day of the period, the
plan has spent at most that day's share of what is left (day i of D: (i + 1) / D of it), what a
quiet day leaves rolling on to the busy ones. The calls every event needs are paid from what
the period has left, unpaced, and count against the pace of what follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from betting_assets.domain.data.normalize import Finding
from betting_assets.domain.data.quality import CheckOutcome

WARN_SHARE = 0.8
DAY = timedelta(days=1)


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


def day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Budget:
    """Credits a period may spend (None: no limit), what each period has already spent, and,
    for a live plan, the moment from which what is left is paced over the days remaining."""

    per_period: int | None
    reset_day: int = 1
    spent: dict[datetime, int] = field(default_factory=dict)
    paced_from: datetime | None = None

    def left(self, period: datetime) -> int | None:
        return None if self.per_period is None else max(0, self.per_period - self.spent.get(period, 0))


class Wallet:
    """Pays planned calls from the period each is made in, never past what the budget leaves."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.spent: dict[datetime, int] = {}
        """credits planned per period (what was spent before the plan is the budget's)"""
        self._days: dict[datetime, list[int]] = {}

    def pay(self, at: datetime, credits: int, paced: bool = False) -> bool:
        period = period_start(at, self.budget.reset_day)
        left = self.budget.left(period)
        planned = self.spent.get(period, 0)
        if left is not None and planned + credits > left:
            return False
        if left is not None and self.budget.paced_from is not None:
            first = day_start(max(period, self.budget.paced_from))
            days = max(1, -(-(next_period(period) - first) // DAY))
            cumulative = self._days.setdefault(period, [0] * days)
            index = min(days - 1, max(0, (day_start(at) - first) // DAY))
            if paced and any(cumulative[j] + credits > left * (j + 1) // days for j in range(index, days)):
                return False
            for j in range(index, days):
                cumulative[j] += credits
        self.spent[period] = planned + credits
        return True


def period_limit(budget: int | None, spent: int, remaining: int | None) -> int | None:
    """The credits this period may spend: the budget set, else what was spent plus what the
    provider says remains (None while neither is known)."""
    return budget if budget is not None else (spent + remaining if remaining is not None else None)


def budget_spend(spent: int, remaining: int | None, budget: int | None, now: datetime,
                 reset_day: int = 1) -> CheckOutcome:
    """This period's spend (the ``x-requests-last`` of every call since the reset) against the
    budget (unset: what was spent plus what the provider says remains): an error once over it,
    a warning from 80 % of it or when the pace so far would pass it before the reset."""
    start = period_start(now, reset_day)
    end = next_period(start)
    limit = period_limit(budget, spent, remaining)
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


def spend_against_plan(planned: pl.DataFrame, billed: pl.DataFrame) -> tuple[CheckOutcome, pl.DataFrame]:
    """Credits billed per sport and day (``sport_key``, ``day``, ``planned``: whether on an
    endpoint a plan buys, ``credits``) against the planned calls due by now (``sport_key``,
    ``at``, ``credits``): a warning for every sport-day whose live calls cost more than its plan,
    saying by how much, and the table compared (``planned``, ``spent_live``, ``spent_other``).
    Historical calls (backfills) are a user's own spend, shown apart, not held to the plan."""
    keys = ["sport_key", "day"]
    table = (planned.group_by("sport_key", day=pl.col("at").dt.date().cast(pl.String))
             .agg(planned=pl.col("credits").sum())
             .join(billed.group_by(keys).agg(spent_live=pl.col("credits").filter(pl.col("planned")).sum(),
                                             spent_other=pl.col("credits").filter(~pl.col("planned")).sum()),
                   on=keys, how="full", coalesce=True)
             .fill_null(0).sort(keys))
    over = table.filter(pl.col("spent_live") > pl.col("planned"))
    findings = [Finding("credit_plan", "warn", f"{r['sport_key']} {r['day']}: {r['spent_live']:,} credits spent "
                        f"against {r['planned']:,} planned (+{r['spent_live'] - r['planned']:,})",
                        context={"sport_key": r["sport_key"], "day": str(r["day"])})
                for r in over.iter_rows(named=True)]
    return CheckOutcome("credit_plan", table.filter(pl.col("planned") + pl.col("spent_live") > 0).height,
                        findings), table
