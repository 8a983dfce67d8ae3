"""The demo through Dagster on the project's instance, as the product's own named jobs: the
history as single-run backfills, then features → two trainings → backtests → odds, slips and
paper bets on live match days → the clock moves past the games → scores → settlement. The
Dagster UI then shows exactly what the demo made."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from betting_assets import tls
from betting_assets.run_origin import from_code_location
from betting_assets.sandbox.server import SandboxServer, SandboxState
from betting_assets.settings import SANDBOX_API_KEY, Settings
from betting_assets.domain.orders.states import BetStatus, MATCHED

DECISION_LEAD = timedelta(minutes=40)
EARLY_LOOK = timedelta(minutes=90)
"""the clock is set this long before a live kick-off, the plan's odds calls made from then on"""
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
DEMO_TAG = "betting/launched_by"
SCORES_STRIDE = 2
"""days of history per scores run when the clock walks: the provider's scores reach three days back"""


class DemoStageFailed(RuntimeError):
    pass


@dataclass
class PipelineFigures:
    checks_passed: int = 0
    checks_failed: int = 0
    failed_checks: list[str] = field(default_factory=list)
    model: dict[str, float] = field(default_factory=dict)
    headline: list[str] = field(default_factory=list)
    """what is true on the demo's sample, in plain words: the model against the market, the strategies"""
    strategies: list[dict[str, Any]] = field(default_factory=list)
    live_times: list[str] = field(default_factory=list)
    slips: int = 0
    bets_placed: int = 0
    bets_rejected: int = 0
    bets_settled: int = 0
    pnl: float = 0.0
    roi: float | None = None
    roi_low: float | None = None
    roi_high: float | None = None
    mean_clv: float | None = None
    clv_low: float | None = None
    clv_high: float | None = None
    dagster_home: str = ""
    registry: list[dict[str, str]] = field(default_factory=list)
    """every registered version with its alias, as the gate left them"""
    exchange_mapped: int = 0
    """upcoming events mapped to the sandbox exchange's markets at the last live moment"""
    exchange_unmapped: int = 0
    broker: str = "paper"
    outcomes: dict[str, int] = field(default_factory=dict)
    """ledger rows by what happened: placed, partly matched, lapsed, refused by its reason"""
    commission: float = 0.0
    account: str | None = None
    """the exchange account's last reconciliation with the ledger"""
    plan: dict[str, Any] = field(default_factory=dict)
    """the collection plan made at the last live moment: calls, credits, budget, shares"""
    planned_runs: int = 0
    """odds runs the odds sensor requested from the plan over the live moments"""


def _instance(settings: Settings):  # type: ignore[no-untyped-def]
    """The project's Dagster instance (``DAGSTER_HOME``, else ``dagster`` under the home), so the
    UI opened on it shows the demo's runs."""
    from dagster import DagsterInstance

    from betting_assets.dagster_home import ensure_pool, home_of, prepare

    prepare(Path(os.environ.setdefault("DAGSTER_HOME", str(home_of(settings)))))
    instance = DagsterInstance.get()
    ensure_pool(instance)
    return instance


