"""What is backtested is what is bet: ``betting replay`` runs the live loop over eleven days of the
2021-22 Premier League through the product's own jobs and sensors on the sandbox, and its bets are
held bet for bet to ``betting backtest run --live`` on the same files, window, strategies
(sharp_value and model_value live together), model (the one the replay trained on the history
before the window), sizing and bankroll. Any difference is printed as a table.

Two replays run at once, one on SQLite and one on PostgreSQL. The PostgreSQL one runs a copy of
the package in which one line of one strategy's rule changed (sharp_value asks twice the edge),
and so does its backtest: the rule's change must move the backtest, and move the replay exactly
as it moved the backtest, which only holds when both run the one strategy object. Parity is
held on each database against the backtest of the code it ran."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine

from betting_assets.betting import parity
from betting_assets_tests.conftest import _postgres_url

FILE = "E0_2122.csv"
WINDOW = ("2022-02-19", "2022-03-02")
"""eleven days of EPL: 23 kick-offs over two weekends and a midweek, sharp_value's four bets of
the month among them; no decision and kick-off on both sides of a boundary"""
TIMEOUT = 2400
"""a loaded machine runs the two replays at once five times slower than an idle one"""
RULE = 'value = best.filter(pl.col("fair") * pl.col("price") - 1.0 >= self.min_edge)'
MUTATED = 'value = best.filter(pl.col("fair") * pl.col("price") - 1.0 >= 2 * self.min_edge)'


def _env(home: Path, package: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "BETTING_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
           "BETTING_MOVEMENT": "false", "BETTING_LIVE_STRATEGIES": "sharp_value=kelly:0.5,model_value=kelly:0.5"}
    for name in ("BETTING_SPORTS", "BETTING_DATABASE_URL", "BETTING_MLFLOW_TRACKING_URI",
                 "BETTING_MLFLOW_ARTIFACT_ROOT"):
        env.pop(name, None)
    if package is not None:
        env["PYTHONPATH"] = str(package)
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "betting_assets.cli", *args]


def _table(frame: pl.DataFrame) -> str:
    with pl.Config(tbl_rows=100, tbl_cols=20, tbl_width_chars=200):
        return str(frame)


def _mutated_package(into: Path) -> Path:
    """A copy of the package with one line of sharp_value's rule changed, and nothing else."""
    import betting_assets

    source = Path(betting_assets.__file__).parent
    shutil.copytree(source, into / "betting_assets")
    shutil.copytree(source.parent / "migrations", into / "migrations")   # found beside the package, as is
    shutil.copy(source.parent / "pyproject.toml", into)                   # the project root Dagster's loader seeks
    strategies = into / "betting_assets" / "domain" / "betting" / "strategies.py"
    text = strategies.read_text()
    assert text.count(RULE) == 1, "sharp_value's rule moved: update the mutation"
    strategies.write_text(text.replace(RULE, MUTATED))
    return into


def _finish(process: subprocess.Popen[str], what: str, timeout: float = TIMEOUT) -> str:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    assert process.returncode == 0, f"{what} failed ({process.returncode}):\n{err[-3000:]}"
    return out


def _backtest(data: Path, registry: str, bets: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(_cli("backtest", "run", "--data", str(data), "--test-from", WINDOW[0], "--to", WINDOW[1],
                                 "--live", "--model", "champion", "--bets-json", str(bets)),
                            env={**env, "BETTING_MLFLOW_TRACKING_URI": registry}, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _registry(stdout: str) -> str:
    return next(part for part in stdout.split() if part.startswith("BETTING_MLFLOW_TRACKING_URI=")).split("=", 1)[1]


@pytest.mark.postgres
@pytest.mark.long(minutes=4.5)
@pytest.mark.timeout(TIMEOUT + 600)
def test_replay_bets_what_the_backtest_bets_on_both_databases(tmp_path: Path, shared_data: Path,
                                                             pg_admin: Engine) -> None:
    data = shared_data / FILE
    mutated = _mutated_package(tmp_path / "mutated")
    homes = {"sqlite": tmp_path / "sqlite", "postgresql": tmp_path / "postgresql"}
    postgres = _postgres_url(pg_admin)
    try:
        url = next(postgres)
        replay = ("replay", "--data", str(data), "--from", WINDOW[0], "--to", WINDOW[1], "--history-days", "75",
                  "--trials", "2")
        running = {
            "sqlite": subprocess.Popen(_cli(*replay), env=_env(homes["sqlite"]), cwd=tmp_path,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
            "postgresql": subprocess.Popen(_cli(*replay, "--database-url", url), env=_env(homes["postgresql"], mutated),
                                           cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        }
        printed = {kind: _finish(process, f"the {kind} replay") for kind, process in running.items()}
    finally:
        postgres.close()
    # each backtest reads the model its replay trained, in the code its replay ran
    checks = {
        "sqlite": _backtest(data, _registry(printed["sqlite"]), tmp_path / "backtest.json",
                            _env(tmp_path / "backtest"), tmp_path),
        "postgresql": _backtest(data, _registry(printed["postgresql"]), tmp_path / "backtest_mutated.json",
                                _env(tmp_path / "backtest_mutated", mutated), tmp_path),
    }
    printed_backtests = {kind: _finish(process, f"the {kind} replay's backtest") for kind, process in checks.items()}
    backtested = {"sqlite": parity.from_json((tmp_path / "backtest.json").read_text()),
                  "postgresql": parity.from_json((tmp_path / "backtest_mutated.json").read_text())}
    folder = f"replays/{WINDOW[0]}_{WINDOW[1]}"
    replayed = {kind: parity.from_json((homes[kind] / folder / "bets.json").read_text()) for kind in homes}
    tables = {}
    for kind in homes:
        tables[kind] = parity.by_strategy(backtested[kind])
        assert set(tables[kind]["strategy"]) == {"sharp_value", "model_value"}, tables[kind]   # both bet
        differences = parity.differences(replayed[kind], backtested[kind])
        assert differences.is_empty(), f"{kind}: the replay and the backtest differ:\n{_table(differences)}"
        assert parity.by_strategy(replayed[kind]).equals(tables[kind])
        for row in tables[kind].iter_rows(named=True):   # the same table, as each command printed it
            assert row["strategy"] in printed[kind] and row["strategy"] in printed_backtests[kind]
    # the one-line change moved sharp_value's bets in the backtest, and the replay moved with it
    sharp = {kind: backtested[kind].filter(pl.col("strategy") == "sharp_value") for kind in homes}
    assert not parity.differences(sharp["postgresql"], sharp["sqlite"]).is_empty(), \
        "doubling sharp_value's edge changed no bet: the mutation proves nothing"
    assert sharp["postgresql"].height < sharp["sqlite"].height
    print(json.dumps({kind: table.to_dicts() for kind, table in tables.items()}))
