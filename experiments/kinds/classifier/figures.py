"""The classifier's figures of a run, drawn from its files only (see
:mod:`experiments.plotting`). For a run that is not a sweep:

- ``convergence``: cross-entropy and squared error (log scale), accuracy, and the gradient
  norm against step, per variant, train solid and test dashed;
- ``sparsity``: each variant's weights sorted by magnitude with exact zeros marked on the
  axis, the true weights for synthetic data, and a histogram of the nonzero magnitudes; the
  count of exact zeros is in the legend;
- ``weight_norm``: ‖w‖₂ and the number of exact zeros against step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from experiments.kinds.classifier import path_figures
from experiments.plotting import PALETTE, log_y, new_figure, positive_y
from experiments.reading import RunRecord

SPLIT_STYLES = {"train": "-", "test": "--"}


@dataclass(frozen=True)
class Variant:
    """What the figures need of one variant, read from the run's files."""

    name: str
    color: tuple[float, ...]
    status: str
    diverged_at: int | None
    weights: np.ndarray  # flattened
    true_weights: np.ndarray | None
    # history[split][metric] = (steps, values)
    history: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]

    @property
    def label(self) -> str:
        if self.status == "diverged":
            return f"{self.name} (diverged at step {self.diverged_at})"
        return self.name

    @property
    def zeros(self) -> int:
        return int(np.sum(self.weights == 0))


def draw(record: RunRecord) -> dict[str, Callable[[], Figure]]:
    """The figures of a run folder: its variants' training curves and weights, or for a
    sweep, the figures of what was swept (:mod:`~experiments.kinds.classifier.path_figures`).
    """
    if record.swept:
        return path_figures.figures(record)
    variants = read_variants(record)
    return {name: functools.partial(make, variants) for name, make in FIGURES.items()}


def read_variants(record: RunRecord) -> list[Variant]:
    """The variants of a (not swept) run, in the order of ``summary.json``."""
    colors = matplotlib.colormaps[PALETTE].colors
    variants = []
    for index, run in enumerate(record.runs):
        true = record.data[run["member"]].get("true_weights")
        variants.append(
            Variant(
                name=run["variant"],
                color=colors[index % len(colors)],
                status=run["status"],
                diverged_at=run.get("diverged_at"),
                weights=as_array(run["params"]["weights"]).ravel(),
                true_weights=None if true is None else as_array(true).ravel(),
                history=record.history.get(run["member"], {}),
            )
        )
    return variants


def as_array(values) -> np.ndarray:
    """JSON numbers (null for non-finite) as a float array, null as NaN."""
    return np.array(values, dtype=float)  # None -> nan


# ---------------------------------------------------------------------------
# Convergence
# ---------------------------------------------------------------------------


def convergence_figure(variants: list[Variant]) -> Figure:
    """CE and MSE (log y), accuracy and gradient norm (log y) against step."""
    figure = new_figure(2, 2, (9.0, 6.4))
    panels = [
        ("ce", "cross-entropy (nats)", "Cross-entropy", True),
        ("mse", "squared error ½‖p − y‖²", "Squared error (MSE)", True),
        ("accuracy", "accuracy", "Accuracy", False),
        ("grad_norm", "‖∇J‖ (min-norm subgradient)", "Gradient norm of the objective", True),
    ]
    for ax, (metric, ylabel, title, log) in zip(figure.axes, panels, strict=True):
        for variant in variants:
            _plot_metric(ax, variant, metric)
        if log:
            log_y(ax)
        ax.set(title=title, xlabel="step", ylabel=ylabel)
        _step_axis(ax, variants)
    _legend_below(figure, variants, splits=_splits(variants))
    figure.suptitle("Convergence")
    return figure


def _plot_metric(ax: Axes, variant: Variant, metric: str, splits=("train", "test")) -> None:
    for split in splits:
        if metric not in variant.history.get(split, {}):
            continue
        steps, values = variant.history[split][metric]
        ax.plot(steps, values, SPLIT_STYLES[split], color=variant.color)
        if variant.status == "diverged" and len(steps):
            ax.plot(steps[-1], values[-1], "x", color=variant.color, markersize=8, mew=2)


def _step_axis(ax: Axes, variants: list[Variant]) -> None:
    """A symlog step axis (linear below 10) when some variant stops before a tenth of the
    longest (Newton's tens of steps beside a first-order method's thousands), so that the
    short runs are not squeezed against the y axis."""
    ends = [
        int(steps[-1])
        for v in variants
        for steps, _ in v.history.get("train", {}).values()
        if len(steps) and steps[-1] > 0
    ]
    if ends and min(ends) * 10 < max(ends):
        ax.set_xscale("symlog", linthresh=10, linscale=0.5)
        ax.set_xlim(0, max(ends) * 1.05)
        ax.set_xlabel("step (linear to 10, then log)")


def _splits(variants: list[Variant]) -> list[str]:
    present = {split for variant in variants for split in variant.history}
    return [split for split in SPLIT_STYLES if split in present]


