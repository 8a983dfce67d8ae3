"""The Dagster and MLflow UIs on what the demo made, in headless Chromium (Debian's chromium and
chromium-driver). Screenshots go to ``test-artifacts/browser/``. Skipped when Chromium is not
installed, unless ``BETTING_REQUIRE_BROWSER`` is set (as ``.ci/run`` does, after installing it)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from betting_assets_tests.conftest import REPO, DemoRun, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
ARTIFACTS = REPO / "test-artifacts" / "browser"

if not (CHROMIUM and DRIVER):
    if os.environ.get("BETTING_REQUIRE_BROWSER", "") not in ("", "0"):
        pytest.fail("BETTING_REQUIRE_BROWSER is set but chromium or chromedriver is not installed",
                    pytrace=False)
    pytest.skip("chromium and chromedriver are not installed (Debian: chromium chromium-driver)",
                allow_module_level=True)


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 240.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: make dev exited with {process.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise TimeoutError(f"{url} did not answer in {seconds:.0f} s")


@dataclass
class Dev:
    """``make dev`` running on a copy of the demo's home."""
    urls: dict[str, str]
    home: Path
    sandbox_port: int


@pytest.fixture(scope="module")
def dev(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    """The README's route after ``make demo``: ``make dev`` (the sandbox from the demo's account,
    ``dagster dev`` with its daemon, the MLflow UI), run by make itself with this test's
    environment and ports. It works on a copy of the demo's home, as its daemon's sensors go on
    from there and other tests of this worker read the demo's own."""
    home = tmp_path_factory.mktemp("dev") / "home"
    shutil.copytree(demo_run.home, home, symlinks=True)
    env = {**os.environ, "BETTING_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    env.pop("BETTING_SPORTS", None)
    venv = Path(sys.prefix)
    ports = {"SANDBOX_PORT": free_port(), "DAGSTER_PORT": free_port(), "MLFLOW_PORT": free_port()}
    log = tmp_path_factory.mktemp("dev-log") / "make-dev.log"
    # -o: the environment running the tests is installed; make is not to install it again
    make = subprocess.Popen(["make", "--no-print-directory", "-o", str(venv / ".installed-stamp"), "dev",
                             f"VENV={venv}", *(f"{k}={v}" for k, v in ports.items())],
                            cwd=REPO, env=env, start_new_session=True, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            preexec_fn=_as_from_a_terminal)
    try:
        urls = {"dagster": f"http://127.0.0.1:{ports['DAGSTER_PORT']}", "mlflow": f"http://127.0.0.1:{ports['MLFLOW_PORT']}"}
        _wait(f"{urls['dagster']}/server_info", make, log)
        _wait(f"{urls['mlflow']}/health", make, log)
        yield Dev(urls, home, ports["SANDBOX_PORT"])
    finally:
        _stop_session(make)


def _as_from_a_terminal() -> None:
    """Ctrl-C reaches make dev's servers as from a terminal: a test runner started in the
    background may pass SIGINT down ignored, and dagster dev then ignores SIGTERM too."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop_session(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a user stops make dev: to every process of the session the test started (its
    recipe runs each server in a process group of its own), then make's exit, then what is left."""
    subprocess.run(["pkill", "-INT", "-s", str(process.pid)], check=False)
    try:
        process.wait(timeout=120)
    finally:
        subprocess.run(["pkill", "-KILL", "-s", str(process.pid)], check=False)
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


def _see(driver: Any, url: str | None, *texts: str, shot: str, seconds: float = 90.0) -> str:
    """Opens ``url``, waits until every text is on the page, saves a screenshot."""
    from selenium.webdriver.support.ui import WebDriverWait

    if url is not None:          # None: the page already open
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
        dev: Dev, browser: Any, demo_run: DemoRun) -> None:
    from dagster import DagsterInstance, RunsFilter

    url = dev.urls["dagster"]
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


def test_the_mlflow_ui_shows_the_registered_model_and_its_champion(dev: Dev, browser: Any,
                                                                  demo_run: DemoRun) -> None:
    page = _see(browser, f"{dev.urls['mlflow']}/#/models/betting_assets_h2h_3way", "betting_assets_h2h_3way",
                "champion", shot="mlflow_registered_model.png")
    assert "Version 1" in page
    aliases = {a for row in demo_run.figures["pipeline"]["registry"] for a in row["aliases"].split(",") if a}
    assert all(alias in page for alias in aliases) and "champion" in aliases   # as the gate left them


def _runs_until(home: Path, found: Any, seconds: float = 420.0) -> list[Any]:
    """Polls make dev's instance until ``found(instance)`` gives finished runs (a loaded machine's
    daemon starts a run's process in tens of seconds)."""
    from dagster import DagsterInstance

    deadline = time.monotonic() + seconds
    while True:
        with DagsterInstance.from_config(str(home / "dagster")) as instance:
            runs = found(instance)
        if runs and all(r.is_finished for r in runs):
            return list(runs)
        if time.monotonic() > deadline:
            raise TimeoutError(f"no finished run after {seconds:.0f} s: {[(r.job_name, r.status) for r in runs]}")
        time.sleep(3.0)


def test_a_demo_run_is_re_executed_from_the_ui_through_the_code_location(dev: Dev, browser: Any,
                                                                        demo_run: DemoRun) -> None:
    """The demo executes its runs in process, bound to its sandbox; the UI's Re-execute launches
    them again through the code location make dev serves, with its daemon."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    with DagsterInstance.from_config(str(dev.home / "dagster")) as instance:
        (parent, *_) = instance.get_runs(filters=RunsFilter(job_name="build_features",
                                                           tags={"betting/launched_by": "demo"}))
    assert parent.remote_job_origin.location_name == "betting_assets.definitions"
    url = dev.urls["dagster"]
    _see(browser, f"{url}/runs/{parent.run_id}", "build_features", "Re-execute all", shot="demo_run_to_re_execute.png")
    browser.find_element("xpath", "//button[contains(normalize-space(), 'Re-execute all')]").click()
    (child,) = _runs_until(dev.home, lambda i: i.get_runs(filters=RunsFilter(
        tags={"dagster/parent_run_id": parent.run_id})))
    page = _see(browser, f"{url}/runs/{child.run_id}", "build_features", shot="demo_run_re_executed.png")
    assert child.status == DagsterRunStatus.SUCCESS, page[-2000:]
    assert child.tags["dagster/asset_partition_range_start"] == parent.tags["dagster/asset_partition_range_start"]


def test_make_dev_after_the_demo_plans_from_the_demos_clock_with_its_plan(dev: Dev, browser: Any,
                                                                          demo_run: DemoRun) -> None:
    """make dev's sandbox starts from the account the demo left (its clock), so the daemon's
    collection_plan_sensor plans from the demo's last clock on, never from the data's first day."""
    from dagster import DagsterRunStatus, RunsFilter

    from betting_assets.warehouse import plan as plan_store
    from betting_assets.warehouse.engine import make_engine

    left = json.loads((demo_run.home / "sandbox.json").read_text())
    now = httpx.get(f"http://127.0.0.1:{dev.sandbox_port}/sandbox/clock", timeout=10).json()["now"]
    assert datetime.fromisoformat(now) == datetime.fromisoformat(left["now"])
    demo_plan = datetime.fromisoformat(demo_run.figures["pipeline"]["plan"]["clock"])
    (planned,) = _runs_until(dev.home, lambda i: i.get_runs(filters=RunsFilter(
        job_name="plan_collection", tags={"dagster/sensor_name": "collection_plan_sensor"})))
    _see(browser, f"{dev.urls['dagster']}/runs/{planned.run_id}", "plan_collection", "collection_plan_sensor",
         shot="make_dev_plan_run.png")
    # the run's log, filtered as a user would type it, says which clock the plan was made from
    browser.find_element("xpath", "//input[starts-with(@placeholder, 'Filter')]").send_keys("calls planned from")
    page = _see(browser, None, f"calls planned from {datetime.fromisoformat(now).isoformat()}",
                shot="make_dev_plan_log.png")
    assert planned.status == DagsterRunStatus.SUCCESS, page[-2000:]
    engine = make_engine(f"sqlite:///{dev.home / 'warehouse.sqlite'}")
    try:
        with engine.connect() as conn:
            assert plan_store.last_planned(conn) == datetime.fromisoformat(now) >= demo_plan
            kept = plan_store.plan_frame(conn, demo_plan, datetime.fromisoformat(now))
    finally:
        engine.dispose()
    assert kept.height > 0 and kept["planned_at"].min() <= demo_plan     # the demo's plan up to now is kept
