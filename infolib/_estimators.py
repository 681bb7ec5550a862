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
    return _base.finish(_miller_madow_nats(counts, axis), base, out_dtype)


@functools.partial(jax.jit, static_argnums=(1,))
def _miller_madow_nats(counts: jax.Array, axis: int) -> jax.Array:
    h, n = _plugin_nats(counts, axis)
    occupied = jnp.sum(counts > 0, axis=axis).astype(h.dtype)
    correction = jnp.where(n == 0, 0, (occupied - 1) / (2 * jnp.where(n == 0, 1, n)))
    return h + correction


# ---------------------------------------------------------------------------
# Bias-corrected estimators
# ---------------------------------------------------------------------------


def _prepare_counts(counts: ArrayLike, axis: int) -> tuple[jax.Array, int, jnp.dtype]:
    (counts,), out_dtype = _base.as_float(counts)
    return counts, _base.check_event_axis(counts, axis, "counts"), out_dtype


def _safe(condition: jax.Array, x: jax.Array, fill: float) -> jax.Array:
    """``x`` where ``condition``, else ``fill``: the inner half of the double ``where``."""
    return jnp.where(condition, x, jnp.asarray(fill, x.dtype))


def _nan_where_nan(h: jax.Array, n: jax.Array) -> jax.Array:
    """NaN where the total count is NaN (a NaN count), whatever the selects made of it."""
    return jnp.where(jnp.isnan(n), jnp.nan, h)


def _xlogx(x: jax.Array) -> jax.Array:
    """x log x with 0 log 0 = 0 by a double ``where``: its derivative at 0 is taken as 0."""
    positive = x > 0
    return jnp.where(positive, x * jnp.log(_safe(positive, x, 1)), 0)


@functools.partial(jax.jit, static_argnums=(1,))
def _jackknife_nats(counts: jax.Array, axis: int) -> jax.Array:
    n = jnp.sum(counts, axis=axis, keepdims=True)
    s = jnp.sum(_xlogx(counts), axis=axis, keepdims=True)  # Σ c log c
    many = n >= 2
    n_safe, m_safe = _safe(many, n, 2), _safe(many, n - 1, 1)
    h = jnp.log(n_safe) - s / n_safe
    # Leaving one observation of bin k out: Σ c log c loses c_k log c_k, gains (c_k−1) log(c_k−1).
    c_less = _safe(counts >= 1, counts - 1, 0)
    s_out = s - _xlogx(counts) + _xlogx(c_less)
    h_out = jnp.log(m_safe) - s_out / m_safe
    mean_out = jnp.sum(counts * h_out, axis=axis, keepdims=True) / n_safe
    jackknife = n_safe * h - (n_safe - 1) * mean_out
    out = jnp.where(many, jackknife, 0)
    return _nan_where_nan(jnp.squeeze(out, axis), jnp.squeeze(n, axis))


def jackknife_entropy(counts: ArrayLike, *, axis: int = -1, base: float | None = None) -> jax.Array:
    r"""Jackknife bias-corrected entropy estimate from counts.

    .. math::

        \hat H_{JK} = n \hat H - \frac{n - 1}{n} \sum_{j=1}^{n} \hat H_{-j}
        = n \hat H - \frac{n - 1}{n} \sum_i c_i \hat H_{-i},

    where :math:`\hat H` is the plug-in estimate and :math:`\hat H_{-i}` the plug-in
    estimate with one observation of bin i left out (Zahl, 1977; Efron & Stein, 1981).
    Computed in O(K) per row: leaving one observation of bin i out changes
    :math:`\sum c \log c` by :math:`(c_i - 1)\log(c_i - 1) - c_i \log c_i`.

    With n = 0 or n = 1 it is 0 (with one observation each leave-one-out estimate is
    empty). Counts are meant to be whole numbers; a count in (0, 1) is left out as a
    whole. The gradient is finite everywhere: at a count of exactly 0 or 1, where
    x log x has an infinite one-sided derivative, the affected term's is taken as 0.

    Args:
        counts: non-negative counts along ``axis`` (integers or floats).
        axis: the bin axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The estimate, with ``axis`` reduced.

    Example:
        >>> import infolib
        >>> infolib.jackknife_entropy([2, 2])  # 4 log 2 − 3 (log 3 − ⅔ log 2)
        Array(0.86304617, dtype=float32)
    """
    counts, axis, out_dtype = _prepare_counts(counts, axis)
    return _base.finish(_jackknife_nats(counts, axis), base, out_dtype)


def _grassberger_g(c: jax.Array) -> jax.Array:
    """G(c) = ψ(c) + ½ cos(πc) (ψ((c + 1)/2) − ψ(c/2)), for c > 0 (cos(πc) = (−1)^c)."""
    half = jax.scipy.special.digamma((c + 1) / 2) - jax.scipy.special.digamma(c / 2)
    return jax.scipy.special.digamma(c) + 0.5 * jnp.cos(jnp.pi * c) * half


