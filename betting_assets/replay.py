"""``betting replay``: the live loop forward-tested over a past window, through the product's own
jobs and sensors on the sandbox, so its bets can be held to ``backtest run --live`` bet for bet.

The sandbox serves the data as it stood at each moment. History before the window is ingested
as the README's backfill does (odds, normalised odds, scores), its features built and, when a
live strategy reads the model and the registry has no champion, a model trained on it. Then the
clock steps through every moment the live loop acts at, in order, and at each the product's
sensors are ticked as the daemon would tick them and every run they ask for is launched:

- at each UTC midnight: ``discover_events`` (the fixture list), then ``collection_plan_sensor``;
- at each call the collection plan holds: ``odds_fetch_sensor`` and ``scores_sensor``;
- after scores: ``settlement_sensor`` (``settle_bets``);
- at each event's decision time: ``slips_sensor`` (``propose_bets``), then ``placement_sensor``
  (``place_bets``).

Results come in when the plan's scores poll for each kick-off slot lands, 150 minutes after it,
when the backtest books them too. The window is the events kicking off in [from, to): an event
whose decision time and kick-off fall on both sides of a boundary is refused, as its decision
would lie outside the window.

A replay is kept apart from the project's live state, in a folder of its own under the home
(``replays/<from>_<to>``, replaced when the same window is replayed again): its warehouse (or an
empty one named by ``database_url``), and an MLflow registry holding the model it trains on the
history before the window. The registry's champion of the day cannot stand in for it: it was
trained on matches the window holds, so its forecasts would know the results. Its Dagster runs
go to an in-memory instance: they are a simulation, and on the project's instance they would
mix past-dated materialisations into the live history the UI shows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine

from betting_assets.betting import parity
from betting_assets.domain.betting import metrics
from betting_assets.domain.betting.backtest import BACKTEST_BETS_SCHEMA, BacktestResult, StrategyResult
from betting_assets.settings import SANDBOX_API_KEY, Settings, mask_url

HISTORY = timedelta(days=60)
"""history before the window: team ratings and form, and the model's training"""
LEAD_IN = timedelta(days=7)
"""odds ingested before the history's features: a match's first quotes come days before it"""
REPLAY_TAG = "replay"


class ReplayRefused(ValueError):
    """The window cannot be replayed as asked (a boundary splits an event's decision from its kick-off)."""


@dataclass
class ReplayOutcome:
    bets: pl.DataFrame
    """every bet placed, in ``parity``'s shape"""
    result: BacktestResult
    """the same figures as ``backtest run --live`` gives"""
    moments: int = 0
    runs: int = 0
    runs_by_job: dict[str, int] = field(default_factory=dict)
    trained: bool = False
    folder: Path | None = None
    """where the replay is kept: its warehouse (unless another was named), registry and bets"""
    warehouse: str = ""
    """the warehouse's URL, its password masked"""
    registry: str = ""
    """the MLflow tracking URI of the registry holding the model it trained"""


def replay_folder(settings: Settings, start: datetime, end: datetime) -> Path:
    return settings.home_dir / "replays" / f"{start:%Y-%m-%d}_{end:%Y-%m-%d}"


@contextmanager
def set_environment(values: dict[str, str]) -> Iterator[None]:
    """The replay's warehouse, registry and sports, for the settings every resource reads from
    the environment (a warehouse URL may hold a password, so it never goes in a resource's
    config); the process's own put back after."""
    from betting_assets.settings import get_settings

    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


def empty_warehouse(engine: Engine, url: str) -> None:
    from sqlalchemy import func, select

    from betting_assets.warehouse.tables import bet_slips, events

    with engine.connect() as conn:
        held = conn.execute(select(func.count()).select_from(events)).scalar_one()
        held += conn.execute(select(func.count()).select_from(bet_slips)).scalar_one()
    if held:
        raise ReplayRefused(f"--database-url {mask_url(url)} holds {held:,} events and slips: a replay needs an "
                            "empty warehouse of its own, so nothing live is mixed into it or changed")


