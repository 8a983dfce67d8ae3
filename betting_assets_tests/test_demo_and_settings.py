from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from betting_assets.domain.betting import claims
from betting_assets.domain.betting.intervals import MIN_CLUSTERS
from betting_assets.settings import Settings
from betting_assets_tests.conftest import DemoRun, run_demo_cli

REPO = Path(__file__).resolve().parents[1]


def test_secrets_never_show_in_reprs_or_public_settings() -> None:
    settings = Settings(odds_api_key="super-secret-key", database_url="postgresql://u:pw-secret@h/db",
                        celery_broker="pyamqp://betting:mq-secret@rabbitmq:5672//")
    shown = repr(settings) + json.dumps(settings.public_dict())
    assert "super-secret-key" not in shown and "pw-secret" not in shown and "mq-secret" not in shown
    assert settings.public_dict()["storage"]["celery_broker"].startswith("pyamqp://betting:***@rabbitmq")


def test_the_demo_runs_the_whole_graph_and_its_summary_matches_what_was_stored(demo_run: DemoRun) -> None:
    """Two months of the bundled EPL and Bundesliga: ingest, features, model, backtests, then
    slips on the first match day after the history, paper bets, scores, settlement."""
    from dagster import DagsterInstance, RunsFilter
    from sqlalchemy import create_engine, text

    done, figures, home = demo_run.done, demo_run.figures, demo_run.home
    assert figures["sports"] == ["soccer_epl", "soccer_germany_bundesliga"]
    assert figures["odds_rows"] > 1000 and figures["final_events"] > 10 and figures["failed_calls"] == 0
    run = figures["pipeline"]
    assert run["model"]["3way_events"] > 0
    assert 0.5 < run["model"]["3way_model_log_loss_priced"] < 1.5 and 0.5 < run["model"]["3way_market_log_loss"] < 1.5
    assert {s["strategy"] for s in run["strategies"]} == {
        "flat_home", "flat_away", "flat_favourite", "sharp_value", "arbitrage", "model_value"}
    # figures within noise never read as an edge: edges first, then noise, then losses, each with its sample
    assert run["strategies"] == sorted(run["strategies"], key=lambda s: claims.sort_key(s["strategy"], s))
    for s in run["strategies"]:
        assert s["line"] == claims.strategy_line(s) and s["reading"] == claims.strategy_reading(s)
        if s["bet_days"] >= MIN_CLUSTERS:  # the ROI interval resamples days
            assert s["roi_low"] <= s["roi"] <= s["roi_high"] and f"{s['bets']:,} bets" in s["line"]
        elif s["bets"]:
            assert s["roi_low"] is None and s["reading"] == claims.TOO_FEW
    # the headline says in plain words how the model compares with the best market reference
    model_line = run["headline"][0]
    assert "out of time" in model_line and "95% CI" in model_line and "events" in model_line
    assert any(r in model_line for r in (claims.INDISTINGUISHABLE, "better than the market beyond chance",
                                         "worse than the market beyond chance"))
    gain = run["model"]["3way_gain_vs_market"]
    assert run["model"]["3way_gain_vs_market_low"] <= gain <= run["model"]["3way_gain_vs_market_high"]
    assert run["model"]["3way_market_log_loss"] == min(
        run["model"][f"3way_market_log_loss_{m}"] for m in ("multiplicative", "power", "shin"))
    assert "What this sample shows" in done.stdout
    assert len(run["live_times"]) == 2 and run["checks_passed"] > 0          # --live-moments 2
    assert run["checks_failed"] == len(run["failed_checks"])
    assert run["slips"] == run["bets_placed"] + run["bets_rejected"]       # every slip was decided
    assert run["bets_settled"] == run["bets_placed"]                       # and every bet settled after the games

    warehouse = create_engine(f"sqlite:///{home / 'warehouse.sqlite'}")
    with warehouse.connect() as conn:
        stored = dict(conn.execute(text("select status, count(*) from bets group by status")).all())
        profit = conn.execute(text("select coalesce(sum(profit), 0) from bets")).scalar()
        last = conn.execute(text("select bankroll from bankroll_history order by entry_id desc limit 1")).scalar()
        refused = conn.execute(text("select count(distinct slip_id) from bets where status = 'rejected' and slip_id "
                                    "not in (select slip_id from bets where status != 'rejected')")).scalar()
    warehouse.dispose()
    assert stored.get("settled", 0) == run["bets_settled"] and refused == run["bets_rejected"]
    assert profit == pytest.approx(run["pnl"])
    if run["bets_settled"]:
        assert last == pytest.approx(1000.0 + run["pnl"])
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        placements = instance.get_runs(filters=RunsFilter(job_name="place_bets"))
        assert len(placements) == len(run["live_times"]) and all(r.is_success for r in placements)
        # the live odds are the collection plan's calls, each run the one the odds sensor asked for
        live = [r for r in instance.get_runs(filters=RunsFilter(job_name="collect_odds"))
                if r.tags.get("betting/stage") == "live"]
        assert len(live) == run["planned_runs"] > 0
        assert all(r.tags.get("betting/priority") and r.tags.get("betting/run_key", "").startswith("plan|")
                   for r in live)
        plans = instance.get_runs(filters=RunsFilter(job_name="plan_collection"))   # as its sensor asked
        assert plans and all(r.tags["betting/replan"] and r.tags["betting/run_key"].startswith("plan|") for r in plans)
    plan = run["plan"]
    warehouse = create_engine(f"sqlite:///{home / 'warehouse.sqlite'}")
    with warehouse.connect() as conn:
        held_calls, held_credits = conn.execute(text(
            "select count(*), coalesce(sum(credits), 0) from collection_plan where planned_at = "
            "(select max(planned_at) from collection_plan)")).one()
        before = conn.execute(text("select coalesce(sum(requests_last), 0) from fetch_log where "
                                   "coalesce(clock_at, requested_at) < :start"),
                              {"start": plan["period_start"].replace("T", " ").replace("+00:00", "")}).scalar()
    warehouse.dispose()
    assert (held_calls, held_credits) == (plan["calls_planned"], plan["credits_planned"]) and held_calls > 0
    # no BETTING_CREDIT_BUDGET: the sandbox's 100,000 credits less what earlier periods spent
    assert plan["budget"] == 100_000 - before and plan["budget_source"].startswith("the provider's remaining")
    assert "collection plan made" in done.stdout and "odds runs the sensor launched" in " ".join(done.stdout.split())
    assert "mlflow ui --backend-store-uri" in done.stdout and "football-data.co.uk" in done.stdout
    # a quiet terminal: the libraries' warnings and messages are in the log the demo names
    log = home / "demo.log"
    assert f"go to {log}" in " ".join(done.stdout.split())
    assert not done.stderr.strip(), done.stderr[:2000]
    held = log.read_text()
    assert " mlflow." in held and "py.warnings" in held
    # MLflow prints "Created version …" to stderr: into the log, or into the step's Dagster compute
    # log when the registry is written inside a step (which of the two depends on the run); never
    # onto the terminal
    assert "Created version" not in done.stdout + done.stderr


