"""The odds and scores sensors on a real Dagster instance against the sandbox, around the first
match of the 2023-24 EPL season, following a stored plan: a failed call is asked again within
its window and then missed, the quota guard holds, scores are polled when the plan says and
again while a game has no result, and a provider that is down is a skip that says so."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl
from dagster import DagsterInstance, SensorResult, SkipReason, build_sensor_context, materialize
from sqlalchemy import Engine, select

from betting_assets.defs.collection.assets import collection_plan
from betting_assets.defs.collection.sensors import odds_fetch_sensor, scores_sensor
from betting_assets.defs.partitions import plan_range
from betting_assets.sandbox.server import SandboxServer
from betting_assets.warehouse import plan as plan_store
from betting_assets.warehouse.tables import events
from betting_assets_tests.defs.bind import with_settings
from betting_assets_tests.defs.conftest import set_sandbox

KICKOFF = datetime(2023, 8, 11, 19, 0, tzinfo=timezone.utc)  # Burnley v Man City, 20:00 BST


class Ticker:
    """Moves the sandbox clock and ticks a sensor with its last cursor."""

    def __init__(self, sandbox: SandboxServer, resources: dict[str, object]) -> None:
        self.sandbox = sandbox
        self.resources = resources
        self.cursor: str | None = None
        self.instance = DagsterInstance.ephemeral()

    def at(self, moment: datetime) -> None:
        set_sandbox(self.sandbox, "clock", {"now": moment.isoformat()})

    def tick(self, sensor=odds_fetch_sensor) -> SensorResult | SkipReason:  # type: ignore[no-untyped-def]
        with build_sensor_context(instance=self.instance, cursor=self.cursor, resources=self.resources) as context:
            result = sensor(context)
        if isinstance(result, SensorResult) and result.cursor is not None:
            self.cursor = result.cursor
        return result


def _planned(engine: Engine, sandbox: SandboxServer, resources: dict[str, object], now: datetime) -> tuple[
        dict[str, object], pl.DataFrame]:
    """The fixture list read and a plan made at ``now``, for the EPL alone; the plan's calls."""
    resources = with_settings(resources, collection={"sports": "soccer_epl"})
    set_sandbox(sandbox, "clock", {"now": now.isoformat()})
    warehouse, odds_api = resources["warehouse"], resources["odds_api"]
    odds_api.collector(warehouse.engine(), now).discover_events("soccer_epl", now=now)  # type: ignore[attr-defined]
    assert materialize([collection_plan], resources=resources, instance=DagsterInstance.ephemeral(),
                       tags=plan_range(["soccer_epl"], now.date())).success
    with engine.connect() as conn:
        return resources, plan_store.plan_frame(conn, now, now + timedelta(days=2), ["soccer_epl"])


def test_a_failed_call_is_asked_again_within_its_window_and_the_quota_guard_holds(
        engine: Engine, sandbox: SandboxServer, resources: dict[str, object]) -> None:
    resources, plan = _planned(engine, sandbox, resources, KICKOFF - timedelta(hours=3))
    decision = plan.filter(pl.col("priority") == "decision").row(0, named=True)
    assert decision["at"] == KICKOFF - timedelta(minutes=70) and decision["due_until"] == KICKOFF - timedelta(hours=1)
    ticker = Ticker(sandbox, resources)
    ticker.at(decision["at"])
    first = ticker.tick()
    assert isinstance(first, SensorResult)
    (request,) = first.run_requests
    # the 17:30 movement call, not made, is still due: one call serves both
    assert request.tags["betting/priority"] == "decision,movement" and request.partition_key == "soccer_epl|2023-08-11"
    assert request.run_config["ops"]["odds_snapshots"]["config"]["markets"] == ["h2h", "spreads", "totals"]
    # the run failed: no call landed; the sensor waits half the window left, then asks again
    ticker.at(decision["at"] + timedelta(minutes=4))
    waiting = ticker.tick()
    assert isinstance(waiting, SkipReason) and "already requested" in waiting.skip_message
    ticker.at(decision["at"] + timedelta(minutes=5))
    retry = ticker.tick()
    assert isinstance(retry, SensorResult)
    assert retry.run_requests[0].run_key == request.run_key[:-1] + "1"
    assert json.loads(ticker.cursor or "{}")[request.run_key[:-2]]["attempt"] == 1
    # the window closes unmade: the call is missed, not made late
    ticker.at(decision["due_until"])
    assert isinstance(ticker.tick(), SkipReason)
    # the provider says 55 credits remain; the closing call costs up to 6 and the reserve is 50
    closing = plan.filter(pl.col("priority") == "closing").row(0, named=True)
    set_sandbox(sandbox, "quota", {"remaining": 57})
    warehouse, odds_api = resources["warehouse"], resources["odds_api"]
    odds_api.collector(warehouse.engine(), closing["at"]).scores("soccer_epl", days_from=1)  # type: ignore[attr-defined]
    ticker.at(closing["at"])
    held = ticker.tick()
    assert isinstance(held, SkipReason)
    assert "quota guard" in held.skip_message and "55 credits remaining" in held.skip_message


