"""Compiled loops (numba), one module per rule they implement: settlement, a moment's sizing,
the gate and the account's bookkeeping, the backtest's account moment by moment, per-group sums,
and reading short strings as codes. The Python modules beside them say what the rules are; these
say how they run over a million rows."""

from __future__ import annotations

import hashlib
from pathlib import Path


COMPILED_WITH = ("orders/book.py", "orders/controls.py", "vocabulary.py", "codes.py")
"""modules outside this folder whose constants or functions are compiled into the kernels"""


def _drop_stale_caches() -> None:
    """Numba's cache checks the source file of the function it compiled, not of the functions
    or constants compiled into it, so a change to the settlement rules (or to a book field's
    index) would leave the loop that inlines them running the old ones. Every kernel's and
    every control's cache is dropped when any of their sources changes."""
    here = Path(__file__).parent
    sources = [*sorted(here.glob("*.py")), *(here.parent / name for name in COMPILED_WITH)]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()
    caches = [here / "__pycache__", here.parent / "orders" / "__pycache__"]
    marker = caches[0] / "kernels.sha256"
    try:
        if marker.exists() and marker.read_text() == digest:
            return
        for cache in caches:
            for stale in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
                stale.unlink(missing_ok=True)
        caches[0].mkdir(exist_ok=True)
        marker.write_text(digest)
    except OSError:
        pass  # a read-only install: numba then caches elsewhere or compiles


_drop_stale_caches()
