"""Joint entropy, conditional entropy and mutual information of a joint distribution.

A joint distribution ``pxy`` holds p(x, y) with X along axis −2 (rows) and Y along
axis −1 (columns); leading axes are batch axes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from infolib import _base

_XY = (-2, -1)


def _prepare(pxy: ArrayLike) -> tuple[jax.Array, jnp.dtype]:
    (pxy,), out_dtype = _base.as_float(pxy)
    _base.check_joint(pxy)
    return pxy, out_dtype


def joint_entropy(pxy: ArrayLike, *, base: float | None = None) -> jax.Array:
    r"""Joint entropy of (X, Y) from the joint distribution.

    .. math::

        H(X, Y) = -\sum_{x, y} p(x, y) \log p(x, y), \qquad 0 \log 0 = 0.

    Args:
        pxy: joint probabilities over the last two axes (X rows, Y columns).
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The joint entropy, with the last two axes reduced.

    Example:
        >>> import infolib
        >>> infolib.joint_entropy([[0.25, 0.25], [0.25, 0.25]], base=2)
        Array(2., dtype=float32)
    """
    pxy, out_dtype = _prepare(pxy)
    return _base.finish(_joint_entropy(pxy), base, out_dtype)


@jax.jit
def _joint_entropy(pxy: jax.Array) -> jax.Array:
    return -jnp.sum(_base.flat(_base.xlogy, pxy, pxy), axis=_XY)


@jax.custom_jvp
def _conditional_entropy(pxy: jax.Array) -> jax.Array:
    """−Σ p(x, y) log(p(x, y)/p(x)), each term a relative entropy (exact as p(y|x) → 1)."""
    px = jnp.sum(pxy, axis=-1, keepdims=True)
    return -jnp.sum(_base.rel_entr(pxy, jnp.broadcast_to(px, pxy.shape)), axis=_XY)


@_conditional_entropy.defjvp
def _conditional_entropy_jvp(primals, tangents):
    (pxy,), (dpxy,) = primals, tangents
    px = jnp.broadcast_to(jnp.sum(pxy, axis=-1, keepdims=True), pxy.shape)
    joint, row = _base.parts(pxy), _base.parts(px)
    # ∂H(Y|X)/∂p(x, y) = −log p(y|x): +inf where p(x, y) = 0 < p(x), and 0 in an empty row,
    # where p(y|x) is read as 1: its value after moving p(x, y) alone off zero, which makes
    # these the one-sided limits.
    log_conditional = jnp.where(joint.zero, -jnp.inf, _base.log_ratio(joint, row))
    log_conditional = jnp.where(row.zero, 0, log_conditional)
    return _conditional_entropy(pxy), -jnp.sum(dpxy * log_conditional, axis=_XY)


_conditional_entropy_jit = jax.jit(_conditional_entropy)


def conditional_entropy(pxy: ArrayLike, *, base: float | None = None) -> jax.Array:
    r"""Conditional entropy H(Y | X) from the joint distribution, X along the rows.

    .. math::

        H(Y \mid X) = -\sum_{x, y} p(x, y) \log \frac{p(x, y)}{p(x)}
                    = H(X, Y) - H(X), \qquad p(x) = \sum_y p(x, y),

    with 0 log 0 = 0; a row with p(x) = 0 adds 0. Computed from p(y | x), not as a
    difference of entropies, so it is never negative for valid input. Its gradient
    −log p(y | x) is +inf where p(x, y) = 0 < p(x), and 0 in an empty row.

    Args:
        pxy: joint probabilities over the last two axes (X rows, Y columns).
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        H(Y | X), with the last two axes reduced.

    Example:
        >>> import infolib
        >>> infolib.conditional_entropy([[0.5, 0.0], [0.25, 0.25]], base=2)
        Array(0.5, dtype=float32)
    """
    pxy, out_dtype = _prepare(pxy)
    return _base.finish(_conditional_entropy_jit(pxy), base, out_dtype)


def _log_joint_over_marginals(
    joint: _base.Parts, row: _base.Parts, column: _base.Parts
) -> jax.Array:
    """log p(x, y)/(p(x) p(y)) for positive entries, from mantissas and exponents: the
    product of the marginals is rounded once and never underflows, and the log keeps its
    precision near independence (see :func:`infolib._base.log_ratio_of_mantissas`)."""
    f, e = joint.frexp()
    g_x, d_x = row.frexp()
    g_y, d_y = column.frexp()
    g = g_x * g_y  # in [1, 4)
    big = g >= 2
    g = jnp.where(big, g / 2, g)
    d = d_x + d_y + big.astype(d_x.dtype)
    return _base.log_ratio_of_mantissas(f, e, g, d, joint.layout)


def _log_pointwise_mi(pxy: jax.Array) -> jax.Array:
    """log p(x, y)/(p(x) p(y)), with the one-sided limits where a row or column is empty.

    Moving p(x, y) alone off zero in an empty row makes the ratio 1/p(y), in an empty
    column 1/p(x), and in an empty row and column 1/p(x, y) → +inf.
    """
    px = jnp.broadcast_to(jnp.sum(pxy, axis=-1, keepdims=True), pxy.shape)
    py = jnp.broadcast_to(jnp.sum(pxy, axis=-2, keepdims=True), pxy.shape)
    joint, row, column = _base.parts(pxy), _base.parts(px), _base.parts(py)
    inner = jnp.where(joint.zero, -jnp.inf, _log_joint_over_marginals(joint, row, column))
    edge = jnp.where(row.zero, jnp.where(column.zero, jnp.inf, -column.log()), -row.log())
    return jnp.where(row.zero | column.zero, edge, inner)


@jax.custom_jvp
def _mutual_information(pxy: jax.Array) -> jax.Array:
    joint = _base.parts(pxy)
    zero = joint.zero & ~jnp.isnan(pxy)
    terms = jnp.where(zero, 0, joint.times(jnp.where(zero, 0, _log_pointwise_mi(pxy))))
    return jnp.sum(terms, axis=_XY)


@_mutual_information.defjvp
def _mutual_information_jvp(primals, tangents):
    (pxy,), (dpxy,) = primals, tangents
    # ∂I/∂p(x, y) = log p(x, y)/(p(x) p(y)) − 1 (of H(X) + H(Y) − H(X, Y)).
    return _mutual_information(pxy), jnp.sum(dpxy * (_log_pointwise_mi(pxy) - 1), axis=_XY)


_mutual_information_jit = jax.jit(_mutual_information)


def mutual_information(pxy: ArrayLike, *, base: float | None = None) -> jax.Array:
    r"""Mutual information I(X; Y) from the joint distribution.

    .. math::

        I(X; Y) = \sum_{x, y} p(x, y) \log \frac{p(x, y)}{p(x)\, p(y)}
                = D_{KL}(p_{XY} \| p_X \otimes p_Y) = H(X) + H(Y) - H(X, Y),

    with 0 log 0 = 0. Its gradient, log(p(x, y)/(p(x) p(y))) − 1, is −inf where
    p(x, y) = 0 inside nonempty rows and columns; in an empty row p(x, y)/p(x) is read as
    1, the one-sided limit, so the gradient there is finite.

    Args:
        pxy: joint probabilities over the last two axes (X rows, Y columns).
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        I(X; Y), with the last two axes reduced.

    Example:
        >>> import infolib
        >>> infolib.mutual_information([[0.5, 0.0], [0.0, 0.5]], base=2)
        Array(1., dtype=float32)
        >>> infolib.mutual_information([[0.25, 0.25], [0.25, 0.25]], base=2)
        Array(0., dtype=float32)
    """
    pxy, out_dtype = _prepare(pxy)
    return _base.finish(_mutual_information_jit(pxy), base, out_dtype)
