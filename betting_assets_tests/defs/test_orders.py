"""The place_bets job and settled_bets on a real EPL day: slips priced from the stored odds,
placed through the gate on a real Dagster instance, crashes and concurrent runs, settlement."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, build_sensor_context, materialize
from sqlalchemy import Engine, func, select, update

from betting_assets.defs.collection.assets import normalized_odds, odds_snapshots
from betting_assets.defs.orders.assets import settled_bets
from betting_assets.defs.orders.checks import results_overdue
from betting_assets.defs.orders.jobs import place_bets
from betting_assets.defs.orders.sensors import placement_sensor
from betting_assets.defs.run_keys import RUN_KEY_TAG
from betting_assets.definitions import defs
from betting_assets.defs.resources import VenueResource
from betting_assets.orders import service
from betting_assets.venues.base import Fill, OrderRequest, Venue
from betting_assets.venues.paper import PaperVenue
from betting_assets.sandbox.server import SandboxServer
from betting_assets.warehouse import ledger, queries
from betting_assets.warehouse.tables import bet_slips, events
from betting_assets_tests.defs.bind import with_settings
from betting_assets_tests.defs.conftest import DAY, NOW, set_sandbox

def _bets(engine: Engine) -> pl.DataFrame:
    with engine.connect() as conn:
        return ledger.frame(conn)


def _run(resources: dict[str, object], venue: VenueResource | None = None,
         instance: DagsterInstance | None = None):  # type: ignore[no-untyped-def]
    venue = venue or VenueResource(settings=resources["settings"])  # type: ignore[arg-type]
    return place_bets.execute_in_process(resources={**resources, "venue": venue},
                                         instance=instance or DagsterInstance.ephemeral(), raise_on_error=False)


def test_place_bets_places_each_slip_once_and_records_every_refusal(
        engine: Engine, resources: dict[str, object], priced: pl.DataFrame, tmp_path: Path) -> None:
    """Four 14:00 matches: three pass the gate; one is refused because its bookmaker's price was
    cut since it was proposed. A second run finds nothing left to do."""
    moved = priced.row(0, named=True)
    with engine.begin() as conn:  # as if proposed at a price 10 % above the one now on offer
        conn.execute(update(bet_slips).where(bet_slips.c.idempotency_key == moved["idempotency_key"])
                     .values(price=round(moved["price"] * 1.1, 2)))
    (tmp_path / "dagster").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance:   # run storage on disk
        result = _run(resources, instance=instance)
        assert result.success
        summary = result.output_for_node("record_run")
        assert summary == {"placed": priced.height - 1, "rejected": 1}
        stored = instance.get_run_by_id(result.run_id)
        assert stored is not None and stored.job_name == "place_bets" and stored.is_success
        # the refusal names the match, market, side and price, in the log and on the bets ledger asset
        match = f"{moved['home_team']} v {moved['away_team']}, {moved['commence_time']:%Y-%m-%d %H:%M} UTC"
        said = [e.message for e in instance.all_logs(result.run_id) if e.message and "price moved" in e.message]
        assert said and match in said[0] and f"{moved['market']} {moved['side']} at " in said[0]
        (ledger_event,) = [m for m in result.get_asset_materialization_events() if m.asset_key == AssetKey("bets")]
        orders = ledger_event.materialization.metadata["orders"].value
        assert f"{moved['home_team']} v {moved['away_team']}" in orders and "price moved" in orders
        assert ledger_event.materialization.metadata["rejected"].value == 1

    placed = _bets(engine)
    assert placed.height == priced.height
    refused = placed.filter(pl.col("status") == "rejected")
    assert refused["reasons"][0].startswith(f"price moved from {round(moved['price'] * 1.1, 2)} to {moved['price']}")
    ok = placed.filter(pl.col("status") == "placed")
    assert ok["price"].to_list() == ok["requested_price"].to_list() and (ok["stake"] == 20.0).all()
    assert ok["placed_at"].to_list() == [NOW] * ok.height and set(ok["broker"]) == {"paper"}
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(bet_slips.c.idempotency_key, bet_slips.c.status)).all())
    assert sorted(statuses.values()) == ["placed"] * ok.height + ["proposed"]   # a price may come back
    assert set(ok["strategy"]) == {"model_value"}

    again = _run(resources)       # the placed slips are done; the moved one is refused again, nothing placed
    assert again.success and again.output_for_node("record_run") == {"rejected": 1}
    after = _bets(engine)
    assert after.height == priced.height + 1 and after.filter(pl.col("status") == "placed").height == ok.height


def test_the_kill_file_stops_all_placement_and_every_slip_is_recorded_as_rejected(
        engine: Engine, resources: dict[str, object], priced: pl.DataFrame, home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "KILL").write_text("stop\n")
    assert _run(resources).success
    rows = _bets(engine)
    assert set(rows["status"]) == {"rejected"} and rows.height == priced.height
    assert all(r.startswith("kill switch: the kill file") for r in rows["reasons"])
    with engine.connect() as conn:   # the gate's refusal is final, as the backtest's: the decision is not executed
        assert set(queries.slips_frame(conn, None, None)["status"]) == {"rejected"}
    (home / "KILL").unlink()
    again = _run(resources)
    assert again.success and again.output_for_node("record_run") == {}
    assert _bets(engine).height == priced.height


class _CrashBeforeVenue(PaperVenue):
    """The process dies after the ledger row is committed and before the venue hears of it."""

    def __init__(self, after: int) -> None:
        self.left = after

    def place(self, order: OrderRequest) -> Fill:
        if self.left == 0:
            raise RuntimeError("simulated crash between the ledger write and the venue call")
        self.left -= 1
        return super().place(order)


class _CrashingVenueResource(VenueResource):
    after: int = 1

    def venue(self) -> Venue:
        return _CrashBeforeVenue(self.after)


def test_a_crash_between_the_ledger_write_and_the_broker_then_a_rerun_places_exactly_one_bet(
        engine: Engine, resources: dict[str, object], priced: pl.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    from betting_assets_tests.defs.test_alerts import evaluate_alerts

    hook = _Webhook()
    alerting = with_settings(resources, exchange={"alert_webhook_url": hook.url})
    instance = DagsterInstance.ephemeral()
    try:
        crashed = _run(alerting, _CrashingVenueResource(settings=alerting["settings"], after=1), instance)
        evaluate_alerts(instance, crashed.run_id, alerting)
    finally:
        hook.stop()
    assert not crashed.success
    (alert,) = hook.received                                                 # the run-failure sensor alerted once
    assert alert["job"] == "place_bets" and "simulated crash" in str(alert["error"])
    after_crash = _bets(engine)
    assert after_crash["status"].to_list() == ["placed", "pending"]          # one done, one claimed, two untouched

    rerun = _run(resources)
    assert rerun.success
    assert rerun.output_for_node("reconcile_pending") == {"placed": 1}
    assert rerun.output_for_node("record_run") == {"reconciled_placed": 1, "placed": priced.height - 2}
    final = _bets(engine)
    assert final.height == priced.height and set(final["status"]) == {"placed"}
    assert final["idempotency_key"].n_unique() == priced.height


def _concurrent(target, args: list[tuple]) -> list:  # type: ignore[no-untyped-def, type-arg]
    """Runs ``target`` once per argument tuple, all released together by a barrier."""
    barrier = threading.Barrier(len(args))
    results: list[object] = [None] * len(args)
    errors: list[BaseException] = []

    def one(index: int, call_args: tuple) -> None:  # type: ignore[type-arg]
        barrier.wait()
        try:
            results[index] = target(*call_args)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i, a)) for i, a in enumerate(args)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def _caps_held(engine: Engine, settings) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    """Every cap the gate enforces holds over the whole ledger, and every slip is either placed
    once or refused with its refusal on record: none lost, none doubled."""
    rows = _bets(engine)
    live = rows.filter(pl.col("status").is_in(["pending", "placed"]))
    bankroll = settings.bankroll
    assert live["stake"].sum() <= settings.risk.max_day_exposure * bankroll + 1e-9
    per_event = live.group_by("event_id").agg(pl.col("stake").sum())["stake"]
    assert per_event.is_empty() or per_event.max() <= settings.risk.max_event_exposure * bankroll + 1e-9
    assert (live["stake"] <= settings.risk.max_stake_fraction * bankroll + 1e-9).all()
    assert live["idempotency_key"].n_unique() == live.height
    with engine.connect() as conn:
        slips = queries.slips_frame(conn, None, None)
    placed_slips = set(live["slip_id"].to_list())
    refused_slips = set(rows.filter(pl.col("status") == "rejected")["slip_id"].to_list())
    for slip in slips.iter_rows(named=True):
        if slip["slip_id"] in placed_slips:
            assert slip["status"] == "placed"
        else:
            assert slip["status"] == "rejected" and slip["slip_id"] in refused_slips, slip
    return live


@pytest.mark.parametrize("split", ["same slips", "disjoint slips"])
def test_runs_at_once_never_exceed_a_cap_and_end_as_a_serial_order_would(
        engine: Engine, resources: dict[str, object], priced: pl.DataFrame, split: str) -> None:
    """Four slips of 20 against a day cap of 50 (5 % of 1,000): one run after another places two
    and refuses two; four runs at once, over the same slips or each over its own, must too."""
    settings = resources["settings"].get().updated(  # type: ignore[attr-defined]
        risk={"max_day_exposure": 0.05, "max_bets_per_minute": 100})
    with engine.connect() as conn:
        ids = queries.slips_frame(conn, None, None)["slip_id"].to_list()
    chosen = [ids] * 4 if split == "same slips" else [[i] for i in ids]
    outcomes = _concurrent(lambda only: service.run_placement(engine, PaperVenue(), settings, NOW, slip_ids=only),
                           [(only,) for only in chosen])
    live = _caps_held(engine, settings)
    assert live.height == 2 and sum(o.counts.get("placed", 0) for o in outcomes) == 2


def test_place_bets_jobs_at_once_hold_the_day_cap(engine: Engine, resources: dict[str, object],
                                                  priced: pl.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    capped = with_settings(resources, risk={"max_day_exposure": 0.05})
    results = _concurrent(lambda: _run(capped), [(), (), ()])
    assert all(r.success for r in results)
    live = _caps_held(engine, capped["settings"].get())
    assert live.height == 2


def test_a_negative_limit_is_refused_by_the_run_config(engine: Engine, resources: dict[str, object],
                                                       priced: pl.DataFrame) -> None:
    result = place_bets.execute_in_process(
        resources=resources, instance=DagsterInstance.ephemeral(), raise_on_error=False, run_config={"ops": {"load_slips": {"config": {"limit": -1}}}})
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "greater than or equal to 1" in str(failure.event_specific_data)
    assert _bets(engine).is_empty()
    limited = place_bets.execute_in_process(
        resources=resources, instance=DagsterInstance.ephemeral(), run_config={"ops": {"load_slips": {"config": {"limit": 1}}}})
    assert limited.success and _bets(engine).height == 1


def test_live_mode_is_refused_without_its_settings(engine: Engine, resources: dict[str, object],
                                                   priced: pl.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(with_settings(resources, exchange={"mode": "live"}))
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "BETTING_MODE=live places real money and needs a real venue" in str(failure.event_specific_data)
    result = _run(with_settings(resources, exchange={"mode": "live", "broker": "betfair"}))
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "the exchange needs BETTING_EXCHANGE_APP_KEY and BETTING_EXCHANGE_SESSION_TOKEN (or " in str(
        failure.event_specific_data)
    assert _bets(engine).is_empty()


def test_settled_bets_after_the_games(engine: Engine, resources: dict[str, object], priced: pl.DataFrame,
                                      sandbox: SandboxServer) -> None:
    assert _run(resources).success
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events).where(events.c.status == "final")).scalar() == 0
    set_sandbox(sandbox, "clock", {"now": "2023-08-13T00:00:00Z"})
    from betting_assets.defs.collection.assets import scores

    assert materialize([scores, odds_snapshots, normalized_odds], resources=resources, partition_key=DAY,
                       instance=DagsterInstance.ephemeral()).success
    done = materialize([settled_bets], resources=resources, instance=DagsterInstance.ephemeral())
    assert done.success
    rows = _bets(engine)
    assert set(rows["status"]) == {"settled"}
    with engine.connect() as conn:
        finals = queries.events_frame(conn, events.c.event_id.in_(rows["event_id"].to_list()))
    expected = rows.join(finals, on="event_id", how="left", maintain_order="left").select(
        pl.when(pl.col("home_score") > pl.col("away_score")).then(pl.col("stake") * (pl.col("price") - 1))
        .otherwise(-pl.col("stake"))).to_series()
    assert rows["profit"].to_list() == pytest.approx(expected.to_list())
    assert rows["p_close"].is_not_null().all()
    (event,) = [m for m in done.get_asset_materialization_events() if m.asset_key == AssetKey("settled_bets")]
    meta = {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
    assert meta["settled_now"] == rows.height and meta["pnl"] == pytest.approx(sum(expected), abs=0.005)
    assert meta["bankroll"] == pytest.approx(resources["settings"].get().bankroll + sum(expected), abs=0.005)
    assert "data:image/png;base64," in meta["bankroll_curve"]
    again = materialize([settled_bets], resources=resources, instance=DagsterInstance.ephemeral())
    assert again.success
    with engine.connect() as conn:
        assert len(ledger.bankroll_frame(conn)) == rows.height


def _overdue(resources: dict[str, object]) -> tuple[bool, int]:
    done = materialize([settled_bets, results_overdue], resources=resources, instance=DagsterInstance.ephemeral())
    (evaluation,) = done.get_asset_check_evaluations()
    return evaluation.passed, evaluation.metadata["overdue"].value


def test_a_result_that_never_came_fails_results_overdue_naming_the_match_once(
        engine: Engine, resources: dict[str, object], sandbox: SandboxServer) -> None:
    from betting_assets.defs.collection.assets import scores
    from betting_assets.warehouse.tables import data_quality_log

    set_sandbox(sandbox, "clock", {"now": "2023-08-13T00:00:00Z"})
    assert materialize([scores], resources=resources, partition_key=DAY, instance=DagsterInstance.ephemeral()).success
    with engine.connect() as conn:
        started = queries.started_before(conn, datetime(2023, 8, 12, 18, tzinfo=timezone.utc))
    assert started.height and set(started["status"]) == {"final"}
    assert _overdue(resources) == (True, 0)
    lost = started.row(0, named=True)
    with engine.begin() as conn:
        conn.execute(update(events).where(events.c.event_id == lost["event_id"]).values(
            status="scheduled", home_score=None, away_score=None))
    assert _overdue(resources) == (False, 1) and _overdue(resources) == (False, 1)
    with engine.connect() as conn:
        logged = conn.execute(select(data_quality_log.c.event_id, data_quality_log.c.message).where(
            data_quality_log.c.check_name == "results_overdue")).all()
    assert [row.event_id for row in logged] == [lost["event_id"]]  # once, however often it is checked
    assert f"{lost['home_team']} v {lost['away_team']}" in logged[0].message


def test_the_sensor_requests_one_run_per_slips_materialisation_and_again_when_it_failed(resources: dict[str, object]) -> None:
    with DagsterInstance.ephemeral() as instance:
        from dagster import AssetMaterialization

        instance.report_runless_asset_event(AssetMaterialization("bet_slips"))
        cursor: str | None = None

        def tick():  # type: ignore[no-untyped-def]
            nonlocal cursor
            with build_sensor_context(instance=instance, cursor=cursor) as context:
                result = placement_sensor.evaluate_tick(context)
            cursor = result.cursor
            return result.run_requests

        (request,) = tick()
        assert request.run_key.startswith("bet_slips:")
        assert not tick()   # nothing new since
        job = defs.resolve_job_def("place_bets")   # its run killed: asked again, under the next key
        instance.create_run_for_job(job_def=job, tags={RUN_KEY_TAG: request.run_key}, status=DagsterRunStatus.FAILURE)
        assert [r.run_key for r in tick()] == [f"{request.run_key}:2"]
        assert not tick()   # asked once
        instance.create_run_for_job(job_def=job, tags={RUN_KEY_TAG: f"{request.run_key}:2"},
                                    status=DagsterRunStatus.SUCCESS)
        assert not tick() and '"open": {}' in (cursor or "")


class _Webhook:
    """A real HTTP endpoint that records what alerts post: a webhook's JSON, or a Telegram bot's
    sendMessage, answered as the Bot API documents it (``{"ok": true, "result": Message}``,
    https://core.telegram.org/bots/api#sendmessage)."""

    def __init__(self) -> None:
        import json
        from http.server import BaseHTTPRequestHandler, HTTPServer

        received: list[dict[str, object]] = []
        paths: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.append(body)
                paths.append(self.path)
                if not self.path.endswith("/sendMessage"):
                    self.send_response(204)
                    self.end_headers()
                    return
                answer = json.dumps({"ok": True, "result": {"message_id": len(received), "date": 0, "chat": {
                    "id": body["chat_id"], "type": "private"}, "text": body["text"]}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.paths = paths
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alert"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()



def test_a_kill_switch_thrown_mid_batch_stops_the_rest(engine: Engine, resources: dict[str, object],
                                                       priced: pl.DataFrame, home: Path) -> None:
    settings = resources["settings"].get()  # type: ignore[attr-defined]
    limits = settings.risk
    fresh, _, _ = service.recheck_rows(service.candidate_rows(engine, settings, PaperVenue(), NOW, None), limits, NOW,
                                       service.PlacementReport())
    outcome = service.PlacementReport()

    def thrown_after_the_first_bet() -> str | None:
        if outcome.counts.get("placed"):
            settings.kill_file.parent.mkdir(parents=True, exist_ok=True)
            settings.kill_file.touch()
        return service.kill_reason(settings)

    service.gate_and_place(engine, PaperVenue(), fresh, settings, NOW, thrown_after_the_first_bet, outcome)
    assert outcome.counts == {"placed": 1, "stopped": priced.height - 1}
    with engine.connect() as conn:
        left = queries.slips_frame(conn, bet_slips.c.status == "proposed")
    assert left.height == priced.height - 1 and _bets(engine).height == 1
    settings.kill_file.unlink()
    assert _run(resources).success and set(_bets(engine)["status"]) == {"placed"}


def test_the_launchpad_risk_override_as_printed_tightens_the_gate_for_that_run(
        engine: Engine, resources: dict[str, object], priced: pl.DataFrame) -> None:
    """The job's description gives a Launchpad snippet: pasted as it is, it runs place_bets under
    its max_stake (25, above the slips' 20: nothing refused), and under a max_stake of 10 every
    slip is refused by that rule; the limits in force are on the bets materialisation."""
    import yaml

    from betting_assets.defs.orders.jobs import RISK_OVERRIDE

    assert RISK_OVERRIDE in (place_bets.description or "")
    snippet = yaml.safe_load(RISK_OVERRIDE)
    tight = yaml.safe_load(RISK_OVERRIDE.replace("max_stake: 25.0", "max_stake: 10.0"))
    venue = VenueResource(settings=resources["settings"])  # type: ignore[arg-type]
    run = place_bets.execute_in_process(resources={**resources, "venue": venue}, run_config=tight,
                                        instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert run.success and run.output_for_node("record_run") == {"rejected": priced.height}
    refused = _bets(engine)
    assert set(refused["status"]) == {"rejected"} and all("max_stake" in c for c in refused["refusal_codes"])
    (event,) = [m for m in run.get_asset_materialization_events() if m.asset_key == AssetKey("bets")]
    assert "| max_stake | 10.0 |" in event.materialization.metadata["limits_in_force"].value
    assert snippet["resources"]["settings"]["config"]["values"]["risk"]["max_stake"] == 25.0