class DemoRunner:
    """Runs the product's own jobs (``definitions.build_defs``) on the project's instance, bound
    to the demo's sandbox, each tagged with its stage, sport and window, so the Dagster UI lists
    named runs and shows every partition the demo covered as materialised."""

    def __init__(self, settings: Settings, values: dict[str, Any], server: SandboxServer, start: datetime,
                 end: datetime, launcher: str = "demo", instance: Any = None) -> None:
        """``values``: the settings resource's, on top of the environment (the market's sports);
        ``instance``: the Dagster instance the runs go to (the project's when not given)."""
        from betting_assets.defs.resources import ClockResource, OddsApiResource, SettingsResource, VenueResource
        from betting_assets.definitions import build_defs
        from betting_assets.sandbox.exchange import DEFAULT_APP_KEY, DEFAULT_SESSION

        resource = SettingsResource(values=values)
        venue = VenueResource(settings=resource, base_url=server.url, app_key=DEFAULT_APP_KEY,
                              session_token=DEFAULT_SESSION)
        from betting_assets.defs.resources import default_resources

        given = {
            "settings": resource,
            "venue": venue,
            "odds_api": OddsApiResource(settings=resource, base_url=server.url, api_key=SANDBOX_API_KEY),
            "clock": ClockResource(settings=resource, source="provider", base_url=server.url),
        }
        self.defs = build_defs(given)
        self.resources = default_resources(**given)
        self.cursors: dict[str, str | None] = {}
        self.instance = instance if instance is not None else _instance(settings)
        self.server = server
        self.window = f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"
        self.results: list[Any] = []
        self.launcher = launcher

    def run(self, job_name: str, stage: str, *, sport: str | None = None, days: list[date] | None = None,
            partition_key: str | None = None, run_config: dict[str, Any] | None = None,
            tags: dict[str, str] | None = None) -> Any:
        """One run of ``job_name``; ``days`` of ``sport`` make it a single-run backfill of that range."""
        from betting_assets.defs.partitions import partition_key as key_of

        tags = {**(tags or {}), DEMO_TAG: self.launcher, "betting/stage": stage, "betting/window": self.window}
        if sport:
            tags["betting/sport"] = sport
        if days and sport:
            tags.update({"dagster/asset_partition_range_start": str(key_of(sport, days[0])),
                         "dagster/asset_partition_range_end": str(key_of(sport, days[-1]))})
        job = self.defs.resolve_job_def(job_name)
        with from_code_location(self.instance):
            result = job.execute_in_process(run_config={**(run_config or {}), **QUIET}, instance=self.instance,
                                            partition_key=partition_key, tags=tags, raise_on_error=False)
        if not result.success:
            from betting_assets.defs.run_errors import root_cause

            failure = next((e for e in result.all_events if e.event_type_value == "STEP_FAILURE"), None)
            error = failure.event_specific_data.error if failure else None
            raise DemoStageFailed(f"{job_name} ({stage}) failed in run {result.run_id}: "
                                  f"{root_cause(error) if error else 'see the run in the Dagster UI'}")
        self.results.append(result)
        return result

    def set_clock(self, when: datetime) -> None:
        _set_clock(self.server, when)

    def tick(self, sensor: Any) -> list[Any]:
        return tick(sensor, self.instance, self.resources, self.cursors)


def tick(sensor: Any, instance: Any, resources: dict[str, Any], cursors: dict[str, str | None]) -> list[Any]:
    """One evaluation of ``sensor`` on ``instance``, as the daemon would tick it, its cursor kept
    in ``cursors`` between ticks: the run requests it makes (none when it skips)."""
    from dagster import RunRequest, SensorResult, build_sensor_context

    with build_sensor_context(instance=instance, cursor=cursors.get(sensor.name), resources=resources) as context:
        result = sensor(context)
        answers = list(result) if hasattr(result, "__next__") else [result]   # an asset sensor yields
        cursor = context.cursor
    if len(answers) == 1 and isinstance(answers[0], SensorResult):
        cursors[sensor.name] = answers[0].cursor or cursors.get(sensor.name)
        return list(answers[0].run_requests or [])
    cursors[sensor.name] = cursor   # an asset sensor moves its own cursor past the event it answered
    return [a for a in answers if isinstance(a, RunRequest)]


def history_days(start: datetime, end: datetime) -> list[date]:
    return [(start + timedelta(days=i)).date() for i in range((end - start).days + 1)]


