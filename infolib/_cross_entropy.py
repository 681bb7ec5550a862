"""Cross-entropy: from probabilities, from logits, from integer labels, and binary."""

from __future__ import annotations

import functools
import numbers

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from infolib import _base


def cross_entropy(
    p: ArrayLike, q: ArrayLike, *, axis: int = -1, base: float | None = None
) -> jax.Array:
    r"""Cross-entropy of ``q`` relative to the reference distribution ``p``.

    .. math::

        H(p, q) = -\sum_i p_i \log q_i,

    where a term with :math:`p_i = 0` is 0 (also if :math:`q_i = 0`), and
    :math:`H(p, q) = +\infty` if :math:`q_i = 0 < p_i` for some i.
    Equivalently :math:`H(p, q) = H(p) + D_{KL}(p \| q)`. As ``scipy.special.xlogy``,
    a NaN in q gives NaN also where :math:`p_i = 0`; subnormal entries are exact (a
    subnormal q gives a finite term, not +inf).

    Args:
        p: reference probabilities (the labels), along ``axis``.
        q: model probabilities (the prediction), of the same shape.
        axis: the event axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The cross-entropy, with ``axis`` reduced. Gradients: ∂/∂q_i = −p_i/q_i (0 where
        p_i = 0) and ∂/∂p_i = −log q_i.

    Example:
        The one-hot label [0, 1, 0] against the prediction [0.2, 0.7, 0.1] costs
        −log₂ 0.7 ≈ 0.515 bits:

        >>> import infolib
        >>> infolib.cross_entropy([0.0, 1.0, 0.0], [0.2, 0.7, 0.1], base=2)
        Array(0.5145732, dtype=float32)
    """
    (p, q), out_dtype = _base.as_float(p, q)
    _base.check_same_shape(p=p, q=q)
    axis = _base.check_event_axis(p, axis, "p")
    return _base.finish(_cross_entropy(p, q, axis), base, out_dtype)


@functools.partial(jax.jit, static_argnums=(2,))
def _cross_entropy(p: jax.Array, q: jax.Array, axis: int) -> jax.Array:
    return -jnp.sum(_base.flat(_base.xlogy, p, q), axis=axis)


def cross_entropy_with_logits(
    p: ArrayLike,
    logits: ArrayLike,
    *,
    axis: int = -1,
    base: float | None = None,
    label_smoothing: float = 0.0,
) -> jax.Array:
    r"""Cross-entropy of ``softmax(logits)`` relative to the reference ``p``.

    Argument order: the reference ``p`` first, then the logits, as in H(p, q). optax's
    ``softmax_cross_entropy(logits, labels)`` takes them the other way round;
    :func:`checked` catches the swap.

    .. math::

        H(\tilde p, q) = -\sum_i \tilde p_i \log q_i, \qquad
        \log q_i = z_i - \operatorname{logsumexp}(z),

    with :math:`\tilde p = (1 - \varepsilon)\, p + \varepsilon / K` on the K classes whose
    logit is not −inf (masked classes get no smoothing mass), ε = ``label_smoothing``.
    A term with :math:`\tilde p_i = 0` is 0, so masked classes (logit −inf) that the
    reference gives no mass cost nothing; mass on a masked class costs +inf.

    The gradient with respect to the logits is :math:`q \sum_i \tilde p_i - \tilde p`
    (softmax − p for a normalised p), finite for masked classes.

    Args:
        p: reference probabilities (soft or one-hot labels), along ``axis``.
        logits: unnormalised log-probabilities, of the same shape; −inf masks a class.
        axis: the event axis.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.
        label_smoothing: ε in [0, 1].

    Returns:
        The cross-entropy, with ``axis`` reduced.

    Example:
        >>> import jax.numpy as jnp
        >>> import infolib
        >>> logits = jnp.log(jnp.array([0.2, 0.7, 0.1]))
        >>> infolib.cross_entropy_with_logits(jnp.array([0.0, 1.0, 0.0]), logits, base=2)
        Array(0.5145732, dtype=float32)
        >>> masked = jnp.array([0.0, 0.0, -jnp.inf])
        >>> infolib.cross_entropy_with_logits(jnp.array([0.5, 0.5, 0.0]), masked, base=2)
        Array(1., dtype=float32)
    """
    if isinstance(label_smoothing, numbers.Real) and not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
    (p, logits), out_dtype = _base.as_float(p, logits)
    _base.check_same_shape(p=p, logits=logits)
    axis = _base.check_classes(logits, axis, "logits")
    if not (isinstance(label_smoothing, numbers.Real) and label_smoothing == 0.0):
        support = logits != -jnp.inf
        n_support = jnp.sum(support, axis=axis, keepdims=True, dtype=p.dtype)
        uniform = jnp.where(support, 1.0 / jnp.maximum(n_support, 1), 0.0)
        p = (1.0 - label_smoothing) * p + label_smoothing * uniform
    return _base.finish(_softmax_cross_entropy_jit(p, logits, axis), base, out_dtype)


