"""``betting``: what Dagster does not do — the sandbox server, the demo, migrations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import polars as pl
from rich.console import Console

from betting_assets.domain.timeutil import require_utc
from betting_assets.settings import Settings, SettingsError, get_settings


class UserError(click.ClickException):
    """A mistake in what the user gave: one line on stderr, exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        click.echo(f"error: {self.format_message()}", err=True)


class _Group(click.Group):
    """Settings that make no sense, a data file that cannot be read as meant, or an option
    click refuses end any command with their one-line reason and exit 2."""

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        from betting_assets.sources.football_data import FootballDataError

        try:
            return super().invoke(ctx)
        except (SettingsError, FootballDataError) as exc:
            raise UserError(str(exc)) from None
        except click.UsageError as exc:
            raise UserError(exc.format_message()) from None


def day_option(value: str | None, option: str) -> datetime | None:
    """A date or timestamp the user typed, as UTC; unreadable → the one-line error."""
    if value is None:
        return None
    try:
        return require_utc(value, option)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def strategy_names(text: str, default: list[str]) -> list[str]:
    from betting_assets.domain.betting import strategies
    names = [n.strip() for n in text.split(",") if n.strip()] or default
    unknown = [n for n in names if n not in strategies.available()]
    if unknown:
        raise UserError(f"--strategies: unknown {', '.join(unknown)}; registered: {', '.join(strategies.available())}")
    return names


def sizing_overrides(text: str, names: list[str]) -> dict[str, str]:
    from betting_assets.domain.betting.staking import METHODS

    sizing = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, method = (x.strip() for x in part.partition("="))
        if not sep or name not in names or method not in METHODS:
            raise UserError(f"--sizing: {part!r} is not strategy=method with a strategy of this run "
                            f"({', '.join(names)}) and a method among {', '.join(METHODS)}")
        sizing[name] = method
    return sizing


def _window_holds(events: pl.DataFrame, cut: datetime) -> None:
    """A --test-from that leaves nothing to train on or nothing to test is refused before work."""
    first, last = events["commence_time"].min(), events["commence_time"].max()
    if not first < cut <= last:  # type: ignore[operator]
        raise UserError(f"--test-from {cut:%Y-%m-%d} must fall after the first match ({first:%Y-%m-%d}) and on or "
                        f"before the last ({last:%Y-%m-%d}) of --data")


FOOTBALL_DATA = click.option("--data", "data", required=True, type=click.Path(exists=True, path_type=Path),
                             help="football-data.co.uk CSV file or folder.")


@click.group(cls=_Group)
@click.version_option(package_name="betting_assets", prog_name="betting")
def main() -> None:
    """betting_assets command line."""


@main.group()
def sandbox() -> None:
    """The local odds provider."""


@sandbox.command("serve")
@click.option("--data", "data", required=True,
              help="football-data CSV file or folder, folder of recorded responses, or sim:SEED[:sport].")
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--clock", default=None, help="Initial clock (ISO 8601, UTC); defaults to the first snapshot.")
@click.option("--api-key", default=None, help="Require this key; any non-empty key is accepted when unset.")
@click.option("--quota", default=100_000, show_default=True, type=int, help="Credits available.")
@click.option("--state", "state_file", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Keep the provider's account (credits used and left, clock, faults) in this file, so a sandbox "
                   "stopped and started again bills on where it was.")
def sandbox_serve(data: str, port: int, host: str, clock: str | None, api_key: str | None, quota: int,
                  state_file: Path | None) -> None:
    """Serve The Odds API v4 over DATA until interrupted."""
    import time

    from betting_assets.sandbox.server import SandboxServer, SandboxState, load_market

    console = Console()
    try:
        market = load_market(data)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    state = SandboxState(market, now=day_option(clock, "--clock"), api_key=api_key, quota=quota, keep=state_file)
    server = SandboxServer(state, host=host, port=port).start()
    console.print(f"sandbox on {server.url}  clock {state.now.isoformat()}  sports "
                  f"{', '.join(s['key'] for s in market.sports())}")
    console.print("control: POST /sandbox/clock {now|advance_seconds}, POST /sandbox/faults, POST /sandbox/quota")
    try:
        while server.thread.is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@main.command()
@click.option("--data", default=None, help="Any data the sandbox accepts; the bundled sample by default.")
@click.option("--from", "start", default=None, help="First day of history to pull (ISO date).")
@click.option("--to", "end", default=None, help="Last day of history to pull (ISO date).")
@click.option("--summary-json", type=click.Path(path_type=Path), default=None,
              help="Also write the summary's figures as JSON.")
@click.option("--trials", type=int, default=10, show_default=True, help="Optuna trials of the demo's training.")
@click.option("--ingest-only", is_flag=True, help="Stop after pulling history into the warehouse.")
@click.option("--test-from", default=None, help="Hold out the history from this day (e.g. a season's start); "
              "the last third by default.")
@click.option("--live-moments", type=click.IntRange(min=1), default=4, show_default=True,
              help="How many of the busiest kick-off times after the history get live odds, slips and bets.")
@click.option("--broker", type=click.Choice(["paper", "betfair", "exchange"]), default="paper", show_default=True,
              help="The venue: paper, or betfair (exchange: the same), the live path against the sandbox's exchange "
                   "(its books, matching, commission and settlement).")
def demo(data: str | None, start: str | None, end: str | None, summary_json: Path | None, trials: int,
         ingest_only: bool, test_from: str | None, live_moments: int, broker: str) -> None:
    """Start the sandbox, pull history into the warehouse, then run the asset graph through Dagster:
    features, model, backtests, slips, paper bets and their settlement; summarise."""
    import contextlib

    from betting_assets.demo import print_summary, run_demo, write_summary_json
    from betting_assets.demo_pipeline import DemoStageFailed

    from betting_assets.quiet import to_log_file

    console = Console()
    settings: Settings = get_settings()
    log = to_log_file(settings.home_dir / "demo.log")
    console.print(f"Library warnings and messages go to {log}", soft_wrap=True)
    first, last, held_out = (day_option(v, o) for v, o in ((start, "--from"), (end, "--to"), (test_from, "--test-from")))
    from betting_assets.venues import VenueName

    broker = VenueName(broker).value
    try:
        with open(log, "a", encoding="utf-8") as sink, contextlib.redirect_stderr(sink):   # MLflow prints there too
            summary = run_demo(settings, data=data, start=first, end=last, console=console, ingest_only=ingest_only,
                               trials=trials, test_from=held_out, live_moments=live_moments, broker=broker)
    except (FileNotFoundError, ValueError, DemoStageFailed) as exc:
        raise UserError(str(exc)) from exc
    print_summary(summary, console)
    if summary_json:
        write_summary_json(summary, summary_json)
        console.print(f"summary written to {summary_json}")


