"""Where a failure is told: the operator's webhook (JSON) and a Telegram chat (the Bot API's
sendMessage, https://core.telegram.org/bots/api#sendmessage), each when its settings are set.
An alert that cannot be delivered is reported back, never raised: the failure it tells of
must not be hidden behind a second one."""

from __future__ import annotations

from typing import Any

import httpx

from betting_assets import tls
from betting_assets.settings import Settings

TIMEOUT_S = 5.0
TELEGRAM_LIMIT = 4096
"""the longest text sendMessage takes"""


def targets(settings: Settings) -> list[str]:
    """The channels an alert goes to, by name."""
    ex = settings.exchange
    return [name for name, on in (("webhook", ex.alert_webhook_url), ("telegram", ex.alert_telegram_token)) if on]


def send(settings: Settings, text: str, detail: dict[str, Any]) -> list[str]:
    """Posts ``text`` (and, to the webhook, ``detail``) to every channel set; what could not be
    delivered, one line each."""
    ex = settings.exchange
    failed: list[str] = []
    with httpx.Client(timeout=TIMEOUT_S, verify=tls.context()) as client:
        if ex.alert_webhook_url:
            try:
                client.post(ex.alert_webhook_url, json={"text": text, **detail}).raise_for_status()
            except httpx.HTTPError as exc:
                failed.append(f"the alert webhook {ex.alert_webhook_url} failed: {exc}")
        if ex.alert_telegram_token and ex.alert_telegram_chat_id:
            url = f"{ex.alert_telegram_url.rstrip('/')}/bot{ex.alert_telegram_token.get_secret_value()}/sendMessage"
            try:
                answer = client.post(url, json={"chat_id": ex.alert_telegram_chat_id, "text": text[:TELEGRAM_LIMIT]})
                if answer.status_code != 200 or not answer.json().get("ok"):
                    failed.append(f"Telegram refused the alert: {answer.status_code} {answer.text[:200]}")
            except (httpx.HTTPError, ValueError) as exc:
                failed.append(f"Telegram could not be reached: {type(exc).__name__}")   # the URL holds the token
    return failed
