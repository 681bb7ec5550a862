"""Self-information and Shannon entropy."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from infolib import _base


def self_information(p: ArrayLike, *, base: float | None = None) -> jax.Array:
    r"""Self-information (surprisal) of outcomes with probability ``p``, elementwise.

    .. math::

        I(p) = -\log p, \qquad I(0) = +\infty, \quad I(1) = 0.

    Exact also for subnormal p (which XLA on the CPU otherwise reads as 0).

    Args:
        p: probabilities in [0, 1]; any shape.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        An array of the shape of ``p``. Its derivative is −1/p (−inf at p = 0).

    Example:
        >>> import infolib
        >>> infolib.self_information([0.5, 0.25, 1.0], base=2)
        Array([1., 2., 0.], dtype=float32)
    """
    (p,), out_dtype = _base.as_float(p)
    return _base.finish(_self_information(p), base, out_dtype)


@jax.jit
def _self_information(p: jax.Array) -> jax.Array:
    return -_base.log(p)


def entropy(p: ArrayLike, *, axis: int = -1, base: float | None = None) -> jax.Array:
    r"""Shannon entropy of a distribution given by its probabilities.

    .. math::

        H(p) = -\sum_i p_i \log p_i, \qquad 0 \log 0 = 0.

    ``p`` is used as given: it is not renormalised (wrap the call in :func:`checked` to
    have rows that do not sum to 1 reported).

    Args:
        p: probabilities along ``axis``; other axes are batch axes.
        axis: the event axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The entropy, with ``axis`` reduced. Its gradient is −(log p_i + 1), which is +inf
        where p_i = 0 (the true one-sided derivative, never NaN). For a distribution that
        is a softmax, use :func:`entropy_with_logits`: its gradient is finite everywhere.

    Example:
        >>> import infolib
        >>> infolib.entropy([0.5, 0.5], base=2)
        Array(1., dtype=float32)
        >>> infolib.entropy([[1.0, 0.0], [0.25, 0.75]])
        Array([0.        , 0.56233513], dtype=float32)
    """
    (p,), out_dtype = _base.as_float(p)
    axis = _base.check_event_axis(p, axis, "p")
    return _base.finish(_entropy(p, axis), base, out_dtype)


# Up to this many outcomes, a derivative pass takes the value from the exact form (see the
# JVP below); measured in BENCHMARKS.md §1.
_FEW_OUTCOMES = 256


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _entropy_nats(p: jax.Array, axis: int) -> jax.Array:
    """−Σ p log p along ``axis``: fused fast forms where they are exact, else the exact one.

    First −Σ p·log p, select-free (one fused kernel), exact for p > 0; if an entry is not
    finite (a zero, a subnormal, NaN), −Σ p·log(p + [p = 0]) with a check that no p is
    subnormal (read as 0); if that fails too, :func:`infolib._base.xlogy`.
    """

    def exact() -> jax.Array:
        return -jnp.sum(_base.flat(_base.xlogy, p, p), axis=axis)

    def with_zeros() -> jax.Array:
        value = -jnp.sum(p * jnp.log(p + (1 - _base.indicator(p))), axis=axis)
        return _base.guarded(value, exact, ok=~_base.any_subnormal(p))

    return _base.guarded(-jnp.sum(p * jnp.log(p), axis=axis), with_zeros)


@_entropy_nats.defjvp
def _entropy_jvp(axis, primals, tangents):
    (p,), (dp,) = primals, tangents
    # ∂/∂p = −(log p + 1): +inf at p = 0 (the one-sided derivative), exact for subnormal p.
    d_p = _base.flat(lambda p: -(_base.log(p) + 1), p)
    if p.shape[axis] <= _FEW_OUTCOMES:
        # Few outcomes: the exact form, flattened, is as fast, and needs no guard or cond.
        out = -jnp.sum(_base.flat(_base.xlogy, p, p), axis=axis)
    else:
        out = _entropy_nats(p, axis)
    return out, jnp.sum(dp * d_p, axis=axis)


_entropy = jax.jit(_entropy_nats, static_argnums=(1,))


def entropy_with_logits(
    logits: ArrayLike, *, axis: int = -1, base: float | None = None
) -> jax.Array:
    r"""Shannon entropy of ``softmax(logits)``, computed in log space.

    Argument order: the logits alone (the event axis is ``axis``).

    .. math::

        H = -\sum_i p_i \log p_i, \qquad
        \log p_i = z_i - \operatorname{logsumexp}(z).

    A logit of −inf masks its class: p_i = 0, the class adds 0, and its gradient is 0.
    The gradient with respect to the logits is :math:`-p_i (\log p_i + H)`, finite even
    where the softmax underflows.

    Args:
        logits: unnormalised log-probabilities along ``axis``; −inf for masked classes.
        axis: the event axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The entropy, with ``axis`` reduced.

    Example:
        >>> import jax.numpy as jnp
        >>> import infolib
        >>> infolib.entropy_with_logits(jnp.array([0.0, 0.0, -jnp.inf]), base=2)
        Array(1., dtype=float32)
    """
    (logits,), out_dtype = _base.as_float(logits)
    axis = _base.check_classes(logits, axis, "logits")
    log_p = jax.nn.log_softmax(logits, axis=axis)
    h = jnp.sum(_base.entropy_terms_from_log(log_p), axis=axis)
    return _base.finish(h, base, out_dtype)
