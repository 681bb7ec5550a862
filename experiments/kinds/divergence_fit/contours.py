"""The 2-D fit figure: the target's density as filled contours, and each fitted q's 1σ and
2σ ellipses over it, a panel per variant (Goodfellow et al., Deep Learning, fig. 3.6)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from experiments.figures.canvas import new_figure
from experiments.kinds.divergence_fit import grid
from experiments.kinds.divergence_fit.fits import (
    DIVERGENCE_SYMBOLS,
    TARGET_GREY,
    Fit,
    gaussian_params,
)
from experiments.kinds.divergence_fit.fits import initial_params as start

__all__ = ["fit_2d"]


def fit_2d(fits: list[Fit], target: dict) -> Figure:
    figure = new_figure(1, len(fits), (3.3 * len(fits) + 0.4, 3.0))
    mean, covariance = grid.mixture_moments(target)
    half = 2.4 * np.sqrt(np.diag(covariance)) + 1.0
    xs, ys = (np.linspace(m - h, m + h, 241) for m, h in zip(mean, half, strict=True))
    mesh_x, mesh_y = np.meshgrid(xs, ys, indexing="xy")
    points = np.stack([mesh_x.ravel(), mesh_y.ravel()], axis=1)
    p = np.exp(grid.mixture_log_density(target, points)).reshape(mesh_x.shape)
    levels = np.max(p) * np.array([0.02, 0.1, 0.3, 0.6, 1.01])
    for ax, fit in zip(figure.axes, fits, strict=True):
        ax.contourf(mesh_x, mesh_y, p, levels=levels, cmap="Greys", alpha=0.55)
        ax.contour(mesh_x, mesh_y, p, levels=levels[:-1], colors="0.5", linewidths=0.5)
        _ellipses(ax, mesh_x, mesh_y, points, gaussian_params(start(fit.spec)), "0.35", ":")
        q_mean, _ = gaussian_params(fit.params)
        _ellipses(ax, mesh_x, mesh_y, points, gaussian_params(fit.params), fit.color, "-")
        ax.plot(*q_mean, marker="+", color=fit.color, ms=9, mew=2)
        ax.set(xlabel="x₁", ylabel="x₂", aspect="equal")
        ax.set_title(f"{fit.label}\n{_numbers(fit)}", fontsize=8)
    handles = [
        Line2D([], [], color=TARGET_GREY, lw=6, label="target p (density contours)"),
        Line2D([], [], color="0.35", ls=":", label="initial q (1σ, 2σ)"),
        Line2D([], [], color="0.1", label="fitted q (1σ, 2σ), + its mean"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=7)
    figure.suptitle("Target p and the fitted Gaussian q", fontsize=10)
    return figure


def _numbers(fit: Fit) -> str:
    last = {name: round(float(values[-1]), 2) + 0.0 for name, values in fit.history.items()}
    symbol = DIVERGENCE_SYMBOLS[fit.spec.train.divergence]
    return (
        f"μ = ({last['mean_x']:.2f}, {last['mean_y']:.2f}), "
        f"σ = ({last['std_x']:.2f}, {last['std_y']:.2f}), ρ = {last['correlation']:.2f}\n"
        f"{symbol} = {fit.history['divergence'][-1]:.3f} nats"
    )


def _ellipses(ax, mesh_x, mesh_y, points, params, color, style) -> None:
    """q's 1σ and 2σ contours: the Mahalanobis distance r = 1 and 2 (r² = zᵀz)."""
    mean, covariance = params
    residual = points - mean
    r2 = np.einsum("ni,ij,nj->n", residual, np.linalg.inv(covariance), residual)
    ax.contour(mesh_x, mesh_y, r2.reshape(mesh_x.shape), levels=[1.0, 4.0], colors=[color],
               linestyles=[style], linewidths=[2.0, 1.2])  # fmt: skip