# Up to this many classes, a derivative pass takes the value from the boundary-safe form:
# XLA:CPU fuses it well there, and the guard's extra kernels cost more than they save.
_FEW_CLASSES = 256


def _all_masked_to_zero(x: jax.Array) -> jax.Array:
    """0 where ``x`` (a row maximum or log-normaliser, reduced shape) is −inf, else ``x``.

    It is −inf only in a row whose every logit is −inf (all classes masked). Taking it as 0
    there makes each log q_i = z_i − 0 = −inf, rather than −inf − (−inf) = NaN, in the value
    and in the derivative; NaN and +inf rows are left as they are.
    """
    return jnp.where(x == -jnp.inf, jnp.zeros_like(x), x)


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _softmax_cross_entropy(p: jax.Array, logits: jax.Array, axis: int) -> jax.Array:
    """−Σ p·log softmax(logits) along ``axis``, 0·(−inf) read as 0.

    The log-softmax is never written out as an array: its pieces (the row maximum and
    log-sum-exp) are per row, and the one array-sized term feeds the sum directly. The
    terms p·(log s − (z − m)) need no select unless a class is masked (0·inf) or an input
    is not finite, so they are summed by one fused kernel, and the boundary-safe form runs
    only when that result is not finite (see :func:`infolib._base.guarded`).
    """
    if logits.shape[axis] <= _FEW_CLASSES:
        # Few classes: the maximum and the sum in two kernels, and reduced row shapes, are
        # faster on XLA:CPU (see infolib._base.exponentials).
        log_z = jnp.expand_dims(_base.exponentials(logits, axis).log_z, axis)
        fast = jnp.sum(p * (log_z - logits), axis=axis)
    else:
        m, log_s = _base.log_normalizer(logits, axis)
        fast = jnp.sum(p * (log_s - (logits + (-m))), axis=axis)

    def exact() -> jax.Array:
        # m and log s are recomputed here: taken from outside, they would be operands of the
        # cond, and XLA would have to write them out of the fused kernel above.
        # A row whose every class is masked: m = −inf, and (z − m) − log s would be
        # −inf − (−inf) = NaN; with m = log s = 0 there, every log q_i is −inf, so a row with
        # no target mass costs 0 (as optax's per-logit mask) and mass there costs +inf.
        m = _all_masked_to_zero(jnp.max(logits, axis=axis, keepdims=True))
        log_s = jnp.log(jnp.sum(jnp.exp(logits - m), axis=axis, keepdims=True))
        log_q = _base.log_softmax_from(logits, m, _all_masked_to_zero(log_s))
        return -jnp.sum(_base.xmul(p, log_q), axis=axis)

    return _base.guarded(fast, exact)


def _softmax_cross_entropy_jvp(axis, primals, tangents):
    p, logits = primals
    dp, dlogits = tangents
    mass = jnp.sum(p, axis=axis)
    if logits.shape[axis] <= _FEW_CLASSES:
        # Few classes: the boundary-safe form fuses well, and needs no guard or cond; exp(z − m)
        # is written out once and shared by the sum and the softmax (as optax does).
        pieces = _base.exponentials(logits, axis)
        log_z = jnp.expand_dims(_all_masked_to_zero(pieces.log_z), axis)
        out = -jnp.sum(_base.xmul(p, logits - log_z), axis=axis)
        # s = 0 only in a row whose every class is masked, where the softmax is taken as 0.
        s = jnp.where(pieces.s == 0, 1, pieces.s)
        softmax_times_mass = pieces.e * jnp.expand_dims(mass / s, axis)
    else:
        out = _softmax_cross_entropy(p, logits, axis)
        m = _all_masked_to_zero(jnp.max(logits, axis=axis, keepdims=True))
        log_s = jnp.log(jnp.sum(jnp.exp(logits - m), axis=axis, keepdims=True))
        log_z = _all_masked_to_zero(m + log_s)
        softmax_times_mass = jnp.exp(logits - log_z) * jnp.expand_dims(mass, axis)
    # ∂/∂z = softmax(z)·Σp − p, one fused elementwise pass; ∂/∂p = −log softmax(z).
    return out, _base.tangent(
        out,
        (dlogits, lambda t: jnp.sum(t * (softmax_times_mass - p), axis=axis)),
        (dp, lambda t: jnp.sum(t * (log_z - logits), axis=axis)),
    )


