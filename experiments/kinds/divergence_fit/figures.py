"""The divergence_fit figures, drawn from a run folder's files only.

- ``fit``: the target density with each variant's fitted q over it (1-D curves; contours,
  a panel per variant, in 2-D; bars and markers for a discrete target); the initial q is
  dotted. For a sweep, the distinct fits found.
- ``divergence``: the minimised divergence against step, from step 0 (a symmetric-log step
  axis), per variant (for a sweep, every member, thin).
- ``optima`` (a sweep of a 1-D fit): the final mean and divergence against the swept
  initial value: one optimum for forward KL, several local ones for reverse KL.

Colours are the Okabe–Ito palette (colourblind-safe); line styles differ too, so equal
results stay visible, and a legend says when two variants ended at the same q.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from experiments.contract import RunRecord
from experiments.figures import style
from experiments.figures.canvas import new_figure
from experiments.kinds.divergence_fit import grid
from experiments.kinds.divergence_fit.contours import fit_2d
from experiments.kinds.divergence_fit.fits import (
    TARGET_GREY,
    Fit,
    distinct,
    gaussian_params,
    initial_params,
    read_fits,
)
from experiments.kinds.divergence_fit.optima import optima_figure

__all__ = ["divergence_figure", "draw", "fit_figure"]

OKABE_ITO, LINESTYLES = style.OKABE_ITO, style.LINESTYLES  # the house style's


def draw(record: RunRecord) -> dict[str, Callable[[], Figure]]:
    """The figures of a run folder (see the module docstring)."""
    fits = read_fits(record)
    figures = {"fit": functools.partial(fit_figure, fits, record.swept)}
    figures["divergence"] = functools.partial(divergence_figure, fits, record.swept)
    if record.swept and "mean" in fits[0].history:
        figures["optima"] = functools.partial(optima_figure, fits)
    return figures


# ---------------------------------------------------------------------------
# The fit
# ---------------------------------------------------------------------------


def fit_figure(fits: list[Fit], swept: bool) -> Figure:
    shown = distinct(fits) if swept else fits
    target = fits[0].target
    if target["family"] == "discrete":
        return _discrete_fit(shown, target)
    if np.ndim(target["means"][0]) == 0:
        return _fit_1d(shown, target, initial=not swept)

    return fit_2d(shown, target)


def _fit_1d(fits: list[Fit], target: dict[str, Any], *, initial: bool) -> Figure:
    figure = new_figure(1, 1, (5.2, 3.2 + 0.16 * len(fits)))
    (ax,) = figure.axes
    mean, covariance = grid.mixture_moments(target)
    x = mean[0] + np.sqrt(covariance[0, 0]) * np.linspace(-15, 15, 6001)
    p = np.exp(grid.mixture_log_density(target, x[:, None]))
    curves = [
        np.exp(grid.gaussian_log_density(x[:, None], *gaussian_params(f.params))) for f in fits
    ]
    inside = np.flatnonzero(np.max([p, *curves], axis=0) > 2e-3 * np.max(p))
    view = slice(max(inside[0] - 20, 0), inside[-1] + 20)
    ax.fill_between(x[view], p[view], color=TARGET_GREY, alpha=0.6, lw=0, label="target p")
    ax.plot(x[view], p[view], color="0.35", lw=1.0)
    if initial:
        starts = {repr(initial_params(f.spec)): initial_params(f.spec) for f in fits}.values()
        for i, start in enumerate(starts):
            q0 = np.exp(grid.gaussian_log_density(x[:, None], *gaussian_params(start)))
            label = "initial q" if i == 0 else None
            ax.plot(x[view], q0[view], color="0.45", lw=1.0, ls=":", label=label)
    for fit, q in zip(fits, curves, strict=True):
        m, c = gaussian_params(fit.params)
        label = f"{fit.label}: N({round(m[0], 3) + 0.0:.3f}, {np.sqrt(c[0, 0]):.3f}²)"
        width = 2.6 if fit.same_as is None else 1.4
        ax.plot(x[view], q[view], color=fit.color, ls=fit.linestyle, lw=width, label=label)
    ax.set(xlabel="x", ylabel="density (per unit of x)", ylim=(0, None))
    ax.set_title("Target p and the fitted Gaussian q")
    figure.legend(loc="outside lower center", fontsize=7)
    return figure


def _discrete_fit(fits: list[Fit], target: dict[str, Any]) -> Figure:
    figure = new_figure(1, 1, (5.2, 3.2))
    (ax,) = figure.axes
    p = np.asarray(target["probabilities"])
    x = np.asarray(target["support"] if target["support"] is not None else np.arange(len(p)))
    spacing = np.min(np.diff(np.sort(x))) if len(x) > 1 else 1.0
    ax.bar(x, p, width=0.8 * spacing, color=TARGET_GREY, label="target p")
    markers = ("o", "s", "^", "D", "v", "P", "X")
    offsets = np.linspace(-0.25, 0.25, len(fits)) * spacing if len(fits) > 1 else [0.0]
    for i, (fit, offset) in enumerate(zip(fits, offsets, strict=True)):
        q = _discrete_q(fit, x)
        label = fit.label
        if "std" in fit.params:
            label += f": N({fit.params['mean']:.3f}, {fit.params['std']:.3f}²) on the points"
        ax.plot(x + offset, q, ls="none", marker=markers[i % len(markers)], color=fit.color,
                label=label, ms=5)  # fmt: skip
    ax.set(xlabel="outcome x", ylabel="probability", ylim=(0, None))
    ax.set_title("Target p and the fitted q")
    ax.legend(fontsize=7)
    return figure


def _discrete_q(fit: Fit, x: np.ndarray) -> np.ndarray:
    if "probabilities" in fit.params:
        return fit.params["probabilities"]
    mean, covariance = gaussian_params(fit.params)
    log_q = grid.gaussian_log_density(x[:, None].astype(np.float64), mean, covariance)
    q = np.exp(log_q - np.max(log_q))
    return q / np.sum(q)


# ---------------------------------------------------------------------------
# The divergence against step
# ---------------------------------------------------------------------------


def divergence_figure(fits: list[Fit], swept: bool) -> Figure:
    figure = new_figure(1, 1, (5.2, 3.0))
    (ax,) = figure.axes
    labelled: set[str] = set()
    positive = True
    for fit in fits:
        steps, values = fit.steps, fit.history["divergence"]  # step 0 included
        positive &= bool(np.all(values > 0))
        label = None if fit.run["variant"] in labelled else fit.label
        labelled.add(fit.run["variant"])
        width, alpha = (0.8, 0.5) if swept else (2.0, 1.0)
        ax.plot(steps, values, color=fit.color, ls=fit.linestyle, lw=width, alpha=alpha,
                label=label)  # fmt: skip
    ax.set(xlabel="optimizer step (linear to 10, then log)", ylabel="minimised divergence (nats)")
    ax.set_xscale("symlog", linthresh=10)  # step 0 stays on the axis
    ax.set_xlim(left=0)
    if positive:
        ax.set_yscale("log")
    ax.set_title("The divergence each variant minimises, against step")
    ax.legend(fontsize=7)
    return figure
