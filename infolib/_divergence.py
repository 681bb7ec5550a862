"""Kullback–Leibler and Jensen–Shannon divergences."""

from __future__ import annotations

import functools
import math

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

    Each term keeps its relative precision as :math:`q_i \to p_i` (it is
    :math:`p_i \log1p((p_i - q_i)/q_i)` there, as in ``scipy.special.rel_entr``), and is
    exact for subnormal :math:`p_i` or :math:`q_i`. A NaN in either argument gives NaN,
    also where :math:`p_i = 0`.

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
    return _base.finish(_kl_divergence(p, q, axis), base, out_dtype)


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _kl_divergence_nats(p: jax.Array, q: jax.Array, axis: int) -> jax.Array:
    """Σ rel_entr(p, q) along ``axis``: a fused fast form where it is exact, else the exact one.

    First the select-free form for p, q > 0 (one fused kernel); if an entry of it is not
    finite (a zero, a subnormal, NaN or ±inf somewhere), the form that also takes p = 0, with
    a check that no p is subnormal; if that fails too, :func:`infolib._base.rel_entr`.
    """

    def exact() -> jax.Array:
        return jnp.sum(_base.flat(_base.rel_entr, p, q), axis=axis)

    def with_zeros() -> jax.Array:
        value = jnp.sum(_base.fast_rel_entr(p, q, zeros=True), axis=axis)
        return _base.guarded(value, exact, ok=~_base.any_subnormal(p))

    return _base.guarded(jnp.sum(_base.fast_rel_entr(p, q, zeros=False), axis=axis), with_zeros)


def _kl_divergence_jvp(axis, primals, tangents):
    p, q = primals
    dp, dq = tangents
    if p.shape[axis] <= _SHARED_BELOW:
        # Few classes: the exact form, flattened, is as fast, and needs no guard or cond.
        out = jnp.sum(_base.flat(_base.rel_entr, p, q), axis=axis)
    else:
        out = _kl_divergence_nats(p, q, axis)

    def partial(i: int) -> jax.Array:
        return _base.flat(lambda p, q: _base.rel_entr_partials(p, q)[i], p, q)

    return out, _base.tangent(
        out,
        (dp, lambda t: jnp.sum(t * partial(0), axis=axis)),
        (dq, lambda t: jnp.sum(t * partial(1), axis=axis)),
    )


_kl_divergence_nats.defjvp(_kl_divergence_jvp, symbolic_zeros=True)
_kl_divergence = jax.jit(_kl_divergence_nats, static_argnums=(2,))