def test_scores_are_polled_when_the_plan_says_and_again_while_a_game_has_no_result(
        engine: Engine, sandbox: SandboxServer, resources: dict[str, object]) -> None:
    resources, plan = _planned(engine, sandbox, resources, KICKOFF - timedelta(hours=1))
    poll = plan.filter(pl.col("priority") == "results").row(0, named=True)
    assert poll["at"] == KICKOFF + timedelta(minutes=150) and poll["endpoint"] == "scores"
    ticker = Ticker(sandbox, resources)
    ticker.at(KICKOFF + timedelta(minutes=30))
    assert isinstance(ticker.tick(scores_sensor), SkipReason)         # the game is on: nothing to poll yet
    ticker.at(poll["at"])
    due = ticker.tick(scores_sensor)
    assert isinstance(due, SensorResult) and due.run_requests[0].tags["betting/awaiting"] == "1"
    warehouse, odds_api = resources["warehouse"], resources["odds_api"]
    odds_api.collector(warehouse.engine(), poll["at"]).scores("soccer_epl", days_from=3)  # type: ignore[attr-defined]
    with engine.connect() as conn:
        status, home, away = conn.execute(select(events.c.status, events.c.home_score, events.c.away_score)
                                          .where(events.c.commence_time == KICKOFF)).one()
    assert (status, home, away) == ("final", 0, 3)  # Burnley 0-3 Man City
    assert isinstance(ticker.tick(scores_sensor), SkipReason)         # made, and final: polling stops
    # a game that has no result six hours after kick-off is polled again, every three hours at most
    with engine.begin() as conn:
        conn.execute(events.update().where(events.c.commence_time == KICKOFF).values(status="live", completed=False))
    ticker.at(KICKOFF + timedelta(hours=6, minutes=1))
    late = ticker.tick(scores_sensor)
    assert isinstance(late, SensorResult) and late.run_requests[0].tags["betting/late"] == "true"


def test_sensors_skip_while_the_provider_is_down_and_fetch_again_when_it_is_back(
        engine: Engine, sandbox: SandboxServer, resources: dict[str, object]) -> None:
    """The provider's clock is served by a sandbox that stops: both sensors skip, naming what is
    down and what to start; the same sandbox back on the same port gets the planned call made."""
    from betting_assets.defs.resources import ClockResource

    resources, plan = _planned(engine, sandbox, resources, KICKOFF - timedelta(hours=3))
    decision = plan.filter(pl.col("priority") == "decision").row(0, named=True)
    ticker = Ticker(sandbox, resources)
    provider = SandboxServer(sandbox.state).start()
    port = provider.port
    provider.stop()
    ticker.resources = {**resources, "clock": ClockResource(settings=resources["settings"], source="provider",
                                                                base_url=provider.url)}
    ticker.at(decision["at"])     # the stopped one shares the state: its clock moved too
    down = ticker.tick()
    assert isinstance(down, SkipReason)
    assert f"{provider.url} is unreachable" in down.skip_message and "start the sandbox" in down.skip_message
    assert ticker.cursor is None
    scores = ticker.tick(scores_sensor)
    assert isinstance(scores, SkipReason) and "scores not polled" in scores.skip_message

    back = SandboxServer(sandbox.state, port=port).start()
    try:
        again = ticker.tick()
        assert isinstance(again, SensorResult), again
        assert "decision" in again.run_requests[0].tags["betting/priority"]
    finally:
        back.stop()
