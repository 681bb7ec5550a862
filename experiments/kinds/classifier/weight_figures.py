"""The classifier's figures of a run's final weights, drawn from its files only (the
variants read by :func:`experiments.kinds.classifier.variants.read_variants`):

- ``sparsity``: each variant's final |w|, by feature name where the data names its
  features, else sorted by magnitude, exact zeros marked on the axis, the true weights for
  synthetic data, and a histogram of the nonzero magnitudes;
- ``weights``: image data's weights (digits' 8 × 8 pixels) drawn as an image per class;
- ``groups``: a panel per correlated feature group.
"""

from __future__ import annotations

import math
import re

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from experiments.figures import style
from experiments.figures.canvas import legend_below, log_y, new_figure
from experiments.kinds.classifier.variants import Variant

__all__ = [
    "groups_figure",
    "image_shape",
    "meaningful_names",
    "sparsity_figure",
    "weight_images_figure",
]

_GENERIC_NAME = re.compile(r"x\d+")
_PIXEL = re.compile(r"pixel_(\d+)_(\d+)")


def meaningful_names(names: list[str]) -> bool:
    """Whether feature names say something (not ``x0, x1, ...`` nor pixel positions)."""
    return bool(names) and not all(_GENERIC_NAME.fullmatch(n) or _PIXEL.fullmatch(n) for n in names)


def sparsity_figure(variants: list[Variant]) -> Figure:
    """Each variant's final |w| (by feature, or sorted) and a histogram of the nonzero |w|."""
    names = variants[0].feature_names
    named = meaningful_names(names) and variants[0].weights.ndim == 1 and len(names) <= 60
    figure = new_figure(1, 2, (7.0, 3.6 if not named else 4.2))
    profile, histogram = figure.axes
    magnitudes = [np.abs(v.weights.ravel()) for v in variants]
    nonzero = [m[np.isfinite(m) & (m > 0)] for m in magnitudes]
    bins = _log_bins(np.concatenate([np.zeros(0), *nonzero]))
    labels = style.variant_labels(variants, lambda v: [np.abs(v.weights.ravel())])
    order = _feature_order(magnitudes) if named else None
    handles = []
    for index, (variant, weights) in enumerate(zip(variants, magnitudes, strict=True)):
        shown = weights[order] if order is not None else np.sort(weights)[::-1]
        position = np.arange(1, shown.size + 1)
        line = variant.look.line(index=index, count=len(variants))
        line["linestyle"] = "-" if not named else "none"
        line.update(markevery=None, linewidth=0.9)
        positive = shown > 0
        profile.plot(position[positive], shown[positive], **line)
        if not positive.all():  # no log axis has room for 0: mark them on its lower edge
            offset = (index - (len(variants) - 1) / 2) * 0.012
            profile.plot(
                position[~positive],
                np.full(int((~positive).sum()), offset),
                "x",
                color=variant.color,
                markersize=3.5,
                transform=profile.get_xaxis_transform(),
                clip_on=False,
            )
        label = f"{labels[index]}: {variant.zeros} of {variant.weights.size} weights exactly 0"
        handles.append(Line2D([], [], marker=variant.look.marker, color=variant.color, label=label))
        if nonzero[index].size:
            histogram.hist(
                nonzero[index],
                bins=bins,
                histtype="step",
                lw=1.2,
                color=variant.color,
                linestyle=variant.look.linestyle,
            )
    true = next((v.true_weights for v in variants if v.true_weights is not None), None)
    if true is not None:
        truth = np.abs(true)
        shown = truth[order] if order is not None else np.sort(truth)[::-1]
        keep = shown > 0
        profile.plot(np.arange(1, shown.size + 1)[keep], shown[keep], "k--", lw=1.0)
        label = f"true weights: {int(keep.sum())} of {true.size} nonzero"
        handles.append(Line2D([], [], color="k", linestyle="--", lw=1.0, label=label))
    if bins.size:
        log_y(profile)
        histogram.set_xscale("log")
    else:  # every weight is exactly 0
        profile.set_ylim(0.0, 1.0)
    if named:
        profile.set_xticks(np.arange(1, len(order) + 1), [names[i] for i in order])
        profile.tick_params(axis="x", labelrotation=90, labelsize="x-small")
        profile.set(title="Final |w| by feature (× on the axis: w = 0)", xlabel="")
    else:
        profile.set(
            title="Weights sorted by magnitude (× on the axis: w = 0)", xlabel="rank by |w|"
        )
    profile.set_ylabel("|w| (per unit of the standardised feature)")
    histogram.set(title="Histogram of the nonzero |w|", xlabel="|w|", ylabel="number of weights")
    histogram.yaxis.set_major_locator(MaxNLocator(integer=True))
    legend_below(figure, handles, ncols=min(2, len(handles)))
    figure.suptitle("Sparsity of the final weights")
    return figure


def _feature_order(magnitudes: list[np.ndarray]) -> np.ndarray:
    """Features by their mean |w| relative to each variant's largest, largest first."""
    relative = [m / max(float(np.nanmax(m)), 1e-300) for m in magnitudes]
    score = np.nan_to_num(np.mean(relative, axis=0))
    return np.argsort(-score, kind="stable")


