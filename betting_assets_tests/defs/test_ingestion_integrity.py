"""Nothing lost silently: partial and malformed provider answers, results on a fresh warehouse,
findings recorded once, every charged call counted, writers of ``events`` at the same time.
Real EPL days through the sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from dagster import AssetCheckSeverity, DagsterInstance, materialize
from sqlalchemy import Engine, func, select

from betting_assets.defs.collection.assets import normalized_odds, odds_snapshots, scores
from betting_assets.defs.resources import WarehouseResource
from betting_assets.sandbox.server import SandboxServer
from betting_assets.warehouse import migrate
from betting_assets.warehouse import plan as plan_store
from betting_assets.warehouse.engine import make_engine
from betting_assets.warehouse.tables import data_quality_log, events, fetch_log
from betting_assets.warehouse.tables import normalized_odds as normalized_table
from betting_assets.warehouse.tables import odds_snapshots as snapshots_table
from betting_assets_tests.defs.conftest import set_sandbox
from betting_assets_tests.defs.test_ingestion_assets import _checks, _count, _metadata, _run

KEY = [normalized_table.c.event_id, normalized_table.c.bookmaker, normalized_table.c.market,
       normalized_table.c.outcome, normalized_table.c.point, normalized_table.c.snapshot_time]


def _rows(engine: Engine) -> set[tuple]:  # type: ignore[type-arg]
    with engine.connect() as conn:
        return {tuple(r) for r in conn.execute(select(*KEY, normalized_table.c.price_decimal,
                                                      normalized_table.c.is_valid)).all()}


DAY_START, DAY_END = datetime(2023, 8, 12, tzinfo=timezone.utc), datetime(2023, 8, 13, tzinfo=timezone.utc)
ON_THE_DAY = (events.c.commence_time >= DAY_START) & (events.c.commence_time < DAY_END)


def _finals_of_the_day(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(events).where(ON_THE_DAY, events.c.status == "final")))


def _failure(result) -> str:  # type: ignore[no-untyped-def]
    return " ".join(str(e.event_specific_data) for e in result.all_events if e.event_type_value == "STEP_FAILURE")


@pytest.fixture
def after_the_day(sandbox: SandboxServer) -> SandboxServer:
    set_sandbox(sandbox, "clock", {"now": "2023-08-20T00:00:00Z"})
    return sandbox


def test_partial_bodies_do_not_count_as_coverage_and_a_clean_rerun_ends_with_the_clean_rows(
        engine: Engine, after_the_day: SandboxServer, resources: dict[str, object], tmp_path: Path) -> None:
    reference_url = f"sqlite:///{tmp_path / 'reference.sqlite'}"
    reference = make_engine(reference_url)
    migrate.upgrade(reference)
    assert _run([odds_snapshots, normalized_odds], {**resources, "warehouse": WarehouseResource(
        settings=resources["settings"], database_url=reference_url)}).success
    clean_rows = _rows(reference)
    reference.dispose()

    set_sandbox(after_the_day, "faults", {"partial_rate": 0.2, "seed": 1})
    hit = _run([odds_snapshots, normalized_odds], resources)
    with engine.connect() as conn:
        incomplete = conn.scalar(select(func.count()).select_from(snapshots_table)
                                 .where(snapshots_table.c.complete.is_(False)))
    assert incomplete > 0, "the fault should have hit some answers"
    assert _checks(hit)["required_fields"] == (False, AssetCheckSeverity.ERROR)
    assert _rows(engine) != clean_rows

    set_sandbox(after_the_day, "faults", {})
    healed = _run([odds_snapshots, normalized_odds], resources)
    assert healed.success and _checks(healed)["required_fields"][0]
    assert _metadata(healed, "odds_snapshots")["snapshots_new"] >= incomplete   # fetched again, whole
    assert _rows(engine) == clean_rows                                           # key for key, price for price
    with engine.connect() as conn:                                               # the partial answers are kept whole
        assert conn.scalar(select(func.count()).select_from(snapshots_table)
                           .where(snapshots_table.c.complete.is_(False))) == incomplete
    again = _run([odds_snapshots, normalized_odds], resources)
    assert again.success and _metadata(again, "odds_snapshots")["credits_spent"] == 0


def test_scores_on_a_fresh_warehouse_create_their_events_and_keep_the_bodies(
        engine: Engine, sandbox: SandboxServer, resources: dict[str, object]) -> None:
    set_sandbox(sandbox, "clock", {"now": "2023-08-13T00:00:00Z"})
    done = _run([scores], resources)             # no odds collected before: nothing to attach results to
    assert done.success and _checks(done)["scores_sane"][0]
    with engine.connect() as conn:
        finals = conn.execute(select(events.c.home_team, events.c.home_score, events.c.away_score)
                              .where(events.c.status == "final", ON_THE_DAY)).all()
        bodies = conn.execute(select(fetch_log.c.endpoint, fetch_log.c.body).where(fetch_log.c.ok.is_(True))).all()
    assert len(finals) == 6 and ("Arsenal", 2, 1) in {tuple(r) for r in finals}
    assert bodies and all(body for endpoint, body in bodies if endpoint in ("scores", "sports", "events"))


def test_results_missing_fail_the_scores_check_and_each_finding_is_recorded_once(
        engine: Engine, sandbox: SandboxServer, resources: dict[str, object]) -> None:
    set_sandbox(sandbox, "clock", {"now": "2023-08-13T00:00:00Z"})
    assert _run([odds_snapshots], resources).success            # the day's events are known
    set_sandbox(sandbox, "clock", {"now": "2023-09-15T00:00:00Z"})   # beyond the scores window, no results file
    first = _run([scores], resources)
    assert _checks(first)["scores_sane"] == (False, AssetCheckSeverity.ERROR)
    with engine.connect() as conn:
        logged = conn.scalar(select(func.count()).select_from(data_quality_log))
        missing = conn.scalar(select(func.count()).select_from(data_quality_log).where(
            data_quality_log.c.check_name == "scores_sane", data_quality_log.c.message.like("no result%")))
    assert missing == 6
    second = _run([scores], resources)
    assert _checks(second)["scores_sane"][0] is False
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(data_quality_log)) == logged


def test_a_partial_scores_body_fails_the_check_until_a_clean_answer(
        engine: Engine, sandbox: SandboxServer, resources: dict[str, object]) -> None:
    set_sandbox(sandbox, "clock", {"now": "2023-08-13T00:00:00Z"})
    assert _run([odds_snapshots], resources).success
    set_sandbox(sandbox, "faults", {"partial_rate": 1.0, "only": "/scores"})
    hit = _run([scores], resources)
    assert _checks(hit)["scores_sane"] == (False, AssetCheckSeverity.ERROR)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(events).where(
            events.c.status == "final", events.c.home_score.is_(None))) == 0
    set_sandbox(sandbox, "faults", {})
    healed = _run([scores], resources)
    assert healed.success and _checks(healed)["scores_sane"][0]
    assert _finals_of_the_day(engine) == 6


def test_a_malformed_body_fails_the_step_counts_its_credits_and_a_rerun_recovers(
        engine: Engine, sandbox: SandboxServer, resources: dict[str, object]) -> None:
    set_sandbox(sandbox, "clock", {"now": "2023-08-13T00:00:00Z"})
    set_sandbox(sandbox, "faults", {"malformed_rate": 1.0, "only": "/scores"})
    broken = _run([scores], resources)
    assert not broken.success and "could not be read" in _failure(broken)
    with engine.connect() as conn:
        bad = conn.execute(select(fetch_log.c.body, fetch_log.c.requests_last)
                           .where(fetch_log.c.endpoint == "scores")).all()
    assert len(bad) == 3 and all(body for body, _ in bad)            # the first try and two step retries, bodies kept
    assert "credits charged" in _failure(broken) and f"{bad[-1][1]} credits charged" in _failure(broken)

    set_sandbox(sandbox, "faults", {"malformed_rate": 1.0, "only": "/odds"})
    odds = _run([odds_snapshots], resources)
    with engine.connect() as conn:
        charged = conn.execute(select(fetch_log.c.requests_last).where(fetch_log.c.endpoint == "historical_odds",
                                                                      fetch_log.c.ok.is_(False))).scalars().all()
    assert not odds.success and charged and all(c and c > 0 for c in charged) and len(charged) % 3 == 0
    assert f"{sum(charged[-len(charged) // 3:])} credits charged" in _failure(odds)   # the last try's calls, all paid

    set_sandbox(sandbox, "faults", {})
    assert _run([scores], resources).success
    assert _finals_of_the_day(engine) == 6


@pytest.mark.parametrize("trial", range(2))
def test_odds_and_scores_writing_events_at_once_never_deadlock(
        engine: Engine, after_the_day: SandboxServer, resources: dict[str, object], trial: int) -> None:
    """The README's backfill runs odds and scores for the same days in parallel steps; both write
    the same events rows. Results come from the shared results file, as for old history."""
    from betting_assets.sources.football_data import read_football_data
    from betting_assets_tests.conftest import BUNDLED

    results = read_football_data(BUNDLED / "E0_2324.csv").events
    days = [datetime(2023, 8, 11, tzinfo=timezone.utc) + timedelta(days=d) for d in range(3)]
    collectors = [resources["odds_api"].collector(engine) for _ in range(2)]  # type: ignore[attr-defined]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def odds() -> None:
        barrier.wait()
        for day in days:
            collectors[0].backfill_day("soccer_epl", day, day + timedelta(days=1))

    def scores_of_days() -> None:
        barrier.wait()
        for _ in range(3):
            for day in days:
                collectors[1].import_results(results, "soccer_epl", day - timedelta(days=7), day + timedelta(days=7))

    def guarded(work) -> None:  # type: ignore[no-untyped-def]
        try:
            work()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(w,)) for w in (odds, scores_of_days)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(events).where(events.c.status == "final")) > 0
        assert _count(engine, snapshots_table) > 0


def test_a_reversed_partition_range_fails_saying_so(engine: Engine, sandbox: SandboxServer,
                                                    resources: dict[str, object]) -> None:
    from dagster import DagsterInstance, materialize

    reversed_range = {"dagster/asset_partition_range_start": "soccer_epl|2023-08-13",
                      "dagster/asset_partition_range_end": "soccer_epl|2023-08-11"}
    done = materialize([odds_snapshots], resources=resources, instance=DagsterInstance.ephemeral(),
                       tags=reversed_range, raise_on_error=False)
    assert not done.success
    assert "soccer_epl|2023-08-13...soccer_epl|2023-08-11 selects no partition" in _failure(done)
    assert _count(engine, snapshots_table) == 0


def test_the_collectors_own_path_logs_every_failing_rule(engine: Engine, tmp_path: Path) -> None:
    """The demo and the CLI backfill through the collector, not the normalized_odds asset: the
    rules that asset's checks run must reach the data-quality log there too."""
    from betting_assets.collection.collector import Collector
    from betting_assets.sources.odds_api import OddsApiClient
    from betting_assets_tests.defs.test_ingestion_assets import _crafted_sandbox

    with SandboxServer(_crafted_sandbox(tmp_path)) as server, OddsApiClient(server.url, "test-key") as client:
        collector = Collector(engine, client, regions=["uk", "eu"], markets=["h2h"])
        collector.backfill("soccer_epl", datetime(2023, 8, 11, 12, tzinfo=timezone.utc),
                           datetime(2023, 8, 12, 12, tzinfo=timezone.utc))
        with engine.connect() as conn:
            logged = dict(conn.execute(select(data_quality_log.c.check_name, func.count())
                                       .group_by(data_quality_log.c.check_name)).all())
        assert {"overround_range", "market_complete", "price_valid", "duplicate_key"} <= set(logged)
        collector.backfill("soccer_epl", datetime(2023, 8, 11, 12, tzinfo=timezone.utc),
                           datetime(2023, 8, 12, 12, tzinfo=timezone.utc))
        with engine.connect() as conn:                         # the same data again: nothing logged twice
            again = dict(conn.execute(select(data_quality_log.c.check_name, func.count())
                                      .group_by(data_quality_log.c.check_name)).all())
        assert again == logged


