"""Boundary cases: each test names the peer-library bug it guards against.

All in float32 (where underflow happens soonest) and under ``jax.jit``, as losses are used (the
eager path is covered by test_reference.py). Values are compared at ``rtol=1e-5, atol=1e-6``,
gradients at ``rtol=1e-4, atol=1e-6``; infinities must match exactly (assert_allclose requires
inf where inf is expected, and NaN never equals a number).
"""

import functools

import jax
import numpy as np
import pytest
from scipy import special

import infolib

RTOL, ATOL = 1e-5, 1e-6
GRAD_RTOL, GRAD_ATOL = 1e-4, 1e-6
INF = np.inf


def value_and_grad(fn, *args, argnums=0, **static_kwargs):
    """``fn(*args)`` and the gradient of its sum with respect to ``argnums``, in one jit.

    For elementwise functions the gradient of the sum is the elementwise derivative.
    """

    def summed(*a):
        value = functools.partial(fn, **static_kwargs)(*a)
        return value.sum(), value

    grad, value = jax.jit(jax.grad(summed, argnums=argnums, has_aux=True))(*args)
    return np.asarray(value), jax.tree.map(np.asarray, grad)


def call(fn, *args, **static_kwargs):
    """``fn(*args, **static_kwargs)`` under ``jax.jit``, with the keyword arguments static."""
    return np.asarray(jax.jit(functools.partial(fn, **static_kwargs))(*args))


def _f32(x):
    return np.asarray(x, np.float32)


def _assert_no_nan(*arrays):
    for a in arrays:
        assert not np.any(np.isnan(a)), a


# --- 0 log 0 and the infinite cases --------------------------------------------------------------


def test_entropy_zero_log_zero_is_zero_and_gradient_at_zero_is_plus_inf_not_nan():
    """Guards against the naive ``p * log(p)`` (NaN at p = 0) and against a single ``jnp.where``
    around the log (optax ``kl_divergence``), whose gradient is NaN at p = 0; the true derivative
    -(log p + 1) there is +inf."""
    p = _f32([[0.0, 0.25, 0.75], [1.0, 0.0, 0.0]])
    value, grad = value_and_grad(infolib.entropy, p)
    expected = -0.25 * np.log(0.25) - 0.75 * np.log(0.75)
    np.testing.assert_allclose(value, [expected, 0.0], rtol=RTOL, atol=ATOL)
    expected = [[INF, -(np.log(0.25) + 1), -(np.log(0.75) + 1)], [-1.0, INF, INF]]
    np.testing.assert_allclose(grad, expected, rtol=GRAD_RTOL, atol=GRAD_ATOL)