def window_events(market: Any, sports: list[str], start: datetime, end: datetime, lead: timedelta) -> list[datetime]:
    """The kick-offs in [start, end); refused when an event's decision and kick-off straddle a
    boundary."""
    kicks = []
    for sport in sports:
        for event in market.events(sport, start - timedelta(days=2)):
            kick = datetime.fromisoformat(event["commence_time"].replace("Z", "+00:00"))
            for edge in (start, end):
                if kick - lead < edge <= kick:
                    raise ReplayRefused(f"{event['home_team']} v {event['away_team']} kicks off at "
                                        f"{kick:%Y-%m-%d %H:%M} UTC, its decision at {kick - lead:%H:%M}: move "
                                        f"--from/--to so no decision and kick-off fall on both sides of one")
            if start <= kick < end:
                kicks.append(kick)
    return sorted(kicks)


def run_replay(settings: Settings, data: str, start: datetime, end: datetime, *, trials: int = 5,
               history: timedelta = HISTORY, database_url: str | None = None,
               step: Callable[[str], None] = lambda _: None) -> ReplayOutcome:
    """``database_url``: an empty warehouse to replay into (PostgreSQL, say) instead of the
    replay folder's SQLite file."""
    from betting_assets.sandbox.server import load_market

    market = load_market(data)
    sports = [s["key"] for s in market.sports()]
    lead = timedelta(hours=settings.model.decision_hours)
    kicks = window_events(market, sports, start, end, lead)
    if not kicks:
        raise ReplayRefused(f"no event kicks off in {start:%Y-%m-%d}..{end:%Y-%m-%d} in {data}")
    folder = replay_folder(settings, start, end)
    if folder.exists():
        step(f"replacing the earlier replay of this window in {folder}")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    url = database_url or f"sqlite:///{folder / 'warehouse.sqlite'}"
    registry = f"sqlite:///{folder / 'mlflow.sqlite'}"
    environment = {"BETTING_DATABASE_URL": url, "BETTING_MLFLOW_TRACKING_URI": registry,
                   "BETTING_MLFLOW_ARTIFACT_ROOT": (folder / "mlartifacts").as_uri(),
                   "BETTING_SPORTS": ",".join(sports)}   # the partitions are read when the definitions load
    with set_environment(environment):
        from betting_assets.settings import load_settings

        outcome = _replay(load_settings(), market, data, sports, kicks, start, end, trials, history, url,
                          database_url is not None, step)
    outcome.folder, outcome.warehouse, outcome.registry = folder, mask_url(url), registry
    (folder / "bets.json").write_text(parity.to_json(outcome.bets), encoding="utf-8")
    return outcome


def _replay(settings: Settings, market: Any, data: str, sports: list[str], kicks: list[datetime], start: datetime,
            end: datetime, trials: int, history: timedelta, url: str, named: bool,
            step: Callable[[str], None]) -> ReplayOutcome:
    from dagster import DagsterInstance

    from betting_assets.demo import _football_data_files
    from betting_assets.demo_pipeline import DemoRunner
    from betting_assets.sandbox.server import SandboxServer, SandboxState
    from betting_assets.warehouse import migrate
    from betting_assets.warehouse.engine import make_engine

    engine = make_engine(url)
    migrate.upgrade(engine)
    if named:
        empty_warehouse(engine, url)
    values: dict[str, Any] = {"collection": {"sports": sports}}
    results_from_files = _football_data_files(data)
    if results_from_files:
        values["collection"]["results_data"] = str(Path(data).resolve())
    settings = settings.updated(**values)
    first = start - history
    state = SandboxState(market, now=start, api_key=SANDBOX_API_KEY)
    outcome = ReplayOutcome(pl.DataFrame(), BacktestResult(config={}))
    with SandboxServer(state) as server, DagsterInstance.ephemeral() as instance:
        runner = DemoRunner(settings, values, server, first - LEAD_IN, end, launcher=REPLAY_TAG, instance=instance)
        outcome.trained = warm_up(runner, settings, sports, start, history, trials, results_from_files, step)
        step(f"the live loop from {start:%Y-%m-%d} to {end:%Y-%m-%d}: {len(kicks)} kick-offs")
        outcome.moments = live_loop(runner, engine, settings, start, end, kicks[-1])
    outcome.runs = len(runner.results)
    for result in runner.results:
        name = result.dagster_run.job_name
        outcome.runs_by_job[name] = outcome.runs_by_job.get(name, 0) + 1
    outcome.bets, outcome.result = from_ledger(engine, settings, start, end)
    engine.dispose()
    return outcome


