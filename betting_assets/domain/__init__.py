"""Pure betting logic: no I/O, no Dagster. Polars in, polars out."""
