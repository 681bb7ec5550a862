"""Gradients: ``jax.test_util.check_grads`` in float64, and analytic forms in float32.

check_grads compares forward- and reverse-mode derivatives (order 1) with finite differences at
interior points in float64, at its float64 default tolerances. Analytic gradients are taken in
float32 under jit and compared with the formula evaluated in float64 at ``rtol=1e-4, atol=1e-6``.
"""

import functools

import jax
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy import special

import infolib

SHAPE = (3, 5)
DTYPE = np.float32  # analytic gradients: float32 under jit; float64 is covered by check_grads
GRAD_RTOL, GRAD_ATOL = 1e-4, 1e-6


def _interior_simplex(rng, shape):
    x = rng.uniform(0.2, 1.0, shape)
    return x / x.sum(-1, keepdims=True)


def _jit_grad(fn, argnums, *args, **static_kwargs):
    """Gradient of ``fn(*args, **static_kwargs).sum()`` with respect to ``argnums``, jitted once."""
    f = functools.partial(fn, **static_kwargs)
    return jax.jit(jax.grad(lambda *a: f(*a).sum(), argnums=argnums))(*args)


def _assert_grad_close(got, expected):
    assert got.dtype == DTYPE
    np.testing.assert_allclose(got, expected, rtol=GRAD_RTOL, atol=GRAD_ATOL)


# --- check_grads at interior points --------------------------------------------------------------


def _check_grads_cases(rng):
    """name -> (function of float arrays only, args) at interior points, in float64.

    Left out to keep the suite fast, as their derivatives are one line and are checked against
    the analytic form below: self_information (-log p), gaussian_entropy and laplace_entropy
    (log σ + c), joint_entropy (entropy over two axes), miller_madow_entropy (plugin + (m-1)/2n).
    """
    p, q = _interior_simplex(rng, SHAPE), _interior_simplex(rng, SHAPE)
    logits, logits_b = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)
    y, pb = rng.uniform(0.1, 0.9, SHAPE), rng.uniform(0.1, 0.9, SHAPE)
    pxy = _interior_simplex(rng, (2, 12)).reshape(2, 3, 4)
    scale = rng.uniform(0.5, 2.0, 4)
    loc_p, loc_q = np.array([0.0, 1.0, -1.0, 2.0]), np.array([0.5, -0.5, 1.0, 0.0])
    scale_q = rng.uniform(0.5, 2.0, 4)
    counts = rng.uniform(1.0, 10.0, SHAPE)
    counts_xy = rng.uniform(1.0, 10.0, (2, 3, 4))
    labels = rng.integers(0, SHAPE[-1], SHAPE[0])
    samples = rng.standard_normal((2, 12, 2))  # continuous: no ties, so the neighbours stay
    return {
        "entropy": (infolib.entropy, (p,)),
        "entropy_with_logits": (infolib.entropy_with_logits, (logits,)),
        "cross_entropy": (infolib.cross_entropy, (p, q)),
        "cross_entropy_with_logits": (infolib.cross_entropy_with_logits, (p, logits)),
        "cross_entropy_with_logits_smoothed": (
            functools.partial(infolib.cross_entropy_with_logits, label_smoothing=0.1),
            (p, logits),
        ),
        "sparse_cross_entropy_with_logits": (
            functools.partial(infolib.sparse_cross_entropy_with_logits, labels),
            (logits,),
        ),
        "binary_cross_entropy": (infolib.binary_cross_entropy, (y, pb)),
        "binary_cross_entropy_with_logits": (infolib.binary_cross_entropy_with_logits, (y, logits)),
        "kl_divergence": (infolib.kl_divergence, (p, q)),
        "kl_divergence_with_logits": (infolib.kl_divergence_with_logits, (logits, logits_b)),
        "js_divergence": (infolib.js_divergence, (p, q)),
        "conditional_entropy": (infolib.conditional_entropy, (pxy,)),
        "mutual_information": (infolib.mutual_information, (pxy,)),
        "gaussian_kl": (infolib.gaussian_kl, (loc_p, scale, loc_q, scale_q)),
        "laplace_kl": (infolib.laplace_kl, (loc_p, scale, loc_q, scale_q)),
        "plugin_entropy": (infolib.plugin_entropy, (counts,)),
        "jackknife_entropy": (infolib.jackknife_entropy, (counts + 1,)),
        "grassberger_entropy": (infolib.grassberger_entropy, (counts,)),
        "chao_shen_entropy": (infolib.chao_shen_entropy, (counts + 1,)),
        "zhang_entropy": (infolib.zhang_entropy, (counts,)),
        "james_stein_entropy": (infolib.james_stein_entropy, (counts,)),
        "mutual_information_from_counts": (
            functools.partial(infolib.mutual_information_from_counts, method="zhang"),
            (counts_xy,),
        ),
        "conditional_mutual_information_from_counts": (
            infolib.conditional_mutual_information_from_counts,
            (counts_xy[..., None],),
        ),
        "renyi_entropy": (infolib.renyi_entropy, (p, np.float64(0.7))),
        "renyi_entropy_with_logits": (infolib.renyi_entropy_with_logits, (logits, np.float64(2.0))),
        "tsallis_entropy": (infolib.tsallis_entropy, (p, np.float64(1.1))),
        "renyi_divergence": (infolib.renyi_divergence, (p, q, np.float64(1.0))),
        "renyi_divergence_with_logits": (
            infolib.renyi_divergence_with_logits,
            (logits, logits_b, np.float64(0.4)),
        ),
        "f_divergence": (functools.partial(infolib.f_divergence, kind="hellinger"), (p, q)),
        "kl_entropy": (infolib.kl_entropy, (samples,)),
    }


