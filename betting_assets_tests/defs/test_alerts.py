"""Every failed run is told: Dagster's run-failure sensor, evaluated on the instance the run
failed on, posts it to the webhook and to a Telegram chat (a real HTTP endpoint answering as the
Bot API does); with no channel set it skips and says why; an unreachable channel is logged, not
raised."""

from __future__ import annotations

from dagster import DagsterEventType, DagsterInstance, build_run_status_sensor_context, materialize

from betting_assets.defs.alerts import run_failure_alerts
from betting_assets.defs.collection.assets import events
from betting_assets_tests.defs.bind import with_settings
from betting_assets_tests.defs.test_orders import _Webhook


def evaluate_alerts(instance: DagsterInstance, run_id: str, resources: dict[str, object]) -> object:
    """One tick of ``run_failure_alerts`` over a failed run, as the daemon would make it."""
    run = instance.get_run_by_id(run_id)
    assert run is not None
    (failure,) = [e.dagster_event for e in instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE)]
    context = build_run_status_sensor_context(sensor_name=run_failure_alerts.name, dagster_event=failure,
                                              dagster_instance=instance, dagster_run=run,
                                              resources={"settings": resources["settings"]}).for_run_failure()
    return run_failure_alerts(context)


def test_a_failed_ingestion_is_posted_to_the_webhook_and_to_telegram(resources: dict[str, object]) -> None:
    receiver = _Webhook()
    base = receiver.url.rsplit("/", 1)[0]
    alerting = with_settings(resources, exchange={"alert_webhook_url": receiver.url, "alert_telegram_url": base,
                                                  "alert_telegram_token": "123:abc", "alert_telegram_chat_id": "42"})
    broken = {**alerting, "odds_api": alerting["odds_api"].model_copy(update={"api_key": "not-the-key"})}  # type: ignore[attr-defined]
    instance = DagsterInstance.ephemeral()
    try:
        failed = materialize([events], resources=broken, instance=instance, raise_on_error=False)
        assert not failed.success
        assert evaluate_alerts(instance, failed.run_id, alerting) is None
    finally:
        receiver.stop()
    webhook, telegram = receiver.received
    assert receiver.paths == ["/alert", "/bot123:abc/sendMessage"]
    assert webhook["job"] == "__ephemeral_asset_job__" and webhook["run_id"] == failed.run_id
    assert failed.run_id[:8] in str(telegram["text"]) and telegram["chat_id"] == "42"
    # the step's own error, as the provider answered it
    assert str(webhook["error"]).startswith("events: NotFoundError: 404: "), webhook["error"]
    assert webhook["error"] in str(telegram["text"])


def test_with_no_channel_set_the_sensor_skips_and_says_why(resources: dict[str, object]) -> None:
    broken = {**resources, "odds_api": resources["odds_api"].model_copy(update={"api_key": "not-the-key"})}  # type: ignore[attr-defined]
    instance = DagsterInstance.ephemeral()
    failed = materialize([events], resources=broken, instance=instance, raise_on_error=False)
    skipped = evaluate_alerts(instance, failed.run_id, resources)
    assert "no alert channel set" in str(getattr(skipped, "skip_message", skipped))


def test_an_unreachable_channel_is_logged_not_raised(resources: dict[str, object]) -> None:
    from betting_assets import alerts

    settings = with_settings(resources, exchange={"alert_webhook_url": "http://127.0.0.1:9/alert"})["settings"]
    (problem,) = alerts.send(settings.get(), "x", {})  # type: ignore[attr-defined]
    assert problem.startswith("the alert webhook http://127.0.0.1:9/alert failed")
