"""A user's mistake on the command line: one line on stderr, exit code 2, no traceback, and
refused before any expensive work (no sandbox started, no data read where the arguments alone
are wrong)."""

from __future__ import annotations

import re

from pathlib import Path

import pytest
from click.testing import CliRunner

from betting_assets.cli import main
from betting_assets.settings import get_settings

E0 = str(Path(__file__).resolve().parents[1] / "betting_assets" / "data" / "E0_2324.csv")

CASES = [
    (["backtest", "run", "--data", E0, "--test-from", "2024-13-01"], "--test-from: not an ISO 8601"),
    (["backtest", "run", "--data", E0, "--test-from", "2024-01-01", "--strategies", "nope"], "unknown nope"),
    (["backtest", "run", "--data", E0, "--test-from", "2024-01-01", "--sizing", "sharp_value=huge"], "--sizing"),
    (["backtest", "run", "--data", E0, "--test-from", "2024-01-01", "--sizing", "garbage"], "--sizing"),
    (["backtest", "run", "--data", E0, "--test-from", "2030-01-01"], "must fall after the first match"),
    (["backtest", "run", "--data", "{notes}", "--test-from", "2024-01-01"], "not a football-data.co.uk file"),
    (["model", "evaluate", "--data", E0, "--test-from", "2030-01-01"], "must fall after the first match"),
    (["status", "--at", "yesterday", "--no-registry"], "--at: not an ISO 8601"),
    (["quota", "simulate", "--data", E0, "--markets", "foo"], "foo: not markets the provider knows"),
    (["quota", "simulate", "--data", E0, "--regions", "mars"], "mars: not regions the provider knows"),
    (["quota", "simulate", "--data", "{empty}"], "the file is empty"),
    (["quota", "simulate", "--data", E0, "--budget", "-5"], "--budget"),
    (["quota", "simulate", "--data", "{missing}"], "missing columns ['AwayTeam']"),
    (["sandbox", "serve", "--data", "{empty}"], "the file is empty"),
    (["devig", "compare", "--data", "{notes}"], "not a football-data.co.uk file"),
    (["db", "upgrade", "9999"], "Can't locate revision identified by '9999'"),
    (["demo", "--data", "{empty}"], "the file is empty"),
    (["demo", "--from", "2023-10-10", "--to", "2023-08-10"], "--from 2023-10-10 must be before --to 2023-08-10"),
    (["demo", "--from", "2023-10-10", "--to", "2023-08-10", "--ingest-only"], "must be before --to"),
    (["demo", "--test-from", "2030-01-01"], "--test-from 2030-01-01 must fall inside the history"),
    (["demo", "--from", "last week"], "not an ISO 8601"),
    (["backtest", "run", "--data", E0, "--test-from", "2024-01-01", "--live", "--strategies", "flat_home"],
     "leave out --strategies"),
    (["backtest", "run", "--data", E0, "--test-from", "2024-01-01", "--live", "--sizing", "sharp_value=flat:1"],
     "leave out --sizing"),
    (["replay", "--from", "2024-03-01", "--to", "2024-02-01"], "--from 2024-03-01 must be before --to 2024-02-01"),
    (["replay", "--from", "soon", "--to", "2024-02-01"], "--from: not an ISO 8601"),
    (["replay", "--data", "{empty}", "--from", "2024-01-01", "--to", "2024-02-01"], "the file is empty"),
    (["season", "--from", "2024-03-01", "--to", "2024-02-01"], "--from 2024-03-01 must be before --to 2024-02-01"),
    (["season", "--from", "2024-01-01", "--to", "2024-02-01", "--faults", "{{503: 1}}"],
     "--faults is not the sandbox's faults JSON"),
    (["season", "--from", "2024-01-01", "--to", "2024-02-01", "--faults", '{{"error_rates": {{"503": "often"}}}}'],
     "--faults is not the sandbox's faults JSON"),
    (["season", "--data", "{empty}", "--from", "2024-01-01", "--to", "2024-02-01"], "the file is empty"),
    # a bad partition key: Dagster's own CLI prints a traceback of 48 lines for it
    (["backfill", "--from", "soccer_epl|2023-13-45", "--to", "soccer_epl|2023-08-20"], "'2023-13-45' is not a day"),
    (["backfill", "--from", "epl|2023-08-11", "--to", "epl|2023-08-20"], "'epl' is not a collected sport"),
    (["backfill", "--from", "soccer_epl 2023-08-11", "--to", "soccer_epl|2023-08-20"], "a partition is sport|YYYY-MM-DD"),
    (["backfill", "--from", "soccer_epl|2023-08-20", "--to", "soccer_epl|2023-08-11"], "comes after --to"),
    (["backfill", "--from", "soccer_epl|2015-08-11", "--to", "soccer_epl|2023-08-20"], "the partitions run from 2019-08-01"),
    (["backfill", "--select", "bets", "--from", "soccer_epl|2023-08-11", "--to", "soccer_epl|2023-08-20"],
     "bets is not a partitioned asset"),
    (["worker"], "set BETTING_CELERY_BROKER"),
]


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("BETTING_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    get_settings.cache_clear()
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "missing.csv").write_text("Div,Date,HomeTeam\nE0,12/08/2023,Burnley\n")
    (tmp_path / "notes.txt").write_text("hello world\n")
    yield {name: str(tmp_path / f"{name}.{'txt' if name == 'notes' else 'csv'}")
           for name in ("empty", "missing", "notes")}
    get_settings.cache_clear()


