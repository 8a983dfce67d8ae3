"""The end-to-end demo on the embedded default: arguments checked, the sandbox started, the
whole graph run through Dagster's jobs (``demo_pipeline``), then the summary read back from the
warehouse."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from betting_assets.console_tables import LEGEND, strategies_table
from betting_assets.domain.betting.claims import ci, pct, reading
from betting_assets.domain.timeutil import require_utc
from betting_assets.sandbox.server import SandboxServer, SandboxState, load_market
from betting_assets.settings import SANDBOX_API_KEY, Settings, get_settings
from betting_assets.venues import VenueName, kind_of
from betting_assets.warehouse import migrate, queries
from betting_assets.warehouse.engine import make_engine

BUNDLED_DATA = Path(__file__).resolve().parent / "data"
DEFAULT_WINDOW = timedelta(days=90)


@dataclass
class DemoSummary:
    data: str
    window_start: str
    window_end: str
    sports: list[str]
    events: int = 0
    final_events: int = 0
    snapshots: int = 0
    odds_rows: int = 0
    invalid_rows: int = 0
    rows_by_market: dict[str, int] = field(default_factory=dict)
    bookmakers: int = 0
    provider_calls: int = 0
    failed_calls: int = 0
    credits_used: int = 0
    credits_remaining: int | None = None
    quality_findings: int = 0
    warehouse: str = ""
    mlflow: str = ""
    dagster_runs_started: int = 0
    """by this demo; the instance keeps the runs of earlier demos too"""
    pipeline: dict[str, Any] = field(default_factory=dict)
    """figures of the Dagster stages (``PipelineFigures``); empty with ``ingest_only``"""


LABELS = {"exchange_mapped": "events mapped to exchange markets",
          "exchange_unmapped": "events unmapped (findings)"}


def run_demo(settings: Settings, data: str | None = None, start: datetime | None = None,
             end: datetime | None = None, console: Console | None = None, ingest_only: bool = False,
             trials: int = 10, test_from: datetime | None = None, live_moments: int = 4,
             broker: str = "paper") -> DemoSummary:
    """``broker``: ``paper``, or ``exchange`` for the live path against the sandbox's exchange
    (slips priced at its best back net of commission, orders matched against its books, bets
    settled by its cleared orders)."""
    console = console or Console()
    spec = data or str(BUNDLED_DATA)
    console.print(f"[bold]Loading market[/] from {spec}")
    market = load_market(spec)
    sports = [s["key"] for s in market.sports()]
    start = start or market.first_time()
    end = end or _default_end(market, sports, start)
    if not start < end:
        raise ValueError(f"--from {start:%Y-%m-%d} must be before --to {end:%Y-%m-%d}")
    if test_from is not None and not start < test_from < end:
        raise ValueError(f"--test-from {test_from:%Y-%m-%d} must fall inside the history "
                         f"{start:%Y-%m-%d}..{end:%Y-%m-%d}")
    results_from_files = _football_data_files(spec)
    engine = make_engine(settings.warehouse_url)
    migrate.upgrade(engine)
    state = SandboxState(market, now=end + timedelta(days=3), api_key=SANDBOX_API_KEY)
    summary = DemoSummary(data=spec, window_start=start.isoformat(), window_end=end.isoformat(), sports=sports,
                          warehouse=engine.url.render_as_string(hide_password=True), mlflow=settings.tracking_uri)
    # the asset partitions are the configured sports, read when the definitions load (before any
    # resource): make them the market's in the environment; the rest goes through the settings resource
    os.environ["BETTING_SPORTS"] = ",".join(sports)
    get_settings.cache_clear()
    values: dict[str, Any] = {"collection": {"sports": sports}}
    if results_from_files:
        values["collection"]["results_data"] = str(Path(spec).resolve())
    if VenueName(broker) is not VenueName.PAPER:
        values["exchange"] = {"mode": "live", "broker": broker}
    settings = settings.updated(**values)
    from betting_assets.demo_pipeline import DemoRunner, ingest_history, run_pipeline

    began: list[float] = []

    def step(text: str) -> None:
        if began:
            console.print(f"  [green]done[/] in {time.perf_counter() - began[-1]:.1f} s")
        began.append(time.perf_counter())
        console.print(f"[bold cyan]→[/] {text}")

    with SandboxServer(state) as server:
        console.print(f"Sandbox provider on {server.url} (clock {state.now:%Y-%m-%d %H:%M} UTC)")
        runner = DemoRunner(settings, values, server, start, end)
        ingest_history(runner, sports, start, end, state.now, results_from_files, step)
        if not ingest_only:
            figures = run_pipeline(settings, engine, runner, state, sports, start, end, step, trials=trials,
                                   test_from=test_from, live_moments=live_moments,
                                   results_from_files=results_from_files)
            summary.pipeline = asdict(figures)
        step("summary")
        summary.dagster_runs_started = len(runner.results)
        keep_account(state, settings.home_dir / SANDBOX_ACCOUNT)
    _fill_summary(engine, summary)
    engine.dispose()
    return summary


SANDBOX_ACCOUNT = "sandbox.json"
"""where the demo leaves the sandbox's account (its clock, credits used and left), which make dev's
sandbox starts from (``--state``): the product goes on at the demo's time, with its plan"""


