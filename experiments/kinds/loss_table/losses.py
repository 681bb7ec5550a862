r"""The loss table's pure computations: three losses of fixed predictions, and the entropies
and divergences of fixed distributions. Every function is jit-able and vmappable; every
entropy, cross-entropy and divergence is :mod:`infolib`'s.

For one-hot targets :math:`y_i` and predicted distributions :math:`p_i` over :math:`C`
classes, sample by sample:

.. math::

    \text{error}_i = [\arg\max_c p_{ic} \ne \arg\max_c y_{ic}], \qquad
    \text{squared error}_i = \sum_{c=1}^{C} (p_{ic} - y_{ic})^2, \qquad
    \text{cross-entropy}_i = H(y_i, p_i) = -\sum_c y_{ic} \log_b p_{ic}
    = -\log_b p_{i,\text{true}},

and a set's value of each loss is its mean over the samples. The squared error is the
plain sum over classes (not ½Σ, not a mean over classes). A tie for the largest
probability goes to the lowest class index (``jnp.argmax``). A true class predicted with
probability 0 has cross-entropy +inf.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

import infolib

__all__ = ["measure_distributions", "score_predictions"]


def score_predictions(
    targets: jax.Array, predictions: jax.Array, *, base: float | None
) -> dict[str, jax.Array]:
    """Each loss of each prediction set, sample by sample.

    Args:
        targets: one-hot rows, shape ``(n, C)``.
        predictions: ``S`` sets of predicted distributions, shape ``(S, n, C)``.
        base: the logarithm's base of the cross-entropy (2: bits; None: nats).

    Returns:
        ``error``, ``squared_error`` and ``cross_entropy``, each of shape ``(S, n)``.

    Example:
        >>> import jax.numpy as jnp
        >>> scores = score_predictions(
        ...     jnp.array([[0.0, 1.0]]), jnp.array([[[0.4, 0.6]], [[0.2, 0.8]]]), base=2)
        >>> scores["cross_entropy"]
        Array([[0.737...], [0.321...]], dtype=float32)
    """
    wrong = jnp.argmax(predictions, axis=-1) != jnp.argmax(targets, axis=-1)
    return {
        "error": wrong.astype(predictions.dtype),
        "squared_error": jnp.sum(jnp.square(predictions - targets), axis=-1),
        "cross_entropy": infolib.cross_entropy(
            jnp.broadcast_to(targets, predictions.shape), predictions, base=base
        ),
    }


def measure_distributions(
    distributions: jax.Array, pairs: Sequence[tuple[int, int]], *, base: float | None
) -> dict[str, jax.Array]:
    r"""Entropies of distributions, and for each pair (P, Q) both directions of each measure.

    .. math::

        H(P) = -\sum_i P_i \log_b P_i, \qquad H(P, Q) = -\sum_i P_i \log_b Q_i, \qquad
        D(P \| Q) = \sum_i P_i \log_b \frac{P_i}{Q_i},

    with 0·log 0 = 0 and D = +inf where Q_i = 0 < P_i. Distributions of different lengths
    are padded with zeros to one width, which changes none of these.

    Args:
        distributions: shape ``(D, K)``, rows zero-padded.
        pairs: static (i, j) row indices of each pair.
        base: the logarithm's base (2: bits; None: nats).

    Returns:
        ``entropy`` of shape ``(D,)``; ``cross_entropy`` H(P, Q), ``reverse_cross_entropy``
        H(Q, P), ``kl_divergence`` D(P‖Q) and ``reverse_kl_divergence`` D(Q‖P), each of
        shape ``(len(pairs),)``.

    Example:
        >>> import jax.numpy as jnp
        >>> p_and_q = jnp.array([[0.75, 0.25], [0.5, 0.5]])
        >>> measures = measure_distributions(p_and_q, [(0, 1)], base=2)
        >>> measures["kl_divergence"], measures["reverse_kl_divergence"]
        (Array([0.188...], dtype=float32), Array([0.207...], dtype=float32))
    """
    first = jnp.asarray([i for i, _ in pairs], jnp.int32)
    second = jnp.asarray([j for _, j in pairs], jnp.int32)
    p, q = distributions[first], distributions[second]
    return {
        "entropy": infolib.entropy(distributions, base=base),
        "cross_entropy": infolib.cross_entropy(p, q, base=base),
        "reverse_cross_entropy": infolib.cross_entropy(q, p, base=base),
        "kl_divergence": infolib.kl_divergence(p, q, base=base),
        "reverse_kl_divergence": infolib.kl_divergence(q, p, base=base),
    }
