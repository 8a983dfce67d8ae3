"""Great Expectations suite for stored normalised odds: an independent contract on what the
warehouse holds (types, nulls, ranges, unique natural keys), read back after the write, so a
bug in our own rules cannot pass it silently. GE validates pandas frames, hence the one
conversion here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from betting_assets.domain.data.normalize import NATURAL_KEY, Finding
from betting_assets.domain.pricing.odds import MIN_DECIMAL
from betting_assets.domain.data.quality import CheckOutcome
from betting_assets.domain.vocabulary import MARKETS


@dataclass
class ContractResult:
    success: bool
    expectations: list[dict[str, Any]] = field(default_factory=list)


def _suite() -> Any:
    import great_expectations as gx

    suite = gx.ExpectationSuite(name="normalized_odds_contract")
    for column in ("event_id", "sport_key", "bookmaker", "market", "outcome", "point", "snapshot_time",
                   "commence_time", "is_valid"):
        suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column=column))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeInSet(column="market",
                                                                      value_set=[str(m) for m in MARKETS],
                                                                      mostly=0.99))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(column="price_decimal",
                                                                        min_value=MIN_DECIMAL, max_value=1001.0))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(column="implied_prob",
                                                                        min_value=0.0, max_value=1.0))
    suite.add_expectation(gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=NATURAL_KEY))
    return suite


def validate_normalized(frame: pl.DataFrame) -> CheckOutcome:
    """Runs the suite over valid rows (invalid ones are reported by ``prices_valid``)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    rows = frame.filter(pl.col("is_valid"))
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("warehouse")
        .add_dataframe_asset("normalized_odds")
        .add_batch_definition_whole_dataframe("partition")
        .get_batch(batch_parameters={"dataframe": rows.to_pandas()})
    )
    report = batch.validate(_suite())
    findings: list[Finding] = []
    for item in report.results:
        if item.success:
            continue
        config = item.expectation_config
        details = item.result or {}
        findings.append(Finding(
            "contract", "error",
            f"{config.type} failed on {config.kwargs.get('column') or config.kwargs.get('column_list')}: "
            f"{details.get('unexpected_count')} rows",
            context={"expectation": config.type, "unexpected_count": details.get("unexpected_count"),
                     "sample": [str(v) for v in (details.get("partial_unexpected_list") or [])[:5]]},
        ))
    return CheckOutcome("contract", rows.height, findings)
