"""MLflow as a deployment runs it (docker/docker-compose.yml): `mlflow server` with a PostgreSQL
backend and served artifacts. A worker on another host has only the server's URL: the training
it logs and the model it registers land on the server, nothing on the worker's disk, and any
other process loads the champion by alias from the URL alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine

from betting_assets.modelling.pipeline import fit_and_log
from betting_assets.modelling.registry import Tracker, model_name
from betting_assets_tests.conftest import _postgres_url, free_port
from betting_assets_tests.modelling.conftest import simulated_rows
from betting_assets_tests.modelling.test_training import FAST


@pytest.fixture
def mlflow_server(pg_admin: Engine, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The server's URL and the folder its artifacts are served from."""
    store = tmp_path / "server-artifacts"
    database = _postgres_url(pg_admin)
    backend = next(database)
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = tmp_path / "mlflow-server.log"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", backend,
         "--artifacts-destination", str(store), "--serve-artifacts"],
        cwd=tmp_path, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300          # its migrations on a fresh database, on a loaded machine
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("mlflow server did not answer")
            time.sleep(1)
        yield url, store
    finally:
        if server.poll() is None:
            os.killpg(server.pid, 15)
            server.wait(timeout=60)
        database.close()                           # drops the database


@pytest.mark.timeout(900)
def test_a_worker_with_only_the_servers_url_trains_registers_and_another_process_loads_the_champion(
        mlflow_server: tuple[str, Path], tmp_path: Path) -> None:
    url, store = mlflow_server
    worker_disk = tmp_path / "worker"
    tracker = Tracker(url, (worker_disk / "mlartifacts").as_uri())   # a local root, which a server must not use
    frame = simulated_rows(400, seed=5, market_noise=0.3)
    first = fit_and_log(frame, three_way=True, test_from=frame["commence_time"][300], config=FAST, tracker=tracker,
                        context={})
    again = fit_and_log(frame, three_way=True, test_from=frame["commence_time"][320], config=FAST, tracker=tracker,
                        context={})
    assert first.record is not None and again.record is not None
    assert first.record.gate.alias == "champion"          # the first version; the second as the gate judged it
    assert again.record.gate.alias in ("champion", "challenger") and again.record.gate.reason

    run = tracker.client.get_run(again.record.run_id)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    assert not worker_disk.exists()                                           # nothing on the worker's disk
    served = [p for p in store.rglob("*") if p.is_file()]
    assert any(p.name == "MLmodel" for p in served) and any(p.suffix == ".png" for p in served)

    champion = again if again.record.gate.alias == "champion" else first
    sample = frame.tail(20)
    sample.select(champion.model.features).write_parquet(tmp_path / "input.parquet")
    script = ("import sys, json, mlflow, pandas as pd\n"
              "mlflow.set_tracking_uri(sys.argv[1]); mlflow.set_registry_uri(sys.argv[1])\n"
              "model = mlflow.pyfunc.load_model(f'models:/{sys.argv[2]}@champion')\n"
              "print(json.dumps(model.predict(pd.read_parquet(sys.argv[3])).to_numpy().tolist()))\n")
    elsewhere = tmp_path / "another-host"
    elsewhere.mkdir()
    done = subprocess.run([sys.executable, "-c", script, url, model_name(True), str(tmp_path / "input.parquet")],
                          cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    assert np.allclose(got, champion.model.predict(sample), atol=1e-12)
    assert list(elsewhere.iterdir()) == []