def test_the_dagster_instance_shows_what_the_demo_made(demo_run: DemoRun) -> None:
    """What the UI reads, read through Dagster's own API: every history partition materialised
    with its checks, named and tagged runs, per-partition metadata equal to the warehouse, the
    new checks evaluated and passing, and the ledger between the slips and their settlement."""
    from datetime import date

    from dagster import AssetKey, AssetRecordsFilter, DagsterEventType, DagsterInstance, EventRecordsFilter
    from sqlalchemy import create_engine, text

    from betting_assets.demo_pipeline import history_days

    home, figures = demo_run.home, demo_run.figures
    start, end = (date.fromisoformat(figures[k][:10]) for k in ("window_start", "window_end"))
    wanted = {f"{sport}|{day.isoformat()}" for sport in figures["sports"] for day in
              history_days(*(datetime.combine(d, time(0), tzinfo=timezone.utc) for d in (start, end)))}
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        for asset in ("odds_snapshots", "normalized_odds", "scores", "features"):
            assert wanted <= instance.get_materialized_partitions(AssetKey(asset)), asset
        runs = instance.get_runs()
        assert len(runs) == figures["dagster_runs_started"] > 10     # a fresh home: every run is this demo's
        assert not [r.job_name for r in runs if r.job_name.startswith("__")]       # no anonymous runs
        assert all(r.tags.get("betting/launched_by") == "demo" and r.tags.get("betting/stage") for r in runs)
        history = [r for r in runs if r.tags["betting/stage"] == "history"]
        assert {r.tags["betting/sport"] for r in history} == set(figures["sports"])
        assert all(r.tags["betting/window"] == f"{start}..{end}" for r in history)
        ledger = instance.fetch_materializations(AssetKey("bets"), limit=100).records   # one per place_bets run
        assert len(ledger) == len([r for r in runs if r.job_name == "place_bets"]) > 0

        # a sampled day: the features run covered the whole window, so its figures are the run's,
        # named so, and by_partition gives the day's own, equal to the warehouse
        sport, day = figures["sports"][0], start + (end - start) / 2
        key = f"{sport}|{day.isoformat()}"
        record = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey("features"), asset_partitions=[key]), limit=1).records[0]
        metadata = record.asset_materialization.metadata
        assert "dagster/row_count" not in metadata and "run_rows" in metadata and "run_" in metadata["scope"].value
        mine = next(r.data for r in metadata["by_partition"].records if r.data["partition"] == key)
        warehouse = create_engine(f"sqlite:///{home / 'warehouse.sqlite'}")
        with warehouse.connect() as conn:
            stored = conn.execute(text("select count(*) from features where sport_key = :s and "
                                       "date(commence_time) = :d"), {"s": sport, "d": day.isoformat()}).scalar()
        warehouse.dispose()
        assert mine["rows"] == stored

        evaluations = instance.get_event_records(EventRecordsFilter(
            event_type=DagsterEventType.ASSET_CHECK_EVALUATION), limit=2000)
        results: dict[str, list[bool]] = {}
        for record in evaluations:
            data = record.event_log_entry.dagster_event.event_specific_data
            results.setdefault(f"{data.asset_key.to_user_string()}.{data.check_name}", []).append(data.passed)
    new_checks = ["trained_model.enough_out_of_time_events", "trained_model.trees_split_or_labelled",
                  "trained_model.not_worse_than_market", "backtests.prices_on_offer", "backtests.ledger_adds_up",
                  "bet_slips.slips_within_bounds", "bet_slips.slip_prices_current", "settled_bets.final_bets_settled",
                  "settled_bets.bankroll_continuous", "settled_bets.results_overdue", "events.odds_freshness",
                  "collection_plan.credit_budget", "collection_plan.plan_followed"]
    for name in new_checks:
        assert results.get(name) and all(results[name]), (name, results.get(name))

    from betting_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    assert graph.get(AssetKey("bets")).parent_keys == {AssetKey("bet_slips")}
    assert AssetKey("bets") in graph.get(AssetKey("settled_bets")).parent_keys
    aliases = {row["aliases"] for row in figures["pipeline"]["registry"]}
    assert "champion" in aliases and len(figures["pipeline"]["registry"]) >= 2   # trained twice