def _log_bins(values: np.ndarray, n: int = 30) -> np.ndarray:
    """Log-spaced bins over ``values`` (positive); none if there are no values."""
    if values.size == 0:
        return np.zeros(0)
    low, high = np.log10(values.min()), np.log10(values.max())
    if high - low < 1e-6:
        low, high = low - 0.5, high + 0.5
    return np.logspace(low, high, n + 1)


# ---------------------------------------------------------------------------
# Weights as images
# ---------------------------------------------------------------------------


def image_shape(names: list[str]) -> tuple[int, int] | None:
    """The (rows, columns) of image data whose features are named ``pixel_<r>_<c>``
    (scikit-learn's digits: 8 × 8), None for other data."""
    matches = [_PIXEL.fullmatch(name) for name in names]
    if not names or not all(matches):
        return None
    rows = 1 + max(int(m.group(1)) for m in matches if m)
    cols = 1 + max(int(m.group(2)) for m in matches if m)
    return (rows, cols) if rows * cols == len(names) else None


def weight_images_figure(variants: list[Variant]) -> Figure:
    """Each variant's weights of each class as an image (a row per variant), on one
    diverging colour scale centred at 0 per variant."""
    shape = image_shape(variants[0].feature_names)
    assert shape is not None
    classes = 1 if variants[0].weights.ndim == 1 else variants[0].weights.shape[1]
    cols = min(classes, 10)
    rows = len(variants) * math.ceil(classes / cols)
    figure = new_figure(rows, cols, (7.0, 0.85 * 7.0 / cols * rows + 0.6))
    axes = np.array(figure.axes).reshape(rows, cols)
    per_variant = rows // len(variants)
    for v, variant in enumerate(variants):
        weights = variant.weights.reshape(len(variant.feature_names), -1)
        limit = max(float(np.nanmax(np.abs(weights))), 1e-12)
        scale = TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)
        image = None
        for c in range(cols * per_variant):
            ax = axes[v * per_variant + c // cols, c % cols]
            ax.set(xticks=[], yticks=[])
            ax.grid(False)
            if c >= weights.shape[1]:
                ax.set_visible(False)
                continue
            image = ax.imshow(weights[:, c].reshape(shape), cmap="PuOr_r", norm=scale)
            ax.set_title(f"class {c}" if classes > 1 else "", fontsize="small")
            if c % cols == 0:
                ax.set_ylabel(variant.name, fontsize="small")
        if image is not None:
            bar = figure.colorbar(image, ax=axes[v * per_variant : (v + 1) * per_variant, :])
            bar.set_label("weight", fontsize="small")
            bar.ax.tick_params(labelsize="x-small")
    figure.suptitle(f"Final weights as {shape[0]} × {shape[1]} images (orange > 0, purple < 0)")
    return figure


# ---------------------------------------------------------------------------
# Correlated groups
# ---------------------------------------------------------------------------

_HATCHES = ("", "////", "....", "xxxx", "\\\\", "++++", "oooo")


def groups_figure(variants: list[Variant]) -> Figure:
    """A panel per correlated feature group: each variant's weight on each member (bars),
    the true weight marked; the legend gives each variant's largest-member share of the
    group's |w| (1/size: spread evenly; 1: one member holds it all)."""
    groups = variants[0].feature_groups
    figure = new_figure(1, len(groups), (7.0, 2.6))
    width = 0.8 / len(variants)
    true = variants[0].true_weights
    for g, (ax, members) in enumerate(zip(figure.axes, groups, strict=True)):
        x = np.arange(len(members))
        for index, variant in enumerate(variants):
            ax.bar(
                x + (index - (len(variants) - 1) / 2) * width,
                np.asarray(variant.weights)[members],
                width,
                color=variant.color,
                hatch=_HATCHES[index % len(_HATCHES)],
                edgecolor="white",
                linewidth=0.3,
            )
        if true is not None:
            ax.plot(x, true[members], "k_", markersize=10, mew=1.5, linestyle="")
        ax.axhline(0, color="0.3", linewidth=0.6)
        ax.set_xticks(x, [variants[0].feature_names[j] for j in members], rotation=90)
        ax.set_title(f"group {g + 1}")
    figure.axes[0].set_ylabel("weight")
    handles = []
    for index, variant in enumerate(variants):
        shares = [s for s in variant.group_shares if np.isfinite(s)]
        share = f"share {min(shares):.2f}–{max(shares):.2f}" if shares else "no weight"
        handles.append(
            Patch(
                facecolor=variant.color,
                hatch=_HATCHES[index % len(_HATCHES)],
                edgecolor="white",
                label=f"{variant.label} ({share})",
            )
        )
    if true is not None:
        handles.append(Line2D([], [], color="k", marker="_", linestyle="", mew=1.5, label="true"))
    legend_below(figure, handles)
    even = 1 / len(groups[0])
    figure.suptitle(
        f"Weights within each correlated group (share: the largest member's part of the "
        f"group's |w|; even = {even:.2f})"
    )
    return figure