def ingest_history(runner: DemoRunner, sports: list[str], start: datetime, end: datetime, clock_after: datetime,
                   results_from_files: bool, step: Callable[[str], None]) -> None:
    """The history as the product backfills it: one single-run backfill per sport of odds,
    normalised odds and scores. Results older than the provider's three-day scores window come
    from the football-data files when the sandbox serves them; otherwise the clock walks the
    history two days at a time and the scores endpoint is asked, as a live deployment would
    have asked it."""
    days = history_days(start, end)
    runner.set_clock(clock_after)
    for sport in sports:
        step(f"history: {sport}, {len(days)} days in one run (odds, normalised odds"
             + (", scores)" if results_from_files else ")"))
        runner.run("ingest_history" if results_from_files else "collect_odds", "history", sport=sport, days=days)
    if not results_from_files:
        step(f"scores: the clock walks {len(days)} days, two at a time")
        walk_scores(runner, sports, days, "history")
        runner.set_clock(clock_after)


def walk_scores(runner: DemoRunner, sports: list[str], days: list[date], stage: str) -> None:
    """Results of ``days`` through the scores endpoint, which reaches three days back: the clock
    walks them two at a time, a run per sport each step."""
    for first in range(0, len(days), SCORES_STRIDE):
        chunk = days[first:first + SCORES_STRIDE]
        runner.set_clock(datetime.combine(chunk[-1], time(12), tzinfo=timezone.utc) + timedelta(days=1))
        for sport in sports:
            runner.run("collect_scores", stage, sport=sport, days=chunk)


def run_pipeline(settings: Settings, engine: Engine, runner: DemoRunner, state: SandboxState, sports: list[str],
                 start: datetime, end: datetime, step: Callable[[str], None], trials: int = 10,
                 test_from: datetime | None = None, live_moments: int = 4,
                 results_from_files: bool = True) -> PipelineFigures:
    """``start``..``end`` is the ingested history, of which the model is trained on what comes
    before ``test_from`` (the last third when not given; a season's start to hold out a season);
    the live moments come after it."""
    figures = PipelineFigures(dagster_home=os.environ["DAGSTER_HOME"], broker=settings.exchange.broker.value)
    days = history_days(start, end)
    for sport in sports:
        step(f"features: {sport}, {len(days)} days in one run")
        runner.run("build_features", "features", sport=sport, days=days)
    test_from = test_from or default_test_from(start, end)
    cuts = [test_from]
    earlier = test_from - (test_from - start) / 4
    if _trainable_before(settings, engine, earlier):
        cuts.insert(0, earlier)      # a first version to be the champion the later one is gated against
    else:
        step(f"one training only: too few finished events before {earlier:%Y-%m-%d} for an earlier cut")
    for cut in cuts:
        step(f"train and register: {trials} Optuna trials, out of time from {cut:%Y-%m-%d}")
        runner.run("train_model", "training", run_config={"ops": {"trained_model": {"config": {
            "n_trials": trials, "test_from": cut.date().isoformat()}}}})
    figures.model, model_lines = _champion_metrics(settings)
    figures.registry = _registry(settings)
    step("backtests of every strategy over the out-of-time window")
    done = runner.run("run_backtests", "backtests", run_config={"ops": {"backtests": {"config": {
        "start": test_from.date().isoformat(), "end": end.date().isoformat()}}}})
    figures.strategies = _strategies(settings, done.run_id)
    figures.headline = model_lines + _strategy_headline(figures.strategies)

    # after the clock the history was collected at (its end and three days for the scores window),
    # so the live games are still to be played when the clock comes to them
    moments = _live_kick_offs(state, sports, max(end, state.now), most=live_moments)
    if not moments:
        step("no match in the week after the history: no live day to bet on")
    from betting_assets.defs.collection.sensors import collection_plan_sensor

    if moments:
        rewind_plan(engine, moments[0] - EARLY_LOOK, step)
    previous = datetime.min.replace(tzinfo=timezone.utc)
    for kick_off in moments:
        now = kick_off - DECISION_LEAD
        look = max(kick_off - EARLY_LOOK, previous)    # the clock never goes back
        previous = now
        runner.set_clock(look)
        # the plan made again when the product's sensor asks: the first time, and when the fixture
        # list the warehouse holds (the last discovery's) has changed or a day has begun
        for request in runner.tick(collection_plan_sensor):
            runner.run("plan_collection", "plan", tags={**request.tags, "betting/run_key": request.run_key})
            figures.plan = _plan_figures(runner.results[-1])
        where = f"{settings.exchange.broker} bets"
        made = follow_plan_between(runner, engine, sports, look, now)
        figures.planned_runs += len(made)
        step(f"live {now:%a %Y-%m-%d}: from {look:%H:%M} the collection plan's odds calls at "
             f"{', '.join(sorted({f'{m:%H:%M}' for m in made})) or 'none'}, slips and {where} for {kick_off:%H:%M} UTC")
        runner.set_clock(now)
        runner.run("discover_events", "live")   # the fixture list, and odds_freshness judged after the fetches
        runner.run("map_exchange_markets", "exchange")   # which of them the sandbox's exchange lists, and where
        runner.run("propose_bets", "slips")
        runner.run("place_bets", "placement")
        figures.live_times.append(now.isoformat())
    if moments:
        after = moments[-1] + timedelta(days=1)
        # every game since the history's scores, the live ones among them: from the files where
        # they serve the sandbox, else from the scores endpoint as the clock walks
        days = history_days(datetime.combine(end.date(), time(0), tzinfo=timezone.utc), moments[-1])
        step(f"clock moved to {after:%Y-%m-%d %H:%M} UTC: scores of {days[0]}..{days[-1]}, then settlement")
        if results_from_files:
            runner.set_clock(after)
            for sport in sports:
                runner.run("collect_scores", "live", sport=sport, days=days)
        else:
            walk_scores(runner, sports, days, "live")
            runner.set_clock(after)
        runner.run("settle_bets", "settlement")
    figures.checks_passed, figures.failed_checks = _checks(runner.results)
    figures.checks_failed = len(figures.failed_checks)
    _bet_figures(engine, figures)
    return figures


