"""A circuit breaker with an injectable clock, so tests move time instead of sleeping."""

from __future__ import annotations

import threading
import time
from typing import Callable

from betting_assets.sources.errors import CircuitOpenError


class CircuitBreaker:
    """Closed → open after ``threshold`` consecutive failures; after ``cooldown_s`` one trial
    call is let through (half-open): success closes it, failure opens it again."""

    def __init__(self, threshold: int = 5, cooldown_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown_s:
            return "half-open"
        return "open"

    def before_call(self) -> None:
        with self._lock:
            state = self._state()
            if state == "open" or (state == "half-open" and self._trial_in_flight):
                assert self._opened_at is not None
                wait = max(0.0, self.cooldown_s - (self._clock() - self._opened_at))
                raise CircuitOpenError(
                    f"circuit open after {self._failures} consecutive failures; retry in {wait:.0f}s"
                )
            if state == "half-open":
                self._trial_in_flight = True

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial_in_flight = False
            if self._opened_at is not None or self._failures >= self.threshold:
                self._opened_at = self._clock()
