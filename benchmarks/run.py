"""``make bench``: every benchmark, ending with one ``figure`` line per figure."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from benchmarks import normalize_store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--naive-rows", type=int, default=20_000)
    args = parser.parse_args()
    pg_url = os.environ.get("BETTING_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    figures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sqlite", "postgresql"):
            r = normalize_store.run(kind, args.rows, args.naive_rows, Path(tmp), pg_url)
            print(f"{kind}: project {r['project_rows']:,.0f} rows at {r['project_rate']:,.0f} rows/s; "
                  f"naive ORM {r['naive_rows']:,.0f} rows at {r['naive_rate']:,.0f} rows/s"
                  + (f"; raw COPY at {r['copy_rate']:,.0f} rows/s" if "copy_rate" in r else ""), flush=True)
            figures.append(f"figure normalize_store_vs_orm_{kind}: {r['project_rate'] / r['naive_rate']:.1f} x "
                           "(goal >= 20)")
            if "copy_rate" in r:
                figures.append(f"figure normalize_store_vs_copy_postgresql: {r['project_rate'] / r['copy_rate']:.2f} x "
                               "(goal >= 0.5)")
    for line in figures:
        print(line)


if __name__ == "__main__":
    main()