CHECK_GRADS_NAMES = list(_check_grads_cases(np.random.default_rng(0)))
# Left out of check_grads (see _check_grads_cases); their gradients are checked analytically below.
ANALYTIC_ONLY = {
    "self_information",
    "gaussian_entropy",
    "laplace_entropy",
    "joint_entropy",
    "miller_madow_entropy",
    # The quadrature's gradient (its interval held fixed); finite, not compared with a formula.
    "nsb_entropy",
    # Piecewise constant in the samples: the gradient is 0 (test_knn.py checks it).
    "ksg_mutual_information",
    "ksg_conditional_mutual_information",
}


def test_every_public_function_has_its_gradient_checked():
    """check_grads cases (variants such as ``_smoothed`` included) and the analytic-only list
    together are exactly ``infolib.__all__`` without ``checked``."""
    checked = {name.removesuffix("_smoothed") for name in CHECK_GRADS_NAMES}
    assert not checked & ANALYTIC_ONLY
    assert checked | ANALYTIC_ONLY == set(infolib.__all__) - {"checked"}


@pytest.mark.parametrize("name", CHECK_GRADS_NAMES)
def test_check_grads_at_interior_points(rng, name):
    with jax.enable_x64(True):
        fn, args = _check_grads_cases(rng)[name]
        args = tuple(np.asarray(a, np.float64) for a in args)
        check_grads(jax.jit(fn), args, order=1, modes=("fwd", "rev"))


# --- analytic forms ------------------------------------------------------------------------------


def test_kl_divergence_gradients_are_minus_p_over_q_and_log_ratio_plus_one(rng):
    p, q = (_interior_simplex(rng, SHAPE).astype(DTYPE) for _ in range(2))
    p64, q64 = p.astype(np.float64), q.astype(np.float64)
    grad_p, grad_q = _jit_grad(infolib.kl_divergence, (0, 1), p, q)
    _assert_grad_close(grad_q, -p64 / q64)
    _assert_grad_close(grad_p, np.log(p64 / q64) + 1)


def test_cross_entropy_gradients_are_minus_p_over_q_and_minus_log_q(rng):
    p, q = (_interior_simplex(rng, SHAPE).astype(DTYPE) for _ in range(2))
    p64, q64 = p.astype(np.float64), q.astype(np.float64)
    grad_p, grad_q = _jit_grad(infolib.cross_entropy, (0, 1), p, q)
    _assert_grad_close(grad_q, -p64 / q64)
    _assert_grad_close(grad_p, -np.log(q64))


