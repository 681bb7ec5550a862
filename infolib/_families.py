"""The Rényi and Tsallis families and the f-divergences, in log space.

The orders α → 1 (Shannon entropy, KL) are a removable 0/0 in the textbook forms. Near it,
with δ = α − 1 and u_i = ℓ_i − Σ_j p_j ℓ_j (ℓ the log-probabilities or log-ratios), the
identity log Σ p e^{δℓ} = δ Σ p ℓ + log1p(δA), A = Σ p u·exprel(δu), turns the quotient
into Σ p ℓ + A·logrel(δA), where exprel(x) = (e^x − 1)/x and logrel(y) = log1p(y)/y are
smooth with value 1 at 0: the value and its derivatives (in α and in p) are continuous
through α = 1, and equal the Shannon/KL forms there. Away from α = 1 a log-sum-exp
shifted by its maximum is exact, also at α = 0 and α = ∞.
"""

from __future__ import annotations

import functools
from typing import Literal

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from infolib import _base, _divergence

_NEAR_ONE = 0.25  # |α − 1| below which the series form is used
_NEAR_EXPONENT = 30.0  # ... while every |δ·u| is at most this (e^30 is far from overflow)
_SMALL = 1e-4  # |x| below which exprel and logrel are their Taylor polynomials


# ---------------------------------------------------------------------------
# Primitives
# ---------------------------------------------------------------------------


def _exprel(x: jax.Array) -> jax.Array:
    """(e^x − 1)/x, 1 at 0, 0 at −inf, +inf at +inf; smooth (double ``where`` at 0)."""
    small = jnp.abs(x) < _SMALL
    safe = jnp.where(small | jnp.isinf(x), 1.0, x)
    big = jnp.expm1(safe) / safe
    series = 1 + x * (0.5 + x / 6)
    return jnp.where(
        small, series, jnp.where(x == jnp.inf, jnp.inf, jnp.where(x == -jnp.inf, 0, big))
    )


def _logrel(y: jax.Array) -> jax.Array:
    """log1p(y)/y for y ≥ −1, 1 at 0; smooth (double ``where`` at 0)."""
    small = jnp.abs(y) < _SMALL
    safe = jnp.where(small, 1.0, y)
    series = 1 + y * (-0.5 + y / 3)
    return jnp.where(small, series, jnp.log1p(safe) / safe)


@jax.custom_jvp
def _log(p: jax.Array) -> jax.Array:
    """log p for p > 0, exact also for subnormal p; derivative 1/p."""
    return _base.log(p)


_log.defjvp(lambda primals, tangents: (_log(*primals), tangents[0] / primals[0]))


@jax.custom_jvp
def _log_ratio(p: jax.Array, q: jax.Array) -> jax.Array:
    """log(p/q) for p, q > 0, accurate as p → q (:func:`infolib._base.log_ratio`)."""
    return _base.log_ratio(_base.parts(p), _base.parts(q))


def _log_ratio_jvp(primals, tangents):
    p, q = primals
    dp, dq = tangents
    return _log_ratio(p, q), dp / p - dq / q


_log_ratio.defjvp(_log_ratio_jvp)


def _orders(alpha: ArrayLike, x: jax.Array, axis: int, name: str) -> jax.Array:
    """The order broadcast to the reduced shape of ``x``, with ``axis`` kept (size 1)."""
    alpha = jnp.asarray(alpha).astype(x.dtype)
    reduced = x.shape[:axis] + x.shape[axis + 1 :]
    try:
        alpha = jnp.broadcast_to(alpha, reduced)
    except ValueError:
        raise ValueError(
            f"{name} of shape {tuple(alpha.shape)} does not broadcast to the reduced shape "
            f"{reduced} (the input's shape {tuple(x.shape)} without axis {axis})"
        ) from None
    return jnp.expand_dims(alpha, axis)


