r"""Maximum entropy on a finite support, by descent on the convex dual (pure, jit-able).

The problem, on points :math:`x_1 < \dots < x_n` with moment constraints
:math:`\mathbb E_p[f_j(x)] = c_j`,

.. math::

    \max_p H(p) = -\sum_k p_k \log p_k
    \quad \text{s.t.} \quad \sum_k p_k = 1, \;\; \sum_k p_k f_j(x_k) = c_j,

has the Lagrangian dual :math:`\min_\lambda L(\lambda)`,
:math:`L(\lambda) = \log \sum_k \exp(\lambda \cdot \phi(x_k))` with the centred, scaled
features :math:`\phi_j(x) = (f_j(x) - c_j) / s_j`. L is convex, its gradient is
:math:`\mathbb E_{p_\lambda}[\phi]` (zero exactly when the constraints hold) and its
minimiser gives the solution in Gibbs form, :math:`p_k = \operatorname{softmax}(\lambda
\cdot \phi(x_k))`; at it :math:`L(\lambda^*) = H(p^*)`, the maximum entropy.

The features are f = x (``mean``), (x − m)² (``variance``, about the constrained mean m)
and |x − c| (``mean_abs_deviation``, about the centre c), scaled by s = (b − a)/2, s² and s
(a, b the support's ends), so λ is of order one whatever the support's units. All three
are always there, an unconstrained one as a column of zeros (its λ gets no gradient and
stays 0), so every choice of constraints is one compiled program. The
multipliers reported are those of the unscaled features: :math:`p_k \propto \exp(\lambda_
{mean} x_k + \lambda_{variance} (x_k - m)^2 + \lambda_{mad} |x_k - c|)`; with the mean
alone, :math:`p_k \propto e^{\lambda x_k}`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import infolib

__all__ = ["FEATURES", "dual", "features", "metrics", "multipliers", "scales"]


FEATURES = ("mean", "variance", "mean_abs_deviation")


def scales(support: jax.Array) -> jax.Array:
    """The scale of each feature of :data:`FEATURES`: s, s² and s, s = (b − a)/2."""
    s = 0.5 * (support[-1] - support[0])
    return jnp.stack([s, jnp.square(s), s])


def features(support: jax.Array, values: dict[str, jax.Array]) -> jax.Array:
    """φ [n, 3]: each feature of :data:`FEATURES` minus its value, scaled, times its
    ``use_<name>`` (1 constrained, 0 not: a zero column leaves its λ at 0)."""
    raw = jnp.stack(
        [
            support - values["mean"],
            jnp.square(support - values["mean"]) - values["variance"],
            jnp.abs(support - values["centre"]) - values["mean_abs_deviation"],
        ],
        axis=1,
    )
    used = jnp.stack([values[f"use_{name}"] for name in FEATURES])
    return raw / scales(support) * used


def dual(multipliers: jax.Array, phi: jax.Array) -> jax.Array:
    """L(λ) = log Σ_k exp(λ·φ(x_k)): convex, minimised at the maximum-entropy p."""
    return jax.nn.logsumexp(phi @ multipliers)


def metrics(
    multipliers: jax.Array,
    phi: jax.Array,
    support: jax.Array,
    centre: jax.Array,
    centre_given: jax.Array | float = 1.0,
) -> dict[str, jax.Array]:
    """What is logged: the dual, the entropy of p_λ (nats), the largest constraint error
    (in the constraint's units) and p_λ's mean, variance and mean absolute deviation about
    ``centre`` (about p_λ's own mean where ``centre_given`` is 0: no centre or mean was
    set)."""
    logits = phi @ multipliers
    p = jax.nn.softmax(logits)
    mean = p @ support
    return {
        "dual": jax.nn.logsumexp(logits),
        "entropy": infolib.entropy_with_logits(logits),
        "constraint_error": jnp.max(jnp.abs(p @ phi) * scales(support)),
        "mean": mean,
        "variance": p @ jnp.square(support - mean),
        "mean_abs_deviation": p @ jnp.abs(support - jnp.where(centre_given > 0, centre, mean)),
    }


def multipliers(scaled: jax.Array, support: jax.Array) -> jax.Array:
    """λ of the unscaled features (see the module docstring), in :data:`FEATURES` order."""
    return scaled / scales(support)
