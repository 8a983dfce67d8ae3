"""The exchange session through betfairlightweight, the client flumine is built on: login
(certificate login when a certificate folder is configured, interactive otherwise), keep-alive
and logout, with every call's URLs under ``BETTING_EXCHANGE_URL`` so the sandbox's exchange is
reached by the library's own request and response handling.

A session token given in the settings is used as it is (no login) and is never logged out: on
Betfair a logout ends the session for every process holding the token, so a process ends only a
session it logged in for itself (``PointedClient.owns_session``). Either way the token, the
password and the app key never appear in what this module raises or logs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import betfairlightweight
from pydantic import SecretStr
from betfairlightweight.exceptions import APIError, BetfairError, LoginError

BETFAIR_URL = "https://api.betfair.com"
"""the live exchange; its identity service is a different host, which ``PointedClient`` knows"""


class ExchangeUnavailable(RuntimeError):
    """The exchange could not be reached or refused the session: nothing was placed."""


class PointedClient(betfairlightweight.APIClient):
    """betfairlightweight's client with its identity and API URLs under one base URL (the
    sandbox's), or Betfair's own when the base is Betfair's."""

    owns_session: bool = False
    """whether this process logged in for its session (then, and only then, it logs it out)"""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        base = base_url.rstrip("/")
        if base != BETFAIR_URL:
            self.identity_uri = f"{base}/identity/api/"
            self.identity_cert_uri = f"{base}/identity-cert/api/"
            self.api_uri = f"{base}/exchange/"


def client(url: str, app_key: str, *, username: str | None = None, password: str | None = None,
           session_token: str | None = None, certs: Path | None = None, timeout_s: float = 5.0) -> PointedClient:
    """A client with a session: the token given, or one from logging in."""
    made = PointedClient(url, username=username or "token", password=password or "", app_key=app_key,
                         certs=str(certs) if certs else None)
    for endpoint in (made.betting, made.account, made.login, made.login_interactive, made.keep_alive, made.logout):
        endpoint.read_timeout = timeout_s
    if session_token:
        made.set_session_token(session_token)
        return made
    if not username or not password:
        raise ExchangeUnavailable(needs(app_key, session_token, username, password))
    try:
        made.login() if certs else made.login_interactive()
    except LoginError as exc:
        raise ExchangeUnavailable(f"exchange login refused: {_login_status(exc)}") from None
    except BetfairError as exc:
        raise ExchangeUnavailable(f"exchange login failed: {describe(exc)}") from None
    made.owns_session = True
    return made


def from_settings(exchange: Any, *, base_url: str | None = None, app_key: str | None = None,
                  session_token: str | None = None) -> PointedClient:
    """A client for the settings' exchange (``ExchangeSettings``); the keywords name another."""
    key = app_key or secret(exchange.app_key)
    token = session_token or secret(exchange.session_token)
    password = secret(exchange.password)
    missing = needs(key, token, exchange.username, password)
    if missing:
        raise ExchangeUnavailable(missing)
    assert key is not None
    return client(base_url or exchange.url, key, username=exchange.username, password=password,
                  session_token=token, certs=exchange.certs, timeout_s=exchange.timeout_s)


def missing(exchange: Any) -> str | None:
    """What the settings' credentials lack (``needs``), before any call is made."""
    return needs(secret(exchange.app_key), secret(exchange.session_token), exchange.username, secret(exchange.password))


def needs(app_key: str | None, session_token: str | None, username: str | None, password: str | None) -> str | None:
    """What the credentials lack, as the one line a user reads; None when a session can be had."""
    missing = [] if app_key else ["BETTING_EXCHANGE_APP_KEY"]
    if not session_token and not (username and password):
        missing.append("BETTING_EXCHANGE_SESSION_TOKEN (or BETTING_EXCHANGE_USERNAME and BETTING_EXCHANGE_PASSWORD "
                       "to log in)")
    return f"the exchange needs {' and '.join(missing)}" if missing else None


def secret(value: SecretStr | None) -> str | None:
    """A secret setting's value, ``None`` when it is unset or empty."""
    return (value.get_secret_value() or None) if value is not None else None


def keep_alive(made: PointedClient) -> None:
    """Renews the session when half its lifetime has passed (Betfair's sessions last hours)."""
    if made.session_expired:
        try:
            made.keep_alive()
        except BetfairError as exc:
            raise ExchangeUnavailable(f"exchange keep-alive refused: {describe(exc)}") from None


def logout(made: PointedClient) -> None:
    """Ends a session this process logged in for; a token given in the settings is left alone,
    whatever else the settings hold."""
    if made.owns_session and made.session_token:
        try:
            made.logout()
        except BetfairError:
            pass


def error_code(exc: APIError) -> str | None:
    """The exchange's code for a refused call (``INVALID_SESSION_INFORMATION`` …), if it gave one."""
    error = (exc.response or {}).get("error") or {}
    detail = (error.get("data") or {}).get("APINGException") or {}
    return detail.get("errorCode") or error.get("message")


def describe(exc: BetfairError) -> str:
    """One line without the request's parameters or the response's body."""
    if isinstance(exc, APIError):
        code = error_code(exc) if exc.response else None
        return code or (type(exc.exception).__name__ if exc.exception else "no answer")
    if isinstance(exc, LoginError):
        return _login_status(exc)
    return str(exc).splitlines()[0][:200]


def _login_status(exc: LoginError) -> str:
    response = exc.response or {}
    return str(response.get("loginStatus") or response.get("error") or "UNKNOWN")
