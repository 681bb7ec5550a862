"""The figure every sweep can have, whatever its kind and whatever it sweeps: each final
metric against one swept key, a line per variant (mean over the other swept keys, a band
from their minimum to their maximum).

Drawn from ``summary.json`` alone (each member's ``sweep`` values and ``final`` metrics).
Numeric values go on a linear or, when they span more than a decade and a half, a log
axis; other values (names, booleans) are categories, in the order the sweep lists them.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from experiments.contract import RunRecord
from experiments.figures import style
from experiments.figures.canvas import legend_below, new_figure

__all__ = ["figure_name", "final_metrics_figure", "numeric_metrics"]


def figure_name(key: str) -> str:
    """The file name of the figure for ``key``: ``sweep_train_steps``."""
    return "sweep_" + key.replace(".", "_")


def numeric_metrics(record: RunRecord, metrics: Sequence[str] = ()) -> list[str]:
    """The final metrics the members report as numbers, in ``metrics``' order then the
    summary's."""
    found: dict[str, None] = {}
    for run in record.runs:
        for table in run["final"].values():
            for name, value in (table or {}).items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    found[name] = None
    ordered = [m for m in metrics if m in found]
    return ordered + [m for m in found if m not in ordered]


def final_metrics_figure(
    record: RunRecord, key: str, metrics: Sequence[str], *, units: dict[str, str] | None = None
) -> Figure:
    """Each metric of ``metrics`` at the end of training against the swept ``key``.

    Args:
        record: a swept run, read back.
        key: the dotted key on the x axis.
        metrics: the final metrics to draw, a panel each (at most four shown).
        units: an axis label per metric (default: the metric's name).

    Returns:
        The figure: one panel per metric, the test split where the members have one.
    """
    metrics = list(metrics)[:4]
    units = units or {}
    split = "test" if all("test" in run["final"] for run in record.runs) else "train"
    values = [run.get("sweep", {}).get(key) for run in record.runs]
    positions, ticks, log = _axis(values)
    cols = min(len(metrics), 2)
    rows = math.ceil(len(metrics) / cols)
    figure = new_figure(rows, cols, (7.0 if cols > 1 else 4.6, 2.9 * rows + 0.4))
    for ax in figure.axes[len(metrics) :]:
        ax.set_visible(False)
    variants = list(dict.fromkeys(run["variant"] for run in record.runs))
    others = sorted({k for run in record.runs for k in run.get("sweep", {})} - {key})
    for ax, metric in zip(figure.axes, metrics, strict=False):
        for index, variant in enumerate(variants):
            groups: dict[float, list[float]] = defaultdict(list)
            for run, x in zip(record.runs, positions, strict=True):
                if run["variant"] == variant and x is not None:
                    value = (run["final"].get(split) or {}).get(metric)
                    groups[x].append(np.nan if value is None else float(value))
            xs = np.array(sorted(groups))
            stacks = [np.array(groups[x]) for x in xs]
            with warnings.catch_warnings(action="ignore", category=RuntimeWarning):
                mean = np.array([np.nanmean(s) for s in stacks])
                low = np.array([np.nanmin(s) for s in stacks])
                high = np.array([np.nanmax(s) for s in stacks])
            look = style.look(index)
            line = look.line(index=index, count=len(variants))
            line["markevery"] = None if len(xs) <= 12 else line["markevery"]
            ax.plot(xs, mean, label=variant, **line)
            if np.any(high > low):
                ax.fill_between(xs, low, high, color=look.color, alpha=0.18, linewidth=0)
        if log:
            ax.set_xscale("log")
        if ticks is not None:
            ax.set_xticks(range(len(ticks)), ticks)
        ax.set(xlabel=key, ylabel=f"final {split} {units.get(metric, metric)}")
    spread = f"; mean and min–max over {', '.join(others)}" if others else ""
    figure.suptitle(f"Final {split} metrics against {key}{spread}")
    legend_below(figure)
    return figure


def _axis(values: list[Any]) -> tuple[list[float | None], list[str] | None, bool]:
    """Each member's x position, tick labels for categories (None: numeric), log or not."""
    present = [v for v in values if v is not None]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)
    if numeric and present:
        xs = [None if v is None else float(v) for v in values]
        low, high = min(present), max(present)
        return xs, None, low > 0 and high / low > 10**1.5
    labels = list(dict.fromkeys(repr(v) if not isinstance(v, str) else v for v in present))
    index = {label: i for i, label in enumerate(labels)}
    xs = [None if v is None else float(index[v if isinstance(v, str) else repr(v)]) for v in values]
    return xs, labels, False