@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("normalised", [True, False], ids=["normalised", "unnormalised"])
def test_cross_entropy_with_logits_gradient_is_softmax_times_mass_minus_labels(
    rng, label_smoothing, normalised
):
    """d/d logits = softmax · sum(p_s) - p_s; for labels summing to 1 that is softmax - p_s."""
    p = _interior_simplex(rng, SHAPE) * (1.0 if normalised else 1.7)
    p = p.astype(DTYPE)
    logits = (2.0 * rng.standard_normal(SHAPE)).astype(DTYPE)
    got = _jit_grad(
        infolib.cross_entropy_with_logits, 1, p, logits, label_smoothing=label_smoothing
    )
    p_s = (1 - label_smoothing) * p.astype(np.float64) + label_smoothing / SHAPE[-1]
    softmax = special.softmax(logits.astype(np.float64), axis=-1)
    _assert_grad_close(got, softmax * p_s.sum(-1, keepdims=True) - p_s)


def test_sparse_cross_entropy_gradient_is_softmax_minus_one_hot(rng):
    logits = (2.0 * rng.standard_normal(SHAPE)).astype(DTYPE)
    labels = rng.integers(0, SHAPE[-1], SHAPE[0])
    got = _jit_grad(infolib.sparse_cross_entropy_with_logits, 1, labels, logits)
    expected = special.softmax(logits.astype(np.float64), axis=-1) - np.eye(SHAPE[-1])[labels]
    _assert_grad_close(got, expected)


def test_binary_cross_entropy_with_logits_gradient_is_sigmoid_minus_label(rng):
    y = rng.random(SHAPE).astype(DTYPE)
    z = (4.0 * rng.standard_normal(SHAPE)).astype(DTYPE)
    got = _jit_grad(infolib.binary_cross_entropy_with_logits, 1, y, z)
    _assert_grad_close(got, special.expit(z.astype(np.float64)) - y.astype(np.float64))


def test_binary_cross_entropy_gradient(rng):
    y = rng.random(SHAPE).astype(DTYPE)
    p = rng.uniform(0.05, 0.95, SHAPE).astype(DTYPE)
    y64, p64 = y.astype(np.float64), p.astype(np.float64)
    got = _jit_grad(infolib.binary_cross_entropy, 1, y, p)
    _assert_grad_close(got, -(y64 / p64 - (1 - y64) / (1 - p64)))


def test_entropy_with_logits_gradient_is_minus_p_times_log_p_plus_entropy(rng):
    logits = (2.0 * rng.standard_normal(SHAPE)).astype(DTYPE)
    log_p = special.log_softmax(logits.astype(np.float64), axis=-1)
    p = np.exp(log_p)
    entropy = -(p * log_p).sum(-1, keepdims=True)
    got = _jit_grad(infolib.entropy_with_logits, 0, logits)
    _assert_grad_close(got, -p * (log_p + entropy))


def test_entropy_and_self_information_gradients(rng):
    p = _interior_simplex(rng, SHAPE).astype(DTYPE)
    p64 = p.astype(np.float64)
    _assert_grad_close(_jit_grad(infolib.entropy, 0, p), -(np.log(p64) + 1))
    _assert_grad_close(_jit_grad(infolib.self_information, 0, p), -1 / p64)


def test_js_divergence_gradient_is_half_log_ratio_to_the_mixture(rng):
    p, q = (_interior_simplex(rng, SHAPE).astype(DTYPE) for _ in range(2))
    p64, q64 = p.astype(np.float64), q.astype(np.float64)
    got = _jit_grad(infolib.js_divergence, 0, p, q)
    _assert_grad_close(got, 0.5 * np.log(2 * p64 / (p64 + q64)))


