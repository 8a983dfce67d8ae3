"""What the odds and scores sensors decide at a tick, without touching Dagster or a database:
the calls of the collection plan whose time has come, less those already made.

A repeated tick is harmless twice over: the cursor remembers what was requested, so a tick
before the requested call lands requests nothing, and the run key (the planned call and an
attempt number) is the same anyway, so Dagster would launch it once. If that run fails, no call
lands, and after ``retry_after`` (or half the time the call's window had left, if sooner) the
key gains an attempt: an outage delays collection within the window instead of stopping it. A
call whose window passed unmade is missed, and said so.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from betting_assets.domain.collection.collection_plan import EVENT_ODDS, ODDS, PRIORITIES, SCORES

LATE_POLL_EVERY = timedelta(hours=3)
"""a game past its planned poll without a result is polled again this often, within the
provider's three-day scores window (abandoned or delayed games)"""
CURSOR_KEPT = timedelta(days=2)
MADE_SKEW = timedelta(minutes=5)
"""a call logged a moment after the clock was read still counts as made by now"""


@dataclass(frozen=True)
class PlannedFetch:
    sport_key: str
    endpoint: str
    event_id: str | None
    markets: list[str]
    priorities: list[str]
    at: datetime
    credits: int
    run_key: str


@dataclass
class TickDecision:
    requests: list[PlannedFetch]
    log: list[str]
    cursor: dict[str, Any]

    @property
    def skip_reason(self) -> str:
        return "; ".join(self.log) if self.log else "no planned call due"


def _markets(text: str | None) -> set[str]:
    return {m for m in (text or "").split(",") if m}


def _answered(call: dict[str, Any], made: pl.DataFrame) -> bool:
    """A planned call is made once a call of its kind succeeded since its time, asking for every
    market it plans to: a sport's odds call answers a per-event need too, as it returns every
    listed event, but a closing call for one market does not answer a decision call for three."""
    since = made.filter((pl.col("sport_key") == call["sport_key"]) & (pl.col("clock_at") >= call["at"]))
    if call["endpoint"] == SCORES:
        return bool(since.filter(pl.col("endpoint") == SCORES).height)
    kind = pl.col("endpoint") == ODDS
    if call["endpoint"] == EVENT_ODDS:
        kind = kind | ((pl.col("endpoint") == EVENT_ODDS) & (pl.col("event_id") == call["event_id"]))
    wanted = _markets(call["markets"])
    return any(wanted <= _markets(asked) for asked in since.filter(kind)["markets"].to_list())


def follow_plan(due: pl.DataFrame, made: pl.DataFrame, now: datetime, *, endpoints: tuple[str, ...],
                remaining: int | None, reserve: int, cursor: dict[str, Any] | None = None,
                retry_after: timedelta = timedelta(minutes=10)) -> TickDecision:
    """One request per planned call due now and not made yet (``due``: the plan's calls with
    ``at`` ≤ now < ``due_until``; ``made``: the calls that succeeded, with ``clock_at``). Sport
    calls of one sport due together are one request, asking for every market any of them asks
    for, and it answers a per-event call of the sport due with it. The quota guard holds a call
    that would leave fewer than ``reserve`` credits."""
    cursor = {k: v for k, v in (cursor or {}).items()
              if now - datetime.fromisoformat(v["requested"]) < CURSOR_KEPT}
    log: list[str] = []
    open_calls = [c for c in due.filter(pl.col("endpoint").is_in(list(endpoints))).sort("at").iter_rows(named=True)
                  if not _answered(c, made)]
    if not open_calls:
        return TickDecision([], [f"no planned {'/'.join(endpoints)} call due at {now.isoformat()}"], cursor)
    groups: dict[tuple[str, str, str | None], list[dict[str, Any]]] = {}
    for call in open_calls:
        groups.setdefault((call["sport_key"], call["endpoint"], call["event_id"]), []).append(call)
    requests = []
    budget = remaining
    sport_wide = {sport: set().union(*(_markets(c["markets"]) for c in calls))
                  for (sport, endpoint, _), calls in groups.items() if endpoint == ODDS}
    for (sport, endpoint, event), calls in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1], g[0][2] or "")):
        first = calls[0]
        markets = sorted(set().union(*(_markets(c["markets"]) for c in calls)))
        if endpoint == EVENT_ODDS and sport in sport_wide and set(markets) <= sport_wide[sport]:
            log.append(f"{sport} {event}: its planned call is answered by the sport's call due now")
            continue
        priorities = sorted({c["priority"] for c in calls}, key=PRIORITIES.index)
        credits = max(int(c["credits"]) for c in calls)
        base = f"plan|{endpoint}|{sport}|{event or '*'}|{first['at'].isoformat()}"
        what = f"{sport} {endpoint}{' ' + event if event else ''} ({', '.join(priorities)}, planned {first['at']:%H:%M})"
        if budget is not None and budget - credits < reserve:
            log.append(f"{what}: quota guard holds: {budget} credits remaining, the call costs up to {credits}, "
                       f"reserve {reserve}")
            continue
        entry = cursor.get(base)
        attempt = 0
        if entry is not None:
            requested = datetime.fromisoformat(entry["requested"])
            waited = now - requested
            patience = min(retry_after, (min(c["due_until"] for c in calls) - requested) / 2)
            if waited < patience:
                log.append(f"{what}: run already requested at {entry['requested']}; waiting for its call")
                continue
            attempt = int(entry["attempt"]) + 1
            log.append(f"{what}: not made {waited} after the request; retry {attempt}")
        cursor[base] = {"requested": now.isoformat(), "attempt": attempt}
        requests.append(PlannedFetch(sport, endpoint, event, markets, priorities, first["at"], credits,
                                     f"{base}|{attempt}"))
        if budget is not None:
            budget -= credits
    return TickDecision(requests, log, cursor)


