"""``betting devig compare`` on a real season, and a de-vig the CLI cannot use refused in one
line before any work is done."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from betting_assets.domain.betting import claims
def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BETTING_HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "betting_assets.cli", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_devig_compare_scores_every_method_and_backtests_sharp_value_under_each(
        tmp_path: Path, shared_data: Path) -> None:
    done = _cli(tmp_path, "devig", "compare", "--data", str(shared_data / "E0_2324.csv"))
    assert done.returncode == 0, done.stderr
    figures = [line for line in done.stdout.splitlines() if line.startswith("figure devig_log_loss_")]
    # two moments × three markets × three methods, each a log loss of a real season
    assert len(figures) == 18 and all(0.3 < float(line.rsplit(" ", 1)[1]) < 1.2 for line in figures)
    for method in ("multiplicative", "power", "shin", "h2h multiplicative, totals power, spreads power"):
        line = next(x for x in done.stdout.splitlines() if x.startswith(f"sharp_value, {method}:"))
        # a sample of a few bets says so rather than print an interval it cannot support
        assert "bets" in line and ("95% CI" in line or line.endswith((f"ROI {claims.TOO_FEW}", ": 0 bets")))
    assert "best calibrated on pre-match prices: h2h " in done.stdout and "Traceback" not in done.stderr


def test_a_bad_devig_or_day_is_one_line_and_exit_2(tmp_path: Path, shared_data: Path) -> None:
    data = str(shared_data / "E0_2324.csv")
    bad = _cli(tmp_path, "backtest", "run", "--data", data, "--test-from", "2024-01-01", "--devig", "h2h=linear")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert bad.stderr.startswith("error: --devig: 'h2h=linear' is not a de-vig choice") and not bad.stdout
    day = _cli(tmp_path, "devig", "compare", "--data", data, "--test-from", "soon")
    assert day.returncode == 2 and day.stderr.strip().splitlines() == [
        "error: --test-from: not an ISO 8601 timestamp: 'soon'"]
