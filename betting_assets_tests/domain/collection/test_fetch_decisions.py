"""What the sensors decide from a plan, as pure rules: calls due together share a request, a
sport's call answers a per-event call due with it, a call made since its time with the markets
it plans is not asked again, a request is repeated only after the patience its window allows,
a closed window unmade is a missed call, and the plan is asked for again when the fixture
list changes or a day begins."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl

from betting_assets.domain.collection.fetch_decisions import follow_plan, missed_calls, plan_key, replan_reason
from betting_assets.warehouse.plan import CALL_SCHEMA, PLAN_SCHEMA

NOW = datetime(2024, 3, 2, 13, 50, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)


def _plan(*calls: tuple[str, datetime, str, str, str | None, str, int, datetime]) -> pl.DataFrame:
    return pl.DataFrame([{"sport_key": s, "at": at, "priority": p, "endpoint": e, "event_id": ev, "markets": m,
                          "credits": c, "events_served": 1, "due_until": until, "planned_at": NOW - timedelta(hours=5),
                          "budget": None} for s, at, p, e, ev, m, c, until in calls], schema=PLAN_SCHEMA)


def _made(*calls: tuple[str, str, str | None, datetime], markets: str = "h2h,totals,spreads") -> pl.DataFrame:
    return pl.DataFrame([{"sport_key": s, "endpoint": e, "event_id": ev, "clock_at": at,
                          "markets": None if e == "scores" else markets}
                         for s, e, ev, at in calls], schema=CALL_SCHEMA)


def test_calls_due_together_share_one_request_and_a_sport_call_answers_a_per_event_one() -> None:
    due = _plan(("epl", NOW - 20 * MIN, "movement", "odds", None, "h2h,totals,spreads", 6, NOW + 10 * MIN),
                ("epl", NOW, "closing", "odds", None, "h2h", 2, NOW + 10 * MIN),
                ("epl", NOW, "decision", "event_odds", "x", "h2h,totals", 4, NOW + 10 * MIN),
                ("bl", NOW, "decision", "event_odds", "y", "h2h", 2, NOW + 10 * MIN),
                ("bl", NOW, "results", "scores", None, "", 2, NOW + 3 * 60 * MIN))
    decision = follow_plan(due, _made(), NOW, endpoints=("odds", "event_odds"), remaining=None, reserve=0)
    asked = {(r.sport_key, r.endpoint, r.event_id): r for r in decision.requests}
    assert set(asked) == {("epl", "odds", None), ("bl", "event_odds", "y")}
    merged = asked[("epl", "odds", None)]
    assert merged.markets == ["h2h", "spreads", "totals"] and merged.priorities == ["closing", "movement"]
    assert merged.run_key == f"plan|odds|epl|*|{(NOW - 20 * MIN).isoformat()}|0" and merged.credits == 6
    assert any("answered by the sport's call" in line for line in decision.log)
    # made since: nothing left to ask; a call made before its time does not answer it
    assert not follow_plan(due, _made(("epl", "odds", None, NOW), ("bl", "odds", None, NOW)), NOW,
                           endpoints=("odds", "event_odds"), remaining=None, reserve=0).requests
    early = follow_plan(due, _made(("bl", "event_odds", "y", NOW - MIN)), NOW, endpoints=("odds", "event_odds"),
                        remaining=None, reserve=0)
    assert ("bl", "event_odds", "y") in {(r.sport_key, r.endpoint, r.event_id) for r in early.requests}
    # a call made for fewer markets than planned does not answer it: a closing call for h2h is
    # no decision-time snapshot of totals and spreads
    narrow = follow_plan(due, _made(("epl", "odds", None, NOW), ("bl", "odds", None, NOW), markets="h2h"), NOW,
                         endpoints=("odds", "event_odds"), remaining=None, reserve=0)
    assert {(r.sport_key, r.endpoint) for r in narrow.requests} == {("epl", "odds")}


def test_a_request_not_answered_is_repeated_within_its_window_and_a_closed_one_is_missed() -> None:
    due = _plan(("epl", NOW, "decision", "odds", None, "h2h", 2, NOW + 10 * MIN))
    first = follow_plan(due, _made(), NOW, endpoints=("odds",), remaining=None, reserve=0,
                        retry_after=timedelta(minutes=10))
    (request,) = first.requests
    waiting = follow_plan(due, _made(), NOW + 4 * MIN, endpoints=("odds",), remaining=None, reserve=0,
                          cursor=first.cursor, retry_after=timedelta(minutes=10))
    assert not waiting.requests and "already requested" in waiting.log[0]
    again = follow_plan(due, _made(), NOW + 5 * MIN, endpoints=("odds",), remaining=None, reserve=0,
                        cursor=first.cursor, retry_after=timedelta(minutes=10))      # half of the 10 minutes left
    assert [r.run_key for r in again.requests] == [request.run_key[:-1] + "1"]
    held = follow_plan(due, _made(), NOW, endpoints=("odds",), remaining=51, reserve=50)
    assert not held.requests and "quota guard" in held.log[0]
    assert [c["at"] for c in missed_calls(due, _made(), NOW + 10 * MIN)] == [NOW]
    assert not missed_calls(due, _made(("epl", "odds", None, NOW + 2 * MIN)), NOW + 10 * MIN)
    assert not missed_calls(due, _made(), NOW + 9 * MIN)                                # still open


def test_the_plan_is_asked_for_again_when_the_fixture_list_changes_and_each_new_day() -> None:
    fixtures = pl.DataFrame({"sport_key": ["epl", "epl"], "event_id": ["x", "y"],
                             "commence_time": [NOW + 60 * MIN, NOW + 90 * MIN]})
    key = plan_key(fixtures, NOW)
    assert replan_reason(None, key) == "no plan asked for yet"
    assert replan_reason(key, plan_key(fixtures.reverse(), NOW + 5 * MIN)) is None          # read again, unchanged
    moved = fixtures.with_columns(commence_time=pl.col("commence_time") + pl.duration(days=1))
    assert replan_reason(key, plan_key(moved, NOW)) == "the fixture list changed"
    assert replan_reason(key, plan_key(fixtures.head(1), NOW)) == "the fixture list changed"   # one settled
    assert replan_reason(key, plan_key(fixtures, NOW + timedelta(days=1))) == "a new day"