@pytest.mark.parametrize("args, says", CASES, ids=[" ".join(a[:2]) + f" #{i}" for i, (a, _) in enumerate(CASES)])
def test_a_mistake_gets_one_line_and_exit_code_2(files: dict[str, str], args: list[str], says: str) -> None:
    args = [a.format(**files) for a in args]
    result = CliRunner().invoke(main, args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (result.exit_code, result.stderr[-2000:], result.exception)
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], lines
    assert "Sandbox provider on" not in result.stdout        # refused before any work started


@pytest.mark.parametrize("name, value, says", [
    ("BETTING_LIVE_STRATEGIES", "nope=kelly:0.5", "nope"),
    ("BETTING_LIVE_STRATEGIES", "sharp_value=kelly:0.5,model_value=kelly:0.7", "share"),
    ("BETTING_SIZING__MAX_STAKE", "20", "BETTING_SIZING__MAX_STAKE is gone"),
    ("BETTING_MAX_DAY_FRACTION", "0.2", "BETTING_RISK_MAX_DAY_EXPOSURE"),
    ("BETTING_BROKER", "bookie", "BETTING_BROKER=bookie: Input should be 'paper' or 'betfair'"),
    ("BETTING_PRICE_TOLERANCE", "inf", "BETTING_PRICE_TOLERANCE=inf: Input should be a finite number"),
])
def test_a_bad_setting_is_one_line_and_exit_2(files: dict[str, str], monkeypatch: pytest.MonkeyPatch, name: str,
                                             value: str, says: str) -> None:
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["status", "--no-registry"])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and says in lines[0], (result.exit_code, result.stderr[-2000:])


def test_version_and_the_configured_markets_and_regions_by_default(files: dict[str, str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import version

    shown = CliRunner().invoke(main, ["--version"])
    assert shown.exit_code == 0 and version("betting_assets") in shown.stdout
    monkeypatch.setenv("BETTING_REGIONS", "uk,eu")
    monkeypatch.setenv("BETTING_MARKETS", "h2h,totals")
    get_settings.cache_clear()
    priced = CliRunner().invoke(main, ["quota", "simulate", "--data", E0])
    assert priced.exit_code == 0 and "2 markets × 2 regions = 4 credits a call" in " ".join(priced.stdout.split())



def test_quota_simulate_says_what_a_monthly_budget_buys_and_draws_the_curve(files: dict[str, str],
                                                                          tmp_path: Path) -> None:
    """One season of the EPL (380 matches): every decision time and close costs a known number
    of credits; 100 credits a month cannot buy them all, and buys decision times first. The
    curve is drawn over the season's first 60 matches."""
    done = CliRunner().invoke(main, ["quota", "simulate", "--data", E0, "--budget", "100"])
    assert done.exit_code == 0, done.output
    said = " ".join(done.stdout.split())
    least = re.search(r"every decision-time \(1 h before kick-off\) and closing snapshot: ([\d,]+) credits", said)
    assert least and int(least.group(1).replace(",", "")) > 0
    bought = re.search(r"with 100 credits a month, replayed day by day as the sensors would buy them: decision-time "
                       r"snapshot ([\d.]+)% \(\d+ of 380\), closing snapshot ([\d.]+)% \(\d+ of 380\).*at most (\d+) "
                       r"in a month", said)
    assert bought, said
    decision, closing, most = float(bought.group(1)), float(bought.group(2)), int(bought.group(3))
    assert closing < 100 and decision >= closing and most <= 100
    head = tmp_path / "E0_head.csv"
    head.write_text("".join(Path(E0).read_text(encoding="utf-8-sig").splitlines(keepends=True)[:61]), encoding="utf-8")
    curve = tmp_path / "curve.png"
    drawn = CliRunner().invoke(main, ["quota", "simulate", "--data", str(head), "--curve", str(curve)])
    assert drawn.exit_code == 0, drawn.output
    assert curve.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_backfill_with_a_bad_setting_is_one_line_before_dagster_loads(files: dict[str, str],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster's CLI would show the setting's one good line inside a traceback of 141."""
    monkeypatch.setenv("BETTING_BANKROLL", "inf")
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["backfill", "--from", "soccer_epl|2023-08-11", "--to", "soccer_epl|2023-08-12"])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and lines == ["error: invalid settings: BETTING_BANKROLL=inf: Input should be a "
                                               "finite number"], (result.exit_code, result.stderr[-2000:])