@functools.partial(jax.jit, static_argnums=(1,))
def _grassberger_nats(counts: jax.Array, axis: int) -> jax.Array:
    n = jnp.sum(counts, axis=axis, keepdims=True)
    occupied = counts > 0
    terms = jnp.where(occupied, counts * _grassberger_g(_safe(occupied, counts, 1)), 0)
    some = n > 0
    n_safe = _safe(some, n, 1)
    h = jnp.log(n_safe) - jnp.sum(terms, axis=axis, keepdims=True) / n_safe
    out = jnp.where(some, h, 0)
    return _nan_where_nan(jnp.squeeze(out, axis), jnp.squeeze(n, axis))


def grassberger_entropy(
    counts: ArrayLike, *, axis: int = -1, base: float | None = None
) -> jax.Array:
    r"""Grassberger (2003) bias-corrected entropy estimate from counts.

    .. math::

        \hat H_G = \log n - \frac{1}{n} \sum_i c_i\, G(c_i), \qquad
        G(c) = \psi(c) + \tfrac12 (-1)^c \left[\psi\!\left(\tfrac{c + 1}{2}\right)
        - \psi\!\left(\tfrac{c}{2}\right)\right],

    with ψ the digamma function (Grassberger, 2003; as DiscreteEntropy.jl).
    :math:`(-1)^c` is taken as :math:`\cos(\pi c)`, which equals it at whole counts and
    makes the estimate smooth in the counts, so its gradient is finite wherever every
    count is positive; an empty bin adds 0. With n = 0 it is 0; a single observation
    gives :math:`-G(1) = \gamma + \log 2 \approx 1.27` nats, the formula's value.

    Args:
        counts: non-negative counts along ``axis`` (integers or floats).
        axis: the bin axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The estimate, with ``axis`` reduced.

    Example:
        >>> import infolib
        >>> infolib.grassberger_entropy([5, 5, 0])
        Array(0.90628064, dtype=float32)
    """
    counts, axis, out_dtype = _prepare_counts(counts, axis)
    return _base.finish(_grassberger_nats(counts, axis), base, out_dtype)


@functools.partial(jax.jit, static_argnums=(1,))
def _chao_shen_nats(counts: jax.Array, axis: int) -> jax.Array:
    n = jnp.sum(counts, axis=axis, keepdims=True)
    some = n > 0
    n_safe = _safe(some, n, 1)
    singletons = jnp.sum(counts == 1, axis=axis, keepdims=True).astype(counts.dtype)
    singletons = jnp.where(singletons == n, n - 1, singletons)  # all singletons: as R entropy
    coverage = 1 - singletons / n_safe
    pa = coverage * counts / n_safe
    inside = (pa > 0) & (pa < 1)
    pa_in = _safe(inside, pa, 0.5)
    # 1 − (1 − pa)^n, the probability that the bin is seen at all; 1 at pa = 1.
    seen = jnp.where(inside, -jnp.expm1(n_safe * jnp.log1p(-pa_in)), 1)
    terms = jnp.where(inside, -pa_in * jnp.log(pa_in) / seen, 0)
    out = jnp.where(some, jnp.sum(terms, axis=axis, keepdims=True), 0)
    return _nan_where_nan(jnp.squeeze(out, axis), jnp.squeeze(n, axis))


def chao_shen_entropy(counts: ArrayLike, *, axis: int = -1, base: float | None = None) -> jax.Array:
    r"""Chao–Shen coverage-adjusted entropy estimate from counts.

    .. math::

        \hat H_{CS} = -\sum_i \frac{\tilde p_i \log \tilde p_i}{1 - (1 - \tilde p_i)^n},
        \qquad \tilde p_i = \hat C\, \frac{c_i}{n}, \quad \hat C = 1 - \frac{f_1}{n},

    a Horvitz–Thompson sum with the Good–Turing coverage :math:`\hat C`, where
    :math:`f_1` is the number of bins seen once (Chao & Shen, 2003). As R's
    ``entropy::entropy.ChaoShen``, :math:`f_1 = n` is replaced by n − 1 so that the
    coverage is not 0. With n = 0 it is 0, and with n = 1 it is 0. :math:`f_1` is
    piecewise constant in the counts, so the gradient treats it as fixed.

    Args:
        counts: non-negative counts along ``axis`` (integers or floats).
        axis: the bin axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The estimate, with ``axis`` reduced.

    Example:
        >>> import infolib
        >>> infolib.chao_shen_entropy([5, 5, 0])
        Array(0.69382477, dtype=float32)
    """
    counts, axis, out_dtype = _prepare_counts(counts, axis)
    return _base.finish(_chao_shen_nats(counts, axis), base, out_dtype)


