"""Asset-check specs for the ingestion assets and the translation of rule outcomes into
check results. The rules live in ``domain.quality``; this module only decides how loud a
failure is: in flag mode an error-level finding fails the check with ERROR severity (and a
blocking check stops everything downstream); in reject mode the offending rows were left
out, so the failure is reported as a warning and downstream runs on clean data."""

from __future__ import annotations

from datetime import datetime

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, MetadataValue
from sqlalchemy import Engine

from betting_assets.domain.quality import CheckOutcome
from betting_assets.warehouse import writes

RAW_SPECS = {
    "required_fields": "Every event, bookmaker, market and outcome carries its required fields.",
    "no_future_prices": "No price is timestamped after the fetch that returned it.",
}
NORMALIZED_SPECS = {
    "prices_valid": "Decimal prices ≥ 1.01, American |a| ≥ 100, all numeric.",
    "no_duplicate_keys": "No natural key (event, bookmaker, market, outcome, point, time) twice in a snapshot.",
    "market_complete": "Every bookmaker market has all its outcomes at the same line.",
    "overround_range": "Overround in 2–15 % (warning outside; error below 0 % or above 30 %).",
    "line_moves": "No quote's implied probability jumps more than 0.15 between snapshots (warning).",
    "contract": "Great Expectations suite over the stored rows: types, nulls, ranges, unique keys.",
}
NON_BLOCKING = {"line_moves", "odds_freshness"}


def recorded(engine: Engine, outcome: CheckOutcome, source: str, now: datetime,
             **extra: object) -> AssetCheckResult:
    """A rule over the whole warehouse at the clock's time: its findings logged (once each),
    then its result in flag mode."""
    with engine.begin() as conn:
        writes.record_findings(conn, outcome.findings, source=source)
    return result(outcome, "flag", extra={"clock": now.isoformat(), **extra})


def specs(asset: str, descriptions: dict[str, str]) -> list[AssetCheckSpec]:
    return [AssetCheckSpec(name, asset=asset, description=text, blocking=name not in NON_BLOCKING)
            for name, text in descriptions.items()]


def result(outcome: CheckOutcome, mode: str, asset: str | None = None,
           extra: dict[str, object] | None = None) -> AssetCheckResult:
    severity = AssetCheckSeverity.ERROR if outcome.errors and mode != "reject" else AssetCheckSeverity.WARN
    sample = "\n".join(
        f"- **{f.severity}** {f.event_id or ''} {f.bookmaker or ''} {f.market or ''}: {f.message}"
        for f in outcome.findings[:8]
    )
    metadata: dict[str, object] = {
        "checked": outcome.checked,
        "errors": outcome.errors,
        "warnings": outcome.warnings,
        "mode": mode,
    }
    if sample:
        metadata["sample"] = MetadataValue.md(sample + ("\n- …" if len(outcome.findings) > 8 else ""))
    metadata.update(extra or {})
    kwargs = {"asset_key": asset} if asset else {}
    return AssetCheckResult(check_name=outcome.name, passed=outcome.passed, severity=severity,
                            metadata=metadata, **kwargs)
