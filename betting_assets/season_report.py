"""``betting report``: what a stretch of unattended operation did, and whether it did what it
should, read from the warehouse and the Dagster instance.

Each line is a count with its verdict: every event of the window with its decision-time and
closing snapshots and (once it is over) its result; every planned call made; credits as billed
beside those counted from answers and the budget; every slip placed or refused with its code;
every bet of a finished event settled; the bankroll continuous from one settlement to the next;
no failed run. The growth table gives, per ISO week, the rows the warehouse gained, so a
season's ageing can be read off it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Engine, func, select

from betting_assets.domain.collection.collection_plan import DECISION_WINDOW
from betting_assets.domain.collection.fetch_decisions import MADE_SKEW, missed_calls
from betting_assets.domain.data.quality import RESULT_GRACE
from betting_assets.domain.orders.states import BetStatus
from betting_assets.settings import Settings
from betting_assets.warehouse import health, queries
from betting_assets.warehouse import plan as plan_store
from betting_assets.warehouse.tables import (bankroll_history, bet_slips, bets, events, fetch_log, normalized_odds,
                                             odds_snapshots)

CLOSING_WINDOW = timedelta(minutes=15)
"""a closing snapshot is one within this before kick-off (the plan aims ten minutes before)"""


@dataclass(frozen=True)
class Line:
    what: str
    value: str
    ok: bool | None
    """None: a figure, not a promise"""
    detail: str = ""


@dataclass
class SeasonReport:
    start: str
    end: str
    lines: list[Line] = field(default_factory=list)
    weeks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(line.ok is not False for line in self.lines)

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "ok": self.ok, "lines": [asdict(x) for x in self.lines],
                "weeks": self.weeks}


def _share(n: int, of: int) -> str:
    return f"{n:,} of {of:,}"


def report(engine: Engine, settings: Settings, start: datetime, end: datetime, now: datetime,
           instance: Any = None, injected: set[str] | frozenset[str] = frozenset(),
           provider_used: int | None = None, provider_faults: bool = False) -> SeasonReport:
    """``injected``: runs a fault was injected into (``betting season`` kills them), whose failure
    is set apart, and so are, with ``provider_faults``, runs that failed on a provider fault that
    was injected (an error answer after the retries, or an answer a blocking check refused);
    ``provider_used``: the provider's own count of credits it billed over the
    warehouse's whole life (the sandbox's account), held to what the warehouse records."""
    sports = settings.collection.sports
    out = SeasonReport(start.isoformat(), end.isoformat())
    add = out.lines.append
    lead = timedelta(hours=settings.model.decision_hours)
    with engine.connect() as conn:
        fixtures = queries.events_of(conn, sports, start, end)
        ids = fixtures["event_id"].to_list()
        stamps = pl.DataFrame(conn.execute(
            select(normalized_odds.c.event_id, normalized_odds.c.snapshot_time).distinct()
            .where(normalized_odds.c.event_id.in_(ids))).all(), schema={"event_id": pl.String,
                                                                       "snapshot_time": pl.Datetime("us", "UTC")},
            orient="row") if ids else pl.DataFrame(schema={"event_id": pl.String,
                                                           "snapshot_time": pl.Datetime("us", "UTC")})
        planned = plan_store.plan_frame(conn, start, min(end, now), sports)
        made = plan_store.calls_made(conn, start, min(end, now) + MADE_SKEW)
        billed = int(conn.scalar(select(func.coalesce(func.sum(health.billed()), 0)).where(
            fetch_log.c.clock_at >= start, fetch_log.c.clock_at < end)) or 0)
        counted = int(conn.scalar(select(func.coalesce(func.sum(fetch_log.c.requests_last), 0)).where(
            fetch_log.c.clock_at >= start, fetch_log.c.clock_at < end)) or 0)
        unanswered = health.unanswered_credits(conn, end, start)
        billed_ever = int(conn.scalar(select(func.coalesce(func.sum(health.billed()), 0))) or 0)
        counted_ever = int(conn.scalar(select(func.coalesce(func.sum(fetch_log.c.requests_last), 0))) or 0)
        slips = conn.execute(select(bet_slips.c.status, func.count()).where(
            bet_slips.c.commence_time >= start, bet_slips.c.commence_time < end).group_by(bet_slips.c.status)).all()
        ledger = queries.result_frame(conn, select(bets.c.bet_id, bets.c.status, bets.c.refusal_codes, bets.c.profit,
                                                   bets.c.commence_time, events.c.status.label("event_status"))
                                      .join(events, events.c.event_id == bets.c.event_id)
                                      .where(bets.c.commence_time >= start, bets.c.commence_time < end))
        history = queries.result_frame(conn, select(bankroll_history.c.change, bankroll_history.c.bankroll)
                                       .order_by(bankroll_history.c.entry_id))
        weeks = _weeks(conn, start, end)
    kickoffs = fixtures.select("event_id", "commence_time", "status")
    near = kickoffs.join(stamps, on="event_id", how="left")
    decision = near.filter((pl.col("snapshot_time") <= pl.col("commence_time") - lead)
                           & (pl.col("snapshot_time") >= pl.col("commence_time") - lead - DECISION_WINDOW))
    closing = near.filter((pl.col("snapshot_time") < pl.col("commence_time"))
                          & (pl.col("snapshot_time") >= pl.col("commence_time") - CLOSING_WINDOW))
    due_decision = kickoffs.filter(pl.col("commence_time") - lead <= now)
    due_closing = kickoffs.filter(pl.col("commence_time") <= now)
    over = kickoffs.filter(pl.col("commence_time") <= now - RESULT_GRACE)
    have_decision = decision["event_id"].n_unique()
    have_closing = closing["event_id"].n_unique()
    finals = over.filter(pl.col("status") == "final").height
    add(Line("events kicking off in the window", f"{kickoffs.height:,}", None, ", ".join(sports)))
    add(Line("with a decision-time snapshot", _share(have_decision, due_decision.height),
             have_decision >= due_decision.height, f"within {DECISION_WINDOW.seconds // 60} min before kick-off − "
             f"{settings.model.decision_hours:g} h"))
    add(Line("with a closing snapshot", _share(have_closing, due_closing.height), have_closing >= due_closing.height,
             f"within {CLOSING_WINDOW.seconds // 60} min before kick-off"))
    add(Line("with their result", _share(finals, over.height), finals == over.height,
             f"events started over {RESULT_GRACE.seconds // 3600} h before {now:%Y-%m-%d %H:%M}"))
    missed = missed_calls(planned, made, now)
    closed = planned.filter(pl.col("due_until") <= now).height
    add(Line("planned calls made", _share(closed - len(missed), closed), not missed,
             "; ".join(f"{c['priority']} {c['endpoint']} {c['sport_key']} at {c['at']:%m-%d %H:%M}" for c in missed[:5])))
    budget = settings.collection.credit_budget
    add(Line("credits as billed (x-requests-used)", f"{billed:,}", budget is None or billed <= budget,
             f"counted from answers {counted:,}, billed for calls without an answer {unanswered:,}"
             + (f", budget {budget:,} a period" if budget is not None else ", no budget set")))
    if provider_used is not None:
        add(Line("credits the provider billed, all time", f"{provider_used:,}", provider_used == billed_ever,
                 f"the warehouse records {billed_ever:,} billed ({counted_ever:,} counted from answers)"))
    by_status = dict(slips)
    add(Line("slips", f"{sum(by_status.values()):,}", None,
             ", ".join(f"{k} {v:,}" for k, v in sorted(by_status.items())) or "none"))
    still = by_status.get("proposed", 0)
    add(Line("slips still proposed", f"{still:,}", still == 0, "each ends placed, resting, lapsed or refused"))
    codes = ledger.filter(pl.col("refusal_codes").is_not_null())["refusal_codes"].cast(pl.String).str.split(
        ",").explode()
    refused = codes.value_counts(sort=True) if codes.len() else pl.DataFrame()
    add(Line("refusals by code", f"{codes.len():,}", None,
             ", ".join(f"{r['refusal_codes']} {r['count']:,}" for r in refused.iter_rows(named=True)) or "none"))
    ledger = ledger.with_columns(pl.col("status", "event_status").cast(pl.String), pl.col("profit").cast(pl.Float64))
    unsettled = ledger.filter((pl.col("status") == BetStatus.PLACED) & (pl.col("event_status") == "final"))
    settled = ledger.filter(pl.col("status").is_in([BetStatus.SETTLED, BetStatus.VOID]))
    add(Line("bets settled", _share(settled.height, settled.height + unsettled.height), unsettled.is_empty(),
             "placed bets whose event is final and are still open: " + f"{unsettled.height:,}"))
    add(Line("settled P&L", f"{float(settled['profit'].fill_null(0).sum()):+,.2f}", None,
             f"{settled.height:,} bets"))
    gaps = _bankroll_gaps(history, settings.bankroll)
    add(Line("bankroll continuous", f"{history.height:,} settlements", gaps == 0,
             f"{gaps} entries that do not follow from the one before" if gaps else "each entry = the one before + its change"))
    if instance is not None:
        from dagster import DagsterRunStatus, RunsFilter

        every = instance.get_run_records(filters=RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
        causes = {r.dagster_run.run_id: failure_cause(instance, r.dagster_run.run_id) for r in every}
        on_provider = [r for r in every if provider_faults and causes[r.dagster_run.run_id] in PROVIDER_FAULTS]
        failed = [r for r in every if r.dagster_run.run_id not in injected and r not in on_provider]
        jobs: dict[str, int] = {}
        for record in failed:
            name = f"{record.dagster_run.job_name} ({causes[record.dagster_run.run_id]})"
            jobs[name] = jobs.get(name, 0) + 1
        killed = sum(1 for r in every if r.dagster_run.run_id in injected)
        add(Line("failed runs", f"{len(failed):,}", not failed,
                 (", ".join(f"{j} {n}" for j, n in sorted(jobs.items())) or "none")
                 + (f"; set apart: {killed} killed by the season" if killed else "")
                 + (f"; {len(on_provider)} on an injected provider fault" if on_provider else "")
                 + ("" if injected or provider_faults else " (a fault you injected counts too)")))
    out.weeks = weeks
    return out


PROVIDER_FAULTS = frozenset({"ServerError", "TransportFailure", "RateLimitedError", "MalformedResponseError",
                             "CircuitOpenError", "DagsterAssetCheckFailedError"})
"""what a run fails with when the provider answered with an error or a body a blocking check refused"""


def failure_cause(instance: Any, run_id: str) -> str:
    """The class of the innermost error of the run's first failed step ("run" when no step failed:
    the run's process died, or it was cancelled)."""
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is not None and event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            while error is not None and error.cause is not None and error.cls_name in (
                    "DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"):
                error = error.cause
            return str(error.cls_name) if error is not None else "step"
    return "run"


def _bankroll_gaps(history: pl.DataFrame, start: float) -> int:
    gaps, before = 0, start
    for change, bankroll in history.select("change", "bankroll").iter_rows():
        if abs(before + float(change) - float(bankroll)) > 0.005:
            gaps += 1
        before = float(bankroll)
    return gaps


def _weeks(conn: Any, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Rows the warehouse gained per ISO week of the window, by the product's clock."""
    counts: dict[str, dict[str, int]] = {}
    for name, column in (("snapshots", odds_snapshots.c.as_of), ("odds_rows", normalized_odds.c.snapshot_time),
                         ("provider_calls", fetch_log.c.clock_at)):
        for stamp, n in conn.execute(select(column, func.count()).where(column >= start, column < end)
                                     .group_by(column)).all():
            year, week, _ = stamp.isocalendar()
            counts.setdefault(f"{year}-W{week:02d}", {}).setdefault(name, 0)
            counts[f"{year}-W{week:02d}"][name] += int(n)
    return [{"week": w, **{k: v.get(k, 0) for k in ("snapshots", "odds_rows", "provider_calls")}}
            for w, v in sorted(counts.items())]
