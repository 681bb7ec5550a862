"""Entropy estimators from observed counts."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from infolib import _base


@functools.partial(jax.jit, static_argnums=(1,))
def _plugin_nats(counts: jax.Array, axis: int) -> tuple[jax.Array, jax.Array]:
    n = jnp.sum(counts, axis=axis, keepdims=True)
    empty = n == 0
    p = counts / jnp.where(empty, 1, n)
    h = -jnp.sum(_base.xlogy(p, p), axis=axis)
    return h, jnp.squeeze(n, axis)


def plugin_entropy(counts: ArrayLike, *, axis: int = -1, base: float | None = None) -> jax.Array:
    r"""Plug-in (maximum-likelihood) entropy estimate from counts.

    .. math::

        \hat H = -\sum_i \hat p_i \log \hat p_i, \qquad \hat p_i = c_i / n, \quad
        n = \sum_i c_i.

    It is biased low: in expectation by about (m − 1)/(2n) nats for m occupied bins
    (see :func:`miller_madow_entropy`). With no observations (n = 0) it is 0.

    Args:
        counts: non-negative counts along ``axis`` (integers or floats).
        axis: the bin axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The estimate, with ``axis`` reduced.

    Example:
        >>> import infolib
        >>> infolib.plugin_entropy([5, 5, 0], base=2)
        Array(1., dtype=float32)
    """
    (counts,), out_dtype = _base.as_float(counts)
    axis = _base.check_event_axis(counts, axis, "counts")
    h, _ = _plugin_nats(counts, axis)
    return _base.finish(h, base, out_dtype)


def miller_madow_entropy(
    counts: ArrayLike, *, axis: int = -1, base: float | None = None
) -> jax.Array:
    r"""Miller–Madow bias-corrected entropy estimate from counts.

    .. math::

        \hat H_{MM} = \hat H_{plugin} + \frac{m - 1}{2n},

    in nats, where m is the number of bins with a nonzero count and n the total count
    (Miller, 1955). The correction is added in nats before converting to ``base``. With
    no observations (n = 0) it is 0.

    Args:
        counts: non-negative counts along ``axis`` (integers or floats).
        axis: the bin axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The estimate, with ``axis`` reduced.

    Example:
        >>> import infolib
        >>> infolib.miller_madow_entropy([5, 5, 0])  # log 2 + 1/20
        Array(0.7431472, dtype=float32)
    """
    (counts,), out_dtype = _base.as_float(counts)
    axis = _base.check_event_axis(counts, axis, "counts")
    h, n = _plugin_nats(counts, axis)
    occupied = jnp.sum(counts > 0, axis=axis).astype(h.dtype)
    correction = jnp.where(n == 0, 0, (occupied - 1) / (2 * jnp.where(n == 0, 1, n)))
    return _base.finish(h + correction, base, out_dtype)
