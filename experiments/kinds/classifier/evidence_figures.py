"""The classifier's figures of prior scales chosen by their evidence, drawn from a run's
files only (``summary.json``'s fields written by :mod:`~experiments.kinds.classifier.selection`,
and ``data.json``):

- ``evidence`` (runs with ``train.prior.scale: {select: evidence}``): the log evidence
  against σ (left) and the held-out (test split) cross-entropy against σ (right), over the
  run's grid ``evidence_curve``, the chosen σ marked on both with its value;
- ``ard`` (``{select: evidence, per_feature: true}``): the learned σ_j of each feature
  (log scale), the true support of synthetic data marked;
- ``cv`` (``{select: cv}``, :mod:`~experiments.kinds.classifier.cv`): per run, the CV mean
  ± std of the held-out cross-entropy against the prior scale, the chosen scale marked, and
  the test split's curve alongside (never used to choose).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from experiments.contract import RunRecord
from experiments.figures import style
from experiments.figures.canvas import legend_below, log_y, new_figure

__all__ = ["ard_figure", "cv_figure", "evidence_figure", "figures"]

PRUNED = 1e-4  # a σ_j at most this is drawn as pruned (the search's floor is 1e-5)


def figures(record: RunRecord) -> dict[str, Callable[[], Figure]]:
    """``evidence`` and ``ard`` where some run chose its scale so (else nothing)."""
    base = record.config.members[0].spec.base
    drawn: dict[str, Callable[[], Figure]] = {}
    curves = [run for run in record.runs if "evidence_curve" in run]
    if curves:
        drawn["evidence"] = lambda: evidence_figure(curves, base)
    ard = [run for run in record.runs if "prior_scales" in run]
    if ard:
        truths = {run["member"]: record.data[run["member"]].get("true_weights") for run in ard}
        drawn["ard"] = lambda: ard_figure(ard, truths)
    chosen = [run for run in record.runs if "cv_curve" in run]
    if chosen:
        priors = [record.config.members[run["member"]].spec.train.prior.kind for run in chosen]
        drawn["cv"] = lambda: cv_figure(chosen, priors, base)
    return drawn


def _label(run: dict[str, Any]) -> str:
    swept = ", ".join(f"{key}={value:g}" for key, value in run.get("sweep", {}).items())
    return f"{run['variant']} ({swept})" if swept else run["variant"]


def _values(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def evidence_figure(runs: list[dict[str, Any]], base: float | None = None) -> Figure:
    """Log evidence and test cross-entropy against the prior scale σ, the chosen σ marked."""
    unit = style.log_unit(base)
    per_nat = 1.0 if base is None else 1.0 / math.log(base)
    has_test = all("test_ce" in run["evidence_curve"] for run in runs)
    figure = new_figure(1, 2 if has_test else 1, (9.0, 3.8) if has_test else (5.0, 3.8))
    axes = figure.axes
    handles, lowest = [], []
    for index, run in enumerate(runs):
        look = style.look(index)
        curve = run["evidence_curve"]
        scales = np.asarray(curve["scales"], dtype=float)
        chosen = float(run["prior_scale"])
        evidence = _values(curve["log_evidence"]) * per_nat
        _curve(axes[0], scales, evidence, look)
        value = float(run["log_evidence"]) * per_nat
        # Stacked labels: several runs' maxima lie close together.
        _mark(axes[0], chosen, value, look, f"σ̂ = {chosen:.3g}", offset=(8, -26 - 11 * index))
        if has_test:
            test_ce = _values(curve["test_ce"])
            _curve(axes[1], scales, test_ce, look)
            final = run["final"].get("test", {}).get("ce")
            if final is not None:
                _mark(axes[1], chosen, float(final), look, f"σ̂ = {chosen:.3g}: {final:.4f}")
            if np.any(np.isfinite(test_ce)):
                best = int(np.nanargmin(test_ce))
                lowest.append(float(scales[best]))
                axes[1].plot(
                    scales[best], test_ce[best], "o", color=look.color, markerfacecolor="none",
                    markersize=11, markeredgewidth=1.2, zorder=6,
                )  # fmt: skip
        solves = run.get("evidence_solves")
        found = f" in {solves} MAP solves" if solves is not None else ""
        handles.append(
            Line2D([], [], color=look.color, marker=look.marker, linestyle=look.linestyle,
                   label=f"{_label(run)}: σ̂ = {chosen:.4g} by its evidence{found}")
        )  # fmt: skip
    axes[0].set(
        title="Evidence of the prior scale (training split)",
        xlabel="prior scale σ (w ~ N(0, σ²))",
        ylabel=f"log evidence log p(D | σ) ({unit})",
    )
    if has_test:
        axes[1].set(
            title="Held-out cross-entropy (test split)",
            xlabel="prior scale σ (w ~ N(0, σ²))",
            ylabel=f"test cross-entropy ({unit} per example)",
        )
        axes[1].set_yscale("log")
        at = f" (σ = {lowest[0]:.3g})" if len(lowest) == 1 else ""
        handles.append(
            Line2D([], [], color="0.35", marker="o", markerfacecolor="none", markersize=8,
                   linestyle="", label=f"lowest test cross-entropy on the grid{at}: not used")
        )  # fmt: skip
    for ax in axes:
        ax.set_xscale("log")
    legend_below(figure, handles)
    figure.suptitle("Choosing the prior scale by its evidence, the test split only to check")
    return figure


def _curve(ax: Axes, scales: np.ndarray, values: np.ndarray, look: style.Look) -> None:
    ax.plot(scales, values, color=look.color, linestyle=look.linestyle, linewidth=1.3)


def _mark(ax: Axes, x: float, y: float, look: style.Look, text: str, offset=(10, 6)) -> None:
    """The chosen σ: a vertical line, a filled marker on the curve and its value."""
    ax.axvline(x, color=look.color, linestyle=":", linewidth=1.0)
    ax.plot(x, y, look.marker, color=look.color, markersize=6, zorder=5)
    ax.annotate(
        text, (x, y), xytext=offset, textcoords="offset points", color=look.color,
        fontsize="small", bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0},
        zorder=7,
    )  # fmt: skip


SCALE_NAMES = {"gaussian": "σ (w ~ N(0, σ²))", "laplace": "s (w ~ Laplace(0, s))"}


def cv_figure(runs: list[dict[str, Any]], priors: list[str], base: float | None = None) -> Figure:
    """Per run, the CV mean ± std of the held-out cross-entropy against the prior scale, the
    chosen scale marked with its value, and the test split's curve (dashed, never used)."""
    unit = style.log_unit(base)
    figure = new_figure(1, len(runs), (4.6 * len(runs), 4.2))
    test_color = style.OKABE_ITO[-1]  # black: the test split, in every panel
    for index, (ax, run, prior) in enumerate(zip(figure.axes, runs, priors, strict=True)):
        look = style.look(index)
        curve = run["cv_curve"]
        scales = np.asarray(curve["scales"], dtype=float)
        mean, std = _values(curve["mean"]), _values(curve["std"])
        ax.fill_between(scales, mean - std, mean + std, color=look.color, alpha=0.18, lw=0)
        ax.plot(scales, mean, color=look.color, linewidth=1.4)
        if "test_ce" in curve:
            ax.plot(scales, _values(curve["test_ce"]), color=test_color, linestyle="--",
                    linewidth=1.1)  # fmt: skip
        chosen = float(run["prior_scale"])
        at = float(run["cv"]["mean"]["ce"])
        _mark(ax, chosen, at, look, f"chosen ({run['cv_rule']}): {chosen:.3g}")
        folds = run["cv"]["folds"]
        label = _label(run)
        ax.set(
            title=f"{prior} prior" if label == prior else f"{label}: {prior} prior",
            xlabel=f"prior scale {SCALE_NAMES.get(prior, 'scale')}",
        )
        if index == 0:
            ax.set_ylabel(f"held-out cross-entropy ({unit} per example)")
        ax.set_xscale("log")
        log_y(ax)
        ax.text(0.02, 0.97, f"{folds}-fold CV mean ± std", transform=ax.transAxes, va="top",
                fontsize="small", color=look.color)  # fmt: skip
    handles = [
        Line2D([], [], color="0.3", linewidth=1.3, label="CV mean (band: ± std over folds)"),
        Line2D([], [], color="0.3", marker="o", linestyle=":", label="the scale CV chose"),
    ]
    if any("test_ce" in run["cv_curve"] for run in runs):
        handles.append(
            Line2D([], [], color=test_color, linestyle="--",
                   label="test split, fit on the whole training split (not used to choose)")
        )  # fmt: skip
    legend_below(figure, handles)
    figure.suptitle("Choosing the prior scale by cross-validation on the training split")
    return figure


