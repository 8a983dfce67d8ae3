"""The docker files cannot be run here (no engine), so they are held to the package: services,
commands, ports, settings names and the files the image copies."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from betting_assets.cli import main
from betting_assets.settings import FLAT_NAMES, GROUPS

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
IMAGE_SERVICES = {"migrate", "code", "webserver", "daemon", "metrics", "worker"}


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_compose_has_every_service_with_health_checks_and_ordered_start() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "mlflow", "rabbitmq", "prometheus", "grafana", *IMAGE_SERVICES}
    for name, service in services.items():
        assert name == "migrate" or "healthcheck" in service, name
    assert services["code"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["webserver"]["depends_on"]["code"]["condition"] == "service_healthy"
    assert services["daemon"]["depends_on"]["code"]["condition"] == "service_healthy"
    assert {"postgres-data", "mlflow-artifacts", "betting-home", "rabbitmq-data"} <= set(_compose()["volumes"])
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert services["code"]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"


def test_docker_compose_accepts_the_file() -> None:
    """What `docker compose up` would read, as docker-compose itself renders it (no engine is needed
    to check a file): every service's settings resolved, the workers on the broker the code
    server's runs submit their steps to."""
    import os
    import subprocess

    import pytest

    tool = shutil.which("docker-compose")
    if tool is None:
        if os.environ.get("BETTING_REQUIRE_COMPOSE") == "1":
            pytest.fail("docker-compose is not installed (.ci/run installs Debian's docker-compose)")
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    env = {**os.environ, "BETTING_ODDS_API_KEY": "checked-not-used"}
    done = subprocess.run([tool, "-f", str(DOCKER / "docker-compose.yml"), "config"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    rendered = yaml.safe_load(done.stdout)["services"]
    broker = rendered["worker"]["environment"]["BETTING_CELERY_BROKER"]
    assert broker.startswith("pyamqp://betting:") and broker.endswith("@rabbitmq:5672//")
    assert rendered["code"]["environment"]["BETTING_CELERY_BROKER"] == broker
    missing = subprocess.run([tool, "-f", str(DOCKER / "docker-compose.yml"), "config", "-q"],
                             env={k: v for k, v in env.items() if k != "BETTING_ODDS_API_KEY"},
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode != 0 and "BETTING_ODDS_API_KEY" in missing.stderr


def test_commands_exist_in_the_package() -> None:
    services = _compose()["services"]
    scripts = Path(sys.executable).parent
    for name in IMAGE_SERVICES:
        command = services[name]["command"]
        assert shutil.which(command[0], path=str(scripts)), f"{name}: {command[0]} is not installed"
        assert services[name]["image"] == "betting-assets:latest"
    assert CliRunner().invoke(main, ["db", "upgrade", "--help"]).exit_code == 0
    code = services["code"]["command"]
    assert code[code.index("-m") + 1] == "betting_assets.definitions"
    port = code[code.index("-p") + 1]
    workspace = yaml.safe_load((DOCKER / "workspace.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    assert (server["host"], str(server["port"])) == ("code", port)
    for name in ("webserver", "daemon"):
        assert "/opt/dagster/home/workspace.yaml" in services[name]["command"]


def test_environment_names_are_settings_the_package_reads() -> None:
    env = _compose()["services"]["code"]["environment"]
    for name in env:
        if name.startswith("BETTING_"):
            key = name.removeprefix("BETTING_").lower()
            group, _, field = key.partition("__")
            nested = field and group in GROUPS and field in GROUPS[group].model_fields
            assert key in FLAT_NAMES or nested, f"{name} is not a setting"
    assert {"DAGSTER_PG_URL", "DAGSTER_HOME", "BETTING_DATABASE_URL", "BETTING_ODDS_API_KEY"} <= set(env)
    assert env["BETTING_DATABASE_URL"].startswith("postgresql+psycopg2://")


def test_the_image_copies_files_that_exist_and_the_instance_limits_the_provider() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.M):
        for part in source.split():
            assert (REPO / part).exists(), f"COPY {part}: missing"
    instance = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert instance["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}
    assert instance["concurrency"]["pools"] == {"default_limit": 1}     # the provider's pool, one op at a time
    assert instance["concurrency"]["runs"]["max_concurrent_runs"] == 4
    from betting_assets.dagster_home import EMBEDDED_CONFIG

    assert yaml.safe_load(EMBEDDED_CONFIG)["concurrency"]["pools"] == {"default_limit": 1}


def test_the_embedded_instance_obeys_the_production_limits(tmp_path: Path) -> None:
    """What ``betting instance init`` (and the demo) write is what Dagster reads: the same run
    queue and provider pool as production's dagster.yaml."""
    from dagster import DagsterInstance

    from betting_assets.dagster_home import PROVIDER_POOL, initialise

    production = yaml.safe_load((REPO / "dagster.yaml").read_text())["concurrency"]
    initialise(tmp_path)
    initialise(tmp_path)   # again, as a second init or demo does: still one slot
    embedded = yaml.safe_load((tmp_path / "dagster.yaml").read_text())["concurrency"]
    assert embedded == production
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 4
        assert instance.global_op_concurrency_default_limit == 1
        assert instance.event_log_storage.get_concurrency_info(PROVIDER_POOL).slot_count == 1  # before any run


def test_the_definitions_load_as_dagster_dev_and_the_code_server_load_them(tmp_path: Path) -> None:
    """``workspace.yaml`` (dagster dev), the code server's ``-m betting_assets.definitions`` and
    ``dg check defs`` (pyproject's ``[tool.dg]``) all go through Dagster's own loader; every
    folder's definitions are found once."""
    import os
    import subprocess

    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    for target in (["-w", str(REPO / "workspace.yaml")], ["-m", "betting_assets.definitions"]):
        done = subprocess.run([str(Path(sys.executable).parent / "dagster"), "definitions", "validate", *target],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "All code locations passed validation" in done.stdout + done.stderr, \
            done.stderr[-2000:]
    done = subprocess.run([str(Path(sys.executable).parent / "dg"), "check", "defs"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "All definitions loaded successfully" in done.stdout + done.stderr, \
        (done.stdout + done.stderr)[-2000:]
    from betting_assets.definitions import defs

    repository = defs.get_repository_def()
    assert {j.name for j in repository.get_all_jobs()} - {"__ASSET_JOB"} == {
        "collect_odds", "collect_scores", "ingest_history", "discover_events", "build_features", "train_model",
        "run_backtests", "propose_bets", "place_bets", "settle_bets", "map_exchange_markets", "plan_collection"}
    assert {s.name for s in repository.sensor_defs} == {
        "discovery_sensor", "collection_plan_sensor", "odds_fetch_sensor", "scores_sensor", "slips_sensor",
        "placement_sensor", "settlement_sensor", "retrain_sensor", "run_failure_alerts"}
    assert not repository.schedule_defs   # on the product's clock: a cron schedule follows the machine's
    assert len(repository.asset_graph.asset_check_keys) == 24


def test_prometheus_scrapes_the_metrics_service_and_grafana_asks_only_for_what_it_exports(tmp_path: Path) -> None:
    """The dashboard's every query names a series ``betting metrics serve`` exports (collected here
    over a fresh warehouse with a bet in it and an instance with a run), and Prometheus scrapes the
    port the metrics service listens on."""
    import json
    import re

    from dagster import DagsterInstance, job, op

    from betting_assets.dagster_home import initialise
    from betting_assets.metrics import CONDITIONAL, ProductCollector
    from betting_assets.settings import Settings
    from betting_assets.warehouse import migrate
    from betting_assets.warehouse.engine import make_engine

    services = _compose()["services"]
    command = services["metrics"]["command"]
    scrape = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == [f"metrics:{command[command.index('--port') + 1]}"]
    engine = make_engine(f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    migrate.upgrade(engine)
    home = initialise(tmp_path / "dagster").parent

    @op
    def nothing() -> None:
        pass

    @job
    def a_job() -> None:
        nothing()

    with DagsterInstance.from_config(str(home)) as instance:
        assert a_job.execute_in_process(instance=instance).success
        settings = Settings(collection={"clock": "system", "sports": ["soccer_epl"]})  # type: ignore[arg-type]
        exported = {m.name for m in ProductCollector(engine, settings, lambda: instance).collect()}
    engine.dispose()
    dashboard = json.loads((DOCKER / "grafana" / "dashboards" / "betting_assets.json").read_text())
    asked = {name for panel in dashboard["panels"] for target in panel["targets"]
             for name in re.findall(r"\b(?:betting|dagster)_[a-z_]+", target["expr"])}
    assert asked and asked <= exported | set(CONDITIONAL), asked - exported


def test_one_code_location_name_everywhere() -> None:
    """make dev's workspace, the compose workspace and the CLI's ``-m betting_assets.definitions``
    (whose location Dagster names after the module) name the location alike, so a run queued from
    the CLI is launched by whichever daemon serves the workspace, and re-executed from its UI."""
    names = {yaml.safe_load(path.read_text())["load_from"][0][kind]["location_name"]
             for path, kind in ((DOCKER.parent / "workspace.yaml", "python_module"),
                                (DOCKER / "workspace.yaml", "grpc_server"))}
    assert names == {"betting_assets.definitions"}