def rewind_plan(engine: Engine, start: datetime, step: Callable[[str], None]) -> None:
    """The demo run again on its home plays the same days again, so it takes its clock back on
    purpose: the calls an earlier demo planned from a later clock are dropped, which the
    product's plan would otherwise refuse to be made under (``clock_went_back``)."""
    from betting_assets.warehouse import plan as plan_store

    with engine.begin() as conn:
        last = plan_store.last_planned(conn)
        dropped = plan_store.forget_planned_after(conn, start) if last is not None and last > start else 0
    if dropped:
        step(f"the clock goes back to {start:%Y-%m-%d %H:%M} UTC: {dropped} calls an earlier demo planned "
             f"from as late as {last:%Y-%m-%d %H:%M} are dropped")


def follow_plan_between(runner: DemoRunner, engine: Engine, sports: list[str], start: datetime,
                        end: datetime) -> list[datetime]:
    """The odds sensor ticked at every planned odds call's time in [start, end], each run it
    requests launched as the daemon would launch it: the times of the calls made."""
    from betting_assets.defs.collection.sensors import odds_fetch_sensor
    from betting_assets.warehouse import plan as plan_store

    with engine.connect() as conn:
        planned = plan_store.plan_frame(conn, start, end + timedelta(seconds=1), sports)
    made = []
    for moment in sorted(set(planned.filter(planned["endpoint"] != "scores")["at"].to_list())):
        runner.set_clock(moment)
        for request in runner.tick(odds_fetch_sensor):
            runner.run("collect_odds", "live", partition_key=str(request.partition_key), run_config=request.run_config,
                       tags={**request.tags, "betting/run_key": request.run_key})
            made.append(moment)
    return made


