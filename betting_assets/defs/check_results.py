"""How a rule's outcome (``domain.quality.CheckOutcome``) becomes a Dagster check result, for
every folder. The rules live in ``domain``; this module only decides how loud a failure is: in
flag mode an error-level finding fails the check with ERROR severity (and a blocking check stops
everything downstream); in reject mode the offending rows were left out, so the failure is
reported as a warning and downstream runs on clean data."""

from __future__ import annotations

from datetime import datetime

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, MetadataValue
from sqlalchemy import Engine

from betting_assets.domain.data.normalize import Finding
from betting_assets.domain.data.quality import CheckOutcome, QualityMode
from betting_assets.warehouse import writes

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


def sample(outcome: CheckOutcome, names: dict[str, str] | None = None, size: int = 8) -> str:
    """The first findings as a reader wants them: the match by its teams (the event id where the
    warehouse has no name), one line per match, bookmaker and market however many snapshots
    repeat it, with how many times."""
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for f in outcome.findings:
        groups.setdefault((f.event_id or "", f.bookmaker or "", f.market or ""), []).append(f)
    shown = list(groups.items())[:size]
    text = "\n".join(
        f"- **{same[0].severity}** {(names or {}).get(event, event)} {book} {market}: {same[0].message}"
        + (f" (×{len(same)} snapshots)" if len(same) > 1 else "")
        for (event, book, market), same in shown)
    more = len(groups) - len(shown)
    return text + (f"\n- … and {more} more" if more > 0 else "")


def result(outcome: CheckOutcome, mode: str, asset: str | None = None,
           extra: dict[str, object] | None = None, names: dict[str, str] | None = None) -> AssetCheckResult:
    severity = AssetCheckSeverity.ERROR if outcome.errors and mode != QualityMode.REJECT else AssetCheckSeverity.WARN
    shown = sample(outcome, names)
    metadata: dict[str, object] = {
        "checked": outcome.checked,
        "errors": outcome.errors,
        "warnings": outcome.warnings,
        "mode": str(mode),
    }
    if shown:
        metadata["sample"] = MetadataValue.md(shown)
    metadata.update(extra or {})
    kwargs = {"asset_key": asset} if asset else {}
    return AssetCheckResult(check_name=outcome.name, passed=outcome.passed, severity=severity,
                            metadata=metadata, **kwargs)
