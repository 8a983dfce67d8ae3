"""Named locks that hold across processes, on either database.

The placement gate reads the book and claims bets in one step; two runs doing that at once
would each gate against a book without the other's bets and together break a cap. The lock
makes the step one run at a time per bankroll. It is held by a connection (PostgreSQL's
advisory lock) or an open file (``flock`` beside the SQLite file), never by a transaction,
so the work inside may commit as often as it needs, and a run that dies releases it.
"""

from __future__ import annotations

import fcntl
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

POLL_S = 0.05
BANKROLL = "bankroll"
"""the lock placement's gate and claims hold, one bankroll at a time"""
_MEMORY_LOCKS: dict[str, threading.Lock] = {}


class LockTimeout(RuntimeError):
    """Another run held the lock for longer than the caller would wait."""


def advisory_key(name: str) -> int:
    """The PostgreSQL advisory-lock key of a named lock."""
    return int.from_bytes(hashlib.sha256(f"betting:{name}".encode()).digest()[:8], "big", signed=True)


def _wait(try_once, name: str, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not try_once():
        if time.monotonic() >= deadline:
            raise LockTimeout(f"the {name} lock is held by another run; gave up after {timeout_s:g} s")
        time.sleep(POLL_S)


@contextmanager
def named_lock(engine: Engine, name: str, timeout_s: float = 120.0) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            key = advisory_key(name)
            _wait(lambda: conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar(), name, timeout_s)
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        lock = _MEMORY_LOCKS.setdefault(name, threading.Lock())
        _wait(lambda: lock.acquire(blocking=False), name, timeout_s)
        try:
            yield
        finally:
            lock.release()
        return
    path = Path(f"{database}.{name}.lock")
    with path.open("a") as handle:
        def try_once() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        _wait(try_once, name, timeout_s)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
