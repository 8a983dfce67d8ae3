"""Transactions that a database may abort for reasons of its own: a deadlock or a
serialisation failure on PostgreSQL, a busy file on SQLite. The work is done again once in a
fresh transaction; anything else is raised as it is."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TypeVar

from psycopg2 import errors as pg_errors
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")
TRANSIENT = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure, pg_errors.LockNotAvailable)


def is_transient(exc: DBAPIError) -> bool:
    orig = exc.orig
    if isinstance(orig, TRANSIENT):
        return True
    return isinstance(orig, sqlite3.OperationalError) and "locked" in str(orig)


def in_transaction(engine: Engine, work: Callable[[Connection], T], attempts: int = 2) -> T:
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as conn:
                return work(conn)
        except DBAPIError as exc:
            if attempt == attempts or not is_transient(exc):
                raise
    raise AssertionError("unreachable")
