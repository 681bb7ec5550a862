"""The Nemenman–Shafee–Bialek (NSB) entropy estimate: posterior mean and standard deviation."""

from __future__ import annotations

import functools
import numbers
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from infolib import _base

_digamma = jax.scipy.special.digamma
_gammaln = jax.scipy.special.gammaln


_SHIFT = 10  # ψ₁(x) = Σ_{j<10} 1/(x + j)² + ψ₁(x + 10), and x + 10 ≥ 10 takes the series


def _trigamma(x: jax.Array) -> jax.Array:
    """ψ₁(x) for x > 0: the recurrence up to x + 10, then the asymptotic series (~1e−16).

    Cheaper to compile than ``polygamma(1, x)``, which goes through the Hurwitz zeta function.
    """
    shifted = x + _SHIFT
    head = sum(1 / (x + j) ** 2 for j in range(_SHIFT))
    return head + 1 / shifted + _trigamma_tail(shifted)


# The integral over t = log β: a coarse grid finds where the log-integrand is within _DROP of
# its maximum, a fine grid on that interval narrows it, and Gauss–Legendre integrates there.
# t = log β from −50 to 50 (−30 to 30 in float32, where (Kβ)² must not overflow).
_T_RANGE = {np.dtype(np.float64): (-50.0, 50.0), np.dtype(np.float32): (-30.0, 30.0)}
_COARSE = 1001
_FINE = 1001
_DROP = 50.0  # e^−50 ≈ 2e−22 of the peak is left out on either side
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(256)
_STIRLING_FROM = 10.0  # x at and above which the Stirling forms below are used


def _stirling_correction(x: jax.Array) -> jax.Array:
    """lgamma(x) − [(x − ½) log x − x + ½ log 2π] for x ≥ 10, to ~1e−16 relative."""
    y = 1 / (x * x)
    series = 1 / 12 + y * (-1 / 360 + y * (1 / 1260 + y * (-1 / 1680 + y * (1 / 1188))))
    return series / x


def _lgamma_ratio(c: jax.Array, x: jax.Array) -> jax.Array:
    """g(c, x) = lgamma(x + c) − lgamma(x) − c log x, for c ≥ 0 and x > 0.

    For x ≥ 10 as (x + c − ½) log1p(c/x) − c plus the Stirling corrections: absolute error
    ~eps·c however large x is, where the difference of the two lgammas loses eps·x log x.
    """
    big = x >= _STIRLING_FROM
    xb = jnp.where(big, x, _STIRLING_FROM)
    xs = jnp.where(big, 1.0, x)
    stirling = (
        (xb + c - 0.5) * jnp.log1p(c / xb)
        - c
        + _stirling_correction(xb + c)
        - _stirling_correction(xb)
    )
    direct = _gammaln(xs + c) - _gammaln(xs) - c * jnp.log(xs)
    return jnp.where(big, stirling, direct)


def _trigamma_tail(y: jax.Array) -> jax.Array:
    """ψ₁(y) − 1/y for y ≥ 10, by the asymptotic series (Bernoulli numbers)."""
    z = 1 / (y * y)
    odd = 1 / 6 + z * (-1 / 30 + z * (1 / 42 + z * (-1 / 30 + z * (5 / 66 + z * (-691 / 2730)))))
    return 0.5 * z + odd * z / y


def _log_prior_weight(t: jax.Array, k: jax.Array) -> jax.Array:
    """log(β · dξ/dβ) at β = e^t, with ξ(β) = ψ(Kβ + 1) − ψ(β + 1) the prior mean entropy.

    dξ/dβ = K ψ₁(Kβ + 1) − ψ₁(β + 1). For β + 1 ≥ 10 the two leading terms 1/β cancel, so
    they are combined exactly, (K − 1)/((Kβ + 1)(β + 1)), and the tails of ψ₁ added.
    """
    beta = jnp.exp(t)
    y1, y2 = k * beta + 1, beta + 1
    big = y2 >= _STIRLING_FROM
    y1b, y2b = jnp.where(big, y1, 2 * _STIRLING_FROM), jnp.where(big, y2, _STIRLING_FROM)
    tail = (k - 1) / (y1b * y2b) + k * _trigamma_tail(y1b) - _trigamma_tail(y2b)
    y1s, y2s = jnp.where(big, 2.0, y1), jnp.where(big, 1.0, y2)
    direct = k * _trigamma(y1s) - _trigamma(y2s)
    return t + jnp.log(jnp.where(big, tail, direct))


def _log_integrand(t: jax.Array, counts: jax.Array, n: jax.Array, k: jax.Array) -> jax.Array:
    """log of prior weight × likelihood Γ(Kβ)/Γ(n + Kβ) Π Γ(c_i + β)/Γ(β), up to −n log K.

    ``t`` has shape (G,), ``counts`` (L,); empty bins add 0 to the likelihood's log.
    """
    beta = jnp.exp(t)[:, None]
    log_like = jnp.sum(_lgamma_ratio(counts[None, :], beta), axis=-1)
    log_like = log_like - _lgamma_ratio(n, k * beta[:, 0])
    return _log_prior_weight(t, k) + log_like


