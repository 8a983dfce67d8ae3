"""MLflow as a deployment runs it (docker/docker-compose.yml): `mlflow server` with a PostgreSQL
backend and served artifacts. A worker on another host has only the server's URL: the training
it logs and the model it registers land on the server, nothing on the worker's disk, and any
other process loads the champion by alias from the URL alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from betting_assets.modelling.pipeline import fit_and_log
from betting_assets.modelling.registry import Tracker, model_name
from betting_assets_tests.modelling.conftest import simulated_rows
from betting_assets_tests.modelling.test_training import FAST


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
