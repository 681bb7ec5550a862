"""The loss table's figures, drawn from ``summary.json`` and ``data.json`` alone:

- ``losses``: a panel per loss (classification error, squared error Σ_c, cross-entropy in
  the run's unit), a bar per prediction set at its mean with each sample's value as a
  marker on it, so equal error rates with unequal losses show at a glance;
- ``measures``: each distribution's entropy, and for each pair both directions of the
  KL divergence (solid) and of the cross-entropy (hatched), side by side.

A run with several variants draws each variant's figures, named ``<figure>_<variant>``
(``<figure>_<variant>_<member>`` in a sweep).
Colours are Okabe and Ito's colourblind-safe palette; an infinite value is drawn as ∞.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from experiments.contract import RunRecord
from experiments.figures import style
from experiments.figures.canvas import new_figure
from experiments.kinds.loss_table.table import units

__all__ = ["OKABE_ITO", "draw"]

OKABE_ITO, MARKERS = style.OKABE_ITO, style.MARKERS  # the house style's
LOSS_LABELS = {
    "error": "classification error\n(fraction of samples wrong)",
    "squared_error": "squared error $\\Sigma_c\\,(p_c - y_c)^2$\n(mean over samples)",
    "cross_entropy": "cross-entropy $H(y, p)$\n({unit}, mean over samples)",
}


def draw(record: RunRecord) -> dict[str, Callable[[], Figure]]:
    """The figures of a loss-table run folder, by name (in the config's order of names,
    which ``data.json`` keeps)."""
    figures: dict[str, Callable[[], Figure]] = {}
    for run in record.runs:
        suffix = "" if len(record.runs) == 1 else f"_{run['variant']}"
        if record.swept:
            suffix = f"_{run['variant']}_{run['member']}"
        params, data = run["params"], record.data[run["member"]]
        unit = units(params["base"])
        if "predictions" in params:
            sets = {s["name"]: params["predictions"][s["name"]] for s in data["predictions"]}
            figures[f"losses{suffix}"] = functools.partial(_losses, sets, unit)
        if "distributions" in params:
            vectors = {d["name"]: d["probabilities"] for d in data["distributions"]}
            pairs = {f"{p}||{q}": params["pairs"][f"{p}||{q}"] for p, q in data["pairs"]}
            make = functools.partial(_measures, params["distributions"], vectors, pairs, unit)
            figures[f"measures{suffix}"] = make
    return figures


def _value(value: Any) -> float:
    return math.inf if value is None else float(value)


def _largest_finite(values: Sequence[float]) -> float:
    return max([v for v in values if math.isfinite(v)] + [1e-9])


def _losses(sets: Mapping[str, Any], unit: str) -> Figure:
    figure = new_figure(1, 3, (7.2, 2.9))
    names = list(sets)
    for ax, (loss, label) in zip(figure.axes, LOSS_LABELS.items(), strict=True):
        means = [_value(sets[name][loss]) for name in names]
        samples = [[_value(v) for v in sets[name]["per_sample"][loss]] for name in names]
        fixed = 1.0 if loss == "error" else None  # a fraction: the axis shows all of [0, 1]
        _bars_with_samples(ax, names, means, samples, fixed)
        ax.set(ylabel=label.format(unit=unit), xlim=(-0.6, len(names) - 0.4))
        ax.grid(axis="x", visible=False)
    n = len(next(iter(sets.values()))["per_sample"]["error"])
    if n <= len(MARKERS):
        handles, labels = figure.axes[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside lower center", ncols=n, fontsize=7)
    samples_ = "1 sample" if n == 1 else f"{n} samples"
    figure.suptitle(f"{len(names)} prediction sets on {samples_}: bar = mean, markers = samples")
    return figure


def _bars_with_samples(
    ax: Axes,
    names: Sequence[str],
    means: Sequence[float],
    samples: Sequence[Sequence[float]],
    top: float | None,
) -> None:
    """A bar per set at its mean, labelled, with a marker per sample; ``top`` is the largest
    value the axis must show (None: the largest finite value drawn)."""
    top = top or 1.18 * _largest_finite([*means, *(v for row in samples for v in row)])
    for index, (mean, row) in enumerate(zip(means, samples, strict=True)):
        color = OKABE_ITO[index % len(OKABE_ITO)]
        height = mean if math.isfinite(mean) else top
        ax.bar(index, height, width=0.6, color=color, alpha=0.55, edgecolor=color, linewidth=1.2)
        text = f"{mean:.4g}" if math.isfinite(mean) else "∞"
        ax.annotate(
            text,
            (index, height),
            xytext=(0, 5),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
            fontweight="bold",
        )
        offsets = np.linspace(-0.18, 0.18, len(row)) if len(row) > 1 else [0.0]
        for sample, (value, dx) in enumerate(zip(row, offsets, strict=True)):
            shown = value if math.isfinite(value) else top
            marker = MARKERS[sample % len(MARKERS)] if len(row) <= len(MARKERS) else "o"
            label = f"sample {sample + 1}" if index == 0 else None
            ax.plot(
                index + dx,
                shown,
                marker,
                color="black",
                markersize=4,
                markerfacecolor="white",
                label=label,
                zorder=3,
            )
    ax.set_xticks(range(len(names)), names)
    ax.set_ylim(-0.04 * top, 1.15 * top)  # markers at 0 stay whole


def _measures(
    entropies: Mapping[str, Any],
    vectors: Mapping[str, Sequence[float]],
    pairs: Mapping[str, Any],
    unit: str,
) -> Figure:
    figure = new_figure(1, 2 if pairs else 1, (7.2 if pairs else 3.8, 2.9))
    _entropies(figure.axes[0], entropies, vectors, unit)
    if pairs:
        _pairs(figure.axes[1], pairs, unit)
    return figure


def _entropies(
    ax: Axes, entropies: Mapping[str, Any], vectors: Mapping[str, Sequence[float]], unit: str
) -> None:
    names = list(vectors)
    values = [_value(entropies[name]["entropy"]) for name in names]
    positions = np.arange(len(names))[::-1]
    ax.barh(positions, values, height=0.6, color=OKABE_ITO[0], alpha=0.8)
    for y, value in zip(positions, values, strict=True):
        ax.annotate(
            f"{value:.4g}",
            (value, y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    labels = [f"{name}  ({', '.join(f'{v:g}' for v in vectors[name])})" for name in names]
    ax.set_yticks(positions, labels, fontsize=7)
    ax.set(xlabel=f"entropy H(P) ({unit})", xlim=(0, 1.25 * max(max(values), 1e-9)))
    ax.grid(axis="y", visible=False)
    ax.set_title("entropy of each distribution")


def _pairs(ax: Axes, pairs: Mapping[str, Any], unit: str) -> None:
    bars = (
        ("kl_divergence", "D(P‖Q)", OKABE_ITO[0], None),
        ("reverse_kl_divergence", "D(Q‖P)", OKABE_ITO[3], None),
        ("cross_entropy", "H(P, Q)", OKABE_ITO[0], "///"),
        ("reverse_cross_entropy", "H(Q, P)", OKABE_ITO[3], "///"),
    )
    top = 1.2 * _largest_finite([_value(m[key]) for m in pairs.values() for key, *_ in bars])
    width = 0.2
    for b, (key, label, color, hatch) in enumerate(bars):
        for index, measures in enumerate(pairs.values()):
            value = _value(measures[key])
            x = index + (b - 1.5) * width
            height = value if math.isfinite(value) else top
            filled = hatch is None
            ax.bar(
                x,
                height,
                width=width * 0.92,
                color=color if filled else "white",
                edgecolor=color,
                hatch=hatch,
                linewidth=1.2,
                label=label if index == 0 else None,
            )
            if math.isfinite(value):
                ax.annotate(
                    f"{value:.4g}",
                    (x, height),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=6.5,
                    rotation=90,
                )
            else:
                ax.annotate(
                    "∞",
                    (x, height),
                    xytext=(0, 1),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=11,
                )
    ax.set_xticks(range(len(pairs)), [label.replace("||", " ‖ ") for label in pairs])
    ax.set(ylabel=unit, ylim=(0, 1.35 * top), title="each pair, both directions")
    ax.grid(axis="x", visible=False)
    ax.legend(ncols=2, fontsize=7, loc="upper left")
