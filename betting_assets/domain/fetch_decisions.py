"""What the fetch and scores sensors decide at a tick, without touching Dagster or a database.

A repeated tick is harmless twice over: the cursor remembers what was requested, so a tick
before the requested fetch lands requests nothing, and the run key (sport, last snapshot
held, attempt) is the same anyway, so Dagster would launch it once. If that run fails, no
snapshot lands, and after ``retry_after`` the key gains an attempt number: an outage delays
collection instead of stopping it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from betting_assets.domain.tiers import TIERS, due_events

_TIER_ORDER = {tier.name: index for index, tier in enumerate(TIERS)}


@dataclass(frozen=True)
class SportFetch:
    sport_key: str
    run_key: str
    tier: str
    due_events: int
    upcoming_events: int
    hours_to_nearest: float
    last_fetch: datetime | None


@dataclass
class TickDecision:
    requests: list[SportFetch]
    log: list[str]
    cursor: dict[str, Any]

    @property
    def skip_reason(self) -> str:
        return "; ".join(self.log) if self.log else "no upcoming events"


def decide_fetches(upcoming: pl.DataFrame, now: datetime, *, remaining: int | None, reserve: int,
                   cost_per_call: int, cursor: dict[str, Any] | None = None,
                   retry_after: timedelta = timedelta(minutes=10)) -> TickDecision:
    """One request per sport with a due event, unless the quota guard forbids it."""
    cursor = dict(cursor or {})
    log: list[str] = []
    requests: list[SportFetch] = []
    if upcoming.is_empty():
        return TickDecision([], ["no upcoming events in the warehouse"], cursor)
    frame = due_events(upcoming, now)
    per_sport = (
        frame.group_by("sport_key")
        .agg(
            due=pl.col("due").sum(),
            upcoming=pl.len(),
            hours=pl.col("hours_to_start").min(),
            last_fetch=pl.col("last_odds_at").max(),
            tier=pl.col("tier").filter(pl.col("due")).replace_strict(_TIER_ORDER, default=None).min(),
            next_due=pl.col("due_at").min(),
        )
        .sort("sport_key")
    )
    budget = remaining
    for row in per_sport.iter_rows(named=True):
        sport = row["sport_key"]
        if not row["due"]:
            log.append(f"{sport}: {row['upcoming']} upcoming, none due; next at {row['next_due'].isoformat()}")
            continue
        if budget is not None and budget - cost_per_call < reserve:
            log.append(f"{sport}: {row['due']} due but quota guard holds: {budget} credits remaining, "
                       f"a call costs {cost_per_call}, reserve {reserve}")
            continue
        last = row["last_fetch"]
        last_key = last.isoformat() if last is not None else "never"
        entry = cursor.get(sport) or {}
        attempt = 0
        if entry.get("last") == last_key:
            waited = now - datetime.fromisoformat(entry["requested"])
            if waited < retry_after:
                log.append(f"{sport}: {row['due']} due, run already requested at {entry['requested']}; "
                           f"waiting for its snapshot")
                continue
            attempt = int(entry.get("attempt", 0)) + 1
            log.append(f"{sport}: no new snapshot {waited} after the last request; retry {attempt}")
        cursor[sport] = {"last": last_key, "attempt": attempt, "requested": now.isoformat()}
        tier = TIERS[int(row["tier"])].name
        requests.append(SportFetch(sport, f"odds|{sport}|{last_key}|{attempt}", tier, int(row["due"]),
                                   int(row["upcoming"]), float(row["hours"]), last))
        if budget is not None:
            budget -= cost_per_call
    return TickDecision(requests, log, cursor)


@dataclass(frozen=True)
class SportScores:
    sport_key: str
    run_key: str
    awaiting: int


def decide_scores(awaiting: pl.DataFrame, now: datetime, *, poll_every: timedelta,
                  remaining: int | None, reserve: int, cost_per_call: int = 2) -> tuple[list[SportScores], list[str]]:
    """One scores poll per sport with started, unfinished events, at most once per
    ``poll_every`` (the key names the poll slot)."""
    if awaiting.is_empty():
        return [], ["no started events awaiting a result"]
    slot = int(now.timestamp() // poll_every.total_seconds())
    out: list[SportScores] = []
    log: list[str] = []
    budget = remaining
    for (sport,), group in sorted(awaiting.group_by("sport_key"), key=lambda item: str(item[0][0])):
        if budget is not None and budget - cost_per_call < reserve:
            log.append(f"{sport}: quota guard holds: {budget} credits remaining, reserve {reserve}")
            continue
        out.append(SportScores(str(sport), f"scores|{sport}|{slot}", group.height))
        if budget is not None:
            budget -= cost_per_call
    return out, log