def test_kl_divergence_with_logits_gradients(rng):
    """d/d q_logits = softmax(q_logits) - p;  d/d p_logits = p (log p - log q - KL)."""
    a, b = (2.0 * rng.standard_normal((2, *SHAPE))).astype(DTYPE)
    la = special.log_softmax(a.astype(np.float64), axis=-1)
    lb = special.log_softmax(b.astype(np.float64), axis=-1)
    pa = np.exp(la)
    kl = (pa * (la - lb)).sum(-1, keepdims=True)
    grad_a, grad_b = _jit_grad(infolib.kl_divergence_with_logits, (0, 1), a, b)
    _assert_grad_close(grad_a, pa * (la - lb - kl))
    _assert_grad_close(grad_b, np.exp(lb) - pa)


def test_joint_conditional_mutual_information_gradients(rng):
    """dH(X,Y)/dp = -(log p + 1); dH(Y|X)/dp = -log(p / p_x); dI/dp = log(p / (p_x p_y)) - 1."""
    pxy = _interior_simplex(rng, (2, 12)).reshape(2, 3, 4).astype(DTYPE)
    p = pxy.astype(np.float64)
    px, py = p.sum(-1, keepdims=True), p.sum(-2, keepdims=True)
    _assert_grad_close(_jit_grad(infolib.joint_entropy, 0, pxy), -(np.log(p) + 1))
    _assert_grad_close(_jit_grad(infolib.conditional_entropy, 0, pxy), -np.log(p / px))
    _assert_grad_close(_jit_grad(infolib.mutual_information, 0, pxy), np.log(p / (px * py)) - 1)


def test_closed_form_gradients(rng):
    """d/dσ ½log(2πeσ²) = 1/σ; d/db (1 + log 2b) = 1/b; Gaussian KL:
    d/dμp = (μp - μq)/σq², d/dσp = -1/σp + σp/σq²."""
    mp, mq = rng.standard_normal((2, 4)).astype(DTYPE)
    sp, sq = rng.uniform(0.3, 3.0, (2, 4)).astype(DTYPE)
    mp64, mq64, sp64, sq64 = (x.astype(np.float64) for x in (mp, mq, sp, sq))
    _assert_grad_close(_jit_grad(infolib.gaussian_entropy, 0, sp), 1 / sp64)
    _assert_grad_close(_jit_grad(infolib.laplace_entropy, 0, sp), 1 / sp64)
    grad_mp, grad_sp = _jit_grad(infolib.gaussian_kl, (0, 1), mp, sp, mq, sq)
    _assert_grad_close(grad_mp, (mp64 - mq64) / sq64**2)
    _assert_grad_close(grad_sp, -1 / sp64 + sp64 / sq64**2)


def test_count_estimator_gradients(rng):
    """dH_plugin/dc_k = -(log p_k + H) / n; Miller-Madow adds -(m - 1) / (2 n²)."""
    counts = rng.uniform(1.0, 10.0, SHAPE).astype(DTYPE)
    c = counts.astype(np.float64)
    n = c.sum(-1, keepdims=True)
    p = c / n
    h = -(p * np.log(p)).sum(-1, keepdims=True)
    plugin_grad = -(np.log(p) + h) / n
    _assert_grad_close(_jit_grad(infolib.plugin_entropy, 0, counts), plugin_grad)
    m = SHAPE[-1]
    _assert_grad_close(
        _jit_grad(infolib.miller_madow_entropy, 0, counts),
        plugin_grad - (m - 1) / (2 * n**2),
    )


# --- many classes ----------------------------------------------------------------------------
#
# For few classes (up to 256) the derivative passes and the fused KL with logits take other code
# paths than for many (a trace-time choice, for speed on XLA:CPU: BENCHMARKS.md §1). The tests
# above use few classes; these check the many-class paths against the analytic gradients, with
# masked classes and zeros, in float32 under jit (rtol=1e-4, atol=1e-6).

MANY = 300
INF = np.inf