def _plan_figures(result: Any) -> dict[str, Any]:
    """What the plan run recorded on its materialisation: calls and credits over the plan's days,
    the budget and the shares of events each priority covers."""
    from dagster import FloatMetadataValue, IntMetadataValue, TextMetadataValue

    event = next(e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION")
    kept = {}
    for key, value in event.event_specific_data.materialization.metadata.items():
        if isinstance(value, (IntMetadataValue, FloatMetadataValue, TextMetadataValue)):
            kept[key.removeprefix("run_")] = value.value
    return kept


def _trainable_before(settings: Settings, engine: Engine, cut: datetime) -> bool:
    import polars as pl

    from betting_assets.modelling.pipeline import warehouse_training_frame
    from betting_assets.modelling.train import min_events

    frame = warehouse_training_frame(engine, settings.collection.sports, settings.model.decision_hours, None)
    before = frame.filter(pl.col("commence_time") < cut)
    return all(before.filter(pl.col("three_way") == kind)["event_id"].n_unique() >= min_events(settings.model.folds)
               for kind in frame["three_way"].unique().to_list()) if before.height else False


def default_test_from(start: datetime, end: datetime) -> datetime:
    return start + (end - start) * 2 / 3


def _set_clock(server: SandboxServer, when: datetime) -> None:
    httpx.post(f"{server.url}/sandbox/clock", json={"now": when.isoformat()},
               headers={"x-api-key": server.state.api_key or ""}, verify=tls.context()).raise_for_status()


def _live_kick_offs(state: SandboxState, sports: list[str], after: datetime, most: int = 4,
                    least_games: int = 3) -> list[datetime]:
    """The busiest kick-off times (``least_games`` or more) over the first three days of games
    that start a day or more after the history (so their odds are not stored yet): the moments
    the slips sensor would act on."""
    counts: dict[datetime, int] = {}
    for sport in sports:
        for event in state.market.events(sport, after + timedelta(days=1)):
            when = datetime.fromisoformat(event["commence_time"].replace("Z", "+00:00"))
            counts[when] = counts.get(when, 0) + 1
    if not counts:
        return []
    first = min(counts)
    window = {t: n for t, n in counts.items() if t < first + timedelta(days=3)}
    busy = [t for t in sorted(window) if window[t] >= least_games] or [max(sorted(window), key=window.__getitem__)]
    return busy[:most]


def _checks(results: list[Any]) -> tuple[int, list[str]]:
    """Checks passed, and the failed ones as ``asset.check`` (one entry per evaluation)."""
    passed, failed = 0, []
    for result in results:
        for event in result.all_events:
            if event.event_type_value == "ASSET_CHECK_EVALUATION":
                evaluation = event.event_specific_data
                if evaluation.passed:
                    passed += 1
                else:
                    failed.append(f"{evaluation.asset_key.to_user_string()}.{evaluation.check_name}")
    return passed, failed


MODEL_FIGURES = ("oot_events", "oot_model_log_loss_priced", "oot_market_log_loss", "oot_market_events",
                 "oot_gain_vs_market", "oot_gain_vs_market_low", "oot_gain_vs_market_high", "oot_log_loss",
                 "oot_market_log_loss_multiplicative", "oot_market_log_loss_power", "oot_market_log_loss_shin",
                 "split_trees", "total_gain")


def _champion_metrics(settings: Settings) -> tuple[dict[str, float], list[str]]:
    """The champions' out-of-time figures, and a headline line each in the words MLflow keeps."""
    from betting_assets.domain.betting import claims
    from betting_assets.modelling.registry import Tracker

    tracker = Tracker(settings.tracking_uri, settings.artifact_root)
    out: dict[str, float] = {}
    lines = []
    for ref, metrics, tags in tracker.champions():
        kind = ref.name.rsplit("_", 1)[-1]
        for key in MODEL_FIGURES:
            if key in metrics:
                out[f"{kind}_{key.removeprefix('oot_')}"] = metrics[key]
        out[f"{kind}_champion_version"] = float(ref.version)
        line = f"{ref.name} v{ref.version}, out of time: {tags.get('betting/vs_market', 'no market comparison')}"
        if tags.get("betting/prior_only") == "true":
            line += f". Trained on {tags.get('betting/train_events', '?')} events, {claims.PRIOR_ALONE}"
        lines.append(line + ".")
    return out, lines


def _registry(settings: Settings) -> list[dict[str, str]]:
    """Every version of the registered models, with the aliases the gate gave them."""
    from betting_assets.modelling.registry import MODEL_NAMES, Tracker

    client = Tracker(settings.tracking_uri, settings.artifact_root).client
    rows = []
    for name in MODEL_NAMES:
        found = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
        for version in (client.get_model_version(name, str(n)) for n in found):   # search leaves aliases out
            rows.append({"name": name, "version": str(version.version), "aliases": ",".join(sorted(version.aliases)),
                         "gate": version.tags.get("gate_reason", "")})
    return rows


def _strategies(settings: Settings, run_id: str) -> list[dict[str, Any]]:
    from betting_assets.betting.report import ordered
    from betting_assets.domain.betting import metrics as betting_metrics, claims
    from betting_assets.domain.betting.backtest_export import from_json

    path = settings.home_dir / "backtests" / run_id / "result.json"
    result = from_json(path.read_text(encoding="utf-8"))
    keep = ["bets", "profit", "roi", "clv", "clv_bets", "hit_rate", *betting_metrics.INTERVAL_NAMES]
    return [{"strategy": s.name, **{k: s.metrics.get(k) for k in keep}, "reading": claims.strategy_reading(s.metrics),
             "line": claims.strategy_line(s.metrics)} for s in ordered(result)]


def _strategy_headline(strategies: list[dict[str, Any]]) -> list[str]:
    from betting_assets.domain.betting import claims
    if not strategies:
        return ["No strategy was backtested."]
    edges = [s["strategy"] for s in strategies if s["reading"] == claims.EDGE]
    if edges:
        head = f"ROI above zero beyond chance over the out-of-time window: {', '.join(edges)}."
    else:
        head = "No strategy's ROI is above zero beyond chance over the out-of-time window."
    return [head, *(f"{s['strategy']}: {s['line']}" for s in strategies)]


def _bet_figures(engine: Engine, figures: PipelineFigures) -> None:
    from betting_assets.orders.settle import summary
    from betting_assets.warehouse import health, ledger, queries

    with engine.connect() as conn:
        figures.slips = queries.slip_count(conn)
        figures.exchange_mapped, figures.exchange_unmapped = queries.exchange_mapping_counts(conn)
        bets = ledger.frame(conn)
        checked = health.last_account_check(conn)
    if checked is not None:
        figures.account = (f"{checked['checks']} checks, {checked['off']} disagreeing; last: "
                           + ("the anchor" if checked["difference"] is None else
                              f"account {checked['wallet_moved']:+,.2f}, ledger {checked['ledger_moved']:+,.2f}"))
    figures.bets_placed = bets.filter(bets["status"].is_in(sorted(MATCHED))).height
    placed_slips = bets.filter(bets["status"] != BetStatus.REJECTED)["slip_id"]
    figures.bets_rejected = bets.filter((bets["status"] == BetStatus.REJECTED) & ~bets["slip_id"].is_in(placed_slips.implode())
                                        )["slip_id"].n_unique()   # slips refused every time asked, not refusals
    done = summary(bets)
    figures.outcomes = outcome_counts(bets)
    figures.commission = float(done["commission"] or 0.0)
    figures.bets_settled = int(done["settled_bets"] or 0)
    figures.pnl = float(done["profit"] or 0.0)
    figures.roi = done["roi"]  # type: ignore[assignment]
    figures.mean_clv = done["mean_clv"]  # type: ignore[assignment]
    for key in ("roi_low", "roi_high", "clv_low", "clv_high"):
        setattr(figures, key, done[key])


def outcome_counts(bets: Any) -> dict[str, int]:
    """Ledger rows by what happened to them: placed in full or in part, lapsed, or refused, by
    each rule that refused it (its code)."""
    counts: dict[str, int] = {}
    for status, reasons, codes in bets.select("status", "reasons", "refusal_codes").iter_rows():
        if status in MATCHED:
            keys = ["placed, partly matched" if "partly matched" in (reasons or "") else "placed"]
        elif status == BetStatus.REJECTED:
            keys = [f"refused: {code}" for code in (codes or "unknown").split(",")]
        else:
            keys = [status]
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
    return counts
