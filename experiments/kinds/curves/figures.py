"""The curves' figures, one per run entry, drawn from ``summary.json`` and ``data.json``.

Each names its axes with their units, marks the config's ``at`` points with their values,
and uses Okabe and Ito's colourblind-safe colours with a distinct line style per series,
so no curve hides another. A figure is named after its variant (``<variant>_<member>``
in a sweep).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from experiments.contract import RunRecord
from experiments.figures import style
from experiments.figures.canvas import new_figure

__all__ = ["OKABE_ITO", "draw"]

OKABE_ITO = style.NAMED  # the house style's colours, by name
SINGLE = (3.6, 2.7)  # inches, as designed (drawn at the run's output.figure_width)
Curve = Mapping[str, Any]  # a summary entry's params


def draw(record: RunRecord) -> dict[str, Callable[[], Figure]]:
    """The figures of a curves run folder, by name."""
    figures = {}
    for run in record.runs:
        name = run["variant"] if not record.swept else f"{run['variant']}_{run['member']}"
        settings = record.data[run["member"]]["curve"]
        make = DRAW[settings["kind"]]
        figures[name] = functools.partial(make, _arrays(run["params"]), settings)
    return figures


def _arrays(params: Mapping[str, Any]) -> dict[str, Any]:
    def array(values: Any) -> Any:
        return np.array([np.inf if v is None else v for v in values], float)

    out: dict[str, Any] = {"base": params["base"], "facts": params.get("facts", {})}
    for part in ("grid", "at"):
        out[part] = {name: array(values) for name, values in params[part].items()}
    return out


def _unit(base: float) -> str:
    return "nats" if abs(base - math.e) < 1e-12 else "bits" if base == 2 else f"log-{base:g}"


def _log(base: float) -> str:
    if abs(base - math.e) < 1e-12:
        return r"\ln"
    return r"\log_2" if base == 2 else rf"\log_{{{base:g}}}"


def _mark(ax: Axes, xs: np.ndarray, ys: np.ndarray, color: str, text: Callable) -> None:
    """Dots at the marked points, each labelled ``text(x, y)`` above and to the right (to
    the left near the right end of the axis)."""
    ax.plot(xs, ys, "o", color=color, markersize=4.5, markeredgecolor="black", zorder=4)
    low, high = ax.get_xlim()
    for x, y in zip(xs, ys, strict=True):
        left = x > low + 0.85 * (high - low)
        ax.annotate(
            text(x, y),
            (x, y),
            xytext=(-5 if left else 5, 4),
            textcoords="offset points",
            ha="right" if left else "left",
            va="bottom",
            fontsize=7,
        )


def _amount(value: float, unit: str) -> str:
    """``1 bit``, ``0.469 bits``."""
    return f"{value:.3g} {unit.removesuffix('s') if value == 1 else unit}"


def _self_information(curve: Curve, settings: Curve) -> Figure:
    figure = new_figure(1, 1, SINGLE)
    (ax,) = figure.axes
    grid, at, unit = curve["grid"], curve["at"], _unit(curve["base"])
    ax.plot(grid["x"], grid["self_information"], color=OKABE_ITO["blue"])
    ax.set(xlabel="probability p of the outcome", xlim=(0, 1.02), ylim=(0, None))
    _mark(ax, at["x"], at["self_information"], OKABE_ITO["blue"], lambda x, y: _amount(y, unit))
    ax.set_ylabel(rf"self-information $-{_log(curve['base'])}\,p$ ({unit})")
    ax.set_title("rarer outcomes carry more information")
    return figure


def _binary_entropy(curve: Curve, settings: Curve) -> Figure:
    figure = new_figure(1, 1, SINGLE)
    (ax,) = figure.axes
    grid, at, facts, unit = curve["grid"], curve["at"], curve["facts"], _unit(curve["base"])
    ax.plot(grid["x"], grid["entropy"], color=OKABE_ITO["blue"])
    ax.axhline(facts["maximum"], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="p = P(heads)", ylabel=f"binary entropy H(p) ({unit})", xlim=(0, 1))
    ax.set(ylim=(0, 1.15 * facts["maximum"]))
    _mark(ax, at["x"], at["entropy"], OKABE_ITO["blue"], lambda x, y: f"H({x:g}) = {y:.3g}")
    peak = _amount(facts["maximum"], unit)
    ax.set_title(f"maximum {peak} at p = {facts['maximum_at']:.3g}")
    return figure


def _kl_against_q(curve: Curve, settings: Curve) -> Figure:
    figure = new_figure(1, 1, (4.2, 2.9))
    (ax,) = figure.axes
    grid, at, facts, base = curve["grid"], curve["at"], curve["facts"], curve["base"]
    p1, p2 = settings["p"]
    log = _log(base)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.plot(
        grid["x"],
        grid["term_1"],
        color=OKABE_ITO["orange"],
        linestyle="--",
        label=rf"$P_1 {log}(P_1/Q_1)$",
    )
    ax.plot(
        grid["x"],
        grid["term_2"],
        color=OKABE_ITO["sky"],
        linestyle="-.",
        label=rf"$P_2 {log}(P_2/Q_2)$",
    )
    ax.plot(
        grid["x"],
        grid["kl_divergence"],
        color=OKABE_ITO["blue"],
        linewidth=2.2,
        label=r"$D(P\,\|\,Q)$ = their sum",
    )
    ax.axvline(p1, color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel=f"q, with Q = (q, 1 − q)   [P = ({p1:g}, {p2:g})]")
    ax.set(ylabel=f"{_unit(base)}", ylim=(-1.6, 3.2), xlim=(0, 1))
    _mark(ax, at["x"], at["kl_divergence"], OKABE_ITO["blue"], lambda x, y: "")
    values = "\n".join(
        f"q = {x:g}: D = {y:.4g}" for x, y in zip(at["x"], at["kl_divergence"], strict=True)
    )
    ax.text(0.97, 0.04, f"marked:\n{values}", transform=ax.transAxes, ha="right", fontsize=7)
    ax.set_title(f"minimum {facts['minimum']:.2g} at q = {facts['minimum_at']:.3g} (Q = P)")
    ax.legend(loc="upper center", fontsize=7)
    return figure


def _sigmoid(curve: Curve, settings: Curve) -> Figure:
    figure = new_figure(1, 1, (4.2, 2.8))
    (ax,) = figure.axes
    grid, at, facts = curve["grid"], curve["at"], curve["facts"]
    edge, z_max = settings["flat_beyond"], settings["z_max"]
    for low, high in ((-z_max, -edge), (edge, z_max)):
        ax.axvspan(low, high, color="grey", alpha=0.15, linewidth=0)
    bound = facts["largest_derivative_beyond"]
    ax.text(edge + 0.2, 0.62, f"|z| ≥ {edge:g}:\nσ′ ≤ {bound:.3g}", fontsize=7)
    ax.plot(grid["x"], grid["sigmoid"], color=OKABE_ITO["blue"], label="σ(z)")
    ax.plot(
        grid["x"],
        grid["derivative"],
        color=OKABE_ITO["red"],
        linestyle="--",
        label="σ′(z) = σ(1 − σ)",
    )
    ax.set(xlabel="logit z (no unit)", ylabel="value (no unit)", xlim=(-z_max, z_max))
    _mark(ax, at["x"], at["sigmoid"], OKABE_ITO["blue"], lambda x, y: f"σ({x:g}) = {y:.3g}")
    _mark(ax, at["x"], at["derivative"], OKABE_ITO["red"], lambda x, y: f"σ′({x:g}) = {y:.3g}")
    ax.set(ylim=(-0.03, 1.08), title="the sigmoid saturates: σ′ is flat beyond |z| > 4")
    ax.legend(loc="upper left", fontsize=7)
    return figure


def _loss_gradients(curve: Curve, settings: Curve) -> Figure:
    figure = new_figure(1, 2, (7.2, 2.8))
    grid, at = curve["grid"], curve["at"]
    x, y = settings["x"], settings["y"]
    for ax, scale in zip(figure.axes, ("linear", "log"), strict=True):
        ax.plot(
            grid["x"],
            grid["ce_gradient"],
            color=OKABE_ITO["blue"],
            label=r"cross-entropy: $|(\sigma - y)\,x|$",
        )
        ax.plot(
            grid["x"],
            grid["mse_gradient"],
            color=OKABE_ITO["red"],
            linestyle="--",
            label=r"$\frac{1}{2}(\sigma - y)^2$: $|(\sigma - y)\,\sigma'\,x|$",
        )
        ax.set(xlabel=f"z = θx   (x = {x:g}, y = {y:g})", yscale=scale)
        ax.set(ylabel="|∂L/∂θ| (L in nats)", xlim=(grid["x"][0], grid["x"][-1]))
        for mark in at["x"]:
            ax.axvline(mark, color="grey", linestyle=":", linewidth=1)
        _mark(ax, at["x"], at["ce_gradient"], OKABE_ITO["blue"], lambda z, g: f"{g:.3f}")
        _mark(ax, at["x"], at["mse_gradient"], OKABE_ITO["red"], lambda z, g: f"{g:.3f}")
    figure.axes[0].legend(loc="upper left", fontsize=7)
    marked = ", ".join(f"{z:g}" for z in at["x"])
    figure.axes[0].set_title(f"linear scale; z = {marked} marked")
    figure.axes[1].set_title("log scale: the MSE gradient vanishes")
    return figure


def _jensen(curve: Curve, settings: Curve) -> Figure:
    figure = new_figure(1, 1, (4.2, 3.0))
    (ax,) = figure.axes
    grid, facts, base = curve["grid"], curve["facts"], curve["base"]
    unit, log = _unit(base), _log(base)
    values = np.asarray(settings["values"], float)
    weights = np.asarray(settings["probabilities"], float)
    f = -np.log(values) / np.log(base)
    ax.plot(grid["x"], grid["f"], color=OKABE_ITO["blue"], label=rf"convex $f(x) = -{log}\,x$")
    order = np.argsort(values)
    ax.plot(values[order], f[order], color=OKABE_ITO["orange"], linestyle="--",
            label="chord between the values of X")  # fmt: skip
    ax.plot(values, f, "o", color=OKABE_ITO["orange"], markeredgecolor="black", markersize=4.5)
    mean = facts["mean"]
    ax.axvline(mean, color="grey", linestyle=":", linewidth=1)
    ax.plot([mean], [facts["mean_of_f"]], "s", color=OKABE_ITO["red"], markeredgecolor="black",
            label=f"E[f(X)] = {facts['mean_of_f']:.4g} {unit}")  # fmt: skip
    ax.plot([mean], [facts["f_of_mean"]], "D", color=OKABE_ITO["sky"], markeredgecolor="black",
            label=f"f(E[X]) = {facts['f_of_mean']:.4g} {unit}")  # fmt: skip
    shown = ", ".join(f"{v:.3g} (p {w:g})" for v, w in zip(values, weights, strict=True))
    ax.set(xlabel=f"x   [X = {shown}; E[X] = {mean:.3g}]", ylabel=f"f(x) ({unit})")
    ax.set(xlim=(grid["x"][0], grid["x"][-1]))
    ax.set_title(f"E[X] = {mean:.4g}; f convex, so E[f(X)] ≥ f(E[X])")
    ax.legend(loc="upper right", fontsize=7)
    return figure


def _prior_densities(curve: Curve, settings: Curve) -> Figure:
    figure = new_figure(1, 2, (7.2, 2.8))
    density, penalty = figure.axes
    grid, at = curve["grid"], curve["at"]
    sigma, b = settings["normal_std"], settings["laplace_scale"]
    normal, laplace = f"normal N(0, {sigma:g}²)", f"Laplace(0, {b:g})"
    density.plot(grid["x"], grid["normal"], color=OKABE_ITO["blue"], label=normal)
    density.plot(grid["x"], grid["laplace"], color=OKABE_ITO["red"], linestyle="--",
                 label=laplace)  # fmt: skip
    _mark(density, at["x"], at["normal"], OKABE_ITO["blue"], lambda x, y: f"{y:.3g}")
    _mark(density, at["x"], at["laplace"], OKABE_ITO["red"], lambda x, y: f"{y:.3g}")
    density.set(xlabel="weight θ (no unit)", ylabel="prior density p(θ) (per unit of θ)")
    density.set_ylim(0, None)
    density.set_title("the two priors: Laplace is peaked at 0")
    density.legend(loc="upper left", fontsize=7)
    penalty.plot(grid["x"], grid["normal_penalty"], color=OKABE_ITO["blue"],
                 label=r"$\theta^2/2\sigma^2$ (L2)")  # fmt: skip
    penalty.plot(grid["x"], grid["laplace_penalty"], color=OKABE_ITO["red"], linestyle="--",
                 label=r"$|\theta|/b$ (L1)")  # fmt: skip
    penalty.set(xlabel="weight θ (no unit)", ylabel="−ln p(θ) + constant (nats)", ylim=(0, None))
    penalty.set_title("their penalties: −ln p(θ) up to a constant")
    penalty.legend(loc="upper center", fontsize=7)
    return figure


DRAW: dict[str, Callable[[Curve, Curve], Figure]] = {
    "self_information": _self_information,
    "binary_entropy": _binary_entropy,
    "kl_against_q": _kl_against_q,
    "sigmoid": _sigmoid,
    "loss_gradients": _loss_gradients,
    "jensen": _jensen,
    "prior_densities": _prior_densities,
}
