"""Typed provider errors, so callers can tell a bad key from an empty wallet from an outage."""

from __future__ import annotations


class OddsApiError(Exception):
    retryable = False

    def __init__(self, message: str, *, status_code: int | None = None, error_code: str | None = None,
                 url: str | None = None, body: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_code = error_code
        self.url = url
        self.body = body


class AuthError(OddsApiError):
    """401: the provider refused the key or the plan."""


class MissingKeyError(AuthError):
    pass


class InvalidKeyError(AuthError):
    pass


class OutOfCreditsError(AuthError):
    pass


class HistoricalNotOnPlanError(AuthError):
    pass


class InvalidParametersError(OddsApiError):
    """422: the request itself is wrong; retrying cannot help."""


class NotFoundError(OddsApiError):
    pass


class RateLimitedError(OddsApiError):
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(OddsApiError):
    retryable = True


class TransportFailure(OddsApiError):
    """Timeouts and connection failures."""

    retryable = True


class MalformedResponseError(OddsApiError):
    """A 2xx answer whose body is not the JSON promised; the body is kept on the error."""


class CircuitOpenError(OddsApiError):
    """The breaker is open: the provider failed repeatedly and is being left alone."""


class CreditReserveError(OddsApiError):
    """The call would take remaining credits below the configured reserve."""


class CreditBudgetError(OddsApiError):
    """The call could cost more than the period's budget has left (``BETTING_CREDIT_BUDGET``)."""


AUTH_ERRORS: dict[str, type[AuthError]] = {
    "MISSING_KEY": MissingKeyError,
    "INVALID_KEY": InvalidKeyError,
    "OUT_OF_USAGE_CREDITS": OutOfCreditsError,
    "HISTORICAL_UNAVAILABLE_ON_FREE_USAGE_PLAN": HistoricalNotOnPlanError,
}
