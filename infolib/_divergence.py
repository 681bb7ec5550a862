"""Kullback–Leibler and Jensen–Shannon divergences."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from infolib import _base


def kl_divergence(
    p: ArrayLike, q: ArrayLike, *, axis: int = -1, base: float | None = None
) -> jax.Array:
    r"""Kullback–Leibler divergence of ``q`` from the reference ``p``.

    .. math::

        D_{KL}(p \| q) = \sum_i p_i \log \frac{p_i}{q_i},

    where a term with :math:`p_i = 0` is 0 (also if :math:`q_i = 0`), and the
    divergence is +inf if :math:`q_i = 0 < p_i` for some i. It is not symmetric: the
    reverse divergence :math:`D_{KL}(q \| p)` is ``kl_divergence(q, p)``.

    Args:
        p: reference probabilities along ``axis`` (the "true" distribution).
        q: approximating probabilities, of the same shape.
        axis: the event axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The divergence, with ``axis`` reduced. Gradients: ∂/∂q_i = −p_i/q_i (0 where
        p_i = 0) and ∂/∂p_i = log(p_i/q_i) + 1 (−inf at p_i = 0 < q_i, never NaN). For
        distributions that are softmaxes, :func:`kl_divergence_with_logits` has finite
        gradients everywhere.

    Example:
        >>> import infolib
        >>> infolib.kl_divergence([0.5, 0.5], [0.25, 0.75], base=2)
        Array(0.20751876, dtype=float32)
        >>> infolib.kl_divergence([0.5, 0.5], [1.0, 0.0])
        Array(inf, dtype=float32)
    """
    (p, q), out_dtype = _base.as_float(p, q)
    _base.check_same_shape(p=p, q=q)
    axis = _base.check_event_axis(p, axis, "p")
    return _base.finish(jnp.sum(_base.rel_entr(p, q), axis=axis), base, out_dtype)


def kl_divergence_with_logits(
    p_logits: ArrayLike, q_logits: ArrayLike, *, axis: int = -1, base: float | None = None
) -> jax.Array:
    r"""Kullback–Leibler divergence between two softmaxes, computed in log space.

    .. math::

        D_{KL}(p \| q) = \sum_i p_i (\log p_i - \log q_i), \qquad
        p = \operatorname{softmax}(a), \; q = \operatorname{softmax}(b).

    A logit of −inf masks a class. A class masked in ``p`` adds 0; a class masked in
    ``q`` but not in ``p`` makes the divergence +inf. Gradients are finite wherever the
    value is, also where a softmax underflows to 0:
    ∂/∂a_i = p_i (log p_i − log q_i − D) and ∂/∂b_i = q_i − p_i.

    Args:
        p_logits: logits of the reference distribution along ``axis``.
        q_logits: logits of the approximating distribution, of the same shape.
        axis: the event axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The divergence, with ``axis`` reduced.

    Example:
        >>> import jax.numpy as jnp
        >>> import infolib
        >>> a = jnp.log(jnp.array([0.5, 0.5]))
        >>> b = jnp.log(jnp.array([0.25, 0.75]))
        >>> infolib.kl_divergence_with_logits(a, b, base=2)
        Array(0.2075187, dtype=float32)
    """
    (a, b), out_dtype = _base.as_float(p_logits, q_logits)
    _base.check_same_shape(p_logits=a, q_logits=b)
    axis = _base.check_event_axis(a, axis, "p_logits")
    return _base.finish(_softmax_kl_divergence(a, b, axis), base, out_dtype)


def _log_softmaxes(a: jax.Array, b: jax.Array, axis: int) -> tuple[jax.Array, jax.Array]:
    log_p = _base.log_softmax_from(a, *_base.log_normalizer(a, axis))
    log_q = _base.log_softmax_from(b, *_base.log_normalizer(b, axis))
    return log_p, log_q


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _softmax_kl_divergence(a: jax.Array, b: jax.Array, axis: int) -> jax.Array:
    """Σ p (log p − log q) with p, q the softmaxes of a, b; +inf where log q = −inf < log p.

    The log-softmaxes are never written out as arrays: the terms are computed from the
    logits and the per-row maxima and log-sum-exps, in one pass that feeds the sum.
    """
    log_p, log_q = _log_softmaxes(a, b, axis)
    outside_q = (log_p > -jnp.inf) & (log_q == -jnp.inf)
    terms = jnp.where(outside_q, jnp.inf, _base.xmul(jnp.exp(log_p), log_p - log_q))
    return jnp.sum(terms, axis=axis)


def _softmax_kl_divergence_jvp(axis, primals, tangents):
    a, b = primals
    da, db = tangents
    out = _softmax_kl_divergence(a, b, axis)
    log_p, log_q = _log_softmaxes(a, b, axis)
    p = jnp.exp(log_p)
    d = jnp.expand_dims(out, axis)
    finite = d < jnp.inf
    # ∂/∂a = p (log p − log q − D), 0 where p = 0; ∂/∂b = q − p. A row whose divergence is
    # +inf has no derivative; it gets 0, as the value does not move.
    d_a = jnp.where(finite, _base.xmul(p, log_p - log_q - jnp.where(finite, d, 0)), 0)
    d_b = jnp.where(finite, jnp.exp(log_q) - p, 0)
    return out, _base.tangent(
        out,
        (da, lambda t: jnp.sum(t * d_a, axis=axis)),
        (db, lambda t: jnp.sum(t * d_b, axis=axis)),
    )


_softmax_kl_divergence.defjvp(_softmax_kl_divergence_jvp, symbolic_zeros=True)


@jax.custom_jvp
def _js_terms(p: jax.Array, q: jax.Array) -> jax.Array:
    """½[p log(p/m) + q log(q/m)], m = (p + q)/2, elementwise; 0 where p = q = 0."""
    m = (p + q) / 2
    return (_base.rel_entr(p, m) + _base.rel_entr(q, m)) / 2


def _js_terms_jvp(primals, tangents):
    p, q = primals
    dp, dq = tangents
    out = _js_terms(p, q)
    # ∂/∂p = ½ log(2p/(p+q)); where p = q = 0, moving p alone gives p/m = 2.
    s = p + q
    empty = s == 0
    d_p = jnp.log(jnp.where(empty, 2, 2 * p / jnp.where(empty, 1, s))) / 2
    d_q = jnp.log(jnp.where(empty, 2, 2 * q / jnp.where(empty, 1, s))) / 2
    return out, _base.tangent(out, (dp, lambda t: t * d_p), (dq, lambda t: t * d_q))


_js_terms.defjvp(_js_terms_jvp, symbolic_zeros=True)


def js_divergence(
    p: ArrayLike, q: ArrayLike, *, axis: int = -1, base: float | None = None
) -> jax.Array:
    r"""Jensen–Shannon divergence between ``p`` and ``q``.

    .. math::

        D_{JS}(p, q) = \tfrac12 D_{KL}(p \| m) + \tfrac12 D_{KL}(q \| m), \qquad
        m = \tfrac12 (p + q).

    This is the divergence, not the Jensen–Shannon *distance* (its square root, which
    ``scipy.spatial.distance.jensenshannon`` returns). It is symmetric, always finite,
    and lies in [0, log 2]: at most 1 bit. Gradient: ∂/∂p_i = ½ log(2p_i/(p_i + q_i)),
    −inf at p_i = 0 < q_i, and ½ log 2 where p_i = q_i = 0.

    Args:
        p: probabilities along ``axis``.
        q: probabilities, of the same shape.
        axis: the event axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The divergence, with ``axis`` reduced.

    Example:
        >>> import infolib
        >>> infolib.js_divergence([1.0, 0.0], [0.0, 1.0], base=2)
        Array(1., dtype=float32)
    """
    (p, q), out_dtype = _base.as_float(p, q)
    _base.check_same_shape(p=p, q=q)
    axis = _base.check_event_axis(p, axis, "p")
    return _base.finish(jnp.sum(_js_terms(p, q), axis=axis), base, out_dtype)