def ard_figure(runs: list[dict[str, Any]], truths: dict[int, Any]) -> Figure:
    """Each ARD run's σ_j per feature (log scale), the true support marked."""
    figure = new_figure(len(runs), 1, (7.0, 3.4 * len(runs)))
    for ax, run in zip(figure.axes, runs, strict=True):
        scales = _values(run["prior_scales"])
        features = np.arange(scales.size)
        truth = truths.get(run["member"])
        support = None if truth is None else np.asarray(truth, dtype=float).ravel() != 0
        informative = support if support is not None else np.zeros(scales.size, bool)
        low = min(np.nanmin(scales) / 3, PRUNED / 3)
        noise, signal = style.NAMED["blue"], style.NAMED["red"]
        ax.vlines(features, low, scales, color=np.where(informative, signal, noise), lw=1.0)
        ax.plot(features[~informative], scales[~informative], "o", color=noise, markersize=3.5)
        if support is not None:
            ax.plot(features[informative], scales[informative], "D", color=signal, markersize=5)
        ax.axhline(PRUNED, color=style.GREY, linestyle="--", linewidth=0.9)
        ax.set_yscale("log")
        ax.set_ylim(bottom=low)
        ax.set(xlabel="feature j", ylabel="prior scale σⱼ (wⱼ ~ N(0, σⱼ²))")
        ax.set_xlim(-1, scales.size)
        ax.set_title(f"{_label(run)}: {_ard_summary(scales, support)}")
    handles = [
        Line2D([], [], color=style.NAMED["red"], marker="D", linestyle="",
               label="informative feature (true w ≠ 0)"),
        Line2D([], [], color=style.NAMED["blue"], marker="o", linestyle="",
               label="noise feature (true w = 0)"),
        Line2D([], [], color=style.GREY, linestyle="--", label=f"σⱼ = {PRUNED:g}: pruned below"),
    ]  # fmt: skip
    if all(truths.get(run["member"]) is None for run in runs):
        handles = [Line2D([], [], color=style.NAMED["blue"], marker="o", label="σⱼ"), handles[2]]
    legend_below(figure, handles)
    figure.suptitle("Automatic relevance determination: one prior scale per feature, by evidence")
    return figure


def _ard_summary(scales: np.ndarray, support: np.ndarray | None) -> str:
    pruned = int(np.sum(scales <= PRUNED))
    text = f"{pruned} of {scales.size} features pruned (σⱼ ≤ {PRUNED:g})"
    if support is None or not support.any():
        return text
    k = int(support.sum())
    top = np.argsort(-scales, kind="stable")[:k]
    hits = int(support[top].sum())
    return f"{text}; the {k} largest σⱼ hold {hits} of the {k} informative features"
