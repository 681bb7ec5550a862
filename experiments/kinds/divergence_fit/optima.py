"""The local-optima figure of a sweep over q's initial value (``fit.mean``, say): where each
member ended (its final mean) and at what divergence, against where it started."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from experiments.figures.canvas import new_figure
from experiments.kinds.divergence_fit.fits import DIVERGENCE_SYMBOLS, Fit

__all__ = ["local_optima", "optima_figure"]


def local_optima(fits: list[Fit], decimals: int = 1) -> dict[str, list[tuple[float, float]]]:
    """Each variant's distinct end points (final mean, final divergence), sorted by mean."""
    ends: dict[str, dict[float, float]] = {}
    for fit in fits:
        mean = round(float(fit.history["mean"][-1]), decimals) + 0.0
        ends.setdefault(fit.run["variant"], {}).setdefault(
            mean, float(fit.history["divergence"][-1])
        )
    return {variant: sorted(found.items()) for variant, found in ends.items()}


def optima_figure(fits: list[Fit]) -> Figure:
    key = next(iter(fits[0].run["sweep"]))
    figure = new_figure(1, 2, (7.0, 3.1))
    left, right = figure.axes
    for mean in np.unique(np.asarray(fits[0].target["means"], np.float64)):
        left.axhline(mean, color="0.6", lw=0.8, ls="--", zorder=0)
    optima = local_optima(fits)
    for variant, ends in optima.items():
        members = [f for f in fits if f.run["variant"] == variant]
        x = np.array([f.run["sweep"][key] for f in members], np.float64)
        order = np.argsort(x)
        style = {"color": members[0].color, "ls": members[0].linestyle, "lw": 1.4}
        divergence = DIVERGENCE_SYMBOLS[members[0].spec.train.divergence]
        found = f"{len(ends)} optim{'a' if len(ends) > 1 else 'um'} found"
        label = f"{variant}: min {divergence}, {found}"
        final_mean = np.array([f.history["mean"][-1] for f in members])[order]
        final_value = np.array([f.history["divergence"][-1] for f in members])[order]
        left.plot(x[order], final_mean, marker="o", ms=3, label=label, **style)
        right.plot(x[order], final_value, marker="o", ms=3, label=variant, **style)
        for mean, value in ends:
            there = x[order][np.abs(np.round(final_mean, 1) - mean) < 1e-9]
            right.annotate(f"{value:.3f}", (float(np.median(there)), value),
                           textcoords="offset points", xytext=(0, 5), ha="center",
                           fontsize=7, color=members[0].color)  # fmt: skip
    left.set(xlabel=f"initial {key.removeprefix('fit.')}", ylabel="final mean of q")
    left.set_title("Where q ends (dashed: the target's modes)", fontsize=9)
    figure.legend(*left.get_legend_handles_labels(), loc="outside lower center", ncols=2,
                  fontsize=7)  # fmt: skip
    right.set(xlabel=f"initial {key.removeprefix('fit.')}", ylabel="final divergence (nats)")
    right.set_title("The divergence there", fontsize=9)
    return figure
