"""Library chatter (Dagster's beta warnings, MLflow's registry and store messages, Alembic)
goes to a log file the demo names, so the terminal keeps the demo's own stages and figures."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

LIBRARIES = ("py.warnings", "mlflow", "alembic", "dagster", "optuna", "lightgbm", "httpx", "urllib3", "numba")


def to_log_file(path: Path) -> Path:
    """From now on in this process: warnings and the libraries' log records go to ``path``.
    MLflow is told not to install its own stderr handler when it is imported later."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ["MLFLOW_CONFIGURE_LOGGING"] = "false"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    for name in LIBRARIES:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO)
    return path
