"""The Dagster and MLflow UIs on what the demo made, in headless Chromium (Debian's chromium and
chromium-driver). Screenshots go to ``test-artifacts/browser/``. Skipped when Chromium is not
installed, unless ``BETTING_REQUIRE_BROWSER`` is set (as ``.ci/run`` does, after installing it)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from betting_assets_tests.conftest import REPO, DemoRun

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
ARTIFACTS = REPO / "test-artifacts" / "browser"

if not (CHROMIUM and DRIVER):
    if os.environ.get("BETTING_REQUIRE_BROWSER", "") not in ("", "0"):
        pytest.fail("BETTING_REQUIRE_BROWSER is set but chromium or chromedriver is not installed",
                    pytrace=False)
    pytest.skip("chromium and chromedriver are not installed (Debian: chromium chromium-driver)",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], seconds: float = 180.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise TimeoutError(f"{url} did not answer in {seconds:.0f} s")


@pytest.fixture(scope="module")
def uis(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The Dagster webserver and the MLflow UI over the demo's instance and registry."""
    home = demo_run.home
    env = {**os.environ, "BETTING_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    scripts = Path(sys.executable).parent
    dagster_port, mlflow_port = _free_port(), _free_port()
    logs = tmp_path_factory.mktemp("ui-logs")
    processes = [
        subprocess.Popen([str(scripts / "dagster-webserver"), "-m", "betting_assets.definitions", "-h", "127.0.0.1",
                          "-p", str(dagster_port)], env=env, cwd=REPO, start_new_session=True,
                         stdout=(logs / "dagster.log").open("wb"), stderr=subprocess.STDOUT),
        subprocess.Popen([str(scripts / "mlflow"), "ui", "--backend-store-uri", f"sqlite:///{home / 'mlflow.sqlite'}",
                          "--host", "127.0.0.1", "--port", str(mlflow_port)], env=env, cwd=home,
                         start_new_session=True, stdout=(logs / "mlflow.log").open("wb"), stderr=subprocess.STDOUT),
    ]
    try:
        urls = {"dagster": f"http://127.0.0.1:{dagster_port}", "mlflow": f"http://127.0.0.1:{mlflow_port}"}
        _wait(f"{urls['dagster']}/server_info", processes[0])
        _wait(f"{urls['mlflow']}/health", processes[1])
        yield urls
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def _see(driver: Any, url: str, *texts: str, shot: str, seconds: float = 90.0) -> str:
    """Opens ``url``, waits until every text is on the page, saves a screenshot."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    _dismiss_welcome(driver)
    try:
        WebDriverWait(driver, seconds, poll_frequency=1.0).until(
            lambda d: all(t in d.find_element("tag name", "body").text for t in texts))
    finally:
        driver.save_screenshot(str(ARTIFACTS / shot))
    return str(driver.find_element("tag name", "body").text)


def _dismiss_welcome(driver: Any) -> None:
    """Dagster's first visit opens a newsletter dialog over the page: skip it."""
    from selenium.common.exceptions import WebDriverException

    deadline = time.monotonic() + 8.0
    while time.monotonic() < deadline:
        try:
            buttons = driver.find_elements("xpath", "//button[normalize-space()='Skip']")
            if buttons:
                buttons[0].click()
                return
        except WebDriverException:  # the page re-rendered under us: look again
            pass
        time.sleep(0.5)


def test_the_dagster_ui_shows_the_graph_the_checks_and_a_place_bets_run(
        uis: dict[str, str], browser: Any, demo_run: DemoRun) -> None:
    from dagster import DagsterInstance, RunsFilter

    url = uis["dagster"]
    _see(browser, f"{url}/asset-groups", "collection", "features", "modelling", "betting", "orders",
         shot="asset_graph.png")
    _see(browser, f"{url}/assets", "normalized_odds", "trained_model", "bet_slips", "settled_bets",
         shot="asset_catalog.png")
    _see(browser, f"{url}/assets/normalized_odds?view=checks", "prices_valid", "overround_range",
         shot="normalized_odds_checks.png")
    # the history the demo backfilled, partition by partition, and a check it evaluated
    start = demo_run.figures["window_start"][:10]
    _see(browser, f"{url}/assets/odds_snapshots?view=partitions", "soccer_epl", "Materialized",
         shot="odds_snapshots_partitions.png")
    _see(browser, f"{url}/assets/features?view=partitions&partition=soccer_epl%7C{start}", start,
         shot="features_partition.png")
    _see(browser, f"{url}/assets/backtests?view=checks", "prices_on_offer", "ledger_adds_up", "Passed",
         shot="backtests_checks.png")
    _see(browser, f"{url}/assets/collection_plan?view=checks", "credit_budget", "plan_followed", "Passed",
         shot="collection_plan_checks.png")
    with DagsterInstance.from_config(str(demo_run.home / "dagster")) as instance:
        (run, *_) = instance.get_runs(filters=RunsFilter(job_name="place_bets"))
    page = _see(browser, f"{url}/runs/{run.run_id}", "place_bets", "record_run", "gate_and_place",
                shot="place_bets_run.png")
    assert "Success" in page


def test_the_mlflow_ui_shows_the_registered_model_and_its_champion(uis: dict[str, str], browser: Any,
                                                                  demo_run: DemoRun) -> None:
    page = _see(browser, f"{uis['mlflow']}/#/models/betting_assets_h2h_3way", "betting_assets_h2h_3way",
                "champion", shot="mlflow_registered_model.png")
    assert "Version 1" in page
    aliases = {a for row in demo_run.figures["pipeline"]["registry"] for a in row["aliases"].split(",") if a}
    assert all(alias in page for alias in aliases) and "champion" in aliases   # as the gate left them