def _many_class_logits(rng):
    a, b = (2.0 * rng.standard_normal((2, 4, MANY))).astype(DTYPE)
    a[0, :5] = b[0, :5] = -INF  # masked in both
    a[1, 7] = -INF  # masked in p only
    b[2, 9] = -INF  # masked in q only: +inf, gradient 0 for the row
    return a, b


def test_kl_divergence_with_logits_many_classes_matches_analytic_gradients(rng):
    a, b = _many_class_logits(rng)
    grad_a, grad_b = _jit_grad(infolib.kl_divergence_with_logits, (0, 1), a, b)
    values = jax.jit(infolib.kl_divergence_with_logits)(a, b)
    la = special.log_softmax(a.astype(np.float64), axis=-1)
    lb = special.log_softmax(b.astype(np.float64), axis=-1)
    pa, qb = np.exp(la), np.exp(lb)
    with np.errstate(invalid="ignore"):
        kl = np.where(pa > 0, pa * (la - lb), 0.0).sum(-1)
    assert values[2] == INF
    finite = np.isfinite(kl)
    np.testing.assert_allclose(values[finite], kl[finite], rtol=1e-5)
    with np.errstate(invalid="ignore"):
        expected_a = np.where(pa > 0, pa * (la - lb - kl[:, None]), 0.0)
    expected_b = qb - pa
    expected_a[~finite], expected_b[~finite] = 0.0, 0.0
    _assert_grad_close(grad_a, expected_a)
    _assert_grad_close(grad_b, expected_b)


def test_cross_entropy_with_logits_many_classes_matches_analytic_gradient(rng):
    a, _ = _many_class_logits(rng)
    p = _interior_simplex(rng, a.shape) * np.isfinite(a)
    p = (p / p.sum(-1, keepdims=True)).astype(DTYPE)
    got = _jit_grad(infolib.cross_entropy_with_logits, 1, p, a)
    softmax = special.softmax(a.astype(np.float64), axis=-1)
    _assert_grad_close(got, softmax * p.astype(np.float64).sum(-1, keepdims=True) - p)


def test_sparse_cross_entropy_many_classes_matches_analytic_gradient(rng):
    """The many-class derivative (softmax recomputed, the label's 1 scattered) against the
    formula; a masked label costs +inf with a finite gradient, and an out-of-range label
    (NaN) changes no other row's gradient."""
    a, _ = _many_class_logits(rng)
    labels = np.asarray([7, 5, MANY, 11])  # row 0: label 7 is live; row 2: out of range
    a[1, 5] = -INF  # row 1: the label's class is masked
    values = jax.jit(infolib.sparse_cross_entropy_with_logits)(labels, a)
    assert values[1] == INF and np.isnan(values[2])
    got = _jit_grad(infolib.sparse_cross_entropy_with_logits, 1, labels, a)
    expected = special.softmax(a.astype(np.float64), axis=-1)
    rows = np.asarray([0, 1, 3])
    expected[rows, labels[rows]] -= 1.0
    _assert_grad_close(np.asarray(got)[rows], expected[rows])


def test_kl_divergence_and_entropy_many_classes_match_analytic_gradients(rng):
    p, q = (_interior_simplex(rng, (4, MANY)) for _ in range(2))
    p[0, :10] = 0.0  # zeros in p: the middle and exact tiers
    p = (p / p.sum(-1, keepdims=True)).astype(DTYPE)
    q = q.astype(DTYPE)
    p64, q64 = p.astype(np.float64), q.astype(np.float64)
    grad_p, grad_q = _jit_grad(infolib.kl_divergence, (0, 1), p, q)
    _assert_grad_close(grad_q, np.where(p64 > 0, -p64 / q64, 0.0))
    with np.errstate(divide="ignore"):
        expected_p = np.log(p64 / q64) + 1
    np.testing.assert_array_equal(grad_p[0, :10], -INF)
    _assert_grad_close(grad_p[:, 10:], expected_p[:, 10:])
    grad = _jit_grad(infolib.entropy, 0, p)
    np.testing.assert_array_equal(grad[0, :10], INF)
    _assert_grad_close(grad[:, 10:], -(np.log(p64[:, 10:]) + 1))