def test_self_information_at_zero_is_inf_with_minus_inf_gradient():
    """-log 0 = +inf and d/dp (-log p) = -1/p = -inf at 0: never NaN."""
    value, grad = value_and_grad(infolib.self_information, _f32([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(value, [INF, np.log(2.0), 0.0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(grad, [-INF, -2.0, -1.0], rtol=GRAD_RTOL)


def test_cross_entropy_skips_zero_p_terms_and_is_inf_where_q_is_zero():
    """Guards against ``-sum(p * log q)``: NaN for 0 * log 0, and against ``log(clip(q, eps))``,
    a wrong finite value where the answer is +inf."""
    p = _f32([[0.0, 0.4, 0.6], [0.5, 0.5, 0.0]])
    q = _f32([[0.0, 0.5, 0.5], [0.0, 0.5, 0.5]])
    np.testing.assert_allclose(
        call(infolib.cross_entropy, p, q), [np.log(2.0), INF], rtol=RTOL, atol=ATOL
    )


def test_cross_entropy_gradients_where_p_and_q_are_zero_are_not_nan():
    """d/dq = -p/q is 0 where p = 0 (even where q = 0); d/dp = -log q is +inf where q = 0.

    Guards against NaN gradients from 0/0 and 0 * inf in the backward pass.
    """
    p, q = _f32([0.0, 0.4, 0.6]), _f32([0.0, 0.5, 0.5])
    value, (grad_p, grad_q) = value_and_grad(infolib.cross_entropy, p, q, argnums=(0, 1))
    np.testing.assert_allclose(value, np.log(2.0), rtol=RTOL)
    np.testing.assert_allclose(grad_q, [0.0, -0.8, -1.2], rtol=GRAD_RTOL, atol=GRAD_ATOL)
    np.testing.assert_allclose(grad_p, [INF, np.log(2.0), np.log(2.0)], rtol=GRAD_RTOL)


def test_kl_divergence_is_zero_where_p_is_zero_and_inf_where_q_is_zero():
    """Guards against optax ``kl_divergence``, which returns NaN where a log-target is -inf."""
    p = _f32([[0.0, 0.4, 0.6], [0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    q = _f32([[0.0, 0.5, 0.5], [0.0, 0.5, 0.5], [0.0, 0.5, 0.5]])
    expected = [0.4 * np.log(0.8) + 0.6 * np.log(1.2), INF, 0.0]
    np.testing.assert_allclose(call(infolib.kl_divergence, p, q), expected, rtol=RTOL, atol=ATOL)


def test_kl_divergence_gradients_where_p_is_zero_are_not_nan():
    """Guards against optax ``kl_divergence``'s NaN gradients at zero targets.

    d/dq = -p/q is 0 where p = 0 (also where q = 0 as well); d/dp = log(p/q) + 1 is -inf at
    p = 0 < q. At p = q = 0 the derivative in p is not finite, but it is not NaN either.
    """
    p, q = _f32([0.0, 0.0, 0.4, 0.6]), _f32([0.2, 0.0, 0.3, 0.5])
    _, (grad_p, grad_q) = value_and_grad(infolib.kl_divergence, p, q, argnums=(0, 1))
    np.testing.assert_allclose(grad_q, [0.0, 0.0, -0.4 / 0.3, -1.2], rtol=GRAD_RTOL, atol=GRAD_ATOL)
    _assert_no_nan(grad_p)
    expected = [-INF, np.log(0.4 / 0.3) + 1, np.log(0.6 / 0.5) + 1]
    np.testing.assert_allclose(grad_p[[0, 2, 3]], expected, rtol=GRAD_RTOL)


def test_js_divergence_with_disjoint_supports_is_log_2_with_no_nan_gradient():
    """JS is finite (log 2) where p and q have disjoint supports, unlike KL. Its gradient
    d/dp_i = ½ log(2 p_i / (p_i + q_i)) is finite where p_i > 0 and -inf where p_i = 0 < q_i."""
    p, q = _f32([0.6, 0.4, 0.0]), _f32([0.0, 0.0, 1.0])
    value, grad = value_and_grad(infolib.js_divergence, p, q)
    np.testing.assert_allclose(value, np.log(2.0), rtol=RTOL)
    np.testing.assert_allclose(grad, [0.5 * np.log(2.0), 0.5 * np.log(2.0), -INF], rtol=GRAD_RTOL)


def test_binary_cross_entropy_at_zero_and_one():
    """0 log 0 = 0 on both sides of the binary case, +inf for a confident wrong prediction; the
    gradients d/dp = (p - y) / (p (1 - p)) and d/dy = log((1 - p) / p) are never NaN.

    Guards against ``log(clip(p, eps))`` (finite where the loss is +inf) and against a naive
    ``y * log p``, NaN at y = p = 0.
    """
    y, p = _f32([0.0, 1.0, 1.0, 0.0, 0.5]), _f32([0.0, 1.0, 0.0, 1.0, 0.5])
    value, (grad_y, grad_p) = value_and_grad(infolib.binary_cross_entropy, y, p, argnums=(0, 1))
    np.testing.assert_allclose(value, [0.0, 0.0, INF, INF, np.log(2.0)], rtol=RTOL, atol=ATOL)
    _assert_no_nan(grad_p)
    np.testing.assert_allclose(grad_p[[0, 1, 4]], [1.0, -1.0, 0.0], atol=GRAD_ATOL)
    np.testing.assert_allclose(grad_y, [INF, -INF, INF, -INF, 0.0], atol=GRAD_ATOL)


# --- binary cross-entropy with logits at +-inf ---------------------------------------------------


def test_binary_cross_entropy_with_logits_at_infinite_logits():
    """Guards against optax ``sigmoid_binary_cross_entropy``, which is NaN at z = ±inf.

    The loss is finite where the prediction is certain and right; the gradient σ(z) - y is
    finite everywhere, also at ±inf.
    """
    y = _f32([1.0, 0.0, 1.0, 0.0, 0.5, 0.5])
    z = _f32([INF, -INF, -INF, INF, INF, -INF])
    value, grad_z = value_and_grad(infolib.binary_cross_entropy_with_logits, y, z, argnums=1)
    np.testing.assert_allclose(value, [0.0, 0.0, INF, INF, INF, INF], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(grad_z, [0.0, 0.0, -1.0, 1.0, 0.5, -0.5], atol=GRAD_ATOL)


def test_binary_cross_entropy_with_logits_large_finite_logits_are_exact():
    """Guards against ``log(sigmoid(z))``: in float32 sigmoid(-100) underflows to 0 and the
    loss becomes inf; log-sigmoid gives the exact |z|."""
    y, z = _f32([0.0, 1.0, 1.0, 0.0]), _f32([100.0, -100.0, 100.0, -100.0])
    value, grad_z = value_and_grad(infolib.binary_cross_entropy_with_logits, y, z, argnums=1)
    np.testing.assert_allclose(value, [100.0, 100.0, 0.0, 0.0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(grad_z, [1.0, -1.0, 0.0, 0.0], atol=GRAD_ATOL)


# --- masked (-inf) logits against slicing --------------------------------------------------------

MASKED = _f32(
    [[1.0, -INF, 2.0, -INF, 0.5], [0.0, -INF, -3.0, -INF, 4.0], [2.0, -INF, 2.0, -INF, 2.0]]
)
LIVE = np.isfinite(MASKED[0])  # the same columns are masked in every row


def _assert_masked_matches_sliced(fn, masked_args, sliced_args, argnums, **static_kwargs):
    """The masked computation equals the one with the masked classes sliced away; its gradient
    with respect to each logits argument is finite, exactly 0 at the masked classes, and equal to
    the sliced gradient elsewhere."""
    value, grads = value_and_grad(fn, *masked_args, argnums=argnums, **static_kwargs)
    sliced_value, sliced_grads = value_and_grad(fn, *sliced_args, argnums=argnums, **static_kwargs)
    np.testing.assert_allclose(value, sliced_value, rtol=RTOL, atol=ATOL)
    for grad, sliced_grad in zip(grads, sliced_grads, strict=True):
        assert np.all(np.isfinite(grad)), grad
        np.testing.assert_array_equal(grad[..., ~LIVE], 0.0)
        np.testing.assert_allclose(grad[..., LIVE], sliced_grad, rtol=GRAD_RTOL, atol=GRAD_ATOL)


def test_entropy_with_logits_masked_equals_sliced():
    """Guards against ``softmax * log_softmax``, which is 0 * -inf = NaN at masked classes."""
    _assert_masked_matches_sliced(
        infolib.entropy_with_logits, (MASKED,), (MASKED[:, LIVE],), argnums=(0,)
    )


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_with_logits_masked_equals_sliced(label_smoothing):
    """Guards against optax ``softmax_cross_entropy``, NaN with a -inf logit, and against label
    smoothing that puts mass on masked classes (an infinite loss)."""
    p = _f32([[0.3, 0.0, 0.7, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0], [0.2, 0.0, 0.3, 0.0, 0.5]])
    _assert_masked_matches_sliced(
        infolib.cross_entropy_with_logits,
        (p, MASKED),
        (p[:, LIVE], MASKED[:, LIVE]),
        argnums=(1,),
        label_smoothing=label_smoothing,
    )


def test_label_smoothing_spreads_mass_over_unmasked_classes_only():
    """p_s = (1 - eps) p + eps / K_eff with K_eff the number of unmasked classes, and no mass on
    masked ones; the gradient is softmax · sum(p_s) - p_s."""
    logits, p, eps = _f32([1.0, -INF, 2.0, 0.0]), _f32([1.0, 0.0, 0.0, 0.0]), 0.1
    value, grad = value_and_grad(
        infolib.cross_entropy_with_logits, p, logits, argnums=1, label_smoothing=eps
    )
    p_s = np.asarray([0.9 + eps / 3, 0.0, eps / 3, eps / 3])
    log_q = special.log_softmax(np.float64(logits))
    expected = -np.sum(p_s[[0, 2, 3]] * log_q[[0, 2, 3]])
    np.testing.assert_allclose(value, expected, rtol=RTOL)
    np.testing.assert_allclose(grad, np.exp(log_q) - p_s, rtol=GRAD_RTOL, atol=GRAD_ATOL)


def test_cross_entropy_with_logits_is_inf_for_label_mass_on_a_masked_class():
    p, logits = _f32([0.5, 0.5, 0.0]), _f32([0.0, -INF, 1.0])
    assert call(infolib.cross_entropy_with_logits, p, logits) == INF


@pytest.mark.parametrize("n_classes", [3, 300])  # the few- and the many-class kernels
def test_cross_entropy_with_logits_per_logit_mask_all_masked_row_is_zero(n_classes):
    """The regression of issue 27, as optax's ``test_per_logit_mask``: a row whose every class
    is masked (logits all -inf) and whose target mass is 0 costs 0, not NaN (-inf - (-inf) in
    the log-softmax), and its gradient is finite (0) with respect to the logits."""
    ys = np.full((2, n_classes), -INF, np.float32)
    ys[:, :3] = [[10.0, 1.0, -2.0], [1.0, 4.0, 0.2]]
    ts = np.zeros((2, n_classes), np.float32)
    ts[:, :3] = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    where = np.zeros((2, n_classes), bool)
    where[0, 0] = True  # optax's per_logit_mask: row 0 keeps class 0, row 1 keeps none
    logits, labels = np.where(where, ys, -INF), np.where(where, ts, 0.0)
    value, grad = value_and_grad(infolib.cross_entropy_with_logits, labels, logits, argnums=1)
    np.testing.assert_array_equal(value, [0.0, 0.0])
    np.testing.assert_array_equal(grad, 0.0)
    _, grad_p = value_and_grad(infolib.cross_entropy_with_logits, labels, logits, argnums=0)
    assert grad_p[0, 0] == 0.0  # -log q = 0 for the one live class; +inf on the masked ones
    np.testing.assert_array_equal(grad_p[1], INF)
    eager = np.asarray(infolib.cross_entropy_with_logits(labels, logits, label_smoothing=0.1))
    np.testing.assert_array_equal(eager, [0.0, 0.0])
    # Target mass on a row with every class masked still costs +inf, and NaN still propagates.
    labels[1, 0] = 1.0
    assert call(infolib.cross_entropy_with_logits, labels, logits)[1] == INF
    logits[1, 1] = np.nan
    assert np.isnan(call(infolib.cross_entropy_with_logits, labels, logits)[1])


def test_sparse_cross_entropy_masked_equals_sliced():
    """Guards against gathering from a full log-softmax, with 0 * -inf in its gradient."""
    labels = np.asarray([0, 4, 2])  # classes 0, 2, 4 are live; after slicing they are 0, 1, 2
    _assert_masked_matches_sliced(
        infolib.sparse_cross_entropy_with_logits,
        (labels, MASKED),
        (np.asarray([0, 2, 1]), MASKED[:, LIVE]),
        argnums=(1,),
    )


def test_sparse_cross_entropy_label_on_a_masked_class_is_inf():
    got = call(infolib.sparse_cross_entropy_with_logits, np.asarray([1, 0]), MASKED[:2])
    assert got[0] == INF
    assert np.isfinite(got[1])


def test_kl_divergence_with_logits_masked_in_both_equals_sliced():
    q_logits = _f32(
        [[0.0, -INF, 1.0, -INF, 1.0], [3.0, -INF, 0.0, -INF, -1.0], [0, -INF, 0, -INF, 0]]
    )
    _assert_masked_matches_sliced(
        infolib.kl_divergence_with_logits,
        (MASKED, q_logits),
        (MASKED[:, LIVE], q_logits[:, LIVE]),
        argnums=(0, 1),
    )


def test_kl_divergence_with_logits_masked_in_q_only_is_inf():
    got = call(infolib.kl_divergence_with_logits, _f32([0.0, 1.0, 2.0]), _f32([0.0, -INF, 2.0]))
    assert got == INF


def test_single_unmasked_class_has_zero_entropy_and_zero_gradient():
    value, grad = value_and_grad(infolib.entropy_with_logits, _f32([-INF, 3.0, -INF]))
    assert value == 0.0
    np.testing.assert_array_equal(grad, 0.0)


# --- overflow and underflow ----------------------------------------------------------------------


def test_entropy_with_logits_large_logits_do_not_overflow():
    """Guards against an unshifted ``exp(logits)``, which overflows to inf/inf = NaN."""
    logits = _f32([[1000.0, 0.0, -1000.0], [500.0, 500.0, -500.0]])
    value, grad = value_and_grad(infolib.entropy_with_logits, logits)
    np.testing.assert_allclose(value, [0.0, np.log(2.0)], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(grad, 0.0, atol=GRAD_ATOL)


def test_cross_entropy_with_logits_uses_log_softmax_not_log_of_softmax():
    """Guards against ``log(softmax(z))``, which is log 0 = -inf once softmax underflows."""
    p, logits = _f32([0.0, 1.0]), _f32([1000.0, 0.0])
    value, grad = value_and_grad(infolib.cross_entropy_with_logits, p, logits, argnums=1)
    np.testing.assert_allclose(value, 1000.0, rtol=RTOL)
    np.testing.assert_allclose(grad, [1.0, -1.0], atol=GRAD_ATOL)


def test_kl_divergence_with_logits_has_finite_gradient_where_softmax_underflows():
    """Guards against optax ``kl_divergence`` fed a softmax that underflows (exp(-200) is 0 in
    float32): its NaN gradient spreads to every logit.

    Analytic gradients, computed in float64: d/d q_logits = softmax(q_logits) - p and
    d/d p_logits = p (log p - log q - KL).
    """
    a = _f32([[0.0, -1000.0, 0.0], [0.0, -200.0, 0.0], [-200.0, 0.0, -1000.0]])
    b = _f32([[0.3, 0.0, -0.2], [0.3, 0.0, -0.2], [0.0, 1.0, 2.0]])
    la = special.log_softmax(np.float64(a), axis=-1)
    lb = special.log_softmax(np.float64(b), axis=-1)
    pa = np.exp(la)
    kl = np.sum(pa * (la - lb), axis=-1, keepdims=True)
    value, (grad_a, grad_b) = value_and_grad(
        infolib.kl_divergence_with_logits, a, b, argnums=(0, 1)
    )
    np.testing.assert_allclose(value, kl[:, 0], rtol=RTOL)
    np.testing.assert_allclose(grad_a, pa * (la - lb - kl), rtol=GRAD_RTOL, atol=GRAD_ATOL)
    np.testing.assert_allclose(grad_b, np.exp(lb) - pa, rtol=GRAD_RTOL, atol=GRAD_ATOL)


# --- labels out of range -------------------------------------------------------------------------


def test_sparse_cross_entropy_out_of_range_label_is_nan_not_wrapped():
    """Guards against optax, where label -1 silently indexes the last class (Python-style)."""
    logits = np.tile(_f32([1.0, 2.0, 3.0]), (6, 1))
    labels = np.asarray([-1, 3, -4, 100, 2, 0])
    got = call(infolib.sparse_cross_entropy_with_logits, labels, logits)
    np.testing.assert_array_equal(np.isnan(got), [True, True, True, True, False, False])
    expected = special.logsumexp([1.0, 2.0, 3.0]) - np.asarray([3.0, 1.0])
    np.testing.assert_allclose(got[4:], expected, rtol=RTOL)


def test_sparse_cross_entropy_out_of_range_label_does_not_poison_other_rows_gradient():
    logits = _f32([[0.1, 0.2, 3.0], [1.0, 2.0, 3.0]])
    labels = np.asarray([0, 5])
    _, grad = value_and_grad(infolib.sparse_cross_entropy_with_logits, labels, logits, argnums=1)
    expected = special.softmax(np.float64(logits[0])) - [1.0, 0.0, 0.0]
    np.testing.assert_allclose(grad[0], expected, rtol=GRAD_RTOL, atol=GRAD_ATOL)


@pytest.mark.parametrize(
    "fn",
    [infolib.kl_divergence, infolib.cross_entropy, infolib.js_divergence],
    ids=["kl", "cross_entropy", "js"],
)
def test_tiny_probabilities_give_exact_values_and_finite_gradients(fn):
    """Entries of 1e-30 (normal in float32): values match float64 and gradients are finite.

    Guards against epsilon clipping (``log(p + 1e-8)`` changes the answer) and against a
    ``jnp.where`` that treats tiny values as zero.
    """
    p, q = _f32([1e-30, 0.5, 0.5]), _f32([1e-30, 0.25, 0.75])
    value, grads = value_and_grad(fn, p, q, argnums=(0, 1))
    p64, q64 = np.float64(p), np.float64(q)
    m = (p64 + q64) / 2
    expected = {
        "kl_divergence": special.rel_entr(p64, q64).sum(),
        "cross_entropy": -special.xlogy(p64, q64).sum(),
        "js_divergence": 0.5 * (special.rel_entr(p64, m) + special.rel_entr(q64, m)).sum(),
    }[fn.__name__]
    np.testing.assert_allclose(value, expected, rtol=RTOL, atol=ATOL)
    assert all(np.all(np.isfinite(g)) for g in grads), grads