_softmax_cross_entropy.defjvp(_softmax_cross_entropy_jvp, symbolic_zeros=True)
_softmax_cross_entropy_jit = jax.jit(_softmax_cross_entropy, static_argnums=(2,))


def sparse_cross_entropy_with_logits(
    labels: ArrayLike, logits: ArrayLike, *, axis: int = -1, base: float | None = None
) -> jax.Array:
    r"""Cross-entropy of ``softmax(logits)`` against integer class labels.

    Argument order: the labels first, then the logits. optax's
    ``softmax_cross_entropy_with_integer_labels(logits, labels)`` takes them the other
    way round; :func:`checked` refuses labels that are not integers.

    .. math::

        \ell(y, z) = -\log \operatorname{softmax}(z)_y = \operatorname{logsumexp}(z) - z_y.

    Computed as written, without the full log-softmax. A label outside
    ``[0, K)`` gives NaN (a label of −1 is never wrapped to the last class; wrap the
    call in :func:`checked` to have it reported). A masked true class (z_y = −inf) costs
    +inf. The gradient with respect to the logits is softmax(z) − onehot(y).

    Args:
        labels: integer class indices, of the shape of ``logits`` without ``axis``.
        logits: unnormalised log-probabilities along ``axis``; −inf masks a class.
        axis: the class axis of ``logits``.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The loss per example, of the shape of ``labels``.

    Example:
        >>> import jax.numpy as jnp
        >>> import infolib
        >>> logits = jnp.log(jnp.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]]))
        >>> infolib.sparse_cross_entropy_with_logits(jnp.array([1, 2]), logits, base=2)
        Array([0.5145732, 2.       ], dtype=float32)
    """
    labels = jnp.asarray(labels)
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
    (logits,), out_dtype = _base.as_float(logits)
    axis = _base.check_classes(logits, axis, "logits")
    expected = logits.shape[:axis] + logits.shape[axis + 1 :]
    if labels.shape != expected:
        raise ValueError(
            f"labels must have the shape of logits without axis {axis}: labels has shape "
            f"{tuple(labels.shape)}, logits has shape {tuple(logits.shape)} "
            f"(expected labels of shape {tuple(expected)})"
        )
    # A label outside [0, K) gathers NaN: the gather fills out-of-range indices, and a
    # negative label is out of range (never wrapped to the end).
    return _base.finish(_sparse_softmax_cross_entropy_jit(labels, logits, axis), base, out_dtype)


def _label_logits(x: jax.Array, labels: jax.Array, axis: int, fill: float) -> jax.Array:
    """x at the label along ``axis`` (reduced), ``fill`` where the label is outside [0, K)."""
    index = jnp.expand_dims(labels, axis)
    picked = jnp.take_along_axis(
        x, index, axis=axis, mode="fill", fill_value=fill, wrap_negative_indices=False
    )
    return jnp.squeeze(picked, axis)


def _sparse_plain(labels: jax.Array, logits: jax.Array, axis: int) -> jax.Array:
    return _base.exponentials(logits, axis).log_z - _label_logits(logits, labels, axis, jnp.nan)


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _sparse_softmax_cross_entropy(labels: jax.Array, logits: jax.Array, axis: int) -> jax.Array:
    """logsumexp(z) − z_y along ``axis``; NaN where y is outside [0, K)."""
    return _sparse_plain(labels, logits, axis)


def _sparse_softmax_cross_entropy_jvp(axis, primals, tangents):
    labels, logits = primals
    _, dlogits = tangents
    if logits.shape[axis] <= _FEW_CLASSES:
        # Few classes: the derivative of the formula itself, exp(z − m) written out once and
        # shared by the sum and the softmax (as optax); recomputing it costs more there.
        return jax.jvp(lambda z: _sparse_plain(labels, z, axis), (logits,), (dlogits,))
    # Many classes: softmax(z) = exp(z − logsumexp z) computed again in the derivative's
    # one elementwise pass, and onehot(y) as the gather's transpose (a scatter of one
    # entry per row): cheaper on XLA:CPU than writing exp(z − m) out and reading it
    # twice, and than a one-hot built per element.
    log_z = _base.exponentials(logits, axis).log_z
    out = log_z - _label_logits(logits, labels, axis, jnp.nan)
    softmax = jnp.exp(logits - jnp.expand_dims(log_z, axis))
    label_tangent = _label_logits(dlogits, labels, axis, 0.0)
    return out, jnp.sum(dlogits * softmax, axis=axis) - label_tangent


_sparse_softmax_cross_entropy.defjvp(_sparse_softmax_cross_entropy_jvp)
_sparse_softmax_cross_entropy_jit = jax.jit(_sparse_softmax_cross_entropy, static_argnums=(2,))


