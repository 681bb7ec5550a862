r"""The divergences between the target p and the fit q on the grid, by infolib.

Both are given by their logits on the grid, ``log_p`` (the target's log density, fixed)
and ``log_q`` (the fit's, trained); p = softmax(log_p) and q = softmax(log_q) are the
distributions on the grid (see :mod:`~experiments.kinds.divergence_fit.grid`). Everything is
computed from logits, so a tail where p or q underflows to 0 in float32 gives a finite
gradient:

.. math::

    \text{forward\_kl} = D(p \| q) = \sum_i p_i \log \frac{p_i}{q_i}, \qquad
    \text{reverse\_kl} = D(q \| p), \\
    \text{js} = \tfrac12 D(p \| m) + \tfrac12 D(q \| m), \quad m = \tfrac12 (p + q), \\
    \text{cross\_entropy} = H(p, q) + \log \Delta
        \approx -\int p(x) \log q(x) \, dx,

all in nats. The cross-entropy of a density is the differential one (hence + log Δ, the
cell volume; Δ = 1 for a discrete target); it differs from D(p‖q) by the target's entropy,
a constant, so the two give the same fit. The Jensen–Shannon divergence is two KL
divergences to the mixture m, whose logits are ``logaddexp`` of the two log-softmaxes
(``infolib.js_divergence`` on probabilities would be NaN-prone where q underflows).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

import infolib

__all__ = ["DIVERGENCES", "logged_divergences", "target_entropy"]

Divergence = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


def forward_kl(log_p: jax.Array, log_q: jax.Array, log_cell: jax.Array) -> jax.Array:
    """D(p‖q): mass-covering (q must put mass wherever p has it)."""
    del log_cell
    return infolib.kl_divergence_with_logits(log_p, log_q)


def reverse_kl(log_p: jax.Array, log_q: jax.Array, log_cell: jax.Array) -> jax.Array:
    """D(q‖p): mode-seeking (q is penalised wherever it puts mass that p lacks)."""
    del log_cell
    return infolib.kl_divergence_with_logits(log_q, log_p)


def js(log_p: jax.Array, log_q: jax.Array, log_cell: jax.Array) -> jax.Array:
    """½ D(p‖m) + ½ D(q‖m), m = (p + q)/2; in [0, log 2]."""
    del log_cell
    log_m = jnp.logaddexp(jax.nn.log_softmax(log_p), jax.nn.log_softmax(log_q))
    return 0.5 * (
        infolib.kl_divergence_with_logits(log_p, log_m)
        + infolib.kl_divergence_with_logits(log_q, log_m)
    )


def cross_entropy(log_p: jax.Array, log_q: jax.Array, log_cell: jax.Array) -> jax.Array:
    """H(p, q) + log Δ: the (differential, for a density) cross-entropy."""
    p = jax.nn.softmax(log_p)
    return infolib.cross_entropy_with_logits(p, log_q) + log_cell


DIVERGENCES: dict[str, Divergence] = {
    "forward_kl": forward_kl,
    "reverse_kl": reverse_kl,
    "js": js,
    "cross_entropy": cross_entropy,
}


def logged_divergences(
    log_p: jax.Array, log_q: jax.Array, target_entropy: jax.Array
) -> dict[str, jax.Array]:
    """Every divergence of :data:`DIVERGENCES`, by name, for the logs (values only).

    Cheaper to compile than calling each: the cross-entropy is D(p‖q) + h(p), with the
    target's (differential) entropy ``target_entropy`` computed once per run, and the
    Jensen–Shannon divergence is ``infolib.js_divergence`` of the probabilities (its
    gradient, NaN-prone where q underflows, is never taken here).
    """
    forward = infolib.kl_divergence_with_logits(log_p, log_q)
    return {
        "forward_kl": forward,
        "reverse_kl": infolib.kl_divergence_with_logits(log_q, log_p),
        "js": infolib.js_divergence(jax.nn.softmax(log_p), jax.nn.softmax(log_q)),
        "cross_entropy": forward + target_entropy,
    }


def target_entropy(log_p: jax.Array, log_cell: jax.Array) -> jax.Array:
    """h(p) ≈ H(softmax(log_p)) + log Δ: the target's (differential) entropy, nats."""
    return infolib.entropy_with_logits(log_p) + log_cell