def kl_divergence_with_logits(
    p_logits: ArrayLike, q_logits: ArrayLike, *, axis: int = -1, base: float | None = None
) -> jax.Array:
    r"""Kullback–Leibler divergence between two softmaxes, computed in log space.

    Argument order: the reference's logits first, as in D(p‖q). optax's
    ``kl_divergence_with_log_targets(log_predictions, log_targets)`` is D(targets‖predictions)
    and takes the reference second.

    .. math::

        D_{KL}(p \| q) = \sum_i p_i (\log p_i - \log q_i), \qquad
        p = \operatorname{softmax}(a), \; q = \operatorname{softmax}(b).

    A logit of −inf masks a class. A class masked in ``p`` adds 0; a class masked in
    ``q`` but not in ``p`` makes the divergence +inf. Gradients are finite wherever the
    value is, also where a softmax underflows to 0:
    ∂/∂a_i = p_i (log p_i − log q_i − D) and ∂/∂b_i = q_i − p_i.

    The divergence is computed from a − b, not as a difference of two log-softmaxes, so
    that as the two softmaxes approach each other its error is a few ulps of
    E_p|a − b − c| (c a constant per row) rather than of the log-sum-exps.

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
    axis = _base.check_classes(a, axis, "p_logits")
    return _base.finish(_softmax_kl_divergence(a, b, axis), base, out_dtype)


def _exact_softmax_kl_divergence(a: jax.Array, b: jax.Array, axis: int) -> jax.Array:
    """D(softmax(a) ‖ softmax(b)) along ``axis``, with every boundary case (masked classes).

    With v = (a − b) − (max a − max b) and weights w = exp(a − max a), p = w / Σw and
    log p − log q = v + log E_p[e^−v], so that

        D = E_p[v] + log1p(Σ w·(e^−v − 1) / Σ w),

    the weights entering as a ratio whose 1 is exact. w·(e^−v − 1) is e^β − w with
    β = b − max b, and is computed as w·expm1(−v) wherever |v| < 1. When the two
    softmaxes are close, a − b is exact (Sterbenz) and v is small: both terms are then
    accurate to a few ulps of their own size, and D keeps the digits that the textbook
    Σ p (log p − log q), a difference of two log-sum-exps of order 1, loses.
    """
    m_a = jnp.max(a, axis=axis, keepdims=True)
    m_b = jnp.max(b, axis=axis, keepdims=True)
    e_alpha = jnp.exp(_base.log_softmax_from(a, m_a, 0.0))
    e_beta = jnp.exp(_base.log_softmax_from(b, m_b, 0.0))
    v = (a - b) - (m_a - m_b)
    close = jnp.abs(v) < 1
    gap = jnp.where(close, e_alpha * jnp.expm1(-jnp.where(close, v, 0)), e_beta - e_alpha)
    live = a > -jnp.inf  # p > 0: a is not masked
    outside_q = live & (b == -jnp.inf)  # q = 0 < p: +inf
    weighted = jnp.where(live, jnp.where(outside_q, jnp.inf, e_alpha * v), 0)
    s_a = jnp.sum(e_alpha, axis=axis)
    total_gap = jnp.sum(gap, axis=axis)  # Σ e^β − Σ w
    return jnp.sum(weighted, axis=axis) / s_a + jnp.log1p(total_gap / s_a)


_MASKED = 1e30  # a logit below −1e30 has softmax 0 in float64 too
# Up to this many classes, the fast divergence shares its exponentials between reductions:
# XLA:CPU then fuses it into one kernel. Above, it writes shared elementwise results out as
# whole arrays, so each reduction gets expressions of its own (measured: BENCHMARKS.md §1).
_SHARED_BELOW = 256


def _fast_softmax_kl_rows(
    a: jax.Array, b: jax.Array, axis: int, *, clamp: bool = False
) -> dict[str, jax.Array]:
    """The divergence by a select-free form of :func:`_exact_softmax_kl_divergence`'s, and rows.

    w·(e^−v − 1) = e^β − w is w·expm1(−v) where v ≥ 0 and −e^β·expm1(v) where v < 0; as
    v = α − β, that is sign(v)·exp(max(α, β))·expm1(−|v|): it never overflows, needs no
    select, and costs one transcendental function more than the textbook form. Without
    ``clamp`` the divergence is exact wherever it is finite: a masked class makes it NaN
    (0·−inf) or +inf. With ``clamp``, −inf logits count as −``_MASKED``: the pieces are
    then finite for masked classes (for the derivatives), but the divergence is not +inf
    where it should be.

    XLA:CPU writes out as a whole array any elementwise result that feeds two reductions,
    so each reduction here gets its own expressions (bit for bit the same values:
    x − y is x + (−y) in IEEE arithmetic), and the weights of E_p[v] are p itself,
    exp(a − max a − log Σw), rather than the w shared with Σw.
    """
    if clamp:
        a, b = jnp.maximum(a, -_MASKED), jnp.maximum(b, -_MASKED)
    m_a = jnp.max(a, axis=axis, keepdims=True)
    m_b = jnp.max(b, axis=axis, keepdims=True)
    v = (a - b) - (m_a - m_b)
    gap = jnp.sign(v) * jnp.exp(jnp.maximum(a - m_a, b - m_b)) * jnp.expm1(-jnp.abs(v))
    total_gap = jnp.sum(gap, axis=axis, keepdims=True)
    if a.shape[axis] <= _SHARED_BELOW:
        # Few classes: XLA fuses all the reductions into one kernel; share the exponentials.
        w = jnp.exp(a + (-m_a))
        s_a = jnp.sum(w, axis=axis, keepdims=True)
        mean_v = jnp.sum(w * v, axis=axis, keepdims=True) / s_a
    else:
        s_a = jnp.sum(jnp.exp(a + (-m_a)), axis=axis, keepdims=True)
        v_again = -((b - a) + (m_a - m_b))
        p = jnp.exp(a - (m_a + jnp.log(s_a)))
        mean_v = jnp.sum(p * v_again, axis=axis, keepdims=True)
    return {
        "divergence": jnp.squeeze(mean_v + jnp.log1p(total_gap / s_a), axis),
        "m_a": m_a,
        "m_b": m_b,
        "s_a": s_a,
        "total_gap": total_gap,
        "mean_v": mean_v,
    }


def _softmax_kl_rows(a: jax.Array, b: jax.Array, axis: int) -> dict[str, jax.Array]:
    """The divergence and the per-row pieces of its derivatives.

    The select-free rows are exact wherever the divergence they give is finite (a masked
    class makes it NaN or +inf). Otherwise, chosen by one ``lax.cond`` (on per-row arrays
    only), the divergence comes from :func:`_exact_softmax_kl_divergence` and the pieces from the
    clamped rows.
    """
    fast = _fast_softmax_kl_rows(a, b, axis)
    ok = jnp.isfinite(jnp.sum(jax.lax.optimization_barrier(fast["divergence"])))

    def masked() -> dict[str, jax.Array]:
        exact = _exact_softmax_kl_divergence(a, b, axis)
        return {**_fast_softmax_kl_rows(a, b, axis, clamp=True), "divergence": exact}

    return jax.lax.cond(ok, lambda: fast, masked)


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _softmax_kl_divergence_nats(a: jax.Array, b: jax.Array, axis: int) -> jax.Array:
    """D(softmax(a) ‖ softmax(b)) along ``axis``; +inf where q = 0 < p (see the rows)."""
    return _softmax_kl_rows(a, b, axis)["divergence"]


def _softmax_kl_partials_from_log_softmaxes(
    a: jax.Array, b: jax.Array, out: jax.Array, axis: int
) -> tuple[jax.Array, jax.Array]:
    """∂D/∂a and ∂D/∂b from the two log-softmaxes (log-sum-exps by
    :func:`infolib._base.exponentials`), with selects: the faster form for few
    classes, where XLA:CPU fuses these passes well. Its absolute error (ε times the
    log-sum-exps) is immaterial in a gradient; the divergence itself never uses it."""
    log_p = a - jnp.expand_dims(_base.exponentials(a, axis).log_z, axis)
    log_q = b - jnp.expand_dims(_base.exponentials(b, axis).log_z, axis)
    p = jnp.exp(log_p)
    d = jnp.expand_dims(out, axis)
    finite = d != jnp.inf
    live = p != 0  # 0·(−inf − −inf) is 0 where a class is masked in both
    centred = jnp.where(live, log_p - log_q - jnp.where(finite, d, 0), 0)
    d_a = jnp.where(finite & live, p * centred, 0)
    d_b = jnp.where(finite, jnp.exp(log_q) - p, 0)
    return d_a, d_b


def _softmax_kl_divergence_jvp(axis, primals, tangents):
    a, b = primals
    da, db = tangents
    rows = _softmax_kl_rows(a, b, axis)
    out = rows["divergence"]
    if a.shape[axis] <= _SHARED_BELOW:
        d_a_few, d_b_few = _softmax_kl_partials_from_log_softmaxes(a, b, out, axis)
        return out, _base.tangent(
            out,
            (da, lambda t: jnp.sum(t * d_a_few, axis=axis)),
            (db, lambda t: jnp.sum(t * d_b_few, axis=axis)),
        )
    # ∂/∂a = p (log p − log q − D) = p (v − E_p[v]), 0 where p = 0; ∂/∂b = q − p, with
    # Σ e^β = Σ w + Σ w·(e^−v − 1). A row whose divergence is +inf has no derivative; it
    # gets 0, as the value does not move: a factor per row, min(1, max_float/|D|), which
    # is 1 for every finite D, 0 for +inf and NaN for NaN, with no select (XLA would fuse
    # a select into the elementwise pass and take the pass out of YNNPACK). Masked logits
    # count as −_MASKED here (p = 0 there, and no 0·inf); the elementwise expressions are
    # the reductions' own, written apart (see _fast_softmax_kl_rows).
    largest = jnp.finfo(a.dtype).max
    finite = jnp.minimum(1, largest / jnp.abs(jnp.expand_dims(out, axis)))
    m_a, m_b, s_a = rows["m_a"], rows["m_b"], rows["s_a"]
    a_c, b_c = jnp.maximum(a, -_MASKED), jnp.maximum(b, -_MASKED)
    v = (a_c - b_c) - (m_a - m_b)
    p = jnp.exp((a_c - m_a) - jnp.log(s_a))

    def d_a() -> jax.Array:
        return (finite * p) * (v - rows["mean_v"])

    def d_b() -> jax.Array:
        q = jnp.exp((b_c - m_b) - jnp.log(s_a + rows["total_gap"]))
        return finite * (q - p)

    return out, _base.tangent(
        out,
        (da, lambda t: jnp.sum(t * d_a(), axis=axis)),
        (db, lambda t: jnp.sum(t * d_b(), axis=axis)),
    )


_softmax_kl_divergence_nats.defjvp(_softmax_kl_divergence_jvp, symbolic_zeros=True)
_softmax_kl_divergence = jax.jit(_softmax_kl_divergence_nats, static_argnums=(2,))


def _js_pieces(p: jax.Array, q: jax.Array) -> tuple[jax.Array, ...]:
    """s = p + q, d = (p − q)/s (0 where s = 0), log(2p/s) and log(2q/s).

    The logs are log1p(±d) where |d| ≤ ½ (exact there) and log 2 + log p − log s elsewhere:
    where one of p, q is many orders below the other, d rounds to ±1 and log1p(∓d) would
    be −inf although 2p/s is a positive number.
    """
    s = p + q
    empty = s == 0
    safe_s = jnp.where(empty, 1, s)
    d = (p - q) / safe_s
    near = jnp.abs(d) <= 0.5
    log_2 = math.log(2.0)
    log_s = _base.log(safe_s)
    log_2p_s = jnp.where(near, jnp.log1p(d), log_2 + _base.log(p) - log_s)
    log_2q_s = jnp.where(near, jnp.log1p(-d), log_2 + _base.log(q) - log_s)
    return s, empty, d, log_2p_s, log_2q_s


@jax.custom_jvp
def _js_terms(p: jax.Array, q: jax.Array) -> jax.Array:
    """½[p log(p/m) + q log(q/m)], m = (p + q)/2, elementwise; 0 where p = q = 0.

    With s = p + q and d = (p − q)/s, p = s(1 + d)/2 and q = s(1 − d)/2, so the term is
    (s/4)·[(1 + d) log(1 + d) + (1 − d) log(1 − d)] = (s/4)·[d (log1p d − log1p(−d)) +
    log1p(−d²)]. For |d| ≤ ½ that last form is used: p − q is exact there (Sterbenz), and
    its two parts (≈ 2d² and ≈ −d²) do not cancel, so the term keeps its relative precision
    as q → p, where the textbook form is a difference of two terms of order d that agree in
    all but the last digits. Elsewhere the textbook form ½[p log1p d + q log1p(−d)] is used.
    """
    s, _, d, log_2p_s, log_2q_s = _js_pieces(p, q)
    near = jnp.abs(d) <= 0.5
    close = (s / 4) * (d * (log_2p_s - log_2q_s) + jnp.log1p(-d * d))
    far = (_base.xmul(p, log_2p_s) + _base.xmul(q, log_2q_s)) / 2
    return jnp.where(near, close, far)


def _js_terms_jvp(primals, tangents):
    p, q = primals
    dp, dq = tangents
    out = _js_terms(p, q)
    # ∂/∂p = ½ log(2p/(p+q)) = ½ log1p(d); where p = q = 0, moving p alone gives p/m = 2.
    _, empty, _, log_2p_s, log_2q_s = _js_pieces(p, q)
    half_log_2 = 0.5 * math.log(2.0)
    d_p = jnp.where(empty, half_log_2, log_2p_s / 2)
    d_q = jnp.where(empty, half_log_2, log_2q_s / 2)
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
    and lies in [0, log 2]: at most 1 bit. Each term keeps its relative precision as
    :math:`q_i \to p_i`, where it is of order :math:`(p_i - q_i)^2`. Gradient:
    ∂/∂p_i = ½ log(2p_i/(p_i + q_i)), −inf at p_i = 0 < q_i, and ½ log 2 where
    p_i = q_i = 0.

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
    return _base.finish(_js_divergence(p, q, axis), base, out_dtype)


@functools.partial(jax.jit, static_argnums=(2,))
def _js_divergence(p: jax.Array, q: jax.Array, axis: int) -> jax.Array:
    return jnp.sum(_base.flat(_js_terms, p, q), axis=axis)