def binary_cross_entropy(y: ArrayLike, p: ArrayLike, *, base: float | None = None) -> jax.Array:
    r"""Binary cross-entropy, elementwise, from the predicted probability of class 1.

    .. math::

        \ell(y, p) = -\,y \log p - (1 - y) \log (1 - p), \qquad 0 \log 0 = 0.

    It is +inf where the label has mass on an outcome of probability 0 (y > 0 = p, or
    y < 1 = p). Gradients: ∂/∂p = (p − y) / (p (1 − p)), ∂/∂y = log((1 − p) / p).

    Args:
        y: the target probability of class 1 (0/1 labels or soft labels in [0, 1]).
        p: the predicted probability of class 1, of the same shape.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The loss, of the shape of ``y``.

    Example:
        >>> import infolib
        >>> infolib.binary_cross_entropy([1.0, 0.0, 1.0], [0.5, 0.0, 0.25], base=2)
        Array([1., 0., 2.], dtype=float32)
    """
    (y, p), out_dtype = _base.as_float(y, p)
    _base.check_same_shape(y=y, p=p)
    return _base.finish(_binary_cross_entropy(y, p), base, out_dtype)


@jax.jit
def _binary_cross_entropy(y: jax.Array, p: jax.Array) -> jax.Array:
    def loss(y: jax.Array, p: jax.Array) -> jax.Array:
        return -(_base.xlogy(y, p) + _base.xlogy(1 - y, 1 - p))

    return _base.flat(loss, y, p)


def binary_cross_entropy_with_logits(
    y: ArrayLike, logits: ArrayLike, *, base: float | None = None
) -> jax.Array:
    r"""Binary cross-entropy, elementwise, from the logit of class 1.

    Argument order: the target ``y`` first, then the logits. optax's
    ``sigmoid_binary_cross_entropy(logits, labels)`` takes them the other way round.

    .. math::

        \ell(y, z) = -\,y \log \sigma(z) - (1 - y) \log \sigma(-z),

    computed with log-sigmoids, so it is exact for large \|z\| and defined for
    z = ±inf: :math:`\ell(1, +\infty) = \ell(0, -\infty) = 0` and
    :math:`\ell(1, -\infty) = \ell(0, +\infty) = +\infty`. The gradient with respect to
    the logit is σ(z) − y, finite everywhere.

    Args:
        y: the target probability of class 1 (0/1 labels or soft labels in [0, 1]).
        logits: the logit of class 1, of the same shape.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The loss, of the shape of ``y``.

    Example:
        >>> import jax.numpy as jnp
        >>> import infolib
        >>> infolib.binary_cross_entropy_with_logits(
        ...     jnp.array([1.0, 0.0, 1.0]), jnp.array([0.0, -jnp.inf, jnp.inf]), base=2)
        Array([1., 0., 0.], dtype=float32)
    """
    (y, z), out_dtype = _base.as_float(y, logits)
    _base.check_same_shape(y=y, logits=z)
    return _base.finish(_binary_logit_loss_jit(y, z), base, out_dtype)


@jax.custom_jvp
def _binary_logit_loss(y: jax.Array, z: jax.Array) -> jax.Array:
    """−y log σ(z) − (1 − y) log σ(−z) with one exp and one log1p.

    Written as (1 − y)·relu(z) + y·relu(−z) + log1p(exp(−|z|)), with 0·inf = 0 in the
    first two terms, so that z = ±inf gives the limits; the derivative is set by hand
    (the kinks of relu and |z| at 0 cancel in the sum but not in autodiff).
    """
    # 0·inf = 0 by a select on the label alone: a NaN in z reaches the loss through the
    # last term, so the selects need not look at z (which keeps the fused loop vectorised).
    tail = jnp.log1p(jnp.exp(-jnp.abs(z)))
    positive = jnp.where(y == 1, 0, (1 - y) * jax.nn.relu(z))
    negative = jnp.where(y == 0, 0, y * jax.nn.relu(-z))
    return positive + negative + tail


def _binary_logit_loss_jvp(primals, tangents):
    y, z = primals
    dy, dz = tangents
    out = _binary_logit_loss(y, z)
    e = jnp.exp(-jnp.abs(z))
    sigmoid = jnp.where(z >= 0, 1, e) / (1 + e)
    # ∂/∂z = σ(z) − y; ∂/∂y = log σ(−z) − log σ(z) = −z.
    return out, _base.tangent(out, (dz, lambda t: t * (sigmoid - y)), (dy, lambda t: -t * z))


_binary_logit_loss.defjvp(_binary_logit_loss_jvp, symbolic_zeros=True)


@jax.jit
def _binary_logit_loss_jit(y: jax.Array, z: jax.Array) -> jax.Array:
    return _binary_logit_loss(y, z)
