"""Metadata a person wants to see on a materialisation: small markdown tables and schemas."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import polars as pl
from dagster import FloatMetadataValue, IntMetadataValue, MetadataValue, TableColumn, TableRecord, TableSchema

_TYPES = {pl.String: "string", pl.Float64: "float", pl.Int64: "int", pl.Int32: "int", pl.Boolean: "bool"}


def markdown_table(frame: pl.DataFrame, limit: int = 10, digits: int = 3) -> MetadataValue:
    if frame.is_empty():
        return MetadataValue.md("_no rows_")
    head = frame.head(limit)

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.{digits}f}"
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M")
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in head.iter_rows()]
    if frame.height > limit:
        lines.append(f"\n_{limit} of {frame.height} rows_")
    return MetadataValue.md("\n".join(lines))


def picture(png: bytes, alt: str) -> MetadataValue:
    """A PNG shown inline in the UI's metadata (Dagster has no image type; Markdown takes a data URI)."""
    return MetadataValue.md(f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})")


def column_schema(schema: dict[str, pl.DataType]) -> MetadataValue:
    def kind(dtype: pl.DataType) -> str:
        if isinstance(dtype, pl.Datetime):
            return "timestamp (UTC)"
        return _TYPES.get(type(dtype), _TYPES.get(dtype, str(dtype)))  # type: ignore[call-overload]

    return MetadataValue.table_schema(TableSchema(columns=[TableColumn(name, kind(t)) for name, t in schema.items()]))


def rounded(value: float, digits: int = 4) -> MetadataValue:
    """A float as users read and trend it: rounded, never ``13.140599999999997``."""
    return MetadataValue.float(round(float(value), digits))


def percent(fraction: float | None, digits: int = 2) -> MetadataValue:
    """A fraction (ROI, CLV, hit rate) as a percentage, the one unit every surface uses."""
    return MetadataValue.null() if fraction is None else MetadataValue.float(round(100 * float(fraction), digits))


STATE = {"credits_remaining", "budget", "credits_spent_this_period", "credits_left_this_period",
         "credits_planned_this_period"}
"""figures of the provider or warehouse at the end of the run, not of its partitions"""


def per_partition(metadata: dict[str, Any], keys: list[str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Metadata that is true on every partition a run covers. A single-run backfill records the
    same metadata on each of its partitions (Dagster cannot split it), so with more than one
    partition the totals are renamed ``run_*``, ``dagster/row_count`` is dropped, ``scope``
    says so, and ``by_partition`` holds each partition's own figures (``rows``: one dict per
    partition with ``partition`` and the figures)."""
    if len(keys) <= 1:
        return metadata
    scoped: dict[str, Any] = {}
    for name, value in metadata.items():
        if name == "dagster/row_count":
            continue
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        figure = name not in STATE and (numeric or isinstance(value, (IntMetadataValue, FloatMetadataValue)))
        scoped[f"run_{name}" if figure else name] = value
    scoped["scope"] = MetadataValue.text(
        f"run_* figures are over this run's {len(keys)} partitions together ({keys[0]} … {keys[-1]}); "
        "by_partition has each partition's own")
    columns = list(rows[0]) if rows else ["partition"]
    scoped["by_partition"] = MetadataValue.table(
        records=[TableRecord(data=row) for row in rows],
        schema=TableSchema(columns=[TableColumn(c, "string" if c == "partition" else "int") for c in columns]))
    return scoped
