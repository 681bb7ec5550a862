r"""The curves: pure, jit-able functions of a grid, with infolib for every information
measure and ``jax.grad`` for every derivative.

Each curve maps its x values (and its settings) to named series of the same shape:

- ``self_information``: :math:`I(p) = -\log_b p`;
- ``binary_entropy``: :math:`H(p) = -p \log_b p - (1-p) \log_b (1-p)`, 0 at p ∈ {0, 1},
  1 bit at p = ½;
- ``kl_against_q``: for :math:`Q = (q, 1-q)`, the terms :math:`P_i \log_b (P_i / Q_i)`
  (``term_1``, ``term_2``; negative where :math:`Q_i > P_i`) and their sum
  :math:`D(P \| Q) \ge 0`, 0 only at Q = P;
- ``sigmoid``: :math:`\sigma(z) = 1/(1 + e^{-z})` and :math:`\sigma'(z) = \sigma(1-\sigma)`,
  at most ¼, below 0.018 for |z| > 4;
- ``loss_gradients``: for one sample (x, y) and z = θx, the magnitudes of
  :math:`\partial_\theta \tfrac12(\sigma(\theta x) - y)^2 = (\sigma - y)\,\sigma'\,x` and of
  :math:`\partial_\theta H(y, \sigma(\theta x)) = (\sigma - y)\,x` (cross-entropy in nats,
  whose derivative is the material's). At x = 2, y = 0, z = 4: 0.0347 and 1.964;
- ``jensen``: the convex :math:`f(x) = -\log_b x`, and for X taking ``values`` with
  ``probabilities``, :math:`E[f(X)] \ge f(E[X])` (facts ``mean``, ``f_of_mean``,
  ``mean_of_f``);
- ``prior_densities``: the normal and Laplace densities and their negative logarithms less
  the constant, :math:`\theta^2/2\sigma^2` and :math:`|\theta|/b` (nats).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

import infolib

__all__ = ["FACTS", "SERIES"]

Series = dict[str, jax.Array]


def self_information(p: jax.Array, settings: dict[str, Any], base: float | None) -> Series:
    return {"self_information": infolib.self_information(p, base=base)}


def binary_entropy(p: jax.Array, settings: dict[str, Any], base: float | None) -> Series:
    coin = jnp.stack([p, 1 - p], axis=-1)
    return {"entropy": infolib.entropy(coin, base=base)}


def kl_against_q(q: jax.Array, settings: dict[str, Any], base: float | None) -> Series:
    big_q = jnp.stack([q, 1 - q], axis=-1)
    big_p = jnp.broadcast_to(settings["p"], big_q.shape)
    # Each term is the divergence restricted to one outcome: an event axis of length 1.
    terms = infolib.kl_divergence(big_p[..., None], big_q[..., None], base=base)
    return {
        "term_1": terms[..., 0],
        "term_2": terms[..., 1],
        "kl_divergence": infolib.kl_divergence(big_p, big_q, base=base),
    }


def sigmoid(z: jax.Array, settings: dict[str, Any], base: float | None) -> Series:
    derivative = jax.vmap(jax.grad(jax.nn.sigmoid))
    return {"sigmoid": jax.nn.sigmoid(z), "derivative": derivative(z)}


def loss_gradients(z: jax.Array, settings: dict[str, Any], base: float | None) -> Series:
    x, y = settings["x"], settings["y"]

    def squared(theta: jax.Array) -> jax.Array:
        return 0.5 * jnp.square(jax.nn.sigmoid(theta * x) - y)

    def cross_entropy(theta: jax.Array) -> jax.Array:
        return infolib.binary_cross_entropy_with_logits(y, theta * x)

    theta = z / x
    return {
        "mse_gradient": jnp.abs(jax.vmap(jax.grad(squared))(theta)),
        "ce_gradient": jnp.abs(jax.vmap(jax.grad(cross_entropy))(theta)),
    }


def jensen(x: jax.Array, settings: dict[str, Any], base: float | None) -> Series:
    return {"f": infolib.self_information(x, base=base)}  # −log_b x, for x > 0


def prior_densities(theta: jax.Array, settings: dict[str, Any], base: float | None) -> Series:
    sigma, b = settings["normal_std"], settings["laplace_scale"]
    return {
        "normal": jnp.exp(-0.5 * jnp.square(theta / sigma)) / (jnp.sqrt(2 * jnp.pi) * sigma),
        "laplace": jnp.exp(-jnp.abs(theta) / b) / (2 * b),
        "normal_penalty": 0.5 * jnp.square(theta / sigma),
        "laplace_penalty": jnp.abs(theta) / b,
    }


def _jensen_facts(x: jax.Array, values: Series, settings: dict[str, Any]) -> dict[str, jax.Array]:
    # The base is not in the settings, but f = −log_b x on the grid: the scale 1/ln b is
    # f/−ln x at the grid point farthest from x = 1.
    far = jnp.argmax(jnp.abs(jnp.log(x)))
    scale = values["f"][far] / -jnp.log(x[far])
    v, p = settings["values"], settings["probabilities"]
    mean = jnp.sum(p * v)
    return {
        "mean": mean,
        "f_of_mean": -jnp.log(mean) * scale,
        "mean_of_f": jnp.sum(p * -jnp.log(v)) * scale,
    }


SERIES: dict[str, Callable[[jax.Array, dict[str, Any], float | None], Series]] = {
    "self_information": self_information,
    "binary_entropy": binary_entropy,
    "kl_against_q": kl_against_q,
    "sigmoid": sigmoid,
    "loss_gradients": loss_gradients,
    "jensen": jensen,
    "prior_densities": prior_densities,
}
"""Each curve's series: ``f(x, settings, base) -> {name: values}``."""


def _peak(series: str, pick: Callable, name: str) -> Callable[..., dict[str, jax.Array]]:
    def facts(x: jax.Array, values: Series, settings: dict[str, Any]) -> dict[str, jax.Array]:
        index = pick(values[series])
        return {name: values[series][index], f"{name}_at": x[index]}

    return facts


def _flat(x: jax.Array, values: Series, settings: dict[str, Any]) -> dict[str, jax.Array]:
    beyond = jnp.abs(x) >= settings["flat_beyond"]
    largest = jnp.max(jnp.where(beyond, values["derivative"], -jnp.inf))
    return {"largest_derivative_beyond": largest, "peak_derivative": jnp.max(values["derivative"])}


FACTS: dict[str, Callable[..., dict[str, jax.Array]]] = {
    "binary_entropy": _peak("entropy", jnp.argmax, "maximum"),
    "kl_against_q": _peak("kl_divergence", jnp.argmin, "minimum"),
    "sigmoid": _flat,
    "jensen": _jensen_facts,
}
"""What a curve's claim rests on, read off its grid: ``f(x, series, settings) -> {name:
scalar}`` (a maximum and where, a bound beyond a point)."""