def keep_account(state: SandboxState, path: Path) -> None:
    """The sandbox's account as the demo left it, written where make dev's sandbox reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with state.lock:
        state.keep = path
        state.save()


def _football_data_files(spec: str) -> bool:
    """Whether the sandbox serves football-data CSV files, which then also give the results of
    history older than the provider's scores window (``BETTING_RESULTS_DATA``)."""
    path = Path(spec)
    return not spec.startswith("sim:") and (path.suffix.lower() == ".csv" or (path.is_dir() and any(path.glob("*.csv"))))


def _default_end(market: Any, sports: list[str], start: datetime) -> datetime:
    """``DEFAULT_WINDOW`` of history, cut short when the data ends sooner so that a week of
    games is left to bet on live."""
    kick_offs = [e["commence_time"] for sport in sports for e in market.events(sport, start)]
    if not kick_offs:
        return start + DEFAULT_WINDOW
    last = require_utc(max(kick_offs), "kick-off")
    return min(start + DEFAULT_WINDOW, max(start + timedelta(days=14), last - timedelta(days=8)))


def _fill_summary(engine: Engine, summary: DemoSummary) -> None:
    with engine.connect() as conn:
        totals = queries.warehouse_totals(conn)
    for name, value in totals.items():
        if hasattr(summary, name):
            setattr(summary, name, value)


