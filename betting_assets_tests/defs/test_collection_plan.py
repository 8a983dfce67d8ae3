"""The collection plan in Dagster, against the sandbox on a real instance: the plan asset over
its partition range keeps the plan in the warehouse; as the clock moves through the first
weekend of the 2023-24 EPL season, the odds and scores sensors request exactly the planned
calls, each once, and what the provider billed is what the plan priced; the plan's checks pass
while it is followed and warn once the spend passes it or a call is missed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl
from dagster import DagsterInstance, RunRequest, SensorResult, SkipReason, build_sensor_context, materialize
from sqlalchemy import Engine

from betting_assets.defs.ingestion.assets import collection_plan
from betting_assets.defs.ingestion.checks import credit_budget, plan_followed
from betting_assets.defs.ingestion.sensors import collection_plan_sensor, odds_fetch_sensor, scores_sensor
from betting_assets.defs.partitions import plan_range
from betting_assets.sandbox.server import SandboxServer
from betting_assets.warehouse import plan as plan_store
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
        with build_sensor_context(instance=self.instance, cursor=self.cursors.get(sensor.name),
                                  resources=self.resources) as context:
            result = sensor(context)
        if isinstance(result, SensorResult):
            self.cursors[sensor.name] = result.cursor or self.cursors.get(sensor.name)
            return list(result.run_requests or [])
        assert isinstance(result, (SkipReason, type(None))) or isinstance(result, RunRequest), result
        return [result] if isinstance(result, RunRequest) else []

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
    assert first.run_key == "plan|never|2023-08-10"
    warehouse, odds_api = resources["warehouse"], resources["odds_api"]
    odds_api.collector(warehouse.engine(), START).discover_events("soccer_epl", now=START)  # type: ignore[attr-defined]
    (again,) = clock.tick(collection_plan_sensor)                  # a new key: the fixture list was read
    assert again.run_key.startswith("plan|2023-08-10T12:00")
    _plan(resources, START)
    assert not clock.tick(collection_plan_sensor)                  # current now
    start = START + timedelta(minutes=7)                            # the hourly discovery, then a new plan
    clock.at(start)
    odds_api.collector(warehouse.engine(), start).discover_events("soccer_epl", now=start)  # type: ignore[attr-defined]
    (stale,) = clock.tick(collection_plan_sensor)
    assert "the fixture list was read at 2023-08-10T12:07" in stale.tags["betting/replan"]
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
    assert results["plan_followed"].metadata["calls_due"].value >= len(expected) - 3

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