@pytest.mark.timeout(900)   # 60 s in the suite, five times that on a loaded machine
def test_the_demo_runs_on_a_simulated_two_way_sport(tmp_path: Path) -> None:
    from betting_assets.sandbox.server import load_market

    start = load_market("sim:1:basketball_nba").first_time().date() + timedelta(days=6)
    _, figures = run_demo_cli(tmp_path, "--data", "sim:1:basketball_nba", "--from", start.isoformat(),
                              "--to", (start + timedelta(days=9)).isoformat(), "--trials", "3",
                              "--test-from", (start + timedelta(days=6)).isoformat(), "--live-moments", "2")
    assert figures["sports"] == ["basketball_nba"] and figures["final_events"] > 0
    run = figures["pipeline"]
    assert "2way_market_log_loss" in run["model"] and run["live_times"]
    assert run["strategies"] and all(s["strategy"] for s in run["strategies"])
    assert run["slips"] == run["bets_placed"] + run["bets_rejected"] and run["bets_settled"] == run["bets_placed"]


def test_demo_ingest_only_accepts_a_simulated_market(tmp_path: Path) -> None:
    """Without football-data files the scores come from the provider as the clock walks the
    history; every day's partitions still end up materialised through Dagster."""
    from dagster import AssetKey, DagsterInstance

    from betting_assets.sandbox.server import load_market

    start = load_market("sim:1:basketball_nba").first_time().date() + timedelta(days=6)
    end = start + timedelta(days=2)
    _, summary = run_demo_cli(tmp_path, "--data", "sim:1:basketball_nba", "--from", start.isoformat(),
                              "--to", end.isoformat(), "--ingest-only")
    assert summary["sports"] == ["basketball_nba"] and summary["odds_rows"] > 0 and summary["final_events"] > 0
    assert summary["pipeline"] == {}
    with DagsterInstance.from_config(str(tmp_path / "home" / "dagster")) as instance:
        for asset in ("odds_snapshots", "normalized_odds", "scores"):
            held = instance.get_materialized_partitions(AssetKey(asset))
            assert {f"basketball_nba|{start + timedelta(days=i)}" for i in range(3)} <= held, asset