def warm_up(runner: Any, settings: Settings, sports: list[str], start: datetime, history: timedelta, trials: int,
            results_from_files: bool, step: Callable[[str], None]) -> bool:
    """The history before ``start`` ingested as the backfill does and, when a live strategy reads
    the model, its features built and a champion trained on it (a registry's champion of today
    was trained on the window's own matches). Returns whether a model was trained."""
    from betting_assets.betting.pipeline import live_runs, needs_model
    from betting_assets.demo_pipeline import history_days, ingest_history

    first = start - history
    ingest_history(runner, sports, first - LEAD_IN, start - timedelta(days=1), start, results_from_files, step)
    if not needs_model(live_runs(settings)):
        return False
    days = history_days(first, start - timedelta(days=1))
    for sport in sports:
        step(f"features: {sport}, {len(days)} days of history")
        runner.run("build_features", "features", sport=sport, days=days)
    cut = first + (start - first) * 2 / 3
    step(f"train and register the champion: {trials} Optuna trials on the history, out of time from {cut:%Y-%m-%d}")
    runner.run("train_model", "training", run_config={"ops": {"trained_model": {"config": {
        "n_trials": trials, "test_from": cut.date().isoformat()}}}})
    return True


def live_loop(runner: Any, engine: Engine, settings: Settings, start: datetime, end: datetime,
              last_kick: datetime) -> int:
    """Every moment the live loop acts at, in order: the clock set, the sensors ticked, the runs
    they ask for launched. Returns how many moments there were."""
    from betting_assets.defs.betting.sensors import slips_sensor
    from betting_assets.defs.collection.sensors import collection_plan_sensor, odds_fetch_sensor, scores_sensor
    from betting_assets.defs.orders.sensors import placement_sensor, settlement_sensor
    from betting_assets.domain.data.quality import RESULT_GRACE

    stop = last_kick + RESULT_GRACE
    clock, moments = start - timedelta(microseconds=1), 0
    while True:
        moment = next_moment(engine, settings, clock, start, end, stop)
        if moment is None:
            return moments
        clock, moments = moment, moments + 1
        runner.set_clock(moment)
        if moment < end and (moment.time() == time(0) or moments == 1):
            runner.run("discover_events", "replay")
            for request in runner.tick(collection_plan_sensor):
                runner.run("plan_collection", "plan", tags={**request.tags, "betting/run_key": request.run_key})
        for request in runner.tick(odds_fetch_sensor):
            runner.run("collect_odds", "replay", partition_key=str(request.partition_key),
                       run_config=request.run_config, tags={**request.tags, "betting/run_key": request.run_key})
        for request in runner.tick(scores_sensor):
            runner.run("collect_scores", "replay", partition_key=str(request.partition_key),
                       tags={**request.tags, "betting/run_key": request.run_key})
        for request in runner.tick(settlement_sensor):
            runner.run("settle_bets", "settlement", tags={**request.tags, "betting/run_key": request.run_key})
        if moment < end:
            for request in runner.tick(slips_sensor):
                runner.run("propose_bets", "slips", tags={**request.tags, "betting/run_key": request.run_key})
            for request in runner.tick(placement_sensor):
                runner.run("place_bets", "placement", tags={**request.tags, "betting/run_key": request.run_key})


