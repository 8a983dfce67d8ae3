"""The collection plan in Dagster, against the sandbox on a real instance: the plan asset over
its partition range keeps the plan in the warehouse; as the clock moves through the first
weekend of the 2023-24 EPL season, the odds and scores sensors request exactly the planned
calls, each once, and what the provider billed is what the plan priced; the plan's checks pass
while it is followed and warn once the spend passes it or a call is missed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl
from dagster import DagsterInstance, RunRequest, materialize
from sqlalchemy import Engine, update

from betting_assets.defs.collection.assets import collection_plan
from betting_assets.defs.collection.checks import credit_budget, plan_followed
from betting_assets.defs.collection.sensors import collection_plan_sensor, odds_fetch_sensor, scores_sensor
from betting_assets.defs.partitions import plan_range
from betting_assets.demo_pipeline import rewind_plan, tick
from betting_assets.sandbox.server import SandboxServer
from betting_assets.warehouse import plan as plan_store
from betting_assets.warehouse.tables import events
from betting_assets_tests.defs.bind import with_settings
from betting_assets_tests.defs.conftest import set_sandbox

START = datetime(2023, 8, 10, 12, 0, tzinfo=timezone.utc)      # a day before the season's first match
UNTIL = datetime(2023, 8, 12, 19, 0, tzinfo=timezone.utc)      # through Saturday's 14:00 kick-offs' results
BUDGET = 400


class Clockwork:
    """Moves the sandbox clock, ticks a sensor with its own cursor on one instance, and makes a
    requested call the way the launched run would."""

    def __init__(self, sandbox: SandboxServer, resources: dict[str, object]) -> None:
        self.sandbox, self.resources = sandbox, resources
        self.instance = DagsterInstance.ephemeral()
        self.cursors: dict[str, str | None] = {}

    def at(self, moment: datetime) -> None:
        set_sandbox(self.sandbox, "clock", {"now": moment.isoformat()})

    def tick(self, sensor) -> list[RunRequest]:  # type: ignore[no-untyped-def]
        return tick(sensor, self.instance, self.resources, self.cursors)

    def make(self, request: RunRequest, now: datetime) -> None:
        warehouse, odds_api = self.resources["warehouse"], self.resources["odds_api"]
        collector = odds_api.collector(warehouse.engine(), now)  # type: ignore[attr-defined]
        sport = str(request.partition_key).split("|")[0]
        if request.run_key.startswith("plan|scores") or request.run_key.startswith("scores-late"):  # type: ignore[union-attr]
            collector.scores(sport, days_from=3)
            return
        config = request.run_config["ops"]["odds_snapshots"]["config"]
        if config["event_id"]:
            collector.event_odds(sport, config["event_id"], now=now, derive=False, markets=config["markets"])
        else:
            collector.live_odds(sport, now=now, derive=False, markets=config["markets"])


def _plan(resources: dict[str, object], now: datetime) -> None:
    done = materialize([collection_plan], resources=resources, instance=DagsterInstance.ephemeral(),
                       tags=plan_range(["soccer_epl"], now.date()))
    assert done.success


def test_the_sensors_make_exactly_the_planned_calls_and_the_bill_is_the_plans(
        engine: Engine, sandbox: SandboxServer, resources: dict[str, object]) -> None:
    resources = with_settings(resources, collection={"sports": "soccer_epl", "credit_budget": BUDGET,
                                                      "closing_markets": "h2h"})
    clock = Clockwork(sandbox, resources)
    clock.at(START)
    assert not clock.tick(odds_fetch_sensor)                       # no plan yet: nothing to follow
    (first,) = clock.tick(collection_plan_sensor)
    assert first.run_key.startswith("plan|2023-08-10|") and first.tags["betting/replan"] == "no plan asked for yet"
    warehouse, odds_api = resources["warehouse"], resources["odds_api"]

    def discover(moment: datetime) -> None:
        odds_api.collector(warehouse.engine(), moment).discover_events("soccer_epl", now=moment)  # type: ignore[attr-defined]

    discover(START)
    (listed,) = clock.tick(collection_plan_sensor)                 # the fixture list came in: plan again
    assert listed.tags["betting/replan"] == "the fixture list changed" and listed.run_key != first.run_key
    _plan(resources, START)
    assert not clock.tick(collection_plan_sensor)                  # current now
    start = START + timedelta(minutes=7)                            # the hourly discovery finds nothing new
    clock.at(start)
    discover(start)
    assert not clock.tick(collection_plan_sensor)
    with engine.begin() as conn:                                    # a match moved: plan again
        conn.execute(update(events).where(events.c.commence_time == datetime(2023, 8, 12, 14, tzinfo=timezone.utc))
                     .values(commence_time=datetime(2023, 8, 12, 16, tzinfo=timezone.utc)))
    (moved,) = clock.tick(collection_plan_sensor)
    assert moved.tags["betting/replan"] == "the fixture list changed"
    discover(start)                                                 # the provider lists it where it was
    (back,) = clock.tick(collection_plan_sensor)
    assert back.tags["betting/replan"] == "the fixture list changed" and back.run_key != listed.run_key
    _plan(resources, start)
    with engine.connect() as conn:
        planned = plan_store.plan_frame(conn, start, UNTIL, ["soccer_epl"])
    by = planned.group_by("priority").agg(pl.len()).sort("priority")
    assert set(by["priority"]) >= {"decision", "closing", "results"}, by
    closing = planned.filter(pl.col("priority") == "closing")
    assert set(closing["markets"]) == {"h2h"} and set(closing["credits"]) == {2}        # h2h × (uk, eu)

    expected = [(r["at"], "scores" if r["endpoint"] == "scores" else r["endpoint"], r["event_id"])
                for r in planned.iter_rows(named=True)]
    asked: list[tuple[datetime, str, str | None]] = []
    keys: set[str] = set()
    for moment in sorted({r[0] for r in expected}):
        clock.at(moment - timedelta(minutes=1))
        assert not clock.tick(odds_fetch_sensor) and not clock.tick(scores_sensor), moment    # not due yet
        clock.at(moment)
        for sensor in (odds_fetch_sensor, scores_sensor):
            for request in clock.tick(sensor):
                assert request.run_key not in keys
                keys.add(request.run_key)
                endpoint = request.tags.get("betting/endpoint", "scores")
                event = request.run_config["ops"]["odds_snapshots"]["config"]["event_id"] if request.run_config else None
                asked.append((datetime.fromisoformat(request.tags["betting/planned_at"]), endpoint, event))
                clock.make(request, moment)
        assert not clock.tick(odds_fetch_sensor) and not clock.tick(scores_sensor), moment    # made: once only
    assert asked == expected

    with engine.connect() as conn:
        billed = plan_store.spent_by_sport_day(conn, START, UNTIL).filter(pl.col("planned"))
    priced = planned.group_by("sport_key", day=pl.col("at").dt.date().cast(pl.String)).agg(pl.col("credits").sum())
    assert billed.select("sport_key", "day", "credits").sort("day").to_dicts() == priced.sort("day").to_dicts()

    clock.at(UNTIL)
    checked = materialize([collection_plan, credit_budget, plan_followed], resources=resources,
                          instance=DagsterInstance.ephemeral(),
                          tags=plan_range(["soccer_epl"], UNTIL.date()))
    results = {e.check_name: e for e in checked.get_asset_check_evaluations()}
    assert results["credit_budget"].passed and results["plan_followed"].passed
    closed = planned.filter(pl.col("due_until") <= UNTIL).height
    assert closed > 0 and results["plan_followed"].metadata["calls_due"].value == closed

    odds_api.collector(warehouse.engine(), UNTIL).live_odds("soccer_epl", now=UNTIL, derive=False)  # unplanned
    clock.at(UNTIL + timedelta(hours=30))                                                            # and calls missed
    checked = materialize([collection_plan, credit_budget, plan_followed], resources=resources,
                          instance=DagsterInstance.ephemeral(),
                          tags=plan_range(["soccer_epl"], (UNTIL + timedelta(hours=30)).date()))
    results = {e.check_name: e for e in checked.get_asset_check_evaluations()}
    over = results["credit_budget"]
    assert not over.passed and "2023-08-12: " in over.metadata["sample"].value
    assert "spent against" in over.metadata["sample"].value
    missed = results["plan_followed"]
    assert not missed.passed and missed.metadata["calls_missed"].value > 0


def test_a_lone_kick_off_missing_a_market_is_planned_on_the_per_event_endpoint_at_the_price_billed(
        engine: Engine, sandbox: SandboxServer, resources: dict[str, object]) -> None:
    """The sandbox prices no btts: once a sport call asked for it and got none, the Friday
    opener (the only 19:00 kick-off) is planned on the per-event endpoint for what it is priced
    in, and that call costs what the plan says."""
    from betting_assets.collection import planning
    resources = with_settings(resources, collection={"sports": "soccer_epl", "markets": "h2h,totals,btts"})
    now = datetime(2023, 8, 11, 14, 0, tzinfo=timezone.utc)                # the first prices are out at 13:00
    set_sandbox(sandbox, "clock", {"now": now.isoformat()})
    warehouse, odds_api, settings = resources["warehouse"], resources["odds_api"], resources["settings"]
    collector = odds_api.collector(warehouse.engine(), now)  # type: ignore[attr-defined]
    collector.live_odds("soccer_epl", now=now)
    with engine.connect() as conn:
        missing = plan_store.markets_missing(conn, plan_store.schedule(conn, now, now + timedelta(days=2),
                                                                        ["soccer_epl"], timedelta(hours=6))["event_id"].to_list())
    assert missing and set(map(tuple, missing.values())) == {("btts",)}
    live = planning.live_plan(engine, settings.get(), now, now + timedelta(days=1))  # type: ignore[attr-defined]
    (lone,) = [c for c in live.plan.calls if c.priority == "decision" and c.at.hour == 17]
    assert (lone.endpoint, lone.markets, lone.credits) == ("event_odds", ("h2h", "totals"), 2 * 2)
    set_sandbox(sandbox, "clock", {"now": lone.at.isoformat()})
    odds_api.collector(warehouse.engine(), lone.at).event_odds(  # type: ignore[attr-defined]
        "soccer_epl", lone.event_id, now=lone.at, markets=list(lone.markets))
    with engine.connect() as conn:
        billed = plan_store.spent_by_sport_day(conn, lone.at, lone.at + timedelta(seconds=1))
    assert billed["credits"].to_list() == [lone.credits]


def test_no_plan_is_made_from_a_clock_earlier_than_the_last_plans(
        engine: Engine, sandbox: SandboxServer, resources: dict[str, object]) -> None:
    """make dev's sandbox started without the demo's account comes back months earlier: the plan
    the demo left (its calls, its bill) must not be replaced from the past."""
    from dagster import build_sensor_context

    resources = with_settings(resources, collection={"sports": "soccer_epl", "credit_budget": BUDGET})
    clock = Clockwork(sandbox, resources)
    later = START + timedelta(days=1)
    clock.at(later)
    resources["odds_api"].collector(resources["warehouse"].engine(), later).discover_events(  # type: ignore[attr-defined]
        "soccer_epl", now=later)
    _plan(resources, later)
    with engine.connect() as conn:
        held = plan_store.plan_frame(conn, START, UNTIL + timedelta(days=3))
    assert held.height > 0

    clock.at(START)
    with build_sensor_context(instance=clock.instance, resources=resources) as context:
        skipped = collection_plan_sensor(context)
    assert skipped.skip_message.startswith(f"the clock ({START.isoformat()}) is before the last plan's "
                                           f"({later.isoformat()})")
    refused = materialize([collection_plan], resources=resources, instance=DagsterInstance.ephemeral(),
                          tags=plan_range(["soccer_epl"], START.date()), raise_on_error=False)
    assert not refused.success
    (failure,) = [e for e in refused.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "no plan is made from an earlier clock" in failure.event_specific_data.error.message
    with engine.connect() as conn:
        assert plan_store.plan_frame(conn, START, UNTIL + timedelta(days=3)).equals(held)    # untouched

    clock.at(later + timedelta(minutes=5))                         # the clock where it was: planning goes on
    assert clock.tick(collection_plan_sensor)

    # the demo run again on its home takes the clock back on purpose, and says what it dropped
    with engine.connect() as conn:
        every_call = plan_store.plan_frame(conn, START - timedelta(days=30), START + timedelta(days=60)).height
    said: list[str] = []
    rewind_plan(engine, START, said.append)
    assert len(said) == 1 and f": {every_call} calls an earlier demo planned" in said[0], said
    clock.at(START)
    _plan(resources, START)
    with engine.connect() as conn:
        assert plan_store.last_planned(conn) == START
