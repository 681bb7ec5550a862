"""The max_entropy figures, drawn from a run folder's files only.

- ``solutions``: a panel per variant: the maximum-entropy p on the support (bars), with the
  continuous maximum-entropy density under the same constraint over it (times the support's
  spacing, so both are probabilities per point): uniform with none, exponential with a
  mean, Gaussian with a mean and variance, Laplace with a mean absolute deviation. Each
  panel says which prior of the MAP experiments it is (Gaussian ↔ L2, Laplace ↔ L1).
- ``log_probabilities``: log p_k against x_k for every variant: flat, a line (Gibbs), a
  parabola (Gaussian), a tent (Laplace): the Gibbs form p ∝ exp(λ·f(x)) made visible.
- ``convergence``: the largest constraint error and the entropy against the solver's step.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from experiments.contract import RunRecord
from experiments.figures import style
from experiments.figures.canvas import new_figure

__all__ = ["Continuous", "Solution", "continuous_density", "draw", "read_solutions"]

OKABE_ITO, MARKERS = style.OKABE_ITO, style.MARKERS  # the house style's
GAUSSIAN_PRIOR = "the Gaussian prior of MAP ↔ the L2 penalty"
LAPLACE_PRIOR = "the Laplace prior of MAP ↔ the L1 penalty"
FLAT_PRIOR = "a flat prior: MAP = MLE (no penalty)"
EXPONENTIAL_NOTE = "Gibbs form; not a prior of the MAP experiments"


@dataclass(frozen=True)
class Solution:
    variant: str
    constraints: Any
    support: np.ndarray
    probabilities: np.ndarray
    params: dict[str, Any]
    steps: np.ndarray
    history: dict[str, np.ndarray]
    color: str
    marker: str


def read_solutions(record: RunRecord) -> list[Solution]:
    config = record.config
    solutions = []
    for index, run in enumerate(record.runs):
        history = record.history.get(run["member"], {}).get("train", {})
        solutions.append(
            Solution(
                variant=run["variant"],
                constraints=config.members[run["member"]].spec.constraints,
                support=np.asarray(record.data[run["member"]]["support"], np.float64),
                probabilities=np.asarray(run["params"]["probabilities"], np.float64),
                params=run["params"],
                steps=next(iter(history.values()))[0] if history else np.zeros(0),
                history={name: values for name, (_, values) in history.items()},
                color=OKABE_ITO[index % len(OKABE_ITO)],
                marker=MARKERS[index % len(MARKERS)],
            )
        )
    return solutions


def draw(record: RunRecord) -> dict[str, Callable[[], Figure]]:
    solutions = read_solutions(record)
    figures: dict[str, Callable[[], Figure]] = {}
    if len(solutions) <= 8:
        figures["solutions"] = functools.partial(solutions_figure, solutions)
        figures["log_probabilities"] = functools.partial(log_probabilities_figure, solutions)
    figures["convergence"] = functools.partial(convergence_figure, solutions)
    return figures


@dataclass(frozen=True)
class Continuous:
    """A continuous maximum-entropy law: its name, the MAP prior it is, its density."""

    law: str
    prior: str
    density: Callable[[np.ndarray], np.ndarray]


def _laplace(centre: float, scale: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: np.exp(-np.abs(x - centre) / scale) / (2 * scale)


def _gaussian(mean: float, variance: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: (
        np.exp(-np.square(x - mean) / (2 * variance)) / math.sqrt(2 * math.pi * variance)
    )


def _exponential(edge: float, mean_distance: float, sign: float):
    """Density exp(−sign·(x − edge)/μ)/μ on the side sign·(x − edge) ≥ 0."""
    return lambda x: np.where(
        sign * (x - edge) >= 0, np.exp(-sign * (x - edge) / mean_distance) / mean_distance, np.nan
    )


def continuous_density(c: Any, support: np.ndarray) -> Continuous | None:
    """The continuous maximum-entropy solution under the same constraints (on the real
    line; on a half-line for a mean alone; on [a, b] for none), or None for a combination
    without a textbook one."""
    a, b = float(support[0]), float(support[-1])
    if c.mean_abs_deviation is not None and (c.mean is None or c.mean == c.centre):
        law = f"Laplace({c.centre:g}, scale {c.mean_abs_deviation:g})"
        return Continuous(law, LAPLACE_PRIOR, _laplace(c.centre, c.mean_abs_deviation))
    if c.variance is not None:
        law = f"Gaussian N({c.mean:g}, {c.variance:g})"
        return Continuous(law, GAUSSIAN_PRIOR, _gaussian(c.mean, c.variance))
    if c.mean is not None and c.mean_abs_deviation is None:
        if c.mean - a <= b - c.mean:  # decreasing: the exponential on [a, ∞)
            law = f"exponential, mean {c.mean:g}, on [{a:g}, ∞)"
            return Continuous(law, EXPONENTIAL_NOTE, _exponential(a, c.mean - a, 1.0))
        law = f"exponential, mean {c.mean:g}, on (−∞, {b:g}]"
        return Continuous(law, EXPONENTIAL_NOTE, _exponential(b, b - c.mean, -1.0))
    if c.mean is None and c.mean_abs_deviation is None:
        # Each point stands for a cell of the spacing: the support covers [a − Δ/2, b + Δ/2].
        half = 0.5 * float(np.median(np.diff(support)))
        law = f"uniform on [{a - half:g}, {b + half:g}]"
        return Continuous(law, FLAT_PRIOR, lambda x: 0 * x + 1 / (b - a + 2 * half))
    return None


def _form(solution: Solution) -> str:
    names = {"lambda_mean": "λ₁", "lambda_variance": "λ₂", "lambda_mean_abs_deviation": "λ"}
    shown = [
        f"{names[k]} = {round(v, 4) + 0.0:.4g}" for k, v in solution.params.items() if k in names
    ]
    return ", ".join(shown) if shown else "λ = 0"


def solutions_figure(solutions: list[Solution]) -> Figure:
    cols = 2 if len(solutions) > 1 else 1
    rows = math.ceil(len(solutions) / cols)
    figure = new_figure(rows, cols, (3.6 * cols, 2.7 * rows + 0.5))
    for ax in figure.axes[len(solutions) :]:
        ax.set_visible(False)
    for ax, solution in zip(figure.axes, solutions, strict=False):
        x, p = solution.support, solution.probabilities
        spacing = float(np.median(np.diff(x)))
        ax.bar(x, p, width=0.75 * spacing, color=solution.color, alpha=0.85)
        continuous = continuous_density(solution.constraints, x)
        text = [f"H = {solution.history['entropy'][-1]:.4f} nats", _form(solution)]
        title = f"{solution.variant}: {_given(solution.constraints)}"
        if continuous is not None:
            fine = np.linspace(x[0] - 0.5 * spacing, x[-1] + 0.5 * spacing, 600)
            ax.plot(fine, continuous.density(fine) * spacing, color="black", ls="--", lw=1.2)
            text.append(f"dashed: {continuous.law}")
            title += f"\n{continuous.prior}"
        ax.text(0.98, 0.97, "\n".join(text), transform=ax.transAxes, ha="right", va="top",
                fontsize=7)  # fmt: skip
        ax.set_title(title, fontsize=8)
        ax.set(xlabel="x (support point)", ylabel="probability", ylim=(0, 1.6 * np.max(p)))
    handles = [
        Patch(color="0.5", alpha=0.85, label="maximum-entropy p on the support"),
        Line2D([], [], color="black", ls="--", label="continuous max-entropy density × spacing"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=7)
    return figure


def _given(c: Any) -> str:
    """The constraints in symbols: E[x] = 3, Var[x] = 2, E|x − 5| = 1.5."""
    given = []
    if c.mean is not None:
        given.append(f"E[x] = {c.mean:g}")
    if c.variance is not None:
        given.append(f"Var[x] = {c.variance:g}")
    if c.mean_abs_deviation is not None:
        given.append(f"E|x − {c.centre:g}| = {c.mean_abs_deviation:g}")
    return ", ".join(given) if given else "no constraint"


def log_probabilities_figure(solutions: list[Solution]) -> Figure:
    figure = new_figure(1, 1, (5.2, 3.4))
    (ax,) = figure.axes
    for solution in solutions:
        ax.plot(solution.support, np.log(solution.probabilities), color=solution.color,
                marker=solution.marker, ms=4, lw=1.2,
                label=f"{solution.variant} ({_given(solution.constraints)})")  # fmt: skip
    ax.set(xlabel="x (support point)", ylabel="log p(x) (nats)")
    ax.set_title("log p is λ·f(x) + const: flat, a line, a parabola, a tent", fontsize=9)
    figure.legend(loc="outside lower center", ncols=2, fontsize=7)
    return figure


def convergence_figure(solutions: list[Solution]) -> Figure:
    figure = new_figure(1, 2, (7.0, 3.1))
    error_ax, entropy_ax = figure.axes
    for solution in solutions:
        style = {"color": solution.color, "marker": solution.marker, "ms": 3, "lw": 1.2}
        error = solution.history["constraint_error"]
        if np.any(error > 0):
            error_ax.plot(solution.steps, np.where(error > 0, error, np.nan), **style,
                          label=solution.variant)  # fmt: skip
        entropy_ax.plot(
            solution.steps, solution.history["entropy"], **style, label=solution.variant
        )
    error_ax.set(xlabel="solver step", ylabel="largest |E[f] − c| (constraint units)", yscale="log")
    error_ax.set_title("Constraint error (0 with no constraint: not drawn)", fontsize=9)
    entropy_ax.set(xlabel="solver step", ylabel="entropy H(p) (nats)")
    entropy_ax.set_title("Entropy of p_λ, from the uniform start", fontsize=9)
    figure.legend(*entropy_ax.get_legend_handles_labels(), loc="outside lower center",
                  ncols=len(solutions), fontsize=7)  # fmt: skip
    return figure