def _log_probabilities(p: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(live, log p): live where p ≠ 0 (NaN is live, so that it propagates); log p finite
    where live and positive, 0 where not live (the inner half of a double ``where``)."""
    parts = _base.parts(p)
    positive = ~parts.zero & ~parts.negative  # NaN, whose sign bit is clear, too
    log_p = jnp.where(positive, _log(jnp.where(positive, p, 1.0)), 0)
    return ~parts.zero, jnp.where(parts.negative, jnp.nan, log_p)


# ---------------------------------------------------------------------------
# Rényi entropy
# ---------------------------------------------------------------------------


def _renyi_entropy_core(
    p: jax.Array, live: jax.Array, log_p: jax.Array, alpha: jax.Array, axis: int
) -> jax.Array:
    """H_α from the weights p, where they are nonzero (``live``), and log p (0 off ``live``).

    ``alpha`` keeps ``axis`` (size 1); the result has ``axis`` reduced.
    """
    sum_ = functools.partial(jnp.sum, axis=axis)
    delta = alpha - 1
    infinite = alpha == jnp.inf
    masked_log = jnp.where(live, log_p, -jnp.inf)
    # Near α = 1: −Σ p ℓ − A·logrel(δA).
    c = sum_(jnp.where(live, p * log_p, 0), keepdims=True)
    u = jnp.where(live, log_p - c, 0)
    near = (jnp.abs(delta) < _NEAR_ONE) & jnp.all(
        jnp.abs(delta * u) <= _NEAR_EXPONENT, axis, keepdims=True
    )
    d_near = jnp.where(near, delta, 0)
    a = sum_(jnp.where(live, p * u * _exprel(d_near * u), 0), keepdims=True)
    h_near = -c - a * _logrel(d_near * a)
    # Elsewhere: (α m + log Σ e^{α(ℓ − m)}) / (1 − α), m the largest log p.
    a_far = jnp.where(near | infinite, 2.0, alpha)
    m = jax.lax.stop_gradient(jnp.max(masked_log, axis=axis, keepdims=True))
    m = jnp.where(jnp.isfinite(m), m, 0)
    s = sum_(jnp.exp(jnp.where(live, a_far * (log_p - m), -jnp.inf)), keepdims=True)
    h_far = (a_far * m + jnp.log(s)) / (1 - a_far)
    # α = ∞: the min-entropy −log max p.
    h_inf = -jnp.max(masked_log, axis=axis, keepdims=True)
    h = jnp.where(infinite, h_inf, jnp.where(near, h_near, h_far))
    return jnp.squeeze(jnp.where(alpha < 0, jnp.nan, h), axis)


@functools.partial(jax.jit, static_argnums=(2,))
def _renyi_entropy_nats(p: jax.Array, alpha: jax.Array, axis: int) -> jax.Array:
    live, log_p = _log_probabilities(p)
    return _renyi_entropy_core(jnp.where(live, p, 0), live, log_p, alpha, axis)


def renyi_entropy(
    p: ArrayLike, alpha: ArrayLike, *, axis: int = -1, base: float | None = None
) -> jax.Array:
    r"""Rényi entropy of order α.

    .. math::

        H_\alpha(p) = \frac{1}{1 - \alpha} \log \sum_i p_i^\alpha, \qquad
        H_0 = \log |\{i : p_i > 0\}|, \quad H_1 = -\sum_i p_i \log p_i, \quad
        H_\infty = -\log \max_i p_i,

    the Hartley (max-)entropy, the Shannon entropy and the min-entropy at α = 0, 1, ∞,
    which are the limits of the formula. :math:`H_\alpha` is non-increasing in α. Computed
    in log space, continuously through α = 1 in value and gradient (see the module notes):
    for |α − 1| < ¼ by the series form, which equals :func:`infolib.entropy` at α = 1;
    elsewhere by a shifted log-sum-exp. The two agree to rounding for a distribution
    (Σp = 1; infolib never renormalises). Zero probabilities add nothing (0^α = 0, also
    at α = 0), with finite gradients where the true ones are; α < 0 or NaN gives NaN.

    Args:
        p: probabilities along ``axis``.
        alpha: the order α ≥ 0 (+inf allowed), a number or an array that broadcasts to
            the shape of ``p`` without ``axis``; differentiable (``jax.grad`` in α works).
        axis: the event axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The entropy, with ``axis`` reduced.

    Example:
        >>> import infolib
        >>> infolib.renyi_entropy([0.5, 0.25, 0.25], 2.0, base=2)  # −log₂(3/8)
        Array(1.4150375, dtype=float32)
        >>> infolib.renyi_entropy([0.5, 0.25, 0.25], float("inf"), base=2)
        Array(1., dtype=float32)
    """
    (p,), out_dtype = _base.as_float(p)
    axis = _base.check_event_axis(p, axis, "p")
    return _base.finish(
        _renyi_entropy_nats(p, _orders(alpha, p, axis, "alpha"), axis), base, out_dtype
    )


@functools.partial(jax.jit, static_argnums=(2,))
def _renyi_entropy_with_logits_nats(logits: jax.Array, alpha: jax.Array, axis: int) -> jax.Array:
    log_p = jax.nn.log_softmax(logits, axis=axis)
    live = logits > -jnp.inf
    safe = jnp.where(live, log_p, 0)
    return _renyi_entropy_core(
        jnp.where(live, jnp.exp(safe), 0), live | jnp.isnan(logits), safe, alpha, axis
    )


def renyi_entropy_with_logits(
    logits: ArrayLike, alpha: ArrayLike, *, axis: int = -1, base: float | None = None
) -> jax.Array:
    r"""Rényi entropy of order α of ``softmax(logits)``, from the log-softmax.

    :math:`H_\alpha(\operatorname{softmax}(z))` as in :func:`renyi_entropy`, with
    :math:`\log p = z - \operatorname{logsumexp}(z)` never exponentiated where it matters,
    so that classes with probabilities far below the smallest float still count at α < 1.
    A logit of −inf masks a class (gradient 0 there).

    Args:
        logits: logits along ``axis``.
        alpha: the order α ≥ 0 (+inf allowed), broadcasting to the shape without ``axis``.
        axis: the class axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The entropy, with ``axis`` reduced.

    Example:
        >>> import infolib
        >>> infolib.renyi_entropy_with_logits([0.0, 0.0, -float("inf")], 0.0, base=2)
        Array(1., dtype=float32)
    """
    (logits,), out_dtype = _base.as_float(logits)
    axis = _base.check_classes(logits, axis, "logits")
    alpha = _orders(alpha, logits, axis, "alpha")
    return _base.finish(_renyi_entropy_with_logits_nats(logits, alpha, axis), base, out_dtype)


def tsallis_entropy(
    p: ArrayLike, q: ArrayLike, *, axis: int = -1, base: float | None = None
) -> jax.Array:
    r"""Tsallis entropy of index q.

    .. math::

        S_q(p) = \frac{1 - \sum_i p_i^q}{q - 1}
        = H_q \operatorname{exprel}\big((1 - q) H_q\big), \qquad
        \operatorname{exprel}(x) = \frac{e^x - 1}{x},

    with :math:`H_q` the Rényi entropy (:func:`renyi_entropy`), in which form it is
    computed: continuous through q = 1, where it is the Shannon entropy; at q = 0 it is
    (number of nonzero p_i) − 1, and it tends to 0 as q → ∞. ``base`` divides the result
    by log(base), so that q → 1 gives the Shannon entropy in that base. q < 0 or NaN
    gives NaN.

    Args:
        p: probabilities along ``axis``.
        q: the index q ≥ 0 (+inf allowed), broadcasting to the shape without ``axis``.
        axis: the event axis.
        base: None (the natural unit), or a number > 1 to divide by its log.

    Returns:
        The entropy, with ``axis`` reduced.

    Example:
        >>> import infolib
        >>> infolib.tsallis_entropy([0.5, 0.25, 0.25], 2.0)  # 1 − 3/8
        Array(0.625, dtype=float32)
    """
    (p,), out_dtype = _base.as_float(p)
    axis = _base.check_event_axis(p, axis, "p")
    return _base.finish(_tsallis_nats(p, _orders(q, p, axis, "q"), axis), base, out_dtype)


@functools.partial(jax.jit, static_argnums=(2,))
def _tsallis_nats(p: jax.Array, q: jax.Array, axis: int) -> jax.Array:
    h = _renyi_entropy_nats(p, q, axis)
    q = jnp.squeeze(q, axis)
    infinite = q == jnp.inf  # S_∞ = 0 (NaN for a NaN input)
    x = (1 - jnp.where(infinite, 0, q)) * h
    return jnp.where(infinite, 0 * h, h * _exprel(x))


# ---------------------------------------------------------------------------
# Rényi divergence
# ---------------------------------------------------------------------------


def _renyi_divergence_core(
    p: jax.Array, live: jax.Array, log_p: jax.Array, r: jax.Array, alpha: jax.Array, axis: int
) -> jax.Array:
    """D_α(p‖q) from the weights p (nonzero where ``live``), log p and r = log(p/q), which is
    +inf where q = 0 < p (log p and r are 0 off ``live``)."""
    sum_ = functools.partial(jnp.sum, axis=axis)
    delta = alpha - 1
    infinite = alpha == jnp.inf
    outside = live & (r == jnp.inf)  # q = 0 < p
    r_finite = jnp.where(live & ~outside, r, 0)
    any_outside = jnp.any(outside, axis=axis, keepdims=True)
    # Near α = 1: c + A·logrel(δA), c = Σ p r the KL divergence.
    c = sum_(jnp.where(live, p * r_finite, 0), keepdims=True)
    u = jnp.where(live, r_finite - c, 0)
    small_exponents = jnp.all(jnp.abs(delta * u) <= _NEAR_EXPONENT, axis, keepdims=True)
    near = (jnp.abs(delta) < _NEAR_ONE) & ~any_outside & small_exponents
    d_near = jnp.where(near, delta, 0)
    a = sum_(jnp.where(live, p * u * _exprel(d_near * u), 0), keepdims=True)
    d_value_near = c + a * _logrel(d_near * a)
    # Elsewhere: log Σ p e^{δ r} / δ by a shifted log-sum-exp over the support of p;
    # terms with q = 0 are e^{−∞} = 0 for δ < 0 (α < 1) and make it +inf for δ > 0.
    d_far = jnp.where(near | infinite | (delta == 0), -0.5, delta)
    exponent = jnp.where(live & ~outside, log_p + d_far * r_finite, -jnp.inf)
    m = jax.lax.stop_gradient(jnp.max(exponent, axis=axis, keepdims=True))
    m = jnp.where(jnp.isfinite(m), m, 0)
    g = m + jnp.log(sum_(jnp.where(live & ~outside, jnp.exp(exponent - m), 0), keepdims=True))
    d_value_far = g / d_far
    # α = ∞: log max p/q.
    d_value_inf = jnp.max(jnp.where(live, r, -jnp.inf), axis=axis, keepdims=True)
    d = jnp.where(near, d_value_near, d_value_far)
    d = jnp.where(any_outside & (delta >= 0), jnp.inf, d)
    d = jnp.where(infinite, d_value_inf, d)
    nan = jnp.any(jnp.isnan(r) | jnp.isnan(p), axis=axis, keepdims=True) | jnp.isnan(alpha)
    return jnp.squeeze(jnp.where((alpha < 0) | nan, jnp.nan, d), axis)


def _log_ratios(p: jax.Array, q: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(live, log p, log(p/q)) for probabilities: live where p ≠ 0; r = +inf where
    q = 0 < p; NaN where either is NaN or negative; log p and r are 0 off ``live``."""
    pp, pq = _base.parts(p), _base.parts(q)
    live = ~pp.zero
    both = live & ~pq.zero & ~pp.negative & ~pq.negative
    safe_p, safe_q = jnp.where(both, p, 1.0), jnp.where(both, q, 1.0)
    r = jnp.where(both, _log_ratio(safe_p, safe_q), jnp.where(live & pq.zero, jnp.inf, 0))
    bad = jnp.isnan(p) | jnp.isnan(q) | pp.negative | pq.negative
    r = jnp.where(bad, jnp.nan, r)
    log_p = jnp.where(both, _log(safe_p), 0)
    return live, log_p, r


@functools.partial(jax.jit, static_argnums=(3,))
def _renyi_divergence_nats(p: jax.Array, q: jax.Array, alpha: jax.Array, axis: int) -> jax.Array:
    live, log_p, r = _log_ratios(p, q)
    return _renyi_divergence_core(jnp.where(live, p, 0), live, log_p, r, alpha, axis)


def renyi_divergence(
    p: ArrayLike, q: ArrayLike, alpha: ArrayLike, *, axis: int = -1, base: float | None = None
) -> jax.Array:
    r"""Rényi divergence of order α of ``q`` from the reference ``p``.

    .. math::

        D_\alpha(p \| q) = \frac{1}{\alpha - 1} \log \sum_i p_i^\alpha q_i^{1 - \alpha}
        = \frac{1}{\alpha - 1} \log \sum_i p_i\, e^{(\alpha - 1) \log(p_i / q_i)},

    over the i with :math:`p_i > 0`. Its limits: :math:`D_0 = -\log \sum_{p_i > 0} q_i`,
    :math:`D_1 = D_{KL}(p \| q)` (:func:`infolib.kl_divergence`), and
    :math:`D_\infty = \log \max_i p_i / q_i`. It is non-decreasing in α. Where
    :math:`q_i = 0 < p_i` it is +inf for α ≥ 1 and finite for α < 1. Computed in log space
    from log(p/q), accurate at |log(p/q)| ≫ 1 and as q → p, and continuous through
    α = 1 in value and gradient (see the module notes). α < 0 or NaN gives NaN.

    Args:
        p: reference probabilities along ``axis``.
        q: approximating probabilities, of the same shape.
        alpha: the order α ≥ 0 (+inf allowed), broadcasting to the shape without ``axis``.
        axis: the event axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The divergence, with ``axis`` reduced.

    Example:
        >>> import infolib
        >>> infolib.renyi_divergence([0.5, 0.5], [0.25, 0.75], 2.0, base=2)  # log₂(4/3)
        Array(0.41504, dtype=float32)
    """
    (p, q), out_dtype = _base.as_float(p, q)
    _base.check_same_shape(p=p, q=q)
    axis = _base.check_event_axis(p, axis, "p")
    alpha = _orders(alpha, p, axis, "alpha")
    return _base.finish(_renyi_divergence_nats(p, q, alpha, axis), base, out_dtype)


@functools.partial(jax.jit, static_argnums=(3,))
def _renyi_divergence_with_logits_nats(
    a: jax.Array, b: jax.Array, alpha: jax.Array, axis: int
) -> jax.Array:
    log_p, log_q = jax.nn.log_softmax(a, axis=axis), jax.nn.log_softmax(b, axis=axis)
    live = (a > -jnp.inf) | jnp.isnan(a)
    masked_q = live & (b == -jnp.inf)
    safe_p = jnp.where(live & ~masked_q, log_p, 0)
    r = jnp.where(live, jnp.where(masked_q, jnp.inf, safe_p - jnp.where(masked_q, 0, log_q)), 0)
    r = jnp.where(jnp.isnan(a) | jnp.isnan(b), jnp.nan, r)
    p = jnp.where(live, jnp.exp(jnp.where(live, log_p, 0)), 0)
    return _renyi_divergence_core(p, live, jnp.where(live, log_p, 0), r, alpha, axis)


def renyi_divergence_with_logits(
    p_logits: ArrayLike,
    q_logits: ArrayLike,
    alpha: ArrayLike,
    *,
    axis: int = -1,
    base: float | None = None,
) -> jax.Array:
    r"""Rényi divergence of order α between two softmaxes, from their log-softmaxes.

    :math:`D_\alpha(\operatorname{softmax}(a) \| \operatorname{softmax}(b))` as in
    :func:`renyi_divergence`, with log(p/q) taken as the difference of log-softmaxes, so
    that |log(p/q)| in the hundreds (probabilities that underflow) is still exact. A logit
    of −inf masks a class: masked in ``p_logits`` it adds nothing; masked in ``q_logits``
    alone it makes the divergence +inf for α ≥ 1.

    Args:
        p_logits: logits of the reference distribution along ``axis``.
        q_logits: logits of the approximating distribution, of the same shape.
        alpha: the order α ≥ 0 (+inf allowed), broadcasting to the shape without ``axis``.
        axis: the class axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The divergence, with ``axis`` reduced.

    Example:
        >>> import infolib
        >>> infolib.renyi_divergence_with_logits([0.0, 0.0], [0.0, 100.0], float("inf"))
        Array(99.30685, dtype=float32)
    """
    (a, b), out_dtype = _base.as_float(p_logits, q_logits)
    _base.check_same_shape(p_logits=a, q_logits=b)
    axis = _base.check_classes(a, axis, "p_logits")
    alpha = _orders(alpha, a, axis, "alpha")
    return _base.finish(_renyi_divergence_with_logits_nats(a, b, alpha, axis), base, out_dtype)


# ---------------------------------------------------------------------------
# f-divergences
# ---------------------------------------------------------------------------

FDivergence = Literal[
    "hellinger", "total_variation", "chi2", "jeffreys", "amari_alpha", "jensen_shannon"
]
_UNITLESS = ("hellinger", "total_variation", "chi2")  # no logarithm: ``base`` does not apply


def _hellinger(p: jax.Array, q: jax.Array, axis: int) -> jax.Array:
    """½ Σ (√p − √q)², with √p − √q = (p − q)/(√p + √q): no cancellation as q → p."""
    both_zero = (p == 0) & (q == 0)
    denominator = jnp.sqrt(jnp.where(both_zero, 1.0, p)) + jnp.sqrt(jnp.where(both_zero, 1.0, q))
    gap = (p - q) / denominator
    return 0.5 * jnp.sum(jnp.where(both_zero, 0, gap * gap), axis=axis)


def _total_variation(p: jax.Array, q: jax.Array, axis: int) -> jax.Array:
    return 0.5 * jnp.sum(jnp.abs(p - q), axis=axis)


def _chi2(p: jax.Array, q: jax.Array, axis: int) -> jax.Array:
    """Σ (p − q)²/q: 0 where p = q = 0, +inf where q = 0 < p."""
    q_zero = q == 0
    gap = p - q
    term = gap * (gap / jnp.where(q_zero, 1.0, q))
    term = jnp.where(q_zero, jnp.where(p == 0, 0, jnp.inf), term)
    return jnp.sum(jnp.where(jnp.isnan(p) | jnp.isnan(q), jnp.nan, term), axis=axis)


def _jeffreys(p: jax.Array, q: jax.Array, axis: int) -> jax.Array:
    """Σ (p − q) log(p/q) = D(p‖q) + D(q‖p): +inf where exactly one of p_i, q_i is 0."""
    pp, pq = _base.parts(p), _base.parts(q)
    both = ~pp.zero & ~pq.zero & ~pp.negative & ~pq.negative
    r = _log_ratio(jnp.where(both, p, 1.0), jnp.where(both, q, 1.0))
    term = jnp.where(both, (p - q) * r, jnp.where(pp.zero & pq.zero, 0, jnp.inf))
    bad = jnp.isnan(p) | jnp.isnan(q) | pp.negative | pq.negative
    return jnp.sum(jnp.where(bad, jnp.nan, term), axis=axis)


def _amari_one_side(p: jax.Array, q: jax.Array, alpha: jax.Array, axis: int) -> jax.Array:
    """(Σ p^α q^{1−α} − 1)/(α(α − 1)) = D_α · exprel((α − 1) D_α) / α, for α ≥ ½."""
    d = _renyi_divergence_nats(p, q, alpha, axis)
    alpha = jnp.squeeze(alpha, axis)
    return d * _exprel((alpha - 1) * d) / alpha


def _amari_alpha(p: jax.Array, q: jax.Array, alpha: jax.Array, axis: int) -> jax.Array:
    """Amari's α-divergence, by its symmetry D_α(p‖q) = D_{1−α}(q‖p) from the side α ≥ ½."""
    upper = alpha >= 0.5
    forward = _amari_one_side(p, q, jnp.where(upper, alpha, 1.0), axis)
    backward = _amari_one_side(q, p, jnp.where(upper, 0.5, 1 - alpha), axis)
    return jnp.where(jnp.squeeze(upper, axis), forward, backward)


@functools.partial(jax.jit, static_argnums=(3, 4))
def _f_divergence_nats(
    p: jax.Array, q: jax.Array, alpha: jax.Array | None, kind: str, axis: int
) -> jax.Array:
    if kind == "amari_alpha":
        value = _amari_alpha(p, q, alpha, axis)
        nan = jnp.isnan(jnp.squeeze(alpha, axis))
        return jnp.where(nan, jnp.nan, value)
    if kind == "jensen_shannon":
        return _divergence._js_divergence(p, q, axis)
    return {
        "hellinger": _hellinger,
        "total_variation": _total_variation,
        "chi2": _chi2,
        "jeffreys": _jeffreys,
    }[kind](p, q, axis)


_KINDS = ("hellinger", "total_variation", "chi2", "jeffreys", "amari_alpha", "jensen_shannon")


def f_divergence(
    p: ArrayLike,
    q: ArrayLike,
    *,
    kind: FDivergence,
    alpha: ArrayLike | None = None,
    axis: int = -1,
    base: float | None = None,
) -> jax.Array:
    r"""An f-divergence :math:`D_f(p \| q) = \sum_i q_i f(p_i / q_i)` of ``q`` from ``p``.

    ``kind`` picks f (t = p/q):

    - ``hellinger``: :math:`\tfrac12 \sum_i (\sqrt{p_i} - \sqrt{q_i})^2`, the squared
      Hellinger distance, in [0, 1]; :math:`f(t) = \tfrac12 (\sqrt t - 1)^2`.
    - ``total_variation``: :math:`\tfrac12 \sum_i |p_i - q_i|`;
      :math:`f(t) = \tfrac12 |t - 1|`.
    - ``chi2``: Pearson's :math:`\chi^2 = \sum_i (p_i - q_i)^2 / q_i`;
      :math:`f(t) = (t - 1)^2`.
    - ``jeffreys``: :math:`\sum_i (p_i - q_i) \log(p_i / q_i) = D(p \| q) + D(q \| p)`;
      :math:`f(t) = (t - 1) \log t`.
    - ``amari_alpha``: :math:`A_\alpha = \frac{\sum_i p_i^\alpha q_i^{1 - \alpha} - 1}
      {\alpha (\alpha - 1)}`; :math:`f(t) = \frac{t^\alpha - 1 - \alpha (t - 1)}
      {\alpha (\alpha - 1)}`.
    - ``jensen_shannon``: :math:`\tfrac12 D(p \| m) + \tfrac12 D(q \| m)`,
      m = (p + q)/2, as :func:`infolib.js_divergence`.

    Amari's α-divergence is D(p‖q) (KL) at α = 1 and D(q‖p) at α = 0, continuously: it is
    computed from the Rényi divergence (:func:`renyi_divergence`),
    :math:`D_\alpha \operatorname{exprel}((\alpha - 1) D_\alpha)/\alpha`, on the side α ≥ ½
    of its symmetry :math:`A_\alpha(p \| q) = A_{1-\alpha}(q \| p)`, so it is stable at
    |log(p/q)| ≫ 1 and at α → 0 and 1 (TFP's ``amari_alpha`` is "numerically unstable for
    |log u| ≫ 0"). Hellinger's √p − √q is (p − q)/(√p + √q), exact as q → p. Where
    :math:`q_i = 0 < p_i`: +inf for χ², Jeffreys and Amari with α ≥ 1; where p and q are
    both 0 the term is 0. A NaN in gives NaN.

    Args:
        p: reference probabilities along ``axis``.
        q: approximating probabilities, of the same shape.
        kind: which divergence (a string, as in the table).
        alpha: Amari's α (any real; it broadcasts to the shape without ``axis``); only
            with ``kind="amari_alpha"``, where it is required.
        axis: the event axis.
        base: for the logarithmic kinds (``jeffreys``, ``amari_alpha``,
            ``jensen_shannon``) the base of the logarithm: None for nats, 2 for bits. The
            others have no unit, and take None only.

    Returns:
        The divergence, with ``axis`` reduced.

    Example:
        >>> import infolib
        >>> infolib.f_divergence([0.5, 0.5], [0.25, 0.75], kind="total_variation")
        Array(0.25, dtype=float32)
        >>> infolib.f_divergence([0.5, 0.5], [0.25, 0.75], kind="chi2")  # ¼ + 1/12
        Array(0.33333334, dtype=float32)
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)}; got {kind!r}")
    if kind in _UNITLESS and base is not None:
        raise ValueError(f"the {kind} divergence has no logarithm: base must be None, got {base!r}")
    if (alpha is None) == (kind == "amari_alpha"):
        raise ValueError(
            "alpha is required with kind='amari_alpha' and taken by no other kind; "
            f"got kind={kind!r}, alpha={alpha!r}"
        )
    (p, q), out_dtype = _base.as_float(p, q)
    _base.check_same_shape(p=p, q=q)
    axis = _base.check_event_axis(p, axis, "p")
    if alpha is not None:
        alpha = _orders(alpha, p, axis, "alpha")
    return _base.finish(_f_divergence_nats(p, q, alpha, kind, axis), base, out_dtype)