def next_moment(engine: Engine, settings: Settings, clock: datetime, start: datetime, end: datetime,
                 stop: datetime, midnights: bool = True) -> datetime | None:
    """The first moment after ``clock``: a midnight in the window (unless ``midnights`` is off),
    a call the plan holds, or an event's decision time in the window."""
    from betting_assets.warehouse import plan as plan_store
    from betting_assets.warehouse import queries

    after = clock + timedelta(microseconds=1)
    found = []
    midnight = datetime.combine(after.date(), time(0), tzinfo=timezone.utc)
    midnight = midnight if midnight >= after else midnight + timedelta(days=1)
    if midnights and midnight < end:
        found.append(midnight)
    lead = timedelta(hours=settings.model.decision_hours)
    with engine.connect() as conn:
        planned = plan_store.plan_frame(conn, after, stop, settings.collection.sports)
        if planned.height:
            found.append(planned["at"].min())
        upcoming = queries.events_of(conn, settings.collection.sports, max(after + lead, start), end)
    decisions = [k - lead for k in upcoming["commence_time"].to_list() if k - lead >= after] if upcoming.height else []
    if decisions:
        found.append(min(decisions))
    chosen = min(found) if found else None
    return chosen if chosen is not None and chosen <= stop else None


def from_ledger(engine: Engine, settings: Settings, start: datetime, end: datetime) -> tuple[pl.DataFrame,
                                                                                              BacktestResult]:
    """The bets the loop placed, and the figures ``backtest run --live`` gives, from the ledger."""
    from betting_assets.domain.orders.states import BetStatus
    from betting_assets.warehouse import ledger, queries

    with engine.connect() as conn:
        rows = ledger.frame(conn)
        decisions = queries.decisions_frame(conn)
    rows = rows.filter(pl.col("commence_time").is_between(start, end, closed="left"))
    bets = parity.from_ledger(rows, decisions)
    placed = rows.filter(pl.col("status").is_in([BetStatus.PLACED, BetStatus.SETTLED, BetStatus.VOID]))
    frame = (placed.join(decisions.select("event_id", "decision_time"), on="event_id", how="left")
             .with_columns(settle_time=pl.col("settled_at"), clv=pl.col("price") * pl.col("p_close") - 1.0,
                           snapshot_time=pl.col("placed_at"), prob=pl.lit(None, pl.Float64), group=pl.col("group_key"),
                           weight=pl.lit(1.0), bankroll=pl.lit(None, pl.Float64),
                           unit_return=pl.col("unit_return"), line=pl.lit(0.0))
             .sort("decision_time", "bet_id"))
    ledger_frame = frame.select([c for c in BACKTEST_BETS_SCHEMA if c in frame.columns]).cast(
        {k: v for k, v in BACKTEST_BETS_SCHEMA.items() if k in frame.columns})
    result = BacktestResult(config={"bankroll": settings.bankroll, "window": [start.isoformat(), end.isoformat()]})
    for live in settings.live.strategies:
        mine = ledger_frame.filter(pl.col("strategy") == live.name)
        result.strategies.append(_scored(live.name, mine, settings.bankroll * live.share))
    result.account = _scored("account", ledger_frame, settings.bankroll)
    result.account.refused = refusals(decisions, rows)
    return bets, result


def refusals(decisions: pl.DataFrame, rows: pl.DataFrame) -> dict[str, int]:
    """What the gate refused in the live loop, counted as the backtest counts it: the candidates
    each control refused before sizing (kept with the decisions) and the slips each refused at
    placement (the ledger's refusals)."""
    import json

    counted: dict[str, int] = {}
    for text in decisions["refusals"].drop_nulls().to_list():
        for code, n in json.loads(text).items():
            counted[code] = counted.get(code, 0) + n
    from betting_assets.domain.orders.states import BetStatus

    for codes in rows.filter(pl.col("status") == BetStatus.REJECTED)["refusal_codes"].drop_nulls().to_list():
        for code in codes.split(","):
            counted[code] = counted.get(code, 0) + 1
    return counted


def _scored(name: str, frame: pl.DataFrame, bankroll: float) -> StrategyResult:
    if frame.is_empty():
        frame = pl.DataFrame(schema={k: v for k, v in BACKTEST_BETS_SCHEMA.items()})
    curve, figures, breakdowns = metrics.score(frame, bankroll, ("market", "bookmaker", "month"))
    return StrategyResult(name=name, params={}, sizing={}, metrics={**figures, **metrics.intervals(frame)},
                          bets=frame, equity=curve, breakdowns=breakdowns)