def _moments_given_beta(
    t: jax.Array, counts: jax.Array, n: jax.Array, k: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """E[H | c, β] and Var[H | c, β] under the Dirichlet(β) posterior (Wolpert & Wolf, 1995).

    With a_i = c_i + β and A = n + Kβ: E[H] = ψ(A + 1) − Σ (a_i/A) ψ(a_i + 1), and
    E[H²] = [Σ_{i≠j} a_i a_j (e_i e_j − ψ₁(A + 2)) + Σ_i a_i (a_i + 1)
    ((e_i + 1/(a_i + 1))² + ψ₁(a_i + 2) − ψ₁(A + 2))] / (A (A + 1)), e_i = ψ(a_i + 1) − ψ(A + 2),
    the sum over i ≠ j taken as (Σ a e)² − Σ (a e)². The K − L bins beyond ``counts`` are
    empty (a_i = β) and are added in closed form.
    """
    beta = jnp.exp(t)
    extra = k - counts.shape[-1]
    a = counts[None, :] + beta[:, None]
    big_a = n + k * beta
    b = beta  # an empty bin
    psi_a1, psi_b1 = _digamma(a + 1), _digamma(b + 1)
    mean_h = _digamma(big_a + 1) - (jnp.sum(a * psi_a1, axis=-1) + extra * b * psi_b1) / big_a

    psi_big2, tri_big2 = _digamma(big_a + 2), _trigamma(big_a + 2)
    e_a, e_b = psi_a1 - psi_big2[:, None], psi_b1 - psi_big2
    s1 = jnp.sum(a * e_a, axis=-1) + extra * b * e_b
    s2 = jnp.sum((a * e_a) ** 2, axis=-1) + extra * (b * e_b) ** 2
    sa2 = jnp.sum(a * a, axis=-1) + extra * b * b
    cross = s1 * s1 - s2 - tri_big2 * (big_a * big_a - sa2)

    def diagonal(a, e, tri_big2):
        f = e + 1 / (a + 1)
        return a * (a + 1) * (f * f + _trigamma(a + 2) - tri_big2)

    diag = jnp.sum(diagonal(a, e_a, tri_big2[:, None]), axis=-1)
    diag = diag + extra * diagonal(b, e_b, tri_big2)
    second = (cross + diag) / (big_a * (big_a + 1))
    return mean_h, second - mean_h * mean_h


def _threshold_interval(t: jax.Array, log_f: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The smallest grid interval, widened by one step, outside which log_f < max − _DROP."""
    step = t[1] - t[0]
    keep = log_f >= jnp.max(log_f) - _DROP
    lo = jnp.min(jnp.where(keep, t, jnp.inf)) - step
    hi = jnp.max(jnp.where(keep, t, -jnp.inf)) + step
    return lo, hi


def _nsb_row(counts: jax.Array, k: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(posterior mean, posterior std) of the entropy in nats, for one count vector."""
    n = jnp.sum(counts)
    dtype = counts.dtype
    t = jnp.linspace(*_T_RANGE[np.dtype(dtype)], _COARSE, dtype=dtype)
    lo, hi = _threshold_interval(t, _log_integrand(t, counts, n, k))
    t = jnp.linspace(0.0, 1.0, _FINE, dtype=dtype) * (hi - lo) + lo
    lo, hi = jax.lax.stop_gradient(_threshold_interval(t, _log_integrand(t, counts, n, k)))
    half = (hi - lo) / 2
    t = (lo + hi) / 2 + half * jnp.asarray(_NODES, dtype)
    log_f = _log_integrand(t, counts, n, k)
    w = jnp.asarray(_WEIGHTS, dtype) * jnp.exp(log_f - jax.lax.stop_gradient(jnp.max(log_f)))
    w = w / jnp.sum(w)
    mean_h, var_h = _moments_given_beta(t, counts, n, k)
    # A node of weight 0 (the integrand underflowed) adds nothing, even where its moments do
    # not exist in floating point.
    mean_h, var_h = jnp.where(w > 0, mean_h, 0), jnp.where(w > 0, var_h, 0)
    mean = jnp.sum(w * mean_h)
    # Var H = E_β[Var(H | β)] + Var_β(E[H | β]), each term non-negative.
    variance = jnp.sum(w * var_h) + jnp.sum(w * (mean_h - mean) ** 2)
    std = jnp.sqrt(jnp.maximum(variance, 0))
    nan = jnp.isnan(n)
    return jnp.where(nan, jnp.nan, mean), jnp.where(nan, jnp.nan, std)


@functools.partial(jax.jit, static_argnums=(1,))
def _nsb_nats(counts: jax.Array, axis: int, k: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The estimate along ``axis``; K is traced, so one compilation serves every K ≥ 2."""
    moved = jnp.moveaxis(counts, axis, -1)
    batch = moved.shape[:-1]
    flat = moved.reshape(-1, moved.shape[-1])
    mean, std = jax.lax.map(lambda c: _nsb_row(c, k), flat, batch_size=16)
    return mean.reshape(batch), std.reshape(batch)


@functools.partial(jax.jit, static_argnums=(1,))
def _certain_zero(counts: jax.Array, axis: int) -> tuple[jax.Array, jax.Array]:
    """K = 1: the entropy is 0 with certainty (NaN for a NaN count)."""
    zero = 0 * jnp.sum(counts, axis=axis)
    return zero, zero


class NSBEstimate(NamedTuple):
    """The NSB posterior mean and standard deviation of the entropy (in the chosen base)."""

    mean: jax.Array
    std: jax.Array


def nsb_entropy(
    counts: ArrayLike,
    *,
    n_categories: int | None = None,
    axis: int = -1,
    base: float | None = None,
) -> NSBEstimate:
    r"""Nemenman–Shafee–Bialek (NSB) entropy estimate: posterior mean and standard deviation.

    A mixture of symmetric Dirichlet(β) priors on the K = ``n_categories`` probabilities,
    weighted so that the prior on the entropy's prior mean
    :math:`\xi(\beta) = \psi(K\beta + 1) - \psi(\beta + 1)` is uniform on [0, log K]
    (Nemenman, Shafee & Bialek, 2002):

    .. math::

        \hat H_{NSB} = \frac{\int_0^\infty \frac{d\xi}{d\beta}\, P(c \mid \beta)\,
        E[H \mid c, \beta]\, d\beta}{\int_0^\infty \frac{d\xi}{d\beta}\, P(c \mid \beta)\,
        d\beta}, \qquad
        P(c \mid \beta) \propto \frac{\Gamma(K\beta)}{\Gamma(n + K\beta)}
        \prod_i \frac{\Gamma(c_i + \beta)}{\Gamma(\beta)},

    with :math:`E[H \mid c, \beta] = \psi(A + 1) - \sum_i \frac{a_i}{A}\psi(a_i + 1)`,
    :math:`a_i = c_i + \beta`, :math:`A = n + K\beta`, and the posterior second moment of
    Wolpert & Wolf (1995) for the standard deviation
    (:math:`\operatorname{Var} H = E_\beta[\operatorname{Var}(H \mid \beta)]
    + \operatorname{Var}_\beta(E[H \mid \beta])`).

    The integral is over t = log β by deterministic quadrature with fixed nodes, so it
    jits and vmaps: a grid of 1001 points on t ∈ [−50, 50] ([−30, 30] in float32) and a
    second grid of 1001 on the interval it finds locate where the integrand is within
    e⁻⁵⁰ of its peak, and 256-point Gauss–Legendre integrates there. Against adaptive
    float64 quadrature (``scipy.integrate.quad`` to 1e−13) the mean and the std agree to
    1e−10 relative in float64 (tested from n = 0 to n = 10⁴, K up to 10⁴); in float32
    to about 1e−4. The posterior over β is assumed unimodal (the usual case).

    Boundaries: K = 1 gives (0, 0); with no observations the posterior is the prior
    (mean (log K)/2). Bins beyond the given ones up to K are empty. The gradient with
    respect to the counts is that of the quadrature (the interval held fixed).

    Args:
        counts: non-negative counts along ``axis`` (whole numbers, as the Dirichlet
            likelihood is written for them; floats are accepted).
        n_categories: K, the number of possible categories, a Python int at least the
            size of ``axis`` (unobserved categories are empty bins); None (the default)
            for the size of ``axis``.
        axis: the bin axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        ``NSBEstimate(mean, std)``, each with ``axis`` reduced (a named tuple of arrays).

    Example:
        >>> import infolib
        >>> mean, std = infolib.nsb_entropy([0, 0], n_categories=2)  # the prior on [0, log 2]
        >>> round(float(mean), 6)  # (log 2)/2
        0.346574
    """
    (counts,), out_dtype = _base.as_float(counts)
    axis = _base.check_event_axis(counts, axis, "counts")
    if n_categories is None:
        n_categories = counts.shape[axis]
    if not isinstance(n_categories, numbers.Integral) or isinstance(n_categories, bool):
        raise TypeError(f"n_categories must be a Python int, got {n_categories!r}")
    if n_categories < max(counts.shape[axis], 1):
        raise ValueError(
            f"n_categories={n_categories} is less than the {counts.shape[axis]} bins of counts "
            f"along axis {axis} (shape {tuple(counts.shape)})"
        )
    if n_categories == 1:
        mean, std = _certain_zero(counts, axis)
    else:
        mean, std = _nsb_nats(counts, axis, jnp.asarray(n_categories, counts.dtype))
    return NSBEstimate(_base.finish(mean, base, out_dtype), _base.finish(std, base, out_dtype))