def test_a_live_answer_cut_short_is_answered_for_by_the_next_whole_one_not_kept_failing_the_day(
        engine: Engine, sandbox: SandboxServer, resources: dict[str, object]) -> None:
    """A live moment cannot be asked again: found by a season, one cut-short body at 13:50 failed
    every later odds run of its day, so the day's odds never reached normalisation."""
    live = {"ops": {"odds_snapshots": {"config": {"mode": "live"}}}}

    def run():  # type: ignore[no-untyped-def]
        return materialize([odds_snapshots, normalized_odds], resources=resources, partition_key="soccer_epl|2023-08-12",
                           instance=DagsterInstance.ephemeral(), raise_on_error=False, run_config=live)

    set_sandbox(sandbox, "clock", {"now": "2023-08-12T12:50:00Z"})
    set_sandbox(sandbox, "faults", {"partial_rate": 1.0, "only": "/odds"})
    cut = run()
    assert not cut.success and _checks(cut)["required_fields"] == (False, AssetCheckSeverity.ERROR)
    with engine.connect() as conn:   # not a call made: the odds sensor asks again while its window is open
        assert plan_store.calls_made(conn, DAY_START, DAY_END).is_empty()
    set_sandbox(sandbox, "clock", {"now": "2023-08-12T12:55:00Z"})   # the sensor asks again, five minutes on
    set_sandbox(sandbox, "faults", {})
    whole = run()
    assert whole.success and _checks(whole)["required_fields"][0], [k for k, v in _checks(whole).items() if not v[0]]
    with engine.connect() as conn:   # the re-ask is the call made; the cut-short answer is kept, marked so
        assert plan_store.calls_made(conn, DAY_START, DAY_END)["clock_at"].to_list() == [
            datetime(2023, 8, 12, 12, 55, tzinfo=timezone.utc)]
        assert conn.scalar(select(func.count()).select_from(snapshots_table)
                           .where(snapshots_table.c.complete.is_(False))) == 1
    set_sandbox(sandbox, "clock", {"now": "2023-08-12T13:00:00Z"})   # and a later cut still fails until answered
    set_sandbox(sandbox, "faults", {"partial_rate": 1.0, "only": "/odds"})
    assert _checks(run())["required_fields"] == (False, AssetCheckSeverity.ERROR)
