"""The classifier's figures of a run, drawn from its files only (see
:mod:`experiments.figures.save`). For a run that is not a sweep:

- ``convergence``: cross-entropy and squared error (log scale), accuracy, and the gradient
  norm against step, per variant (a colour and a marker each), train solid and test dashed;
- ``sparsity`` (where some variant has a prior): each variant's final |w|, by feature name
  where the data names its features, else sorted by magnitude, exact zeros marked on the
  axis, the true weights for synthetic data, and a histogram of the nonzero magnitudes;
  the count of exact zeros is in the legend;
- ``weight_norm``: ‖w‖₂ against step, and the number of exact zeros where some variant has
  an L1 (Laplace) prior;
- ``weights`` (image data, such as digits' 8 × 8 pixels): each variant's weights of each
  class drawn as an image;
- ``evidence`` and ``ard`` (a run, or sweep, whose prior scale was chosen by its evidence):
  see :mod:`~experiments.kinds.classifier.evidence_figures`. An ARD variant (one σ per
  feature) is left out of ``weight_norm``: its history's norm is that of w/σ.

Variants that end exactly where an earlier one did say so in the legend (``b (= a)``); a
step axis turns symlog where the dynamics are front-loaded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from experiments.contract import RunRecord
from experiments.figures import style
from experiments.figures.canvas import legend_below, log_y, new_figure, positive_y
from experiments.kinds.classifier import evidence_figures, path_figures
from experiments.kinds.classifier.variants import Variant, read_variants
from experiments.kinds.classifier.weight_figures import (
    groups_figure,
    image_shape,
    meaningful_names,
    sparsity_figure,
    weight_images_figure,
)

__all__ = [
    "Variant",
    "convergence_figure",
    "draw",
    "groups_figure",
    "image_shape",
    "meaningful_names",
    "read_variants",
    "sparsity_figure",
    "weight_images_figure",
    "weight_norm_figure",
]

SPLIT_STYLES = {"train": "-", "test": "--"}
PANELS = (  # metric, y label, title, log y
    ("ce", "cross-entropy ({unit})", "Cross-entropy", True),
    ("mse", "squared error ½‖p − y‖²", "Squared error (MSE)", True),
    ("accuracy", "accuracy (fraction correct)", "Accuracy", False),
    ("grad_norm", "‖∇J‖ (min-norm subgradient)", "Gradient norm of the objective", True),
)


def draw(record: RunRecord) -> dict[str, Callable[[], Figure]]:
    """The figures of a run folder: its variants' training curves and weights, or for a
    sweep, the figures of what was swept (:mod:`~experiments.kinds.classifier.path_figures`).
    """
    if record.swept:
        return {**path_figures.figures(record), **evidence_figures.figures(record)}
    variants = read_variants(record)
    drawn = {"convergence": functools.partial(convergence_figure, variants)}
    if any(v.prior != "none" for v in variants):
        drawn["sparsity"] = functools.partial(sparsity_figure, variants)
    ard = {run["variant"] for run in record.runs if "prior_scales" in run}
    normed = [v for v in variants if v.name not in ard]
    if normed:
        drawn["weight_norm"] = functools.partial(weight_norm_figure, normed)
    if variants[0].feature_groups:
        drawn["groups"] = functools.partial(groups_figure, variants)
    if image_shape(variants[0].feature_names) is not None:
        drawn["weights"] = functools.partial(weight_images_figure, variants)
    return {**drawn, **evidence_figures.figures(record)}


# ---------------------------------------------------------------------------
# Convergence
# ---------------------------------------------------------------------------


def convergence_figure(variants: list[Variant]) -> Figure:
    """CE and MSE (log y), accuracy and gradient norm (log y) against step."""
    figure = new_figure(2, 2, (7.0, 5.2))
    unit = variants[0].ce_unit
    for ax, (metric, ylabel, title, log) in zip(figure.axes, PANELS, strict=True):
        ylabel = ylabel.format(unit=unit)
        for index, variant in enumerate(variants):
            _plot_metric(ax, variant, metric, index=index, count=len(variants))
        if log:
            log_y(ax)
        elif metric == "accuracy":
            title += _fit_accuracy(ax, variants)
        ax.set(title=title, xlabel="step", ylabel=ylabel)
        _step_axis(ax, variants)
    labels = style.variant_labels(variants, _plotted_history)
    _legend(figure, variants, labels, splits=_splits(variants))
    figure.suptitle("Convergence")
    return figure


def _plotted_history(variant: Variant) -> list[np.ndarray]:
    series = []
    for split in SPLIT_STYLES:
        for metric, *_ in PANELS:
            steps, values = variant.history.get(split, {}).get(metric, (np.zeros(0),) * 2)
            series += [steps, values]
    return series


def _plot_metric(
    ax: Axes,
    variant: Variant,
    metric: str,
    splits=("train", "test"),
    *,
    index: int = 0,
    count: int = 1,
    linestyle=None,
) -> None:
    for split in splits:
        if metric not in variant.history.get(split, {}):
            continue
        steps, values = variant.history[split][metric]
        line = variant.look.line(index=index, count=count)
        line["linestyle"] = linestyle or SPLIT_STYLES[split]
        if split != "train":
            line["markerfacecolor"] = "white"
        ax.plot(steps, values, **line)
        if variant.status == "diverged" and len(steps):
            ax.plot(steps[-1], values[-1], "x", color=variant.color, markersize=7, mew=1.8)


def _fit_accuracy(ax: Axes, variants: list[Variant]) -> str:
    """Fits the accuracy axis to the curves after their first tenth of steps where those
    lie in a narrow band of the whole range (the first steps then start below the axis);
    returns a note for the title ("" when the whole range is shown)."""
    tails, everything = [], []
    for variant in variants:
        for split in variant.history.values():
            if "accuracy" not in split:
                continue
            steps, values = split["accuracy"]
            finite = np.isfinite(values)
            everything.append(values[finite])
            tails.append(values[finite & (steps >= 0.1 * max(steps[-1], 1))])
    tail = np.concatenate([np.zeros(0), *tails])
    full = np.concatenate([np.zeros(0), *everything])
    if not tail.size or not full.size:
        return ""
    low, high = float(tail.min()), float(tail.max())
    if high - low >= 0.25 * (full.max() - full.min()):
        return ""
    pad = max(0.08 * (high - low), 0.002)
    ax.set_ylim(low - pad, min(high + pad, 1.0 + pad / 2))
    return " (first steps below the axis)"


def _step_axis(ax: Axes, variants: list[Variant]) -> None:
    """A symlog step axis (linear below 10) when the dynamics are front-loaded: some
    variant stops before a tenth of the longest (Newton's tens of steps beside a
    first-order method's thousands), or every variant's train cross-entropy has done 90%
    of its change within the first tenth of the steps. Short runs and early changes are
    then not squeezed against the y axis."""
    ends, settled = [], []
    for variant in variants:
        train = variant.history.get("train", {})
        ends += [int(steps[-1]) for steps, _ in train.values() if len(steps) and steps[-1] > 0]
        if "ce" in train and len(train["ce"][0]) > 2:
            settled.append(_settling_step(*train["ce"]))
    if not ends:
        return
    longest = max(ends)
    front_loaded = bool(settled) and max(settled) * 10 < longest
    if min(ends) * 10 < longest or front_loaded:
        ax.set_xscale("symlog", linthresh=10, linscale=0.5)
        ax.set_xlim(0, longest * 1.05)
        ax.set_xlabel("step (linear to 10, then log)")


def _settling_step(steps: np.ndarray, values: np.ndarray) -> float:
    """The first step after which a curve stays within 10% of its total change of its end."""
    finite = np.isfinite(values)
    if finite.sum() < 2:
        return float(steps[-1])
    steps, values = steps[finite], values[finite]
    change = abs(values[0] - values[-1])
    if change == 0:
        return 0.0
    outside = np.flatnonzero(np.abs(values - values[-1]) > 0.1 * change)
    return float(steps[min(outside[-1] + 1, len(steps) - 1)]) if outside.size else 0.0


def _splits(variants: list[Variant]) -> list[str]:
    present = {split for variant in variants for split in variant.history}
    return [split for split in SPLIT_STYLES if split in present]


def _legend(
    figure: Figure,
    variants: list[Variant],
    labels: list[str],
    *,
    splits: list[str],
    linestyles: bool = False,
) -> None:
    handles = []
    for index, (variant, label) in enumerate(zip(variants, labels, strict=True)):
        line = variant.look.line(index=index, count=len(variants))
        line.pop("markevery")
        if not linestyles:
            line["linestyle"] = "-"
        handles.append(Line2D([], [], label=label, **line))
    if len(splits) > 1:
        handles += [
            Line2D([], [], color="0.35", linestyle=SPLIT_STYLES[split], label=split)
            for split in splits
        ]
    if any(v.status == "diverged" for v in variants):
        handles.append(
            Line2D([], [], color="0.35", marker="x", linestyle="", mew=1.8, label="diverged")
        )
    legend_below(figure, handles)


# ---------------------------------------------------------------------------
# Weight norm
# ---------------------------------------------------------------------------


def weight_norm_figure(variants: list[Variant]) -> Figure:
    """‖w‖₂ against step, and the number of exact zeros where some prior is L1."""
    l1 = any(v.prior == "laplace" for v in variants)
    figure = new_figure(1, 2 if l1 else 1, (7.0, 3.2) if l1 else (4.6, 3.2))
    axes = figure.axes
    norm = axes[0]
    for index, variant in enumerate(variants):
        style_ = {"index": index, "count": len(variants), "linestyle": variant.look.linestyle}
        _plot_metric(norm, variant, "weight_norm", splits=("train",), **style_)
        if l1:
            _plot_metric(axes[1], variant, "zero_weights", splits=("train",), **style_)
    norm.set(title="Weight norm", xlabel="step", ylabel="‖w‖₂ (bias excluded)")
    _log_scale_if_wide(norm)
    if l1:
        zeros = axes[1]
        zeros.set(title="Exact zeros among the weights", xlabel="step", ylabel="number of w = 0")
        zeros.set_ylim(bottom=0)
        zeros.yaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes:
        _step_axis(ax, variants)

    def series(variant: Variant) -> list[np.ndarray]:
        train = variant.history.get("train", {})
        return [np.asarray(x) for m in ("weight_norm", "zero_weights") for x in train.get(m, ())]

    _legend(
        figure, variants, style.variant_labels(variants, series), splits=["train"], linestyles=True
    )
    figure.suptitle("Size of the weights during training")
    return figure


def _log_scale_if_wide(ax: Axes, decades: float = 1.5) -> None:
    """A log y axis where the positive values after the start span more than ``decades``
    (a diverged or separating run beside bounded ones), else linear (where a slow growth,
    such as MLE's on separable data, reads best)."""
    values = positive_y(ax)
    if values.size and values.max() > 10.0**decades * np.percentile(values, 5):
        log_y(ax)
