"""The fetch and scores sensors on a real Dagster instance, against a sandbox whose clock the
test moves through every tier of the first match of the 2023-24 EPL season."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from dagster import DagsterInstance, SensorResult, SkipReason, build_sensor_context
from sqlalchemy import Engine, select

from betting_assets.defs.ingestion.sensors import odds_fetch_sensor, scores_sensor
from betting_assets.sandbox.server import SandboxServer
from betting_assets_tests.defs.conftest import set_sandbox
from betting_assets.warehouse.tables import events

KICKOFF = datetime(2023, 8, 11, 19, 0, tzinfo=timezone.utc)  # Burnley v Man City, 20:00 BST


class Ticker:
    """Moves the sandbox clock, ticks the sensor with its last cursor, and performs the fetch
    a launched run would perform."""

    def __init__(self, sandbox: SandboxServer, resources: dict[str, object]) -> None:
        self.sandbox = sandbox
        self.resources = resources
        self.cursor: str | None = None
        self.instance = DagsterInstance.ephemeral()

    def at(self, moment: datetime) -> None:
        set_sandbox(self.sandbox, "clock", {"now": moment.isoformat()})

    def tick(self) -> SensorResult | SkipReason:
        with build_sensor_context(instance=self.instance, cursor=self.cursor, resources=self.resources) as context:
            result = odds_fetch_sensor(context)
        if isinstance(result, SensorResult) and result.cursor is not None:
            self.cursor = result.cursor
        return result

    def fetch(self, now: datetime) -> None:
        warehouse, odds_api = self.resources["warehouse"], self.resources["odds_api"]
        odds_api.collector(warehouse.engine()).live_odds("soccer_epl", now=now, derive=False)  # type: ignore[attr-defined]


def _discover(resources: dict[str, object], now: datetime) -> None:
    warehouse, odds_api = resources["warehouse"], resources["odds_api"]
    odds_api.collector(warehouse.engine()).discover_events("soccer_epl", now=now)  # type: ignore[attr-defined]


def test_fetch_sensor_follows_the_tiers_and_a_repeated_tick_requests_nothing(
        engine: Engine, sandbox: SandboxServer, resources: dict[str, object]) -> None:
    ticker = Ticker(sandbox, resources)
    start = KICKOFF - timedelta(hours=100)
    ticker.at(start)
    _discover(resources, start)
    # (hours before the first kick-off, tier expected to be requested or None for no run)
    timeline = [
        (100, "opening"), (99, None), (60, "early"), (40, None), (20, "sharp"), (10, "pregame"),
        (8, None), (2, "closing"), (1.75, None), (1.5, "closing"), (1.25, None), (1.0, "closing"),
    ]
    seen_keys: set[str] = set()
    for hours, expected in timeline:
        now = KICKOFF - timedelta(hours=hours)
        ticker.at(now)
        result = ticker.tick()
        if expected is None:
            assert isinstance(result, SkipReason), f"{hours} h before: expected no run, got {result}"
            continue
        assert isinstance(result, SensorResult), f"{hours} h before: expected a {expected} run, got {result}"
        (request,) = result.run_requests
        assert request.tags["betting/tier"] == expected
        assert request.partition_key == f"soccer_epl|{now.date().isoformat()}"
        assert request.run_key not in seen_keys
        seen_keys.add(request.run_key)
        repeated = ticker.tick()
        assert isinstance(repeated, SkipReason) and "already requested" in repeated.skip_message
        ticker.fetch(now)
    # once the match has started it is no longer fetched: the next match is 16 h away and was
    # fetched 1 h 5 min ago, so nothing is due
    ticker.at(KICKOFF + timedelta(minutes=5))
    result = ticker.tick()
    assert isinstance(result, SkipReason)
    with engine.connect() as conn:
        started = conn.execute(select(events.c.last_odds_at).where(events.c.commence_time == KICKOFF)).scalar_one()
    assert started == KICKOFF - timedelta(hours=1)


def test_failed_fetch_is_retried_and_quota_guard_holds(engine: Engine, sandbox: SandboxServer,
                                                        resources: dict[str, object]) -> None:
    ticker = Ticker(sandbox, resources)
    now = KICKOFF - timedelta(hours=2)
    ticker.at(now)
    _discover(resources, now)
    first = ticker.tick()
    assert isinstance(first, SensorResult)
    # the run failed: no snapshot landed; ten minutes later the sensor asks again, with a new key
    ticker.at(now + timedelta(minutes=5))
    assert isinstance(ticker.tick(), SkipReason)
    ticker.at(now + timedelta(minutes=10))
    retry = ticker.tick()
    assert isinstance(retry, SensorResult)
    assert retry.run_requests[0].run_key != first.run_requests[0].run_key
    assert json.loads(ticker.cursor or "{}")["soccer_epl"]["attempt"] == 1
    # the provider says 55 credits remain; a call costs 6 and the reserve is 50: no fetch
    set_sandbox(sandbox, "quota", {"remaining": 61})
    ticker.fetch(now + timedelta(minutes=10))
    ticker.at(now + timedelta(minutes=45))
    held = ticker.tick()
    assert isinstance(held, SkipReason)
    assert "quota guard" in held.skip_message and "55 credits remaining" in held.skip_message


def test_scores_sensor_polls_started_events_until_final(engine: Engine, sandbox: SandboxServer,
                                                         resources: dict[str, object]) -> None:
    instance = DagsterInstance.ephemeral()
    before = KICKOFF - timedelta(hours=1)
    set_sandbox(sandbox, "clock", {"now": before.isoformat()})
    _discover(resources, before)

    def tick() -> SensorResult | SkipReason:
        with build_sensor_context(instance=instance, resources=resources) as context:
            return scores_sensor(context)

    assert isinstance(tick(), SkipReason)  # nothing has started
    set_sandbox(sandbox, "clock", {"now": (KICKOFF + timedelta(minutes=30)).isoformat()})
    live = tick()
    assert isinstance(live, SensorResult) and live.run_requests[0].tags["betting/awaiting"] == "1"
    set_sandbox(sandbox, "clock", {"now": (KICKOFF + timedelta(hours=3)).isoformat()})
    warehouse, odds_api = resources["warehouse"], resources["odds_api"]
    odds_api.collector(warehouse.engine()).scores("soccer_epl", days_from=3)  # type: ignore[attr-defined]
    with engine.connect() as conn:
        status, home, away = conn.execute(select(events.c.status, events.c.home_score, events.c.away_score)
                                          .where(events.c.commence_time == KICKOFF)).one()
    assert (status, home, away) == ("final", 0, 3)  # Burnley 0-3 Man City
    assert isinstance(tick(), SkipReason)  # final: polling stops


def test_sensors_skip_while_the_provider_is_down_and_fetch_again_when_it_is_back(
        engine: Engine, sandbox: SandboxServer, resources: dict[str, object]) -> None:
    """The provider's clock is served by a sandbox that stops: both sensors skip, naming what is
    down and what to start; the same sandbox back on the same port gets the next tier fetched."""
    from dagster import build_sensor_context

    from betting_assets.defs.resources import ClockResource

    ticker = Ticker(sandbox, resources)
    start = KICKOFF - timedelta(hours=100)
    ticker.at(start)
    _discover(resources, start)
    first = ticker.tick()
    assert isinstance(first, SensorResult) and first.run_requests[0].tags["betting/tier"] == "opening"
    ticker.fetch(start)
    cursor = ticker.cursor

    provider = SandboxServer(sandbox.state).start()
    port = provider.port
    provider.stop()
    ticker.resources = {**resources, "clock": ClockResource(settings=resources["settings"], source="provider",
                                                                base_url=provider.url)}
    ticker.at(KICKOFF - timedelta(hours=60))   # the stopped one shares the state: its clock moved too
    down = ticker.tick()
    assert isinstance(down, SkipReason)
    assert f"{provider.url} is unreachable" in down.skip_message and "start the sandbox" in down.skip_message
    assert ticker.cursor == cursor
    with build_sensor_context(instance=ticker.instance, resources=ticker.resources) as context:
        scores = scores_sensor(context)
    assert isinstance(scores, SkipReason) and "scores not polled" in scores.skip_message

    back = SandboxServer(sandbox.state, port=port).start()
    try:
        again = ticker.tick()
        assert isinstance(again, SensorResult), again
        assert again.run_requests[0].tags["betting/tier"] == "early"
    finally:
        back.stop()