def test_definitions_read_the_key_from_the_environment_not_from_config(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The key reaches the client through the settings, read from the environment when a run
    starts; no resource's config (what the Dagster UI shows) holds it, and none may."""
    from betting_assets.defs.resources import SettingsResource, default_resources
    from betting_assets.settings import SettingsError

    monkeypatch.setenv("BETTING_ODDS_API_KEY", "super-secret-key")
    resources = default_resources()
    shown = repr(resources) + json.dumps({k: r._get_non_default_public_field_values()  # type: ignore[attr-defined]
                                          for k, r in resources.items()}, default=str)
    assert "super-secret-key" not in shown
    client = resources["odds_api"].client()
    assert client._key.get_secret_value() == "super-secret-key"  # type: ignore[attr-defined]
    with pytest.raises(SettingsError, match="set BETTING_ODDS_API_KEY in the environment"):
        SettingsResource(values={"collection": {"odds_api_key": "pasted"}}).get()
    from betting_assets.definitions import defs

    assert defs.get_repository_def() is not None


def test_dagster_yaml_puts_the_instance_on_postgres(tmp_path: Path, pg_admin) -> None:  # type: ignore[no-untyped-def]
    from dagster import DagsterInstance
    from sqlalchemy.engine import make_url

    from betting_assets_tests.conftest import PG_ADMIN_URL

    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    url = make_url(PG_ADMIN_URL).render_as_string(hide_password=False)
    old = os.environ.get("DAGSTER_PG_URL")
    os.environ["DAGSTER_PG_URL"] = url
    try:
        with DagsterInstance.from_config(str(tmp_path)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    finally:
        if old is None:
            os.environ.pop("DAGSTER_PG_URL", None)
        else:
            os.environ["DAGSTER_PG_URL"] = old


@pytest.mark.long(minutes=2.5)
@pytest.mark.timeout(1500)
def test_the_exchange_demo_maps_real_names_places_settles_and_reconciles_the_account(tmp_path: Path) -> None:
    """The README's ``betting demo --broker betfair``: The Odds API's team names mapped onto
    Betfair's by what both publish (the match Betfair lists twice refused), bets placed on the
    sandbox's exchange, settled by its cleared orders with commission per market, and the
    account's movement equal to the ledger's to the penny at every check."""
    from sqlalchemy import create_engine, text

    _, figures = run_demo_cli(tmp_path, "--broker", "betfair", "--from", "2023-08-10", "--to", "2023-10-10",
                              "--trials", "3", "--live-moments", "2")
    run = figures["pipeline"]
    assert run["broker"] == "betfair" and run["exchange_mapped"] >= 18 and run["exchange_unmapped"] == 1
    assert run["bets_placed"] > 0 and run["bets_settled"] == run["bets_placed"] and run["commission"] > 0
    assert "0 disagreeing" in run["account"]
    warehouse = create_engine(f"sqlite:///{tmp_path / 'home' / 'warehouse.sqlite'}")
    with warehouse.connect() as conn:
        unmapped = conn.execute(text("SELECT message FROM data_quality_log WHERE check_name = 'exchange_mapping'")
                                ).scalars().all()
        checks = conn.execute(text("SELECT wallet_moved, ledger_moved, difference FROM account_checks")).all()
        learned = conn.execute(text("SELECT count(*) FROM exchange_markets WHERE method = 'learned'")).scalar_one()
    warehouse.dispose()
    assert unmapped and all(m.startswith("Bournemouth v ") for m in unmapped)
    assert len(checks) >= 2 and all(d is None or abs(d) < 0.005 for _, _, d in checks)
    assert any(w is not None and w != 0 for w, _, _ in checks)       # a check saw money move, and agreed
    assert learned > 0                                                 # names the alias table never held


def test_the_report_judges_what_the_demo_did_over_its_live_day(demo_run: DemoRun) -> None:
    """``betting report`` over the demo's live day, read back from its warehouse and instance: the
    figures agree with the demo's own, the promises it kept are said kept, and the ones a demo
    does not keep (it stops after its live moments, so the plan's later calls are never made)
    are said broken, with exit 1."""
    import json
    import subprocess
    import sys

    run = demo_run.figures["pipeline"]
    day = datetime.fromisoformat(run["live_times"][0]).date()
    env = {**os.environ, "BETTING_HOME": str(demo_run.home), "DAGSTER_HOME": str(demo_run.home / "dagster")}
    env.pop("BETTING_SPORTS", None)
    done = subprocess.run([sys.executable, "-m", "betting_assets.cli", "report", "--from", day.isoformat(), "--to",
                           (day + timedelta(days=1)).isoformat(), "--at", (day + timedelta(days=2)).isoformat(),
                           "--json"], env=env, capture_output=True, text=True, timeout=300)
    found = json.loads(done.stdout)
    lines = {line["what"]: line for line in found["lines"]}
    assert lines["bets settled"]["ok"] and lines["bets settled"]["value"] == f"{run['bets_settled']} of {run['bets_settled']}"
    assert lines["settled P&L"]["value"] == f"{run['pnl']:+,.2f}"
    assert lines["bankroll continuous"]["ok"] and lines["slips still proposed"]["ok"]
    assert lines["failed runs"]["ok"] and lines["with their result"]["ok"]
    billed = lines["credits as billed (x-requests-used)"]
    assert billed["ok"] and f"counted from answers {billed['value']}," in billed["detail"]   # no fault: billed = counted
    assert not lines["planned calls made"]["ok"] and not found["ok"] and done.returncode == 1
    assert found["weeks"] and all(w["odds_rows"] >= 0 for w in found["weeks"])


def test_make_dev_after_the_demo_goes_on_at_the_demos_clock(demo_run: DemoRun) -> None:
    """The demo leaves the sandbox's account where make dev's sandbox reads it (``--state``): a
    sandbox started from it stands at the demo's last clock, after its live days, with the credits
    the demo used, not at the data's first day (from where the plan sensor would plan backwards)."""
    from betting_assets.sandbox.server import SandboxState, load_market
    from betting_assets.domain.timeutil import parse_utc
    from betting_assets_tests.conftest import BUNDLED

    kept = demo_run.home / "sandbox.json"
    account = json.loads(kept.read_text())
    last_live = max(parse_utc(t) for t in demo_run.figures["pipeline"]["live_times"])
    market = load_market(str(BUNDLED))
    resumed = SandboxState(market, keep=kept)
    assert resumed.now == parse_utc(account["now"]) and resumed.now > last_live > market.first_time()
    assert resumed.used == account["used"] > 0
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert "--state $(BETTING_HOME)/sandbox.json" in makefile and "BETTING_HOME ?=" in makefile