def missed_calls(planned: pl.DataFrame, made: pl.DataFrame, now: datetime) -> list[dict[str, Any]]:
    """Planned calls whose window closed before ``now`` without a call made in it."""
    closed = planned.filter(pl.col("due_until") <= now)
    return [c for c in closed.iter_rows(named=True)
            if not _answered(c, made.filter(pl.col("clock_at") < c["due_until"]))]


@dataclass(frozen=True)
class LatePoll:
    sport_key: str
    run_key: str
    late: int


def late_results(awaiting: pl.DataFrame, made: pl.DataFrame, now: datetime, grace: timedelta) -> list[LatePoll]:
    """One extra scores poll per sport with a game started more than ``grace`` ago and still
    without a result, at most every ``LATE_POLL_EVERY`` (the plan's own poll came and went)."""
    late = awaiting.filter(pl.col("commence_time") <= now - grace)
    polls = []
    for (sport,), group in sorted(late.group_by("sport_key"), key=lambda g: str(g[0][0])):
        recent = made.filter((pl.col("sport_key") == sport) & (pl.col("endpoint") == SCORES)
                             & (pl.col("clock_at") > now - LATE_POLL_EVERY))
        if recent.height:
            continue
        slot = int(now.timestamp() // LATE_POLL_EVERY.total_seconds())
        polls.append(LatePoll(str(sport), f"scores-late|{sport}|{slot}", group.height))
    return polls


def plan_key(fixtures: pl.DataFrame, now: datetime) -> str:
    """The run key of the plan for ``fixtures`` (the events a plan is made for) on ``now``'s day:
    it changes when the fixture list does (an event listed, moved, started, settled or dropped)
    and each day (what is left is paced over fewer days), not when it is merely read again."""
    rows = sorted(fixtures.select("sport_key", "event_id", pl.col("commence_time").cast(pl.String)).iter_rows())
    digest = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
    return f"plan|{now.date().isoformat()}|{digest}"


def replan_reason(previous: str | None, key: str) -> str | None:
    """Why a plan is asked for again (``previous``: the key last asked for), or None."""
    if previous is None:
        return "no plan asked for yet"
    if previous.split("|")[1] != key.split("|")[1]:
        return "a new day"
    return "the fixture list changed" if previous != key else None


def clock_went_back(now: datetime, last_planned: datetime | None) -> str | None:
    """Why no plan may be made at ``now``, or None. A plan made from a clock earlier than the last
    plan's would replace calls that plan already counted as due or made, and show the credit
    budget running backwards: it happens when the provider comes back at an earlier time (the
    sandbox restarted without the account the demo left), so it is said, never planned from."""
    if last_planned is None or now >= last_planned:
        return None
    return (f"the clock ({now.isoformat()}) is before the last plan's ({last_planned.isoformat()}): no plan is made "
            "from an earlier clock (was the sandbox restarted without --state <home>/sandbox.json?)")
