"""What an operator's Prometheus scrapes: the warehouse's and the Dagster instance's state, read at
each scrape (nothing cached, so the figures are what the warehouse holds), on the product's clock
(the sandbox's when it is the provider). ``/metrics`` in Prometheus' text format and ``/health``,
served by ``betting metrics serve``; the dashboard in ``docker/grafana/`` reads these names."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Engine, func, select, text

from betting_assets.clock import product_now
from betting_assets.settings import Settings

PACE_WINDOW = timedelta(days=7)
QUALITY_WINDOW = timedelta(days=1)
CONDITIONAL = {"betting_credits_remaining": "once the provider has answered a call",
               "betting_credit_budget": "with BETTING_CREDIT_BUDGET set"}
"""series exported only when there is something to say: absent, not zero, before"""
RUNS_SCANNED = 1000
"""the newest runs read for each job's last status"""


class ProductCollector(Collector):
    """One scrape: every figure read fresh from the warehouse and the instance."""

    def __init__(self, engine: Engine, settings: Settings, instance: Callable[[], Any] | None = None) -> None:
        self.engine, self.settings, self.instance = engine, settings, instance

    def collect(self) -> Iterator[Metric]:
        now, provider = product_now(self.settings)
        yield _gauge("betting_clock_timestamp_seconds", "The product's clock (the sandbox's when it provides)",
                     now.timestamp())
        yield _gauge("betting_clock_from_provider", "1 when the clock is the provider's", float(provider))
        yield from self._warehouse(now)
        if self.instance is not None:
            yield from _runs(self.instance())

    def _warehouse(self, now: datetime) -> Iterator[Metric]:
        from betting_assets.domain.collection.credit_budget import period_start
        from betting_assets.warehouse import health, ledger
        from betting_assets.warehouse.tables import fetch_log, odds_snapshots

        settings = self.settings
        with self.engine.connect() as conn:
            bankroll = ledger.current_bankroll(conn, settings.bankroll)
            open_bets, at_risk = health.open_book(conn)
            by_status = ledger.counts_by_status(conn)
            remaining, spent = health.credits(conn, now, period_start(now, settings.collection.credit_reset_day))
            week = int(conn.scalar(select(func.coalesce(func.sum(health.billed()), 0)).where(
                fetch_log.c.clock_at > now - PACE_WINDOW, fetch_log.c.clock_at <= now)) or 0)
            latest = dict(conn.execute(select(odds_snapshots.c.sport_key, func.max(odds_snapshots.c.as_of))
                                       .where(odds_snapshots.c.as_of <= now)
                                       .group_by(odds_snapshots.c.sport_key)).all())
            findings = health.quality_findings(conn, now, QUALITY_WINDOW)
        yield _gauge("betting_bankroll", "The bankroll after every settlement so far", bankroll)
        yield _gauge("betting_open_bets", "Bets pending, resting or placed", open_bets)
        yield _gauge("betting_open_exposure", "Stakes at risk in open bets (a resting bet's whole stake)", at_risk)
        statuses = GaugeMetricFamily("betting_bets", "Ledger rows by status", labels=["status"])
        for status, count in sorted(by_status.items()):
            statuses.add_metric([status], count)
        yield statuses
        if remaining is not None:
            yield _gauge("betting_credits_remaining", "The provider's last x-requests-remaining", remaining)
        yield _gauge("betting_credits_spent_period", "Credits billed since the credit period began", spent)
        yield _gauge("betting_credits_per_day", "Credits billed a day, over the last seven days", week / 7.0)
        if settings.collection.credit_budget is not None:
            yield _gauge("betting_credit_budget", "BETTING_CREDIT_BUDGET for the period", settings.collection.credit_budget)
        ages = GaugeMetricFamily("betting_last_snapshot_age_seconds", "Since the newest odds snapshot, by sport",
                                 labels=["sport"])
        for sport in settings.collection.sports:
            if latest.get(sport) is not None:
                ages.add_metric([sport], (now - _utc(latest[sport])).total_seconds())
        yield ages
        failing = GaugeMetricFamily("betting_quality_findings", "Data-quality findings recorded over the last day",
                                    labels=["check", "severity"])
        for row in findings:
            failing.add_metric([str(row["check"]), str(row["severity"])], float(row["findings"]))
        yield failing


def _runs(instance: Any) -> Iterator[Metric]:
    """Each job's newest run: its status (one series per job, value 1) and when it ended."""
    status = GaugeMetricFamily("dagster_job_last_run", "Each job's newest run, by its status", labels=["job", "status"])
    ended = GaugeMetricFamily("dagster_job_last_run_end_timestamp_seconds", "When each job's newest finished run "
                              "ended", labels=["job"])
    seen: set[str] = set()
    for record in instance.get_run_records(limit=RUNS_SCANNED):
        run = record.dagster_run
        if run.job_name in seen or run.job_name.startswith("__"):
            continue
        seen.add(run.job_name)
        status.add_metric([run.job_name, run.status.value], 1.0)
        if record.end_time is not None:
            ended.add_metric([run.job_name], float(record.end_time))
    yield status
    yield ended


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=float(value))


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def health(engine: Engine, instance: Callable[[], Any] | None) -> tuple[int, dict[str, str]]:
    """200 when the warehouse answers and the instance can be read, 503 with what failed."""
    state: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        state["warehouse"] = "ok"
    except Exception as exc:  # noqa: BLE001 - health reports any failure, it does not raise
        state["warehouse"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    if instance is not None:
        try:
            instance().get_run_records(limit=1)
            state["dagster"] = "ok"
        except Exception as exc:  # noqa: BLE001
            state["dagster"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return (200 if all(v == "ok" for v in state.values()) else 503), state


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def app(engine: Engine, settings: Settings, instance: Callable[[], Any] | None) -> Callable[..., Iterable[bytes]]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProductCollector(engine, settings, instance))
    metrics = make_wsgi_app(registry)

    def serve(environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/health":
            code, state = health(engine, instance)
            start(f"{code} {'OK' if code == 200 else 'Service Unavailable'}", [("Content-Type", "application/json")])
            return [json.dumps(state).encode()]
        if path == "/metrics":
            return metrics(environ, start)  # type: ignore[no-any-return]
        start("404 Not Found", [("Content-Type", "text/plain")])
        return [b"/metrics or /health\n"]

    return serve


def server(host: str, port: int, engine: Engine, settings: Settings,
           instance: Callable[[], Any] | None) -> WSGIServer:
    return make_server(host, port, app(engine, settings, instance), handler_class=_Quiet)