def _legend_below(figure: Figure, variants: list[Variant], *, splits: list[str]) -> None:
    handles = [Line2D([], [], color=v.color, label=v.label) for v in variants]
    if len(splits) > 1:
        handles += [
            Line2D([], [], color="0.35", linestyle=SPLIT_STYLES[split], label=split)
            for split in splits
        ]
    if any(v.status == "diverged" for v in variants):
        handles.append(
            Line2D([], [], color="0.35", marker="x", linestyle="", mew=2, label="diverged")
        )
    figure.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6))


# ---------------------------------------------------------------------------
# Sparsity
# ---------------------------------------------------------------------------


def sparsity_figure(variants: list[Variant]) -> Figure:
    """Weights sorted by magnitude (exact zeros on the axis) and a histogram of |w|."""
    figure = new_figure(1, 2, (9.0, 4.2))
    profile, histogram = figure.axes
    nonzero = [_nonzero_magnitudes(v.weights) for v in variants]
    bins = _log_bins(np.concatenate([np.zeros(0), *nonzero]))
    handles = []
    for variant, magnitudes in zip(variants, nonzero, strict=True):
        ordered = np.sort(magnitudes)[::-1]
        rank = np.arange(1, variant.weights.size + 1)
        label = f"{variant.label}: {variant.zeros} of {variant.weights.size} weights exactly 0"
        profile.plot(rank[: ordered.size], ordered, ".-", color=variant.color)
        handles.append(Line2D([], [], color=variant.color, marker=".", label=label))
        if variant.zeros:  # no log axis has room for 0: mark them on its lower edge
            profile.plot(
                rank[ordered.size :],
                np.zeros(variant.weights.size - ordered.size),
                "x",
                color=variant.color,
                transform=profile.get_xaxis_transform(),
                clip_on=False,
            )
        if magnitudes.size:
            histogram.hist(magnitudes, bins=bins, histtype="step", lw=1.6, color=variant.color)
    true = next((v.true_weights for v in variants if v.true_weights is not None), None)
    if true is not None:
        ordered = np.sort(_nonzero_magnitudes(true))[::-1]
        profile.plot(np.arange(1, ordered.size + 1), ordered, "k--", lw=1.2)
        label = f"true weights: {ordered.size} of {true.size} nonzero"
        handles.append(Line2D([], [], color="k", linestyle="--", lw=1.2, label=label))
    if bins.size:
        log_y(profile)
        histogram.set_xscale("log")
    else:  # every weight is exactly 0
        profile.set_ylim(0.0, 1.0)
    profile.set(
        title="Weights sorted by magnitude (× on the axis: w = 0)",
        xlabel="rank by |w|",
        ylabel="|w|",
    )
    histogram.set(title="Histogram of the nonzero |w|", xlabel="|w|", ylabel="number of weights")
    histogram.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.legend(handles=handles, loc="outside lower center", ncols=2)
    figure.suptitle("Sparsity of the final weights")
    return figure


def _nonzero_magnitudes(weights: np.ndarray) -> np.ndarray:
    magnitudes = np.abs(weights)
    return magnitudes[np.isfinite(magnitudes) & (magnitudes > 0)]


def _log_bins(values: np.ndarray, n: int = 30) -> np.ndarray:
    """Log-spaced bins over ``values`` (positive); none if there are no values."""
    if values.size == 0:
        return np.zeros(0)
    low, high = np.log10(values.min()), np.log10(values.max())
    if high - low < 1e-6:
        low, high = low - 0.5, high + 0.5
    return np.logspace(low, high, n + 1)


# ---------------------------------------------------------------------------
# Weight norm
# ---------------------------------------------------------------------------


def weight_norm_figure(variants: list[Variant]) -> Figure:
    """‖w‖₂ and the number of exact zeros against step."""
    figure = new_figure(1, 2, (9.0, 3.9))
    norm, zeros = figure.axes
    for variant in variants:
        _plot_metric(norm, variant, "weight_norm", splits=("train",))
        _plot_metric(zeros, variant, "zero_weights", splits=("train",))
    norm.set(title="Weight norm", xlabel="step", ylabel="‖w‖₂ (bias excluded)")
    _log_scale_if_wide(norm)
    zeros.set(title="Exact zeros among the weights", xlabel="step", ylabel="number of w = 0")
    for ax in (norm, zeros):
        _step_axis(ax, variants)
    zeros.set_ylim(bottom=0)
    zeros.yaxis.set_major_locator(MaxNLocator(integer=True))
    _legend_below(figure, variants, splits=["train"])
    figure.suptitle("Size of the weights during training")
    return figure


def _log_scale_if_wide(ax: Axes, decades: float = 3.0) -> None:
    """A log y axis where the positive values span more than ``decades`` (a diverged run),
    else linear (where a slow growth, such as MLE's on separable data, reads best)."""
    values = positive_y(ax)
    if values.size and values.max() > 10.0**decades * values.min():
        log_y(ax)


FIGURES: dict[str, Callable[[list[Variant]], Figure]] = {
    "convergence": convergence_figure,
    "sparsity": sparsity_figure,
    "weight_norm": weight_norm_figure,
}
