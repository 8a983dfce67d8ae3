"""Pictures a person would rather look at than read: a reliability diagram and feature
importance, rendered to PNG bytes (Agg, no screen needed)."""

from __future__ import annotations

import io
from typing import Any

import polars as pl


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend, imported when a picture is drawn: it is half a
    second of every run's start, and most runs draw none."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_bytes(figure: Any) -> bytes:
    plt = pyplot()
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def calibration_png(model_table: pl.DataFrame, market_table: pl.DataFrame | None, title: str) -> bytes:
    """Forecast against observed frequency per outcome; the diagonal is perfect calibration."""
    plt = pyplot()
    outcomes = model_table["outcome"].unique(maintain_order=True).to_list()
    figure, axes = plt.subplots(1, len(outcomes), figsize=(4 * len(outcomes), 4), squeeze=False)
    for axis, outcome in zip(axes[0], outcomes, strict=True):
        axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        for table, label, marker in ((model_table, "model", "o"), (market_table, "sharp market", "s")):
            if table is None:
                continue
            part = table.filter(pl.col("outcome") == outcome)
            axis.plot(part["forecast"], part["observed"], marker=marker, label=label)
        axis.set_title(outcome)
        axis.set_xlabel("forecast probability")
        axis.set_ylabel("observed frequency")
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1)
        axis.legend(loc="upper left")
    figure.suptitle(title)
    return png_bytes(figure)


def importance_png(importance: pl.DataFrame, top: int = 20) -> bytes:
    plt = pyplot()
    head = importance.head(top).reverse()
    figure, axis = plt.subplots(figsize=(7, max(3, 0.3 * head.height)))
    axis.barh(head["feature"].to_list(), head["gain"].to_list())
    axis.set_xlabel("total gain")
    axis.set_title("LightGBM feature importance")
    return png_bytes(figure)


def budget_png(curve: pl.DataFrame, fixed_credits: int, full_capture_credits: int) -> bytes:
    """Coverage bought against the season's credits as the monthly budget grows, beside what
    every decision time and close costs and what fixed 30-minute polling costs (credits on a
    log scale: fixed polling costs tens of times more)."""
    plt = pyplot()
    figure, share = plt.subplots(figsize=(9, 4.5))
    credits = curve["credits"].to_list()
    share.plot(credits, [v * 100 for v in curve["decision"]], marker="o", label="decision-time snapshot (% of events)")
    share.plot(credits, [v * 100 for v in curve["closing"]], marker="s", label="closing snapshot (% of events)")
    share.plot(credits, [v * 100 for v in curve["results"]], marker="^", label="result polled (% of events)")
    share.set_xscale("log")
    share.set_xlabel("credits over the season (log scale)")
    share.set_ylabel("events covered (%)")
    share.set_ylim(0, 105)
    share.axvline(full_capture_credits, color="green", linestyle=":", label=f"every decision and close: {full_capture_credits:,}")
    share.axvline(fixed_credits, color="grey", linestyle="--", label=f"fixed 30-minute polling: {fixed_credits:,}")
    snapshots = share.twinx()
    snapshots.plot(credits, curve["snapshots_per_event"].to_list(), color="purple", alpha=0.6,
                   label="snapshots per event")
    snapshots.set_ylabel("snapshots per event")
    lines = share.get_legend_handles_labels()[0] + snapshots.get_legend_handles_labels()[0]
    labels = share.get_legend_handles_labels()[1] + snapshots.get_legend_handles_labels()[1]
    share.legend(lines, labels, loc="lower right", fontsize=8)
    share.set_title("What a monthly credit budget buys (decision times, closes, results, then movement)")
    return png_bytes(figure)


def plan_png(days: pl.DataFrame, left: int | None, title: str) -> bytes:
    """Planned credits per day, stacked by priority (``day``, ``priority``, ``credits``), with
    what the period's budget has left as a line over the running total."""
    plt = pyplot()
    order = ["decision", "closing", "results", "movement"]
    labels = sorted(days["day"].unique().to_list())
    figure, axis = plt.subplots(figsize=(9, 4))
    bottom = [0.0] * len(labels)
    for priority in order:
        part = dict(days.filter(pl.col("priority") == priority).group_by("day").agg(pl.col("credits").sum()).iter_rows())
        heights = [float(part.get(day, 0)) for day in labels]
        axis.bar(labels, heights, bottom=bottom, label=priority)
        bottom = [b + h for b, h in zip(bottom, heights)]
    running = axis.twinx()
    total = 0.0
    cumulative = []
    for height in bottom:
        total += height
        cumulative.append(total)
    running.plot(labels, cumulative, color="black", marker=".", label="planned so far")
    if left is not None:
        running.axhline(left, color="red", linestyle="--", label=f"left in the period: {left:,}")
    running.set_ylabel("credits planned so far")
    axis.set_ylabel("credits planned that day")
    axis.tick_params(axis="x", rotation=60, labelsize=7)
    lines = axis.get_legend_handles_labels()[0] + running.get_legend_handles_labels()[0]
    names = axis.get_legend_handles_labels()[1] + running.get_legend_handles_labels()[1]
    axis.legend(lines, names, loc="upper left", fontsize=8)
    axis.set_title(title)
    return png_bytes(figure)