@main.group()
def quota() -> None:
    """What odds collection costs in provider credits."""


@quota.command("simulate")
@click.option("--data", "data", required=True, type=click.Path(exists=True, path_type=Path),
              help="football-data CSV file or folder: its fixtures are the schedule replayed.")
@click.option("--markets", default=None, help="Comma-separated markets; the configured BETTING_MARKETS by default.")
@click.option("--regions", default=None, help="Comma-separated regions; the configured BETTING_REGIONS by default.")
@click.option("--lead-days", default=14, show_default=True, type=int,
              help="How long before kick-off an event joins the odds feed.")
@click.option("--budget", type=click.IntRange(min=0), default=None,
              help="Credits a month: what the plan buys with them, replayed day by day (decision-time, closing "
                   "and results first, then movement).")
@click.option("--curve", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a PNG of coverage against monthly credits, with fixed 30-minute polling marked.")
def quota_simulate(data: Path, markets: str | None, regions: str | None, lead_days: int, budget: int | None,
                   curve: Path | None) -> None:
    """Replays a real schedule: the tier rules against fixed 30-minute polling, the least credits
    that capture every decision time and close, and with ``--budget`` what a monthly credit
    budget buys when the plan is made day by day as the sensors follow it."""
    from datetime import timedelta

    from rich.console import Console
    from rich.table import Table

    from betting_assets.domain.data.catalog import KNOWN_MARKETS, REGIONS, unknown
    from betting_assets.domain.collection.quota import simulate_quota
    from betting_assets.sources.football_data import read_football_data

    settings = get_settings()
    chosen = {}
    for option, text, configured, known in (("--markets", markets, settings.collection.markets, KNOWN_MARKETS),
                                            ("--regions", regions, settings.collection.regions, REGIONS)):
        values = [v.strip() for v in text.split(",") if v.strip()] if text is not None else list(configured)
        problem = unknown(values, known, option[2:]) if values else "needs at least one value"
        if problem:
            raise UserError(f"{option}: {problem}")
        chosen[option] = values
    schedule = read_football_data(data).events
    n_markets, n_regions = len(chosen["--markets"]), len(chosen["--regions"])
    report = simulate_quota(schedule, markets=n_markets, regions=n_regions, lead=timedelta(days=lead_days))
    table = Table(title=f"Season credits: tiered vs fixed 30-minute polling ({n_markets} markets × "
                        f"{n_regions} regions = {report.cost_per_call} credits a call)")
    for column in ("sport", "events", "tiered calls", "by tier", "fixed calls", "closing captured"):
        table.add_column(column, justify="right" if column not in ("sport", "by tier") else "left")
    for sport in report.sports:
        tiers = ", ".join(f"{k} {v}" for k, v in sorted(sport.calls_by_tier.items(), key=lambda kv: -kv[1]))
        table.add_row(sport.sport_key, str(sport.events), f"{sport.tiered_calls:,}", tiers,
                      f"{sport.fixed_calls:,}", f"{sport.closing_captured}/{sport.events}")
    console = Console()
    console.print(table)
    console.print(f"the tier rules alone: {report.tiered_credits:,} credits; fixed 30-minute polling: "
                  f"{report.fixed_credits:,} credits; {report.ratio:.1f}× fewer; closing snapshot (≤ 30 min before "
                  f"kick-off) captured for {report.closing_share:.1%} of events", soft_wrap=True)
    from betting_assets.domain.collection.collection_plan import CLOSING, DECISION, RESULTS, Pricing, budget_curve, full_capture
    from betting_assets.domain.collection.collection_plan import simulate_collection
    from betting_assets.collection.planning import decision_leads

    def narrowed(configured: list[str]) -> list[str] | None:
        return [m for m in configured if m in chosen["--markets"]] or None

    # priced as the table above is (markets × regions), the closing and movement markets the
    # configured ones among those asked for
    priced = Pricing.of(chosen["--markets"], regions=chosen["--regions"],
                        closing=narrowed(settings.collection.closing_markets),
                        movement=narrowed(settings.collection.movement_markets))
    leads, lead = decision_leads(settings), timedelta(days=lead_days)
    least = full_capture(schedule, pricing=priced, decision_leads=leads, feed_lead=lead)
    hours = ", ".join(f"{d.total_seconds() / 3600:g}" for d in leads)
    console.print(f"every decision-time ({hours} h before kick-off) and closing snapshot: {least.credits:,} credits "
                  f"({len(least.calls):,} calls), {report.fixed_credits / least.credits:.1f}× fewer than fixed "
                  "30-minute polling", soft_wrap=True)
    if budget is not None:
        plan = simulate_collection(schedule, pricing=priced, decision_leads=leads, budget=budget, feed_lead=lead,
                                   reset_day=settings.collection.credit_reset_day)
        shares = ", ".join(f"{name} {plan.share(key):.1%} ({plan.covered[key]:,} of {plan.counted[key]:,})"
                           for key, name in ((DECISION, "decision-time snapshot"), (CLOSING, "closing snapshot"),
                                             (RESULTS, "result polled")))
        console.print(f"with {budget:,} credits a month, replayed day by day as the sensors would buy them: {shares}; "
                      f"{plan.snapshots_per_event:.1f} snapshots per event; {plan.credits:,} credits spent, at most "
                      f"{max(plan.spent_by_period.values(), default=0):,} in a month", soft_wrap=True)
    if curve is not None:
        from betting_assets.modelling.plots import budget_png

        curve.write_bytes(budget_png(budget_curve(schedule, pricing=priced, decision_leads=leads, feed_lead=lead),
                                     report.fixed_credits, least.credits))
        console.print(f"curve written to {curve}")


@main.group()
def model() -> None:
    """Model evaluation outside Dagster."""


@model.command("evaluate")
@FOOTBALL_DATA
@click.option("--test-from", required=True, help="First day held out of training (ISO date).")
@click.option("--trials", default=30, show_default=True, type=int)
@click.option("--log/--no-log", default=False, show_default=True,
              help="Log the run to MLflow and pass it through the champion gate.")
def model_evaluate(data: Path, test_from: str, trials: int, log: bool) -> None:
    """Trains on the files' matches before --test-from and scores the rest against Pinnacle's
    de-vigged pre-match and closing prices on the same matches."""
    from betting_assets.domain.features.build import FeatureConfig, build_features
    from betting_assets.modelling.pipeline import closing_log_loss, fit_and_log, labelled, split_out_of_time
    from betting_assets.modelling.registry import Tracker
    from betting_assets.domain.betting.claims import PRIOR_ALONE
    from betting_assets.modelling.train import TrainConfig
    from betting_assets.settings import get_settings
    from betting_assets.sources.football_data import quotes_as_odds, read_football_data

    settings = get_settings()
    cut = day_option(test_from, "--test-from")
    files = read_football_data(data)
    _window_holds(files.events, cut)  # type: ignore[arg-type]
    odds = quotes_as_odds(files)
    both = build_features(odds, files.events, files.events, FeatureConfig(decision_hours=(1.0, 0.0)))
    closing = both.filter(pl.col("decision_time") == pl.col("commence_time"))
    frame = labelled(both, files.events, 1.0)
    tracker = Tracker(settings.tracking_uri, settings.artifact_root) if log else None
    outcome = fit_and_log(frame, three_way=True, test_from=cut, config=TrainConfig(n_trials=trials),
                          tracker=tracker, context={"source": "football-data files"}, progress=click.echo)
    _, test, _ = split_out_of_time(frame.filter(pl.col("three_way")), cut)
    close, priced = closing_log_loss(closing, test, outcome.model.classes)
    click.echo(f"trained on {outcome.train_events} matches, tested on {outcome.test_events} from {test_from}; "
               f"prior {outcome.model.prior}, {outcome.model.num_rounds} rounds, {outcome.model.split_trees} trees "
               f"split (total gain {outcome.model.total_gain:.3g})"
               + (f"; {PRIOR_ALONE}" if outcome.model.prior_only else ""))
    comparison = outcome.market
    if comparison is not None:
        click.echo(comparison.text())
        for method, loss in comparison.by_method.items():
            click.echo(f"  Pinnacle pre-match, {method}: {loss:.5f}")
    click.echo(f"figure model_oot_log_loss: {outcome.oot['log_loss']:.5f}")
    click.echo(f"figure pinnacle_prematch_log_loss: {outcome.oot.get('market_log_loss', float('nan')):.5f} "
               f"({outcome.oot.get('market_events', 0):.0f} matches)")
    if comparison is not None and comparison.gain is not None:
        click.echo(f"figure model_gain_vs_market: {comparison.market_log_loss - comparison.model_log_loss:+.5f} "
                   f"(95% CI {comparison.gain.low:+.5f} to {comparison.gain.high:+.5f})")
    click.echo(f"figure pinnacle_closing_log_loss: {close:.5f} ({priced} matches)")
    if outcome.record is not None:
        click.echo(f"registered {outcome.name} v{outcome.record.gate.version}: {outcome.record.gate.alias} "
                   f"({outcome.record.gate.reason})")


@main.group()
def backtest() -> None:
    """Backtests outside Dagster, on football-data files."""


@backtest.command("run")
@FOOTBALL_DATA
@click.option("--test-from", required=True, help="First kick-off day replayed; the model trains on earlier matches.")
@click.option("--to", "to_day", default=None, help="Kick-off day the replay stops before (ISO date); the files' end "
              "when unset.")
@click.option("--trials", default=30, show_default=True, type=int, help="Optuna trials for a strategy that reads "
              "the model (with --model train).")
@click.option("--strategies", default="", help="Comma-separated registered strategies, each on an account of its "
              "own; the settings' list when empty.")
@click.option("--live", is_flag=True, help="The live strategies (BETTING_LIVE_STRATEGIES) together on one account, "
              "each with its sizing and share, as bet_slips and the gate bet them.")
@click.option("--sizing", "sizing_text", default="",
              help="Per-strategy sizing overrides, e.g. sharp_value=flat,model_value=kelly.")
@click.option("--model", "model_source", type=click.Choice(["train", "champion"]), default="train", show_default=True,
              help="For a strategy that reads the model: train one on the files' matches before --test-from, or "
                   "use the registry's champion (as the live strategies do).")
@click.option("--export", "export", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for result.json, the CSVs and equity.png.")
@click.option("--bets-json", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write every bet placed (strategy, event, market, line, side, bookmaker, price, stake, "
                   "result, profit) as JSON: what betting replay writes too.")
@click.option("--devig", default=None,
              help="De-vig of the sharp book for fair prices, edges and CLV: a method (multiplicative, power, shin) "
                   "or market=method pairs; BETTING_DEVIG_METHOD by default.")
@click.option("--json", "as_json", is_flag=True, help="Print every strategy's figures as JSON instead of the table.")
def backtest_run(data: Path, test_from: str, to_day: str | None, trials: int, strategies: str, live: bool,
                 sizing_text: str, model_source: str, export: Path | None, bets_json: Path | None, devig: str | None,
                 as_json: bool) -> None:
    """Replays the strategies on the files' matches from --test-from at the model's decision time,
    every bet through the gate's controls, and prints the comparison (with --live, the live
    strategies on one account as they bet)."""
    import json

    from betting_assets.domain.pricing.devig import describe_choice, parse_choice
    from betting_assets.sources.football_data import events_with_status, quotes_as_odds, read_football_data

    settings = get_settings()
    method = devig or settings.features.devig_method
    try:
        parse_choice(method)
    except ValueError as exc:
        raise UserError(f"--devig: {exc}") from None
    cut = day_option(test_from, "--test-from")
    end = day_option(to_day, "--to")
    if end is not None and end <= cut:  # type: ignore[operator]
        raise UserError(f"--to {end:%Y-%m-%d} must be after --test-from {cut:%Y-%m-%d}")
    if live and strategies:
        raise UserError("--live replays the live strategies (BETTING_LIVE_STRATEGIES): leave out --strategies")

    from betting_assets.betting import parity, report
    from betting_assets.betting.pipeline import live_runs, needs_model, replay, strategy_runs

    if live:
        runs = live_runs(settings)
        if sizing_text:
            raise UserError("--live sizes as BETTING_LIVE_STRATEGIES says: leave out --sizing")
    else:
        names = strategy_names(strategies, settings.backtest.strategies)
        runs = strategy_runs(names, settings, sizing_overrides(sizing_text, names))
    files = read_football_data(data)
    _window_holds(files.events, cut)  # type: ignore[arg-type]
    odds = quotes_as_odds(files)
    events = events_with_status(files.events)
    model = None
    notes: list[str] = []
    if needs_model(runs):
        model, note = _model_probabilities(settings, files, odds, cut, trials, model_source)  # type: ignore[arg-type]
        notes.append(note)
    result = replay(odds, events, runs, settings, start=cut, end=end, model=model, devig=method, together=live)
    if export is not None:
        written = report.write_exports(result, export)
        notes.append(f"exported {', '.join(sorted(written))} to {export}")
    if bets_json is not None:
        bets_json.write_text(parity.to_json(parity.from_backtest(result)), encoding="utf-8")
        notes.append(f"bets written to {bets_json}")
    rows = [{"strategy": s.name, **s.metrics} for s in report.ordered(result)]
    if result.account is not None:
        rows.append({"strategy": "account", **result.account.metrics})
    if as_json:
        click.echo(json.dumps({"test_from": cut.date().isoformat(), "devig_method": method, "notes": notes,  # type: ignore[union-attr]
                               "strategies": rows, "refused": {s.name: s.refused for s in result.strategies}},
                              indent=2, default=str))
        return
    _print_table(rows, result, f"backtest from {cut:%Y-%m-%d}"  # type: ignore[str-format]
                 + (f" to {end:%Y-%m-%d}" if end else "") + (", the live strategies on one account" if live else "")
                 + f", {settings.features.sharp_book} de-vigged by {describe_choice(method)}", notes)


def _print_table(rows: list[dict], result, title: str, notes: list[str]) -> None:  # type: ignore[no-untyped-def,type-arg]
    """The strategy table, under its notes, with what the gate refused beneath: what ``backtest
    run`` and ``replay`` both print."""
    from betting_assets.betting import report
    from betting_assets.console_tables import LEGEND, strategies_table

    console = Console()
    for note in notes:
        console.print(note, soft_wrap=True)
    console.print(strategies_table(rows, title))
    console.print(LEGEND, soft_wrap=True)
    refused = result.account.refused if result.account is not None else {
        k: v for s in result.strategies for k, v in s.refused.items()}
    if result.account is not None or any(s.refused for s in result.strategies):
        console.print("refused by the gate: " + (report.refusals_line(refused) if result.account is not None else
                      "; ".join(f"{s.name} {report.refusals_line(s.refused)}" for s in result.strategies)),
                      soft_wrap=True)


def _model_probabilities(settings: Settings, files, odds: pl.DataFrame, cut: datetime, trials: int,  # type: ignore[no-untyped-def]
                         source: str) -> tuple[pl.DataFrame | None, str]:
    """The probabilities a strategy that reads the model sees: a model trained on the files'
    matches before ``cut``, or the registry's champion on the files' features."""
    from betting_assets.betting.pipeline import champion_probabilities, long_probabilities
    from betting_assets.domain.betting.claims import PRIOR_ALONE
    from betting_assets.domain.features.build import FeatureConfig, build_features

    hours = settings.model.decision_hours
    features = build_features(odds, files.events, files.events, FeatureConfig(
        decision_hours=(hours,), sharp_book=settings.features.sharp_book))
    if source == "champion":
        from betting_assets.modelling.registry import Tracker

        probs, refs, missing = champion_probabilities(Tracker(settings.tracking_uri, settings.artifact_root),
                                                      features.filter(pl.col("commence_time") >= cut),
                                                      out_of_time_only=False)
        if probs is None:
            raise UserError(f"--model champion: no champion in the registry at {settings.tracking_uri} "
                            f"({', '.join(missing) or 'no model'}); train one first, or use --model train")
        return probs, "model: the registry's champions " + ", ".join(f"{r.name} v{r.version}" for r in refs)
    from betting_assets.modelling.pipeline import fit_and_log, labelled
    from betting_assets.modelling.train import TrainConfig

    outcome = fit_and_log(labelled(features, files.events, hours), three_way=True, test_from=cut,
                          config=TrainConfig(n_trials=trials), tracker=None, context={}, progress=None)
    rows = features.filter(pl.col("three_way") & (pl.col("commence_time") >= cut))
    probs = pl.DataFrame(outcome.model.predict(rows), schema=[f"p_{c}" for c in outcome.model.classes], orient="row")
    note = (f"model: trained on {outcome.train_events} matches before {cut:%Y-%m-%d}"
            + (f" ({PRIOR_ALONE})" if outcome.model.prior_only else "")
            + (f"; {outcome.market.text()}" if outcome.market else ""))
    return long_probabilities(probs, rows), note


@main.command()
@click.option("--data", default=None, help="Any data the sandbox accepts; the bundled sample by default.")
@click.option("--from", "start", required=True, help="First day of the window (ISO date): events kicking off from then.")
@click.option("--to", "end", required=True, help="Day the window ends before (ISO date).")
@click.option("--history-days", type=click.IntRange(min=7), default=60, show_default=True,
              help="Days of history ingested before the window (ratings, form, and a model when one is trained).")
@click.option("--trials", type=click.IntRange(min=1), default=5, show_default=True,
              help="Optuna trials of the model trained on the history when a live strategy reads one.")
@click.option("--database-url", default=None,
              help="An empty warehouse to replay into (e.g. PostgreSQL); the replay folder's SQLite file by default.")
@click.option("--bets-json", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write every bet placed as JSON here (the replay folder's bets.json always has them), in "
                   "the shape backtest run --bets-json writes.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON instead of the table.")
def replay(data: str | None, start: str, end: str, history_days: int, trials: int, database_url: str | None,
           bets_json: Path | None, as_json: bool) -> None:
    """The live loop forward-tested over a past window on the sandbox: the product's jobs and
    sensors at every planned call and decision time, slips, paper bets, scores and settlement;
    then the same table as backtest run --live, whose bets these are, bet for bet. Kept apart
    from the project's live state in <home>/replays/<from>_<to>: its warehouse, the MLflow
    registry of the model it trains on the history before the window, bets.json."""
    import contextlib
    import json
    from datetime import timedelta

    from betting_assets.betting import parity
    from betting_assets.demo import BUNDLED_DATA
    from betting_assets.demo_pipeline import DemoStageFailed
    from betting_assets.quiet import to_log_file
    from betting_assets.replay import ReplayRefused, run_replay

    first, last = day_option(start, "--from"), day_option(end, "--to")
    if not first < last:  # type: ignore[operator]
        raise UserError(f"--from {first:%Y-%m-%d} must be before --to {last:%Y-%m-%d}")
    settings = get_settings()
    console = Console(stderr=as_json)
    log = to_log_file(settings.home_dir / "replay.log")
    step = _stepper(console, log)

    try:
        with open(log, "a", encoding="utf-8") as sink, contextlib.redirect_stderr(sink):
            outcome = run_replay(settings, data or str(BUNDLED_DATA), first, last, trials=trials,  # type: ignore[arg-type]
                                 history=timedelta(days=history_days), database_url=database_url, step=step)
    except (FileNotFoundError, ReplayRefused, DemoStageFailed) as exc:
        raise UserError(str(exc)) from exc
    source = str(Path(data).resolve()) if data else str(BUNDLED_DATA)
    notes = [f"replayed {outcome.moments:,} moments, {outcome.runs:,} Dagster runs ("
             + ", ".join(f"{k} {v}" for k, v in sorted(outcome.runs_by_job.items())) + ")",
             f"kept in {outcome.folder}: bets.json, the MLflow registry {outcome.registry}"
             + ("" if outcome.trained else " (no live strategy reads a model: none trained)")
             + f", the warehouse {outcome.warehouse}",
             f"the same bets from the backtest: BETTING_MLFLOW_TRACKING_URI={outcome.registry} betting backtest run "
             f"--data {source} --test-from {first:%Y-%m-%d} --to {last:%Y-%m-%d} --live --model champion"]
    if bets_json is not None:
        bets_json.write_text(parity.to_json(outcome.bets), encoding="utf-8")
        notes.append(f"bets written to {bets_json}")
    rows = [{"strategy": s.name, **s.metrics} for s in outcome.result.strategies]
    if outcome.result.account is not None:
        rows.append({"strategy": "account", **outcome.result.account.metrics})
    if as_json:
        click.echo(json.dumps({"from": first.date().isoformat(), "to": last.date().isoformat(), "notes": notes,  # type: ignore[union-attr]
                               "strategies": rows}, indent=2, default=str))
        return
    _print_table(rows, outcome.result, f"replay from {first:%Y-%m-%d} to {last:%Y-%m-%d}, the live strategies "  # type: ignore[str-format]
                 "bet through the product's jobs on the sandbox", notes)


@main.command()
@click.option("--data", default=None, help="Any data the sandbox accepts; the bundled sample by default.")
@click.option("--from", "start", required=True, help="First day of the season (ISO date): events kicking off from "
              "then.")
@click.option("--to", "end", required=True, help="Day the season ends before (ISO date).")
@click.option("--speed", type=click.FloatRange(min=0, max=1e6), default=0.0, show_default=True,
              help="Run the sandbox's clock at this many times real time between two moments the product acts at; "
                   "0 jumps from one to the next once the daemon is quiet.")
@click.option("--history-days", type=click.IntRange(min=7), default=60, show_default=True,
              help="Days of history backfilled before the season.")
@click.option("--trials", type=click.IntRange(min=1), default=5, show_default=True,
              help="Optuna trials of each training (the first champion and each retraining).")
@click.option("--database-url", default=None,
              help="An empty warehouse for the season (e.g. PostgreSQL); the season folder's SQLite file by default.")
@click.option("--dagster-pg-url", default=None, help="Dagster's run, event-log and schedule storage on this "
              "PostgreSQL database (production's shape); SQLite files in the season folder by default.")
@click.option("--faults", default=None, help="Provider faults throughout, as the sandbox's /sandbox/faults takes "
              "them (JSON), e.g. '{\"error_rates\": {\"503\": 0.1}, \"partial_rate\": 0.05, \"seed\": 3}'.")
@click.option("--chaos", is_flag=True, help="Kill the daemon, a run's process and the sandbox with SIGKILL, once "
              "each, a quarter, a half and three quarters of the way to the last kick-off; each is started again as "
              "a supervisor would.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def season(data: str | None, start: str, end: str, speed: float, history_days: int, trials: int,
           database_url: str | None, dagster_pg_url: str | None, faults: str | None, chaos: bool,
           as_json: bool) -> None:
    """The product operated by dagster-daemon over a past window on the sandbox, nothing driven by
    hand: the sensors discover, plan, collect, propose, place, settle and retrain while the
    sandbox's clock moves. Ends with what a season needs to have happened, whether it did, and
    how the product aged each week. Kept in <home>/seasons/<from>_<to>. Exit 1 when a promise was
    broken."""
    import contextlib
    import json
    from datetime import timedelta

    from betting_assets.demo import BUNDLED_DATA
    from betting_assets.demo_pipeline import DemoStageFailed
    from betting_assets.quiet import to_log_file
    from betting_assets.replay import ReplayRefused
    from betting_assets.season import SeasonOptions, SeasonStalled, run_season

    first, last = day_option(start, "--from"), day_option(end, "--to")
    if not first < last:  # type: ignore[operator]
        raise UserError(f"--from {first:%Y-%m-%d} must be before --to {last:%Y-%m-%d}")
    injected = None
    if faults:
        try:
            injected = json.loads(faults)
            from betting_assets.sandbox.server import Faults

            Faults.from_json(injected)
        except (ValueError, TypeError, AttributeError) as exc:
            raise UserError(f"--faults is not the sandbox's faults JSON: {exc}") from exc
    settings = get_settings()
    console = Console(stderr=as_json)
    log = to_log_file(settings.home_dir / "season.log")
    step = _stepper(console, log)

    options = SeasonOptions(data=str(Path(data).resolve()) if data else str(BUNDLED_DATA), start=first,  # type: ignore[arg-type]
                            end=last, speed=speed, history=timedelta(days=history_days), trials=trials,  # type: ignore[arg-type]
                            database_url=database_url, dagster_pg_url=dagster_pg_url, faults=injected, chaos=chaos)
    try:
        with open(log, "a", encoding="utf-8") as sink, contextlib.redirect_stderr(sink):
            outcome = run_season(settings, options, step=step)
    except (FileNotFoundError, ReplayRefused, DemoStageFailed) as exc:
        raise UserError(str(exc)) from exc
    except SeasonStalled as exc:
        console.print(f"[red]the season stalled[/]: {exc}", soft_wrap=True)
        raise click.exceptions.Exit(1) from exc
    found = outcome.report
    if as_json:
        click.echo(json.dumps(outcome.as_dict(), indent=2, default=str))
    else:
        from rich.table import Table

        _print_report(console, found, first, last, outcome.clock)  # type: ignore[arg-type]
        aged = Table(title="how the product aged, week by week of the product's clock (sizes and memory at the "
                     "week's end; memory: the daemon with its code server and runs in flight)")
        for column in ("week", "moments", "runs", "event log MB", "warehouse MB", "sensor ticks",
                       "tick ms mean", "tick ms max", "daemon MB"):
            aged.add_column(column, no_wrap=True)
        for w in outcome.weeks:
            aged.add_row(w.week, str(w.moments), str(w.runs), f"{w.event_log_mb:.1f}", f"{w.warehouse_mb:.1f}",
                         f"{w.ticks:,}", f"{w.tick_ms_mean:.0f}", f"{w.tick_ms_max:.0f}", f"{w.daemon_rss_mb:.0f}")
        console.print(aged)
        console.print(f"{outcome.moments:,} moments in {outcome.elapsed_s:.0f} s; runs: "
                      + ", ".join(f"{k} {v}" for k, v in sorted(outcome.runs_by_job.items()))
                      + "; by status: " + ", ".join(f"{k} {v}" for k, v in sorted(outcome.runs_by_status.items())),
                      soft_wrap=True)
        for fault in outcome.injected:
            console.print(f"injected at {fault['at']}: {fault['fault']}", soft_wrap=True)
        console.print(f"kept in {outcome.folder} (warehouse {outcome.warehouse}, Dagster {outcome.dagster_storage}): "
                      f"DAGSTER_HOME={outcome.folder / 'dagster'} dagster-webserver -w workspace.yaml shows its runs",
                      soft_wrap=True)
    if not found.ok:
        raise click.exceptions.Exit(1)


def _stepper(console: Console, log: Path) -> Callable[[str], None]:
    """Says where library output goes, then prints each step with the seconds since."""
    import time as timing

    console.print(f"Library warnings and messages go to {log}", soft_wrap=True)
    began = timing.perf_counter()

    def step(text: str) -> None:
        console.print(f"[bold cyan]→[/] {text} [dim]({timing.perf_counter() - began:.0f} s)[/]", soft_wrap=True)

    return step


@main.group()
def devig() -> None:
    """Which de-vig of the sharp book's prices to trust."""


@devig.command("compare")
@FOOTBALL_DATA
@click.option("--test-from", default=None, help="First kick-off day of the sharp_value backtests (all when unset).")
def devig_compare(data: Path, test_from: str | None) -> None:
    """Log loss of each de-vig of the sharp book's pre-match and closing prices, calibration by
    price band, and sharp_value backtested under each method."""
    from betting_assets.betting.devig_report import compare
    from betting_assets.sources.football_data import read_football_data

    start = day_option(test_from, "--test-from")
    compare(read_football_data(data), get_settings(), test_from=start, echo=click.echo)


@main.command()
@click.option("--at", "at", default=None, help="Report as of this time (ISO); now by default.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON instead of tables.")
@click.option("--no-registry", is_flag=True, help="Skip the MLflow registry (champion models).")
def status(at: str | None, as_json: bool, no_registry: bool) -> None:
    """Pipeline health, data quality, storage, champion models, open bets and bankroll."""
    import json
    from dataclasses import asdict

    from betting_assets.clock import product_now
    from betting_assets.status import collect, render
    from betting_assets.warehouse.engine import make_engine

    settings = get_settings()
    now = day_option(at, "--at") or product_now(settings)[0]   # the sandbox's time after a sandbox demo
    engine = make_engine(settings.warehouse_url)
    try:
        report = collect(engine, settings, now, with_registry=not no_registry)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(asdict(report), indent=2))
    else:
        render(report, Console())


@main.command()
@click.option("--refused", is_flag=True, help="The refusals instead: each refused slip with the rules that refused "
              "it and why, and how many each rule refused.")
@click.option("--status", "statuses", multiple=True, help="Only bets of this status (repeatable): pending, resting, "
              "placed, settled, void, lapsed, cancelled, failed.")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, 100_000), help="Newest rows shown.")
@click.option("--json", "as_json", is_flag=True, help="Every row asked for, and the summary, as JSON.")
def bets(refused: bool, statuses: tuple[str, ...], limit: int, as_json: bool) -> None:
    """The ledger: the newest bets with their match, price, stake, status and result, under the
    settled bets' P&L and ROI with its interval; with --refused, what the gate and the re-checks
    refused, by rule."""
    import json

    from betting_assets.domain.orders.states import BetStatus
    from betting_assets.ledger_view import ledger_rows, render_ledger

    known = {s.value for s in BetStatus}
    bad = [s for s in statuses if s not in known]
    if bad:
        raise UserError(f"--status {bad[0]!r} is not a bet status ({', '.join(sorted(known))})")
    if refused and statuses:
        raise UserError("--refused lists the refusals: it takes no --status")
    view = ledger_rows(get_settings(), refused=refused, statuses=list(statuses), limit=None if as_json else limit)
    if as_json:
        click.echo(json.dumps(view, indent=2, default=str))
    else:
        render_ledger(view, Console(), refused=refused)


@main.command()
@click.option("--name", default=None, help="The worker's name in the run logs; worker@<host> by default.")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
              help="Steps this worker runs at once.")
