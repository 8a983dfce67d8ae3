"""Compiled loops (numba), one module per rule they implement: settlement, a day's sizing, the
backtest's day-by-day bankroll, per-group sums, and reading short strings as codes. The Python
modules beside them say what the rules are; these say how they run over a million rows."""

from __future__ import annotations

import hashlib
from pathlib import Path


def _drop_stale_caches() -> None:
    """Numba's cache checks the source file of the function it compiled, not of the functions
    compiled into it, so a change to the settlement rules would leave the day loop that inlines
    them running the old rules. Every kernel's cache is dropped when any kernel's source changes."""
    here = Path(__file__).parent
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(here.glob("*.py")))).hexdigest()
    cache = here / "__pycache__"
    marker = cache / "kernels.sha256"
    try:
        if marker.exists() and marker.read_text() == digest:
            return
        for stale in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
            stale.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        marker.write_text(digest)
    except OSError:
        pass  # a read-only install: numba then caches elsewhere or compiles


_drop_stale_caches()
