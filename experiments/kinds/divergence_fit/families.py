r"""The fitted families q, as pure functions of unconstrained parameters.

A family gives ``init(hyper) -> params`` (from the traced initial values),
``log_density(params, points) -> [n]`` (the logits of q on the grid: q is their softmax),
``metrics(params) -> {name: scalar}`` (logged) and ``readable(params) -> {name: array}``
(what ``summary.json`` holds).

**Gaussian** (d = 1 or 2). q = N(μ, Σ) with Σ = L Lᵀ, L lower triangular with a positive
diagonal, trained as μ, log diag L and the entries below the diagonal: every value of them
is a valid q, so no step can leave the family.

.. math::

    \log q(x) = -\tfrac12 \lVert L^{-1}(x - \mu) \rVert^2 - \sum_i \log L_{ii}
                - \tfrac d2 \log 2\pi.

**Discrete**: q = softmax(z) on the target's points, trained as the logits z.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import infolib

__all__ = ["FAMILIES", "Family", "cholesky", "init_hyperparameters"]

Params = dict[str, jax.Array]


class Family(NamedTuple):
    init: Callable[[dict[str, jax.Array]], Params]
    log_density: Callable[[Params, jax.Array], jax.Array]
    metrics: Callable[[Params], dict[str, jax.Array]]
    readable: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


def cholesky(params: Params) -> jax.Array:
    """L from the log diagonal and the entries below it (row-major)."""
    d = params["mean"].shape[0]
    rows, cols = np.tril_indices(d, -1)
    lower = jnp.diag(jnp.exp(params["log_diag"]))
    return lower.at[rows, cols].set(params["below"])


def _gaussian_init(hyper: dict[str, jax.Array]) -> Params:
    covariance = hyper["init_covariance"]
    d = covariance.shape[0]
    lower = jnp.linalg.cholesky(covariance)
    rows, cols = np.tril_indices(d, -1)
    return {
        "mean": hyper["init_mean"],
        "log_diag": jnp.log(jnp.diag(lower)),
        "below": lower[rows, cols],
    }


def _gaussian_log_density(params: Params, points: jax.Array) -> jax.Array:
    d = points.shape[1]
    lower, residual = cholesky(params), points - params["mean"]
    # z = L⁻¹(x − μ) by forward substitution, unrolled (d ≤ 2): no triangular-solve call.
    z: list[jax.Array] = []
    for i in range(d):
        known = sum((lower[i, j] * z[j] for j in range(i)), start=jnp.zeros(()))
        z.append((residual[:, i] - known) / lower[i, i])
    return (
        -0.5 * sum(jnp.square(zi) for zi in z)
        - jnp.sum(params["log_diag"])
        - 0.5 * d * math.log(2 * math.pi)
    )


def _gaussian_metrics(params: Params) -> dict[str, jax.Array]:
    mean = params["mean"]
    if mean.shape[0] == 1:
        return {"mean": mean[0], "std": jnp.exp(params["log_diag"][0])}
    lower = cholesky(params)
    covariance = lower @ lower.T
    std = jnp.sqrt(jnp.diag(covariance))
    return {
        "mean_x": mean[0],
        "mean_y": mean[1],
        "std_x": std[0],
        "std_y": std[1],
        "correlation": covariance[0, 1] / (std[0] * std[1]),
    }


def _gaussian_readable(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    mean = np.asarray(params["mean"])  # float32: summary.json holds float32's shortest form
    if mean.shape[0] == 1:
        return {"mean": mean[0], "std": np.exp(np.asarray(params["log_diag"])[0])}
    lower = np.diag(np.exp(np.asarray(params["log_diag"])))
    lower[np.tril_indices(len(mean), -1)] = params["below"]
    return {"mean": mean, "covariance": lower @ lower.T}


def _discrete_readable(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    logits = np.asarray(params["logits"], np.float64)
    shifted = np.exp(logits - np.max(logits))
    return {"probabilities": shifted / np.sum(shifted), "logits": logits}


FAMILIES: dict[str, Family] = {
    "gaussian": Family(
        _gaussian_init, _gaussian_log_density, _gaussian_metrics, _gaussian_readable
    ),
    "discrete": Family(
        init=lambda hyper: {"logits": hyper["init_logits"]},
        log_density=lambda params, points: params["logits"],
        metrics=lambda params: {"entropy": infolib.entropy_with_logits(params["logits"])},
        readable=_discrete_readable,
    ),
}


def init_hyperparameters(fit: Any, n_points: int) -> dict[str, np.ndarray]:
    """The traced initial values of a fit config, float32 (see each family's ``init``)."""
    if fit.family == "discrete":
        logits = fit.logits if fit.logits is not None else [0.0] * n_points
        return {"init_logits": np.asarray(logits, np.float32)}
    if isinstance(fit.mean, list):
        mean, covariance = np.asarray(fit.mean), np.asarray(fit.covariance)
    else:
        mean, covariance = np.asarray([fit.mean]), np.asarray([[fit.std**2]])
    return {
        "init_mean": mean.astype(np.float32),
        "init_covariance": covariance.astype(np.float32),
    }
