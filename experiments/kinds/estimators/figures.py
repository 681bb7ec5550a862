"""The estimators' figures, one per run entry, drawn from ``summary.json`` and ``data.json``.

``discrete``: the bias of each estimator (its mean estimate less the true entropy) against
the number of draws n, ± one standard deviation over the repeats, a panel per distribution.
``ksg``: the mean KSG estimate ± one standard deviation against ρ, over the closed form.
Colours are Okabe and Ito's (:mod:`experiments.figures.style`), each estimator with its own
line style and marker (the plug-in baseline in grey, dotted). A figure is named after its variant.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from experiments.contract import RunRecord
from experiments.figures import style
from experiments.figures.canvas import legend_below, new_figure

__all__ = ["draw"]

LABELS = {
    "plugin": "plug-in",
    "miller_madow": "Miller–Madow",
    "jackknife": "jackknife",
    "grassberger": "Grassberger",
    "chao_shen": "Chao–Shen",
    "zhang": "Zhang",
    "james_stein": "James–Stein",
    "nsb": "NSB",
}


def draw(record: RunRecord) -> dict[str, Callable[[], Figure]]:
    """The figures of an estimators run folder, by name."""
    figures = {}
    for run in record.runs:
        name = run["variant"] if not record.swept else f"{run['variant']}_{run['member']}"
        settings = record.data[run["member"]]["study"]
        make = _discrete if settings["kind"] == "discrete" else _ksg
        figures[name] = functools.partial(make, run["params"], settings)
    return figures


def _look(estimator: str, corrected: list[str]) -> style.Look:
    """The plug-in estimate, the baseline the others correct, in grey; the ``corrected``
    ones in the house colours (seven, one per estimator)."""
    if estimator == "plugin":
        return style.Look("#666666", (0, (1, 1)), "x")
    return style.look(corrected.index(estimator))


def _unit(base: float) -> str:
    return style.log_unit(None if abs(base - math.e) < 1e-12 else base)


def _discrete(params: Mapping[str, Any], settings: Mapping[str, Any]) -> Figure:
    figure = new_figure(1, 2, (7.0, 3.0))
    sizes = np.asarray(settings["sizes"], float)
    unit = _unit(params["base"])
    estimators = settings["estimators"]
    titles = {
        "zipf": f"Zipf, s = {settings['zipf_exponent']:g}",
        "uniform": "uniform",
    }
    for ax, name in zip(figure.axes, ("zipf", "uniform"), strict=True):
        entry = params[name]
        ax.axhline(0, color=style.GREY, linewidth=1, zorder=0)
        for index, estimator in enumerate(estimators):
            look = _look(estimator, [e for e in estimators if e != "plugin"])
            bias = np.asarray(entry[estimator]["mean"], float) - entry["true"]
            spread = np.asarray(entry[estimator]["std"], float)
            # A small offset in log n per estimator, so the error bars do not overlap.
            dodge = sizes * 10 ** (0.025 * (index - (len(estimators) - 1) / 2))
            ax.errorbar(
                dodge,
                bias,
                yerr=spread,
                color=look.color,
                linestyle=look.linestyle,
                marker=look.marker,
                markersize=3.5,
                linewidth=1.1,
                elinewidth=0.8,
                capsize=1.5,
                label=LABELS[estimator],
            )
        ax.set_xscale("log")
        ax.set(
            xlabel="number of draws n",
            ylabel=f"estimate − true entropy ({unit})",
            title=f"{titles[name]}, {settings['bins']} bins: H = {entry['true']:.3g} {unit}",
        )
    legend_below(figure)
    return figure


def _ksg(params: Mapping[str, Any], settings: Mapping[str, Any]) -> Figure:
    figure = new_figure(1, 1, (4.2, 3.0))
    (ax,) = figure.axes
    rhos = np.asarray(settings["rhos"], float)
    unit = _unit(params["base"])
    fine = np.linspace(0, rhos.max(), 200)
    closed = -0.5 * np.log1p(-fine * fine) / math.log(params["base"])
    ax.plot(fine, closed, color=style.GREY, linewidth=2.5, label="−½ log₂(1 − ρ²), the closed form")
    look = style.look(0)
    ax.errorbar(
        rhos,
        params["ksg"]["mean"],
        yerr=params["ksg"]["std"],
        color=look.color,
        linestyle="none",
        marker=look.marker,
        markersize=4,
        capsize=2,
        label=f"KSG, k = {settings['k']} (mean ± 1 sd)",
    )
    ax.set(
        xlabel="correlation ρ",
        ylabel=f"mutual information ({unit})",
        title=f"bivariate Gaussian, n = {settings['n']}, {settings['repeats']} repeats",
    )
    ax.legend(loc="upper left")
    return figure