@functools.partial(jax.jit, static_argnums=(1,))
def _zhang_nats(counts: jax.Array, axis: int) -> jax.Array:
    n = jnp.sum(counts, axis=axis, keepdims=True)
    occupied = counts > 0
    some = n > 0
    n_safe = _safe(some, n, 1)
    digamma = jax.scipy.special.digamma
    gap = digamma(n_safe) - digamma(_safe(occupied, counts, 1))
    terms = jnp.where(occupied, counts / n_safe * gap, 0)
    out = jnp.where(some, jnp.sum(terms, axis=axis, keepdims=True), 0)
    return _nan_where_nan(jnp.squeeze(out, axis), jnp.squeeze(n, axis))


def zhang_entropy(counts: ArrayLike, *, axis: int = -1, base: float | None = None) -> jax.Array:
    r"""Zhang (2012) entropy estimate from counts, by its closed form.

    Zhang's estimator,

    .. math::

        \hat H_Z = \sum_{v=1}^{n-1} \frac{1}{v} \sum_i \hat p_i
        \prod_{j=0}^{v-1} \left(1 + \frac{1 - c_i}{n - 1 - j}\right),

    telescopes per bin (the inner sum over v stops at v = n − c_i, where the product
    reaches 0) to :math:`\sum_{v=c_i}^{n-1} 1/v`, so that

    .. math::

        \hat H_Z = \sum_i \frac{c_i}{n} \left[\psi(n) - \psi(c_i)\right],

    computed in O(K) with the digamma function ψ, and smooth in the counts (finite
    gradients wherever every count is positive). An empty bin adds 0; with n = 0 or
    n = 1 it is 0. Its bias decays faster than any power of 1/n (Zhang, 2012).

    Args:
        counts: non-negative counts along ``axis`` (integers or floats).
        axis: the bin axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The estimate, with ``axis`` reduced.

    Example:
        >>> import infolib
        >>> infolib.zhang_entropy([1, 1])  # ψ(2) − ψ(1) = 1
        Array(1., dtype=float32)
    """
    counts, axis, out_dtype = _prepare_counts(counts, axis)
    return _base.finish(_zhang_nats(counts, axis), base, out_dtype)


@functools.partial(jax.jit, static_argnums=(1,))
def _james_stein_nats(counts: jax.Array, axis: int) -> jax.Array:
    n = jnp.sum(counts, axis=axis, keepdims=True)
    k = counts.shape[axis]
    many = n > 1
    n_safe = _safe(many, n, 2)
    u = counts / n_safe
    target = 1.0 / k
    misfit = jnp.sum((u - target) ** 2, axis=axis, keepdims=True)
    fits = many & (misfit > 0)
    variance = (1 - jnp.sum(u * u, axis=axis, keepdims=True)) / (n_safe - 1)
    shrinkage = jnp.clip(variance / _safe(fits, misfit, 1), 0, 1)
    shrinkage = jnp.where(fits, shrinkage, 1)
    p = shrinkage * target + (1 - shrinkage) * u
    h = -jnp.sum(_base.xlogy(p, p), axis=axis)
    return _nan_where_nan(h, jnp.squeeze(n, axis))


def james_stein_entropy(
    counts: ArrayLike, *, axis: int = -1, base: float | None = None
) -> jax.Array:
    r"""James–Stein shrinkage entropy estimate from counts (Hausser & Strimmer, 2009).

    The plug-in entropy of the frequencies shrunk towards the uniform distribution on
    the K bins of ``axis``:

    .. math::

        \hat p_i = \lambda \frac{1}{K} + (1 - \lambda) \frac{c_i}{n}, \qquad
        \lambda = \min\left(1, \max\left(0,
        \frac{1 - \sum_i (c_i/n)^2}{(n - 1) \sum_i (1/K - c_i/n)^2}\right)\right),

    as R's ``entropy::entropy.shrink`` and pyitlib's ``estimator='JAMES-STEIN'``. Empty
    bins count: they are part of the support that is shrunk towards. λ = 1 (the uniform
    distribution, entropy log K) where n ≤ 1 or the frequencies are already uniform. The
    clip makes λ piecewise smooth in the counts.

    Args:
        counts: non-negative counts along ``axis`` (integers or floats).
        axis: the bin axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The estimate, with ``axis`` reduced.

    Example:
        >>> import infolib
        >>> infolib.james_stein_entropy([3, 1], base=2)  # λ = 1: shrunk to uniform
        Array(1., dtype=float32)
    """
    counts, axis, out_dtype = _prepare_counts(counts, axis)
    return _base.finish(_james_stein_nats(counts, axis), base, out_dtype)