def print_summary(summary: DemoSummary, console: Console) -> None:
    table = Table(title="betting_assets demo", show_header=False)
    for key, value in asdict(summary).items():
        if key == "pipeline":
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v:,}" for k, v in sorted(value.items()))
        elif isinstance(value, list):
            value = ", ".join(value)
        elif isinstance(value, int):
            value = f"{value:,}"
        table.add_row(key.replace("_", " "), str(value))
    console.print(table)
    figures = summary.pipeline
    if figures:
        console.print("[bold]What this sample shows[/]")
        for line in figures.get("headline", []):
            console.print(f"  • {line}", soft_wrap=True)
        model = Table(title="model against the market, out of time (log loss; gain = market − model)",
                      show_header=False)
        for key, value in sorted(figures["model"].items()):
            model.add_row(key.replace("_", " "), _model_figure(key, value))
        console.print(model)
        console.print(strategies_table(figures["strategies"], "backtests over the out-of-time window"))
        console.print(LEGEND)
        on_exchange = kind_of(figures.get("broker") or "paper").settles_own_bets
        bets = Table(title=f"checks, and live: slips, {figures.get('broker') or 'paper'} bets, settlement",
                     show_header=False)
        bets.add_row("slips proposed at", ", ".join(t[:16] for t in figures["live_times"]) or "no live day")
        for key in ("checks_passed", "checks_failed", "exchange_mapped", "exchange_unmapped", "slips", "bets_placed",
                    "bets_rejected", "bets_settled"):
            bets.add_row(LABELS.get(key, key.replace("_", " ")), f"{figures[key]:,}")
        if figures["failed_checks"]:
            names = sorted(set(figures["failed_checks"]))
            bets.add_row("failed checks", ", ".join(f"{n} ×{figures['failed_checks'].count(n)}" for n in names))
        for outcome, count in sorted(figures.get("outcomes", {}).items()):
            bets.add_row(f"  {outcome}", f"{count:,}")
        if on_exchange:
            bets.add_row("P&L gross of commission", f"{figures['pnl'] + figures['commission']:,.2f}")
            bets.add_row("commission paid", f"{figures['commission']:,.2f}")
            if figures.get("account"):
                bets.add_row("account against the ledger", figures["account"])
        bets.add_row("P&L" + (" net of commission" if on_exchange else ""), f"{figures['pnl']:,.2f}")
        settled = f"{figures['bets_settled']:,} settled bets"
        bets.add_row("ROI", f"{pct(figures['roi'])} ({ci(figures['roi_low'], figures['roi_high'])}, {settled}): "
                     + reading(figures["roi_low"], figures["roi_high"]))
        bets.add_row("mean CLV", f"{pct(figures['mean_clv'])} ({ci(figures['clv_low'], figures['clv_high'])}, "
                     f"{settled}): " + reading(figures["clv_low"], figures["clv_high"]))
        console.print(bets)
        plan = figures.get("plan") or {}
        if plan:
            console.print(plan_table(plan, figures.get("planned_runs", 0)))
        home = Path(figures["dagster_home"]).parent
        console.print("Browse what was just made (the runs, the partitions, the checks, the registry):\n"
                      f"  BETTING_HOME={home} make dev   the sandbox, the MLflow UI on http://127.0.0.1:5000 and "
                      "the Dagster UI on http://127.0.0.1:3000\n"
                      f"  or only Dagster: DAGSTER_HOME={figures['dagster_home']} .venv/bin/dagster dev -m "
                      "betting_assets.definitions (its sensors skip, saying why, while no sandbox runs)\n"
                      f"  or only MLflow: .venv/bin/mlflow ui --backend-store-uri {summary.mlflow} --port 5000",
                      soft_wrap=True)
    if not summary.data.startswith("sim:"):
        console.print("Odds data: football-data.co.uk (bundled sample) unless --data says otherwise.")


def plan_table(plan: dict[str, Any], runs: int) -> Table:
    """The collection plan as the last live moment left it: what the budget buys over the next
    fifteen days, and how many odds runs the sensor launched from the plans over the live moments."""
    table = Table(title=f"collection plan made {str(plan.get('clock', ''))[:16]} UTC for the next 15 days "
                        "(the odds sensor makes its calls)", show_header=False)
    budget = plan.get("budget")
    table.add_row("budget", f"{budget:,} credits a month ({plan.get('budget_source')})" if budget is not None
                  else f"no limit ({plan.get('budget_source')})")
    table.add_row("spent this period before the plan", f"{plan.get('credits_spent_this_period', 0):,}")
    table.add_row("calls planned", f"{plan.get('calls_planned', 0):,} for {plan.get('credits_planned', 0):,} credits")
    for key, name in (("decision", "decision-time snapshot"), ("closing", "closing snapshot"), ("results", "result")):
        table.add_row(name, f"{plan.get(f'{key}_share_%', 0):.1f}% of {plan.get(f'{key}_events', 0):,} events")
    table.add_row("snapshots per event", f"{plan.get('snapshots_per_event', 0):.1f}")
    table.add_row("odds runs the sensor launched from the plans", f"{runs:,} (the demo moves the clock from one live "
                  "moment to the next: the calls planned in between are not made, and plan_followed says so)")
    return table


def _model_figure(key: str, value: float) -> str:
    if "gain_vs" in key:
        return f"{value:+.5f}"
    if "loss" in key:
        return f"{value:.5f}"
    if key.endswith("total_gain"):
        return f"{value:.3g}"
    return f"{value:,.0f}"


def write_summary_json(summary: DemoSummary, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(summary), indent=2, sort_keys=True))
