"""Metadata a person wants to see on a materialisation: small markdown tables and schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from dagster import MetadataValue, TableColumn, TableSchema

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


def column_schema(schema: dict[str, pl.DataType]) -> MetadataValue:
    def kind(dtype: pl.DataType) -> str:
        if isinstance(dtype, pl.Datetime):
            return "timestamp (UTC)"
        return _TYPES.get(type(dtype), _TYPES.get(dtype, str(dtype)))  # type: ignore[call-overload]

    return MetadataValue.table_schema(TableSchema(columns=[TableColumn(name, kind(t)) for name, t in schema.items()]))