def worker(name: str | None, concurrency: int) -> None:
    """Runs the steps of Dagster's runs as a Celery worker on BETTING_CELERY_BROKER (dagster-celery's
    task): a host with the project installed and the same environment as the code server (the
    warehouse, DAGSTER_PG_URL, MLflow's server, the provider's key). Nothing a step needs is on
    another host's disk: outputs go to the warehouse, models to MLflow's server."""
    import socket

    from dagster_celery.defaults import task_default_queue

    from betting_assets.celery_worker import make_worker_app
    from betting_assets.settings import env_name

    broker = get_settings().storage.celery_broker
    if broker is None or not broker.get_secret_value():
        raise UserError(f"set {env_name('storage', 'celery_broker')} to the broker the executor uses, "
                        "e.g. pyamqp://guest:guest@127.0.0.1:5672//")
    app = make_worker_app(broker.get_secret_value())
    app.worker_main(["worker", "-Q", task_default_queue, "--prefetch-multiplier=1", "-c", str(concurrency),
                     "-n", name or f"worker@{socket.gethostname()}", "--loglevel", "INFO", "--without-gossip",
                     "--without-mingle"])


@main.group()
def metrics() -> None:
    """Prometheus metrics and a health check, read from the warehouse and the Dagster instance."""


@metrics.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9108, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
def metrics_serve(host: str, port: int) -> None:
    """Serves /metrics (Prometheus' text format: bankroll, open exposure, bets by status, credits
    left and their pace, each sport's newest snapshot's age, the day's quality findings, each job's
    last run) and /health (200 when the warehouse and the instance answer), read at every scrape."""
    from betting_assets import metrics as product_metrics
    from betting_assets.dagster_home import home_of
    from betting_assets.warehouse.engine import make_engine

    settings = get_settings()
    engine = make_engine(settings.warehouse_url)
    home = home_of(settings)
    held: list[object] = []

    def instance() -> object:
        from dagster import DagsterInstance

        if not held:
            if not (home / "dagster.yaml").exists():
                raise FileNotFoundError(f"no Dagster instance at {home} (DAGSTER_HOME)")
            held.append(DagsterInstance.from_config(str(home)))
        return held[0]

    try:
        server = product_metrics.server(host, port, engine, settings, instance)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    click.echo(f"metrics on http://{host}:{server.server_port}/metrics, health on /health (Ctrl-C stops)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        engine.dispose()


PARTITIONED = ("odds_snapshots", "normalized_odds", "scores", "features")
"""the assets partitioned by sport and UTC day, which a backfill selects among"""


def partition_keys(start: str, end: str, settings: Settings, today: datetime) -> tuple[str, str]:
    """Two keys (``sport|YYYY-MM-DD``) of one sport that a backfill can run between, or the
    one-line reason they cannot: Dagster's own answer to a bad key is a traceback."""
    from datetime import date, timedelta

    days = []
    for option, key in (("--from", start), ("--to", end)):
        sport, sep, day = key.partition("|")
        if not sep:
            raise UserError(f"{option} {key!r}: a partition is sport|YYYY-MM-DD, e.g. soccer_epl|2023-08-12")
        if sport not in settings.collection.sports:
            raise UserError(f"{option} {key!r}: {sport!r} is not a collected sport (BETTING_SPORTS: "
                            f"{', '.join(settings.collection.sports)})")
        try:
            parsed = date.fromisoformat(day)
        except ValueError:
            raise UserError(f"{option} {key!r}: {day!r} is not a day as YYYY-MM-DD") from None
        first, last = date.fromisoformat(settings.collection.history_start), today.date() + timedelta(days=1)
        if not first <= parsed <= last:
            raise UserError(f"{option} {key!r}: the partitions run from {first} (BETTING_HISTORY_START) to {last}")
        days.append((sport, parsed))
    if days[0][0] != days[1][0]:
        raise UserError(f"--from and --to name two sports ({days[0][0]}, {days[1][0]}): a range is one sport's days")
    if days[0][1] > days[1][1]:
        raise UserError(f"--from {start!r} comes after --to {end!r}")
    return start, end


@main.command()
@click.option("--select", "select", default="odds_snapshots,normalized_odds,scores", show_default=True,
              help=f"Partitioned assets to materialise, comma-separated ({', '.join(PARTITIONED)}).")
@click.option("--from", "start", required=True, help="First partition, sport|YYYY-MM-DD.")
@click.option("--to", "end", required=True, help="Last partition (inclusive), sport|YYYY-MM-DD.")
def backfill(select: str, start: str, end: str) -> None:
    """One Dagster run over a range of one sport's days (``dagster asset materialize
    --partition-range``), after checking the settings, the assets and the keys: a mistake is one
    line and exit 2, where Dagster's CLI would print a traceback."""
    import os
    import shutil
    import subprocess
    import sys
    from datetime import timezone

    settings = get_settings()
    assets = [a.strip() for a in select.split(",") if a.strip()]
    unknown = [a for a in assets if a not in PARTITIONED]
    if not assets or unknown:
        raise UserError(f"--select: {', '.join(unknown) or 'nothing'} is not a partitioned asset ({', '.join(PARTITIONED)})")
    first, last = partition_keys(start, end, settings, datetime.now(timezone.utc))
    for line in _reclaim(settings):
        click.echo(f"freed before the run: {line}")
    dagster = shutil.which("dagster", path=str(Path(sys.executable).parent)) or shutil.which("dagster") or "dagster"
    done = subprocess.run([dagster, "asset", "materialize", "-m", "betting_assets.definitions", "--select",
                           ",".join(assets), "--partition-range", f"{first}...{last}"], env=os.environ.copy())
    if done.returncode:
        raise click.exceptions.Exit(done.returncode)


def _reclaim(settings: Settings) -> list[str]:
    """An in-process run killed mid-step leaves the provider slot it held claimed for ever: before
    a CLI run, runs whose process is gone are marked failed and their slots freed (``doctor``)."""
    from dagster import DagsterInstance

    from betting_assets import doctor as doctoring
    from betting_assets.dagster_home import home_of

    home = home_of(settings)
    if not (home / "dagster.yaml").exists():
        return []
    with DagsterInstance.from_config(str(home)) as instance:
        return doctoring.fix(instance, doctoring.examine(instance))


def _migrate(step: Callable[[], None]) -> None:
    """An unknown revision is the user's mistake: Alembic's own words, on one line."""
    from alembic.util.exc import CommandError

    try:
        step()
    except CommandError as exc:
        raise UserError(f"{exc} (the revisions are the files in migrations/versions; head is the latest)") from None


@main.group()
def db() -> None:
    """Warehouse migrations (Alembic)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    from betting_assets.settings import mask_url
    from betting_assets.warehouse import migrate
    from betting_assets.warehouse.engine import make_engine

    url = get_settings().warehouse_url
    _migrate(lambda: migrate.upgrade(make_engine(url), revision))
    click.echo(f"warehouse at {mask_url(url)} upgraded to {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    from betting_assets.warehouse import migrate
    from betting_assets.warehouse.engine import make_engine

    _migrate(lambda: migrate.downgrade(make_engine(get_settings().warehouse_url), revision))
    click.echo(f"downgraded to {revision}")


@main.group()
def exchange() -> None:
    """The exchange path (Betfair through betfairlightweight)."""


@exchange.command("check")
@click.option("--at", "at", default=None, help="Check as of this time (ISO); the provider's clock or now by default.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON instead of tables.")
def exchange_check(at: str | None, as_json: bool) -> None:
    """Logs in, reads the funds, maps the upcoming events to the exchange's markets, reads their
    books and says what placement would do with each proposed slip. Places nothing."""
    import json

    from rich.table import Table

    from betfairlightweight.exceptions import BetfairError

    from betting_assets.venues.base import VenueError
    from betting_assets.venues.betfair import client as exchange_client
    from betting_assets.venues.betfair.check import check
    from betting_assets.warehouse.engine import make_engine

    settings = get_settings()
    now = day_option(at, "--at") or _clock_now(settings)
    try:
        client = exchange_client.from_settings(settings.exchange)
    except exchange_client.ExchangeUnavailable as exc:
        raise UserError(str(exc)) from None
    engine = make_engine(settings.warehouse_url)
    try:
        found = check(engine, client, settings, now)
    except VenueError as exc:
        raise UserError(str(exc)) from None
    except BetfairError as exc:
        raise UserError(f"the exchange refused the check: {exchange_client.describe(exc)}") from None
    finally:
        exchange_client.logout(client)
        engine.dispose()
    mapping = found.mapping
    if as_json:
        click.echo(json.dumps({"at": now.isoformat(), "available": found.available, "exposure": found.exposure,
                               "events": mapping.events.height, "mapped": mapping.mapped_events,
                               "unmapped": mapping.unmapped.drop("event_id").to_dicts(), "books": found.books,
                               "slips": found.slips}, indent=2, default=str))
        return
    console = Console()
    console.print(f"exchange {settings.exchange.url} at {now:%Y-%m-%d %H:%M} UTC: available "
                  f"{found.available:,.2f}, exposure {found.exposure:,.2f}")
    console.print(f"upcoming events within 7 days: {mapping.events.height}, mapped {mapping.mapped_events}, "
                  f"unmapped {mapping.unmapped.height}")
    for row in mapping.unmapped.iter_rows(named=True):
        console.print(f"  not mapped: {row['match']}: {row['reason']}"
                      + (f" ({row['candidates']})" if row["candidates"] else ""))
    table = Table(title="proposed slips: what placement would do (nothing was placed)")
    for column in ("slip", "match", "side", "price", "stake", "would", "why"):
        table.add_column(column)
    for slip in found.slips:
        table.add_row(str(slip["slip"]), slip["match"], slip["side"], f"{slip['price']:g}", f"{slip['stake']:.2f}",
                      slip["would"], slip["why"])
    console.print(table if found.slips else "no proposed slips")


def _clock_now(settings: Settings) -> datetime:
    """The provider's clock against the sandbox (as the sensors read it), else the time now."""
    from datetime import timezone

    from betting_assets.clock import ProviderUnreachable, provider_now

    if not settings.uses_provider_clock:
        return datetime.now(timezone.utc)
    try:
        return provider_now(settings.collection.odds_api_base_url)
    except ProviderUnreachable as exc:
        raise UserError(f"{exc}, or pass --at") from None


@main.group()
def instance() -> None:
    """The Dagster instance the project runs on."""


@instance.command("init")
@click.argument("home", required=False, type=click.Path(file_okay=False, path_type=Path))
def instance_init(home: Path | None) -> None:
    """Gives HOME (default: $DAGSTER_HOME, else dagster under the project home) the embedded
    configuration: one provider call at a time across all runs. An existing dagster.yaml is
    kept."""
    from betting_assets.dagster_home import PROVIDER_POOL, home_of, initialise

    target = home or home_of(get_settings())
    existed = (target / "dagster.yaml").exists()
    config = initialise(target)
    click.echo(f"{config} {'kept as it was' if existed else 'written'}; the {PROVIDER_POOL} pool's slots are set")


@main.command()
@click.option("--from", "start", required=True, help="First day of the window (ISO).")
@click.option("--to", "end", required=True, help="Day the window stops before (ISO).")
@click.option("--at", "at", default=None, help="Judge as of this time (ISO; the sandbox's clock in a replay); now "
              "by default.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def report(start: str, end: str, at: str | None, as_json: bool) -> None:
    """What the product did over a window and whether it did what it should: snapshots at decision
    time and close, results, planned calls made, credits as billed, slips and refusals, bets settled,
    the bankroll continuous, failed runs; and what the warehouse gained each week. Exit 1 when a
    promise is broken."""
    import json
    from datetime import timezone

    from betting_assets.dagster_home import home_of
    from betting_assets.season_report import report as season_report
    from betting_assets.warehouse.engine import make_engine

    settings = get_settings()
    first, stop = day_option(start, "--from"), day_option(end, "--to")
    now = day_option(at, "--at") or datetime.now(timezone.utc)
    if first is None or stop is None or first >= stop:
        raise UserError(f"--from {start} must be before --to {end}")
    home = home_of(settings)
    engine = make_engine(settings.warehouse_url)
    try:
        if (home / "dagster.yaml").exists():
            from dagster import DagsterInstance

            with DagsterInstance.from_config(str(home)) as instance:
                found = season_report(engine, settings, first, stop, now, instance)
        else:
            found = season_report(engine, settings, first, stop, now)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(found.as_dict(), indent=2))
    else:
        _print_report(Console(), found, first, stop, now)
    if not found.ok:
        raise click.exceptions.Exit(1)


def _print_report(console: Console, found: Any, first: datetime, stop: datetime, now: datetime) -> None:
    from rich.table import Table

    table = Table(title=f"{first:%Y-%m-%d} to {stop:%Y-%m-%d}, judged at {now:%Y-%m-%d %H:%M} UTC")
    for column in ("", "figure", "as it should", "detail"):
        table.add_column(column)
    for line in found.lines:
        table.add_row(line.what, line.value, {True: "yes", False: "NO", None: ""}[line.ok], line.detail)
    console.print(table)
    weeks = Table(title="what the warehouse gained each week")
    for column in ("week", "snapshots", "odds rows", "provider calls"):
        weeks.add_column(column)
    for w in found.weeks:
        weeks.add_row(w["week"], f"{w['snapshots']:,}", f"{w['odds_rows']:,}", f"{w['provider_calls']:,}")
    console.print(weeks)


@main.command()
@click.option("--fix", is_flag=True, help="Mark runs whose process is gone failed and free the pool slots they "
              "(or runs already over) hold.")
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON.")
@click.option("--home", "home", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="The Dagster instance's folder (default: $DAGSTER_HOME, else dagster under the project home).")
@click.option("--this-machine", is_flag=True, help="Every run of a shared (PostgreSQL) instance runs here: look at "
              "their processes too (by default only an embedded instance's are).")
def doctor(fix: bool, as_json: bool, home: Path | None, this_machine: bool) -> None:
    """Runs the instance thinks are running whose process is gone, provider-pool slots held by
    runs that are not running, and warehouse locks held now; --fix frees what is stuck. Exit 1
    while something is stuck and not fixed."""
    import json

    from dagster import DagsterInstance

    from betting_assets import doctor as doctoring
    from betting_assets.dagster_home import home_of
    from betting_assets.warehouse.engine import make_engine

    settings = get_settings()
    target = home or home_of(settings)
    if not (target / "dagster.yaml").exists():
        raise UserError(f"{target} holds no Dagster instance (betting instance init makes one)")
    engine = make_engine(settings.warehouse_url)
    try:
        with DagsterInstance.from_config(str(target)) as instance:
            found = doctoring.examine(instance, engine, this_machine=True if this_machine else None)
            if fix:
                doctoring.fix(instance, found)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(found.as_dict(), indent=2))
    else:
        for s in found.stuck:
            click.echo(f"stuck run {s.run_id} ({s.job}, {s.status}, last event {s.last_event}): {s.why}")
        for h in found.slots:
            click.echo(f"{h.pool} slot held by run {h.run_id} ({h.step_key}, {h.run_status}): {h.why}")
        for lock in found.locks:
            click.echo(f"warehouse lock {lock['lock']} held by {lock['holder']}")
        for done in found.fixed:
            click.echo(f"fixed: {done}")
        if not found.processes_checked:
            click.echo("runs' processes not looked at: the instance's storage is shared (PostgreSQL) and its runs "
                       "may be on other machines (--this-machine if they all run here)")
        if found.healthy and not found.locks:
            click.echo(f"nothing stuck: no run without its process, no {doctoring.PROVIDER_POOL} slot held by a run "
                       f"that is not running, no warehouse lock held ({found.pending} steps waiting for a slot)")
    if not found.healthy and not fix:
        raise click.exceptions.Exit(1)


if __name__ == "__main__":
    main()
