r"""The target p on a fixed quadrature grid (numpy, float64): the data of a run.

Every divergence is a sum over the grid, never a Monte Carlo estimate, so reruns are
byte-identical. For a density the sum is the rectangle rule on equally spaced points
:math:`x_i` with cell volume :math:`\Delta`,

.. math::

    D(p \| q) = \int p \log \frac{p}{q} \approx \sum_i \pi_i \log \frac{\pi_i}{\kappa_i},
    \qquad \pi_i = \frac{p(x_i)}{\sum_j p(x_j)}, \quad \kappa_i = \frac{q(x_i)}{\sum_j q(x_j)},

which for Gaussians (and their mixtures) converges exponentially fast in the number of
points per standard deviation (the sum of a Gaussian on a grid of spacing Δ ≤ σ is exact to
:math:`2 e^{-2\pi^2\sigma^2/\Delta^2} \approx 5\cdot10^{-9}`). Both p and q are normalised on
the grid, so they are distributions on it whatever their tails. A discrete target is its own
grid (Δ = 1: its probabilities are masses, not densities).

The grid spans, on each axis, the target's mean ± ``width`` × its standard deviation along
that axis: for the moment-matching q of a forward-KL fit that is ``width`` of q's own
standard deviations, and every component of the mixture lies inside it with margin.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from experiments.kinds.divergence_fit.schema import GaussianMixture, QuadratureConfig
from experiments.pipeline.hashing import data_sha256

__all__ = [
    "Quadrature",
    "components",
    "gaussian_log_density",
    "grid_mass",
    "mixture_log_density",
    "mixture_moments",
    "quadrature",
]


@dataclasses.dataclass(frozen=True, eq=False)
class Quadrature:
    """A target on its grid.

    ``points`` [n, d] are the grid points (row-major over the axes in 2-D), ``log_target``
    [n] log p there (log density for a mixture, log probability for a discrete target),
    ``log_cell`` log Δ (0 for a discrete target), ``axes`` the points on each axis.
    """

    points: np.ndarray
    log_target: np.ndarray
    log_cell: float
    axes: tuple[np.ndarray, ...]
    target: dict[str, Any]
    description: str
    sha256: str

    @property
    def dim(self) -> int:
        return self.points.shape[1]


def components(target: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A mixture's weights [K], means [K, d] and covariances [K, d, d] from its config
    (as the mapping ``target.model_dump()`` gives, or a run's ``data.json`` holds)."""
    weights = np.asarray(target["weights"], np.float64)
    means = np.asarray(target["means"], np.float64).reshape(len(weights), -1)
    if target.get("stds") is not None:
        covariances = np.square(np.asarray(target["stds"], np.float64))[:, None, None]
    else:
        covariances = np.asarray(target["covariances"], np.float64)
    return weights, means, covariances


def gaussian_log_density(points: np.ndarray, mean: np.ndarray, covariance: np.ndarray):
    """log N(x; mean, covariance) at ``points`` [n, d]."""
    d = points.shape[1]
    lower = np.linalg.cholesky(covariance)
    z = np.linalg.solve(lower, (points - mean).T)
    log_det = 2.0 * np.sum(np.log(np.diag(lower)))
    return -0.5 * (np.sum(z * z, axis=0) + log_det + d * math.log(2.0 * math.pi))


def mixture_log_density(target: dict[str, Any], points: np.ndarray) -> np.ndarray:
    """log p(x) = log Σ_k w_k N(x; μ_k, Σ_k) at ``points`` [n, d], by log-sum-exp."""
    weights, means, covariances = components(target)
    terms = np.stack(
        [
            math.log(w) + gaussian_log_density(points, m, c)
            for w, m, c in zip(weights, means, covariances, strict=True)
        ]
    )
    top = np.max(terms, axis=0)
    return top + np.log(np.sum(np.exp(terms - top), axis=0))


def mixture_moments(target: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The mixture's mean Σ w_k μ_k and covariance Σ w_k (Σ_k + μ_k μ_kᵀ) − μ μᵀ: the
    parameters of the Gaussian that minimises D(p‖q) (moment matching)."""
    weights, means, covariances = components(target)
    mean = weights @ means
    second = np.einsum("k,kij->ij", weights, covariances + np.einsum("ki,kj->kij", means, means))
    return mean, second - np.outer(mean, mean)


def grid_mass(log_density: np.ndarray, log_cell: float) -> float:
    """Σ_i density(x_i) Δ: the mass of a density that the grid holds (1 when it holds all)."""
    return float(np.sum(np.exp(log_density + log_cell)))


def quadrature(target: Any, config: QuadratureConfig) -> Quadrature:
    """The target of a run on its grid (see the module docstring). A target too wide for
    float32 overflows quietly here: the check of its mass then names what to fix."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _quadrature(target, config)


def _quadrature(target: Any, config: QuadratureConfig) -> Quadrature:
    dump = target.model_dump(mode="json")
    if not isinstance(target, GaussianMixture):
        points = np.asarray(target.points, np.float64)[:, None]
        log_target = np.log(np.asarray(target.probabilities, np.float64))
        description = f"discrete target on {len(points)} points"
        return _finish(points, log_target, 0.0, (points[:, 0],), dump, description)
    mean, covariance = mixture_moments(dump)
    spread = np.sqrt(np.diag(covariance))
    axes = tuple(
        np.linspace(m - config.width * s, m + config.width * s, config.points)
        for m, s in zip(mean, spread, strict=True)
    )
    mesh = np.meshgrid(*axes, indexing="ij")
    points = np.stack([axis.ravel() for axis in mesh], axis=1)
    log_cell = float(sum(math.log(axis[1] - axis[0]) for axis in axes))
    log_target = mixture_log_density(dump, points)
    shape = "×".join(str(len(axis)) for axis in axes)
    description = (
        f"{len(dump['weights'])}-component {len(axes)}-D Gaussian mixture on a {shape} grid"
    )
    return _finish(points, log_target, log_cell, axes, dump, description)


def _finish(points, log_target, log_cell, axes, dump, description) -> Quadrature:
    points32 = np.asarray(points, np.float32)
    log_target32 = np.asarray(log_target, np.float32)
    return Quadrature(
        points=points,
        log_target=log_target,
        log_cell=log_cell,
        axes=axes,
        target=dump,
        description=description,
        sha256=data_sha256(points32, log_target32, np.float32(log_cell)),
    )
