"""The ingestion assets materialised in process on a real Dagster instance, over real EPL
2023-24 history served by the sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from dagster import AssetCheckSeverity, AssetKey, DagsterInstance, MaterializeResult, asset, materialize
from sqlalchemy import Engine, func, select

from betting_assets.defs.collection.assets import normalized_odds, odds_snapshots, scores
from betting_assets.defs.partitions import PARTITIONS
from betting_assets.defs.resources import SettingsResource, WarehouseResource
from betting_assets.sandbox.recorded import RecordedMarket
from betting_assets.sandbox.server import SandboxServer, SandboxState
from betting_assets.warehouse.tables import data_quality_log, events, fetch_log, normalized_odds as normalized_table
from betting_assets.warehouse.tables import odds_snapshots as snapshots_table
from betting_assets_tests.defs.bind import sandbox_resources, with_settings
from betting_assets_tests.defs.conftest import set_sandbox

DAY = "soccer_epl|2023-08-12"


def _run(assets: list, resources: dict[str, object], key: str = DAY):  # type: ignore[no-untyped-def,type-arg]
    return materialize(assets, resources=resources, partition_key=key, instance=DagsterInstance.ephemeral(),
                       raise_on_error=False)


def _metadata(result, name: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    (event,) = [m for m in result.get_asset_materialization_events() if m.asset_key == AssetKey(name)]
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def _checks(result) -> dict[str, tuple[bool, AssetCheckSeverity]]:  # type: ignore[no-untyped-def]
    return {e.check_name: (e.passed, e.severity) for e in result.get_asset_check_evaluations()}


def _count(engine: Engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)


@pytest.fixture
def after_the_day(sandbox: SandboxServer) -> SandboxServer:
    set_sandbox(sandbox, "clock", {"now": "2023-08-20T00:00:00Z"})
    return sandbox


def test_backfill_of_a_day_captures_every_closing_price_and_reruns_for_free(
        engine: Engine, after_the_day: SandboxServer, resources: dict[str, object], bundled_market) -> None:  # type: ignore[no-untyped-def]
    result = _run([odds_snapshots, normalized_odds], resources)
    assert result.success
    snaps = _metadata(result, "odds_snapshots")
    assert snaps["snapshots_new"] >= 3 and snaps["credits_spent"] > 0
    assert set(json.loads(json.dumps(snaps["fetches_by_tier"]))) >= {"closing"}
    assert all(passed for passed, _ in _checks(result).values() if _ != AssetCheckSeverity.WARN)
    # every match of the day has its real closing quotes (kick-off − 5 min) in the warehouse
    quotes = bundled_market.quotes
    day = (datetime(2023, 8, 12, tzinfo=timezone.utc), datetime(2023, 8, 13, tzinfo=timezone.utc))
    closing = quotes.filter((pl.col("commence_time") >= day[0]) & (pl.col("commence_time") < day[1])
                            & (pl.col("snapshot_time") == pl.col("commence_time") - timedelta(minutes=5)))
    with engine.connect() as conn:
        stored = [tuple(r[:5]) for r in conn.execute(select(
            normalized_table.c.event_id, normalized_table.c.bookmaker, normalized_table.c.market,
            normalized_table.c.outcome, normalized_table.c.price_decimal, normalized_table.c.snapshot_time,
            normalized_table.c.commence_time)).all() if r[5] == r[6] - timedelta(minutes=5)]
    expected = {(r["event_id"], r["bookmaker"], r["market"], r["outcome"], r["price"])
                for r in closing.iter_rows(named=True)}
    assert closing["event_id"].n_unique() == 6 and expected <= set(stored)
    # hours to start and the tier are on every snapshot, and no snapshot is after the clock
    with engine.connect() as conn:
        rows = conn.execute(select(snapshots_table.c.fetch_tier, snapshots_table.c.hours_to_commence,
                                   snapshots_table.c.as_of, snapshots_table.c.requests_remaining)).all()
    assert all(t and h is not None and h > 0 and r is not None for t, h, _, r in rows)
    before = (_count(engine, snapshots_table), _count(engine, normalized_table))
    again = _run([odds_snapshots, normalized_odds], resources)
    assert again.success and _metadata(again, "odds_snapshots")["credits_spent"] == 0
    assert (_count(engine, snapshots_table), _count(engine, normalized_table)) == before


def test_scores_finish_recent_events_and_history_comes_from_results_data(
        engine: Engine, sandbox: SandboxServer, resources: dict[str, object], monkeypatch: pytest.MonkeyPatch,
        shared_data: Path, tmp_path: Path) -> None:
    set_sandbox(sandbox, "clock", {"now": "2023-08-13T00:00:00Z"})
    assert _run([odds_snapshots], resources).success
    recent = _run([scores], resources)
    assert recent.success and _checks(recent)["scores_sane"][0]
    by_status = _metadata(recent, "scores")
    assert by_status["events"] == 6 and "final | 6" in str(by_status["by_status"])
    # the same day seen from a month later is outside the provider's scores window
    with engine.begin() as conn:
        conn.execute(events.update().values(status="scheduled", home_score=None, away_score=None, completed=False))
    set_sandbox(sandbox, "clock", {"now": "2023-09-15T00:00:00Z"})
    both = tmp_path / "results"            # the EPL's file beside the Bundesliga's, as a results folder holds them
    both.mkdir()
    for name in ("E0_2324.csv", "D1_2324.csv"):
        (both / name).write_bytes((shared_data / name).read_bytes())
    old = _run([scores], with_settings(resources, collection={"results_data": str(both)}))
    assert old.success and _metadata(old, "scores")["updated"] == 6
    with engine.connect() as conn:               # the partition's sport only: no Bundesliga event comes in
        assert conn.execute(select(events.c.event_id).where(events.c.sport_key != "soccer_epl")).first() is None
    with engine.connect() as conn:
        arsenal = conn.execute(select(events.c.home_score, events.c.away_score)
                               .where(events.c.home_team == "Arsenal",
                                      events.c.commence_time < datetime(2023, 8, 13, tzinfo=timezone.utc))).one()
    assert tuple(arsenal) == (2, 1)  # Arsenal 2-1 Nott'm Forest, 12 August 2023
    # a day after the clock has no results yet: refused in one line, not a success with none
    set_sandbox(sandbox, "clock", {"now": "2023-08-12T09:00:00Z"})
    early = _run([scores], resources, "soccer_epl|2023-08-19")
    (failure,) = [e for e in early.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.event_specific_data.error.message.startswith(
        "dagster._core.definitions.events.Failure: soccer_epl|2023-08-19 is after the clock (2023-08-12T09:00:00+00:00): its results cannot be known yet")
    # odds over a range reaching past the clock: refused before any call, not after the days before it
    calls = _count(engine, fetch_log)
    ahead = materialize([odds_snapshots], resources=resources, instance=DagsterInstance.ephemeral(),
                        raise_on_error=False, tags={"dagster/asset_partition_range_start": "soccer_epl|2023-08-11",
                                                    "dagster/asset_partition_range_end": "soccer_epl|2023-08-13"})
    (failure,) = [e for e in ahead.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "soccer_epl|2023-08-13 is after the clock (2023-08-12T09:00:00+00:00): odds cannot be fetched from the " \
        "future" in failure.event_specific_data.error.message
    assert _count(engine, fetch_log) == calls


def test_provider_outage_mid_run_keeps_stored_data_and_the_retry_completes(
        engine: Engine, after_the_day: SandboxServer, resources: dict[str, object], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, bundled_market) -> None:  # type: ignore[no-untyped-def]
    reference_url = f"sqlite:///{tmp_path / 'reference.sqlite'}"
    from betting_assets.warehouse import migrate
    from betting_assets.warehouse.engine import make_engine

    reference = make_engine(reference_url)
    migrate.upgrade(reference)
    clean = {**resources, "warehouse": WarehouseResource(settings=resources["settings"], database_url=reference_url)}
    assert _run([odds_snapshots, normalized_odds], clean).success
    expected = (_count(reference, snapshots_table), _count(reference, normalized_table))
    reference.dispose()

    no_retries = with_settings(resources, collection={"http_max_retries": 0})
    # four calls answer (sports list, two events lists, the first odds), then every call fails
    set_sandbox(after_the_day, "faults", {"healthy_first": 4, "fail_next": [503] * 50})
    broken = _run([odds_snapshots, normalized_odds], no_retries)
    assert not broken.success, "the outage must fail the run"
    partial = (_count(engine, snapshots_table), _count(engine, normalized_table))
    assert 0 < partial[0] < expected[0] and partial[1] == 0
    with engine.connect() as conn:
        stored = conn.execute(select(snapshots_table.c.payload_sha256)).scalars().all()
    set_sandbox(after_the_day, "faults", {})
    retried = _run([odds_snapshots, normalized_odds], no_retries)
    assert retried.success
    assert (_count(engine, snapshots_table), _count(engine, normalized_table)) == expected
    with engine.connect() as conn:
        after = conn.execute(select(snapshots_table.c.payload_sha256)).scalars().all()
    assert set(stored) <= set(after)


# -- checks on crafted snapshots ------------------------------------------------------------

KICK = "2023-08-12T14:00:00Z"


def _outcomes(prices: dict[str, float]) -> list[dict[str, object]]:
    return [{"name": name, "price": price} for name, price in prices.items()]


def _book(key: str, outcomes: list[dict[str, object]], last_update: str = "2023-08-12T11:00:00Z") -> dict:  # type: ignore[type-arg]
    return {"key": key, "title": key, "last_update": last_update,
            "markets": [{"key": "h2h", "last_update": last_update, "outcomes": outcomes}]}


def _event(event_id: str, sport: str, books: list[dict], **overrides: object) -> dict:  # type: ignore[type-arg]
    event = {"id": event_id, "sport_key": sport, "sport_title": sport, "commence_time": KICK,
             "home_team": "Home FC", "away_team": "Away FC", "bookmakers": books}
    event.update(overrides)
    return event


def _crafted_sandbox(folder: Path) -> SandboxState:
    good = {"Home FC": 2.0, "Draw": 3.4, "Away FC": 3.9}
    normalized_bad = _event("epl-bad", "soccer_epl", [
        _book("pinnacle", _outcomes({**good, "Home FC": 1.0})),                       # price below 1.01
        _book("bet365", _outcomes({"Home FC": 2.0, "Away FC": 3.9})),                 # no draw
        _book("williamhill", _outcomes({"Home FC": 1.2, "Draw": 1.3, "Away FC": 1.4})),  # overround 132 %
        _book("unibet", _outcomes(good) + [{"name": "Draw", "price": 3.3}]),           # duplicate key
        _book("betfair_ex_uk", _outcomes(good)),
    ])
    raw_bad = [
        _event("bl-future", "soccer_germany_bundesliga",
               [_book("pinnacle", _outcomes(good), last_update="2023-08-12T13:00:00Z")]),  # after the fetch
        _event("bl-missing", "soccer_germany_bundesliga", [_book("pinnacle", _outcomes(good))], home_team=""),
    ]
    clean = [_event(e, sport, [_book("pinnacle", _outcomes(good), last_update="2023-08-11T11:00:00Z")])
             for e, sport in (("epl-bad", "soccer_epl"), ("bl-future", "soccer_germany_bundesliga"),
                              ("bl-missing", "soccer_germany_bundesliga"))]
    first, second = "2023-08-11T12:00:00Z", "2023-08-12T12:00:00Z"
    recordings = [("epl-0", first, second, clean[:1]), ("bl-0", first, second, clean[1:]),
                  ("epl-1", second, None, [normalized_bad]), ("bl-1", second, None, raw_bad)]
    for name, stamp, following, data in recordings:
        (folder / f"{name}.json").write_text(json.dumps(
            {"timestamp": stamp, "previous_timestamp": None, "next_timestamp": following, "data": data}))
    return SandboxState(RecordedMarket(folder), api_key="test-key", now=datetime(2023, 8, 13, tzinfo=timezone.utc))


@asset(partitions_def=PARTITIONS, deps=[normalized_odds])
def downstream_probe() -> MaterializeResult:
    return MaterializeResult()


def test_each_check_fails_on_a_crafted_snapshot_and_blocks_downstream(
        engine: Engine, db_url: str, tmp_path: Path, settings: SettingsResource) -> None:
    with SandboxServer(_crafted_sandbox(tmp_path)) as server:
        resources = sandbox_resources(settings, db_url, server.url)
        graph = [odds_snapshots, normalized_odds, downstream_probe]

        raw = _run(graph, resources, "soccer_germany_bundesliga|2023-08-12")
        raw_checks = _checks(raw)
        assert raw_checks["required_fields"] == (False, AssetCheckSeverity.ERROR)
        assert raw_checks["no_future_prices"] == (False, AssetCheckSeverity.ERROR)
        materialized = {m.asset_key.path[-1] for m in raw.get_asset_materialization_events()}
        assert materialized == {"odds_snapshots"}  # blocked before normalisation

        flagged = _run(graph, resources)
        checks = _checks(flagged)
        for name in ("prices_valid", "market_complete", "overround_range", "no_duplicate_keys"):
            assert checks[name] == (False, AssetCheckSeverity.ERROR), name
        assert checks["required_fields"][0] and checks["contract"][0]
        assert "downstream_probe" not in {m.asset_key.path[-1] for m in flagged.get_asset_materialization_events()}
        flagged_rows = _count(engine, normalized_table)
        with engine.connect() as conn:
            logged = dict(conn.execute(select(data_quality_log.c.check_name, func.count())
                                       .group_by(data_quality_log.c.check_name)).all())
            context = conn.execute(select(data_quality_log.c.context)
                                   .where(data_quality_log.c.check_name == "overround_range")).scalar_one()
        assert {"price_valid", "market_complete", "overround_range", "duplicate_key", "event_required_fields",
                "no_future_prices"} <= set(logged)
        assert context["overround"] == pytest.approx(1 / 1.2 + 1 / 1.3 + 1 / 1.4 - 1)
        raw_before = _count(engine, snapshots_table)

        rejected = _run(graph, with_settings(resources, quality={"mode": "reject"}))
        checks = _checks(rejected)
        assert checks["prices_valid"] == (False, AssetCheckSeverity.WARN)
        assert "downstream_probe" in {m.asset_key.path[-1] for m in rejected.get_asset_materialization_events()}
        with engine.connect() as conn:
            books = set(conn.execute(select(normalized_table.c.bookmaker).distinct()).scalars())
        assert books == {"unibet", "betfair_ex_uk"}  # the three bad markets are left out
        assert _count(engine, normalized_table) < flagged_rows
        assert _count(engine, snapshots_table) == raw_before  # raw data is never touched


def test_the_credit_budget_check_reads_the_periods_spend_from_fetch_log(
        engine: Engine, resources: dict[str, object], sandbox: SandboxServer) -> None:
    """Credits really spent on the sandbox (its x-requests-last headers in fetch_log, kept at the
    sandbox clock's time) against a budget below them fail the check, naming both figures; a
    roomy budget passes."""
    from datetime import date

    from betting_assets.defs.collection.assets import collection_plan
    from betting_assets.defs.collection.checks import credit_budget
    from betting_assets.defs.partitions import plan_range
    from betting_assets.warehouse import health

    set_sandbox(sandbox, "clock", {"now": "2023-08-12T10:00:00Z"})
    assert materialize([odds_snapshots], resources=resources, partition_key=DAY,
                       instance=DagsterInstance.ephemeral()).success
    now = datetime(2023, 8, 12, 10, tzinfo=timezone.utc)
    with engine.connect() as conn:
        _, spent = health.credits(conn, now, datetime(2023, 8, 1, tzinfo=timezone.utc))
    assert spent > 0

    def evaluate(budget: int):  # type: ignore[no-untyped-def]
        bound = with_settings(resources, collection={"credit_budget": budget, "sports": ["soccer_epl"]})
        done = materialize([collection_plan, credit_budget], resources=bound, instance=DagsterInstance.ephemeral(),
                           raise_on_error=False, tags=plan_range(["soccer_epl"], date(2023, 8, 12)))
        (evaluation,) = done.get_asset_check_evaluations()
        return evaluation

    tight = evaluate(max(spent - 1, 1))
    assert not tight.passed and f"over the budget of {max(spent - 1, 1):,}" in tight.metadata["sample"].value
    assert evaluate(spent * 100).passed


@pytest.mark.parametrize("config, says", [
    ({"mode": "histroy"}, "String should match pattern '^(auto|live|history)$'"),
    ({"markets": ["h2h", "Corners!"]}, "provider market keys"),
    ({"event_id": "../../etc"}, "String should match pattern"),
], ids=["mode", "markets", "event_id"])
def test_a_bad_odds_run_config_is_refused_before_any_call(engine: Engine, sandbox: SandboxServer,
                                                          resources: dict[str, object], config: dict[str, object],
                                                          says: str) -> None:
    """Before, any mode but live or auto ran history, and any market or event id was sent."""
    import httpx

    set_sandbox(sandbox, "clock", {"now": "2023-08-12T12:00:00Z"})
    asked = httpx.get(f"{sandbox.url}/sandbox/quota").json()["requests"]
    done = materialize([odds_snapshots], resources=resources, partition_key=DAY, instance=DagsterInstance.ephemeral(),
                       run_config={"ops": {"odds_snapshots": {"config": config}}}, raise_on_error=False)
    assert not done.success
    failure = next(e for e in done.all_events if e.event_type_value == "STEP_FAILURE")
    assert says in str(failure.event_specific_data)
    assert httpx.get(f"{sandbox.url}/sandbox/quota").json()["requests"] == asked     # nothing was called
    assert _count(engine, snapshots_table) == 0


def test_a_run_leaves_no_connection_to_the_provider_open(engine: Engine, sandbox: SandboxServer,
                                                         resources: dict[str, object]) -> None:
    """Each provider client a step makes is closed with the step: a season of runs in one code
    server must not pile up sockets to the provider."""
    import gc
    import warnings

    set_sandbox(sandbox, "clock", {"now": "2023-08-13T00:00:00Z"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert _run([odds_snapshots, normalized_odds, scores], resources).success
        gc.collect()
    leaked = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning) and "socket" in str(w.message)]
    assert not leaked, leaked[:3]
