"""Every public function against an independent float64 reference, eager and under jit.

References: scipy.special (entr, rel_entr, xlogy, logsumexp, log_softmax, log_expit), scipy.stats,
scipy.spatial.distance.jensenshannon, sklearn.metrics (log_loss, mutual_info_score), closed forms in
numpy and numerical integration (scipy.integrate.quad) for the continuous KL divergences.

Each test runs in float32, called eagerly, at ``rtol=1e-5, atol=1e-6``, and in float64 under
``jax.jit`` at ``rtol=1e-10, atol=1e-12`` (see conftest.py).
Edge cases are batched into one array per function (rows padded with zeros or masked logits, which
change nothing), so that a mismatch report names the failing row.
"""

import decimal
import math

import numpy as np
import pytest
from scipy import integrate, special, stats
from scipy.spatial.distance import jensenshannon
from sklearn import metrics

import infolib

# One shape for every input called eagerly, so that eager dispatch compiles each primitive once.
SHAPE = (4, 6)
INF = np.inf

# Edge distributions, one per row (zero columns change nothing): one-hot, zeros, uniform, nearly
# degenerate; against q: +inf (q = 0 < p), p = q with shared zeros, 0 log 0 where both are 0.
EDGE_P = [
    [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [0.0, 0.5, 0.5, 0.0, 0.0, 0.0],
    [0.25, 0.25, 0.25, 0.25, 0.0, 0.0],
    [1.0 - 1e-6, 1e-6, 0.0, 0.0, 0.0, 0.0],
]
EDGE_Q = [
    [0.0, 0.5, 0.5, 0.0, 0.0, 0.0],  # q = 0 < p: +inf
    [0.0, 0.5, 0.5, 0.0, 0.0, 0.0],  # p = q with shared zeros: 0
    [0.1, 0.2, 0.3, 0.4, 0.0, 0.0],
    [0.5, 0.5, 0.0, 0.0, 0.0, 0.0],
]

# Logits with masked (-inf) classes; every row keeps at least one finite logit.
MASKED_LOGITS = [
    [1.0, -INF, 2.0, -0.5, -INF, 0.0],
    [-INF, -INF, 3.0, -INF, -INF, -INF],
    [0.0, -INF, 0.0, -INF, 5.0, -INF],
    [-INF, 1.0, 1.0, 1.0, 1.0, -INF],
]


# Edge inputs run in float32 only, eagerly; test_boundaries.py runs them under jit.
EDGE_CASES_IN_FLOAT32 = pytest.mark.parametrize("precision", ["float32-eager"], indirect=True)


def _assert_close(got, expected, precision):
    assert got.dtype == precision.dtype
    np.testing.assert_allclose(
        np.asarray(got, np.float64), expected, rtol=precision.rtol, atol=precision.atol
    )


def _f64(x):
    return np.asarray(x).astype(np.float64)


def _ce_from_log_q(p, log_q):
    """-sum p log q with 0 log q = 0 (also for log q = -inf)."""
    with np.errstate(invalid="ignore"):
        terms = np.where(p > 0, p * log_q, 0.0)
    return -terms.sum(axis=-1)


# --- self-information and entropy ----------------------------------------------------------------


def test_self_information_matches_minus_log(precision, call, rng):
    p = rng.random(SHAPE).astype(precision.dtype)
    p[0, :2] = [0.0, 1.0]
    got = call(infolib.self_information, p)
    with np.errstate(divide="ignore"):
        expected = -np.log(_f64(p))
    _assert_close(got, expected, precision)
    assert got[0, 0] == np.inf


def test_entropy_matches_scipy_on_random_inputs(precision, call, simplex):
    p = simplex(SHAPE, zeros=0.3).astype(precision.dtype)
    p64 = _f64(p)
    got = call(infolib.entropy, p)
    _assert_close(got, special.entr(p64).sum(-1), precision)
    # scipy.stats.entropy renormalises, so it is fed rows that sum to 1 in float64.
    expected = stats.entropy(p64 / p64.sum(-1, keepdims=True), axis=-1)
    np.testing.assert_allclose(got, expected, rtol=max(precision.rtol, 1e-6), atol=precision.atol)


@EDGE_CASES_IN_FLOAT32
def test_entropy_matches_scipy_on_edge_inputs(precision, call):
    p = np.asarray(EDGE_P, precision.dtype)
    _assert_close(call(infolib.entropy, p), special.entr(_f64(p)).sum(-1), precision)


def test_entropy_with_logits_matches_entropy_of_softmax(precision, call, rng):
    logits = (3.0 * rng.standard_normal(SHAPE)).astype(precision.dtype)
    got = call(infolib.entropy_with_logits, logits)
    expected = special.entr(special.softmax(_f64(logits), axis=-1)).sum(-1)
    _assert_close(got, expected, precision)


@EDGE_CASES_IN_FLOAT32
def test_entropy_with_logits_masked_matches_reference(precision, call):
    logits = np.asarray(MASKED_LOGITS, precision.dtype)
    got = call(infolib.entropy_with_logits, logits)
    expected = special.entr(special.softmax(_f64(logits), axis=-1)).sum(-1)
    _assert_close(got, expected, precision)


# --- cross-entropy -------------------------------------------------------------------------------


def test_cross_entropy_matches_xlogy(precision, call, simplex):
    p = simplex(SHAPE, zeros=0.3).astype(precision.dtype)
    q = simplex(SHAPE).astype(precision.dtype)
    got = call(infolib.cross_entropy, p, q)
    _assert_close(got, -special.xlogy(_f64(p), _f64(q)).sum(-1), precision)


@EDGE_CASES_IN_FLOAT32
def test_cross_entropy_matches_xlogy_on_edge_inputs(precision, call):
    p, q = np.asarray(EDGE_P, precision.dtype), np.asarray(EDGE_Q, precision.dtype)
    got = call(infolib.cross_entropy, p, q)
    _assert_close(got, -special.xlogy(_f64(p), _f64(q)).sum(-1), precision)


def test_cross_entropy_with_logits_matches_log_softmax(precision, call, simplex, rng):
    p = simplex(SHAPE, zeros=0.3).astype(precision.dtype)
    logits = (2.0 * rng.standard_normal(SHAPE)).astype(precision.dtype)
    got = call(infolib.cross_entropy_with_logits, p, logits)
    expected = _ce_from_log_q(_f64(p), special.log_softmax(_f64(logits), axis=-1))
    _assert_close(got, expected, precision)


@pytest.mark.parametrize("label_smoothing", [0.1, 1.0])
def test_cross_entropy_with_logits_label_smoothing_matches_reference(
    precision, call, simplex, rng, label_smoothing
):
    p = simplex(SHAPE).astype(precision.dtype)
    logits = rng.standard_normal(SHAPE).astype(precision.dtype)
    got = call(infolib.cross_entropy_with_logits, p, logits, label_smoothing=label_smoothing)
    p_s = (1.0 - label_smoothing) * _f64(p) + label_smoothing / SHAPE[-1]
    expected = _ce_from_log_q(p_s, special.log_softmax(_f64(logits), axis=-1))
    _assert_close(got, expected, precision)


@EDGE_CASES_IN_FLOAT32
def test_cross_entropy_with_logits_masked_matches_reference(precision, call, rng):
    logits = np.asarray(MASKED_LOGITS, precision.dtype)
    p = np.where(np.isfinite(logits), rng.random(logits.shape) + 0.1, 0.0)
    p = (p / p.sum(-1, keepdims=True)).astype(precision.dtype)
    got = call(infolib.cross_entropy_with_logits, p, logits)
    expected = _ce_from_log_q(_f64(p), special.log_softmax(_f64(logits), axis=-1))
    _assert_close(got, expected, precision)


def test_cross_entropy_with_logits_one_hot_matches_sklearn_log_loss(precision, call, rng):
    logits = rng.standard_normal(SHAPE).astype(precision.dtype)
    labels = rng.integers(0, SHAPE[-1], size=SHAPE[0])
    one_hot = np.eye(SHAPE[-1], dtype=precision.dtype)[labels]
    got = call(infolib.cross_entropy_with_logits, one_hot, logits)
    probabilities = special.softmax(_f64(logits), axis=-1)
    expected = metrics.log_loss(labels, probabilities, labels=range(SHAPE[-1]))
    np.testing.assert_allclose(np.mean(_f64(got)), expected, rtol=precision.rtol)


def test_sparse_cross_entropy_matches_logsumexp_and_sklearn(precision, call, rng):
    logits = (3.0 * rng.standard_normal(SHAPE)).astype(precision.dtype)
    labels = rng.integers(0, SHAPE[-1], size=SHAPE[0])
    got = call(infolib.sparse_cross_entropy_with_logits, labels, logits)
    l64 = _f64(logits)
    expected = special.logsumexp(l64, axis=-1) - np.take_along_axis(l64, labels[:, None], -1)[:, 0]
    _assert_close(got, expected, precision)
    probabilities = special.softmax(l64, axis=-1)
    expected = metrics.log_loss(labels, probabilities, labels=range(SHAPE[-1]))
    np.testing.assert_allclose(np.mean(_f64(got)), expected, rtol=precision.rtol)


@EDGE_CASES_IN_FLOAT32
def test_sparse_cross_entropy_with_masked_logits_matches_reference(precision, call):
    logits = np.asarray(MASKED_LOGITS, precision.dtype)
    labels = np.asarray([2, 2, 4, 1])
    got = call(infolib.sparse_cross_entropy_with_logits, labels, logits)
    l64 = _f64(logits)
    expected = special.logsumexp(l64, axis=-1) - l64[np.arange(4), labels]
    _assert_close(got, expected, precision)


# --- binary cross-entropy ------------------------------------------------------------------------


def test_binary_cross_entropy_matches_xlogy(precision, call, rng):
    y = rng.random(SHAPE).astype(precision.dtype)
    p = rng.uniform(0.01, 0.99, SHAPE).astype(precision.dtype)
    y[0, :3], p[0, :3] = [0.0, 1.0, 0.0], [0.0, 1.0, 0.3]  # 0 log 0 = 0 on both sides
    y[1, :2], p[1, :2] = [1.0, 0.5], [0.0, 1.0]  # +inf
    got = call(infolib.binary_cross_entropy, y, p)
    y64, p64 = _f64(y), _f64(p)
    _assert_close(got, -(special.xlogy(y64, p64) + special.xlogy(1 - y64, 1 - p64)), precision)


def test_binary_cross_entropy_matches_sklearn_log_loss(precision, call, rng):
    y = rng.integers(0, 2, SHAPE)
    p = rng.uniform(0.05, 0.95, SHAPE).astype(precision.dtype)
    got = call(infolib.binary_cross_entropy, y.astype(precision.dtype), p)
    expected = metrics.log_loss(y.ravel(), _f64(p).ravel())
    np.testing.assert_allclose(np.mean(_f64(got)), expected, rtol=precision.rtol)


def test_binary_cross_entropy_with_logits_matches_log_expit(precision, call, rng):
    y = rng.random(SHAPE).astype(precision.dtype)
    z = (10.0 * rng.standard_normal(SHAPE)).astype(precision.dtype)
    y[0], z[0] = [1, 0, 1, 0, 0.5, 0.5], [INF, -INF, -INF, INF, INF, -INF]  # loss 0 or +inf
    y[1, :2], z[1, :2] = [0.0, 1.0], [80.0, -80.0]  # log(sigmoid(z)) in float32 would lose these
    got = call(infolib.binary_cross_entropy_with_logits, y, z)
    y64, z64 = _f64(y), _f64(z)
    with np.errstate(invalid="ignore"):  # 0 * log_expit(-inf): the term is 0
        positive = np.where(y64 == 0, 0.0, y64 * special.log_expit(z64))
        negative = np.where(y64 == 1, 0.0, (1 - y64) * special.log_expit(-z64))
    _assert_close(got, -(positive + negative), precision)
    np.testing.assert_array_equal(got[0], [0.0, 0.0, INF, INF, INF, INF])


# --- KL and Jensen-Shannon -----------------------------------------------------------------------


def test_kl_divergence_matches_rel_entr_and_scipy(precision, call, simplex):
    p = simplex(SHAPE, zeros=0.3).astype(precision.dtype)
    q = simplex(SHAPE).astype(precision.dtype)
    got = call(infolib.kl_divergence, p, q)
    p64, q64 = _f64(p), _f64(q)
    _assert_close(got, special.rel_entr(p64, q64).sum(-1), precision)
    # scipy.stats.entropy(p, q) renormalises: feed it rows that sum to 1 in float64.
    p64, q64 = p64 / p64.sum(-1, keepdims=True), q64 / q64.sum(-1, keepdims=True)
    expected = stats.entropy(p64, q64, axis=-1)
    np.testing.assert_allclose(got, expected, rtol=max(precision.rtol, 1e-5), atol=1e-6)


@EDGE_CASES_IN_FLOAT32
def test_kl_divergence_matches_rel_entr_on_edge_inputs(precision, call):
    p, q = np.asarray(EDGE_P, precision.dtype), np.asarray(EDGE_Q, precision.dtype)
    got = call(infolib.kl_divergence, p, q)
    _assert_close(got, special.rel_entr(_f64(p), _f64(q)).sum(-1), precision)


def _kl_logits_reference(a, b):
    la, lb = special.log_softmax(_f64(a), axis=-1), special.log_softmax(_f64(b), axis=-1)
    pa = np.exp(la)
    with np.errstate(invalid="ignore"):
        return np.where(pa > 0, pa * (la - lb), 0.0).sum(-1)


def test_kl_divergence_with_logits_matches_log_softmax(precision, call, rng):
    a = (2.0 * rng.standard_normal(SHAPE)).astype(precision.dtype)
    b = (2.0 * rng.standard_normal(SHAPE)).astype(precision.dtype)
    got = call(infolib.kl_divergence_with_logits, a, b)
    _assert_close(got, _kl_logits_reference(a, b), precision)


@EDGE_CASES_IN_FLOAT32
def test_kl_divergence_with_logits_edge_inputs_match_reference(precision, call):
    a = [
        [1.0, -INF, 2.0, -INF, -INF, -INF],  # the same classes masked in both
        [1.0, -INF, 2.0, 0.0, 0.0, 0.0],  # masked in p only
        [1.0, 0.0, 2.0, 0.0, 0.0, 0.0],  # masked in q only: +inf
        [0.0, -1000.0, 0.0, -INF, -INF, -INF],  # softmax(a) underflows in float32
    ]
    b = [
        [0.0, -INF, 1.0, -INF, -INF, -INF],
        [0.0, 3.0, 1.0, 0.0, 0.0, 0.0],
        [0.0, -INF, 1.0, 0.0, 0.0, 0.0],
        [0.3, 0.0, -0.2, -INF, -INF, -INF],
    ]
    a, b = np.asarray(a, precision.dtype), np.asarray(b, precision.dtype)
    got = call(infolib.kl_divergence_with_logits, a, b)
    _assert_close(got, _kl_logits_reference(a, b), precision)
    assert got[2] == INF


def test_js_divergence_is_scipy_jensenshannon_squared(precision, call, simplex):
    p = simplex(SHAPE, zeros=0.3).astype(precision.dtype)
    q = simplex(SHAPE, zeros=0.3).astype(precision.dtype)
    got = call(infolib.js_divergence, p, q)
    p64, q64 = _f64(p), _f64(q)
    m = (p64 + q64) / 2
    by_formula = 0.5 * special.rel_entr(p64, m).sum(-1) + 0.5 * special.rel_entr(q64, m).sum(-1)
    _assert_close(got, by_formula, precision)
    # jensenshannon renormalises: feed it rows that sum to 1 in float64.
    p64, q64 = p64 / p64.sum(-1, keepdims=True), q64 / q64.sum(-1, keepdims=True)
    expected = jensenshannon(p64, q64, axis=-1) ** 2
    np.testing.assert_allclose(got, expected, rtol=max(precision.rtol, 1e-5), atol=1e-6)


@EDGE_CASES_IN_FLOAT32
def test_js_divergence_edge_inputs(precision, call):
    p = np.zeros(SHAPE, precision.dtype)
    q = np.zeros(SHAPE, precision.dtype)
    p[0, 0], q[0, 1] = 1.0, 1.0  # disjoint supports: the maximum, log 2
    p[1, :2] = q[1, :2] = 0.5  # equal: 0
    p[2, 0], q[2, :2] = 1.0, 0.5
    p[3, :3], q[3, 2:] = 1 / 3, 0.25
    got = call(infolib.js_divergence, p, q)
    expected = jensenshannon(_f64(p), _f64(q), axis=-1) ** 2
    _assert_close(got, expected, precision)
    _assert_close(got[:2], [np.log(2.0), 0.0], precision)


# --- joint, conditional, mutual information ------------------------------------------------------


def _joint_reference(pxy):
    px, py = pxy.sum(-1), pxy.sum(-2)
    h_xy = special.entr(pxy).sum((-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_y_given_x = np.where(px[..., None] > 0, pxy / px[..., None], 0.0)
    h_y_given_x = -special.xlogy(pxy, p_y_given_x).sum((-2, -1))
    mi = special.rel_entr(pxy, px[..., :, None] * py[..., None, :]).sum((-2, -1))
    return h_xy, h_y_given_x, mi


def test_joint_conditional_mutual_information_match_reference(precision, call, simplex):
    pxy = simplex((4, 4 * 6), zeros=0.2).reshape(4, *SHAPE).astype(precision.dtype)
    h_xy, h_y_given_x, mi = _joint_reference(_f64(pxy))
    _assert_close(call(infolib.joint_entropy, pxy), h_xy, precision)
    _assert_close(call(infolib.conditional_entropy, pxy), h_y_given_x, precision)
    _assert_close(call(infolib.mutual_information, pxy), mi, precision)


@EDGE_CASES_IN_FLOAT32
def test_joint_conditional_mutual_information_edge_inputs(precision, call):
    cases = [
        [[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]],  # X determines Y: MI = log 2, H(Y|X) = 0
        [[0.0, 0.0, 0.0], [0.5, 0.5, 0.0]],  # a row with p(x) = 0
        [[0.25, 0.25, 0.0], [0.25, 0.25, 0.0]],  # independent: MI = 0
        [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]],  # a point mass: everything 0
    ]
    pxy = np.zeros((4, *SHAPE), precision.dtype)  # zero rows and columns change nothing
    pxy[:, :2, :3] = cases
    h_xy, h_y_given_x, mi = _joint_reference(_f64(pxy))
    _assert_close(call(infolib.joint_entropy, pxy), h_xy, precision)
    _assert_close(call(infolib.conditional_entropy, pxy), h_y_given_x, precision)
    _assert_close(call(infolib.mutual_information, pxy), mi, precision)


def test_mutual_information_matches_sklearn_on_a_contingency_table(precision, call, rng):
    counts = rng.integers(0, 20, size=SHAPE)
    got = call(infolib.mutual_information, (counts / counts.sum()).astype(precision.dtype))
    expected = metrics.mutual_info_score(None, None, contingency=counts)
    np.testing.assert_allclose(got, expected, rtol=max(precision.rtol, 1e-9), atol=precision.atol)


# --- closed forms --------------------------------------------------------------------------------


def test_gaussian_and_laplace_entropy_match_scipy_stats(precision, call, rng):
    scale = rng.uniform(0.05, 20.0, SHAPE).astype(precision.dtype)
    s64 = _f64(scale)
    got = call(infolib.gaussian_entropy, scale)
    _assert_close(got, stats.norm(scale=s64).entropy(), precision)
    got = call(infolib.laplace_entropy, scale)
    _assert_close(got, stats.laplace(scale=s64).entropy(), precision)


def _gaussian_logpdf(x, loc, scale):
    return -0.5 * math.log(2 * math.pi) - math.log(scale) - (x - loc) ** 2 / (2 * scale**2)


def _laplace_logpdf(x, loc, scale):
    return -math.log(2 * scale) - abs(x - loc) / scale


def _kl_by_quadrature(logpdf, loc_p, scale_p, loc_q, scale_q, width):
    """∫ p(x) (log p(x) - log q(x)) dx over loc ± width·scale, split at the two locations."""

    def integrand(x):
        log_p = logpdf(x, loc_p, scale_p)
        return math.exp(log_p) * (log_p - logpdf(x, loc_q, scale_q))

    scale = max(scale_p, scale_q)
    lo, hi = min(loc_p, loc_q) - width * scale, max(loc_p, loc_q) + width * scale
    value, _ = integrate.quad(
        integrand, lo, hi, points=sorted({loc_p, loc_q}), epsabs=1e-13, epsrel=1e-12, limit=200
    )
    return value


@pytest.mark.parametrize(
    ("fn", "logpdf", "width"),
    [(infolib.gaussian_kl, _gaussian_logpdf, 40.0), (infolib.laplace_kl, _laplace_logpdf, 60.0)],
    ids=["gaussian", "laplace"],
)
def test_closed_form_kl_matches_numerical_integration(precision, call, rng, fn, logpdf, width):
    loc_p, loc_q = rng.standard_normal((2, *SHAPE))
    scale_p, scale_q = rng.uniform(0.2, 3.0, (2, *SHAPE))
    loc_p[0, 0], scale_p[0, 0], loc_q[0, 0], scale_q[0, 0] = 0.0, 1.0, 0.0, 1.0  # KL = 0
    params = [x.astype(precision.dtype) for x in (loc_p, scale_p, loc_q, scale_q)]
    got = call(fn, *params)
    expected = [
        _kl_by_quadrature(logpdf, *map(float, column), width)
        for column in zip(*(_f64(x).ravel() for x in params), strict=True)
    ]
    # Quadrature is good to ~1e-10, so float64 is compared at rtol=1e-8 here, float32 at 1e-5.
    assert got.dtype == precision.dtype
    np.testing.assert_allclose(
        got, np.reshape(expected, SHAPE), rtol=max(precision.rtol, 1e-8), atol=1e-8
    )


def test_gaussian_kl_matches_closed_form_on_random_parameters(precision, call, rng):
    loc_p, loc_q = rng.standard_normal((2, *SHAPE)).astype(precision.dtype)
    scale_p, scale_q = rng.uniform(0.1, 5.0, (2, *SHAPE)).astype(precision.dtype)
    got = call(infolib.gaussian_kl, loc_p, scale_p, loc_q, scale_q)
    mp, sp, mq, sq = map(_f64, (loc_p, scale_p, loc_q, scale_q))
    expected = np.log(sq / sp) + (sp**2 + (mp - mq) ** 2) / (2 * sq**2) - 0.5
    _assert_close(got, expected, precision)


def test_laplace_kl_matches_closed_form_on_random_parameters(precision, call, rng):
    loc_p, loc_q = rng.standard_normal((2, *SHAPE)).astype(precision.dtype)
    scale_p, scale_q = rng.uniform(0.1, 5.0, (2, *SHAPE)).astype(precision.dtype)
    got = call(infolib.laplace_kl, loc_p, scale_p, loc_q, scale_q)
    mp, bp, mq, bq = map(_f64, (loc_p, scale_p, loc_q, scale_q))
    d = np.abs(mp - mq)
    expected = np.log(bq / bp) + d / bq + (bp / bq) * np.exp(-d / bp) - 1.0
    _assert_close(got, expected, precision)


# --- estimators from counts ----------------------------------------------------------------------


def _miller_madow_reference(counts, base=None):
    """plugin + (m - 1) / (2 n) nats, m the number of nonzero bins, n the total; 0 when n = 0."""
    n = counts.sum(-1)
    m = (counts > 0).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = counts / n[..., None]
        plugin = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(-1)
        corrected = np.where(n > 0, plugin + (m - 1) / (2 * n), 0.0)
    return corrected / np.log(base or np.e)


def test_plugin_entropy_matches_scipy_on_counts(precision, call, rng):
    counts = rng.integers(0, 30, size=SHAPE).astype(precision.dtype)
    counts[:, 0] += 1  # no all-zero row here (scipy returns NaN for those)
    got = call(infolib.plugin_entropy, counts)
    _assert_close(got, stats.entropy(_f64(counts), axis=-1), precision)


@pytest.mark.parametrize("base", [None, 2])
def test_miller_madow_entropy_matches_numpy_formula(precision, call, rng, base):
    counts = rng.integers(0, 12, size=SHAPE).astype(precision.dtype)
    counts[0] = [0, 0, 7, 0, 0, 0]  # one nonzero bin: no correction
    counts[1] = [3, 0, 1, 0, 0, 0]
    got = call(infolib.miller_madow_entropy, counts, base=base)
    _assert_close(got, _miller_madow_reference(_f64(counts), base), precision)


@EDGE_CASES_IN_FLOAT32
@pytest.mark.parametrize(
    "fn", [infolib.plugin_entropy, infolib.miller_madow_entropy], ids=["plugin", "miller_madow"]
)
def test_counts_estimators_are_zero_for_all_zero_counts(precision, call, fn):
    counts = np.zeros(SHAPE, precision.dtype)
    counts[1] = [1, 2, 0, 3, 0, 0]
    got = call(fn, counts)
    np.testing.assert_array_equal(np.asarray(got)[[0, 2, 3]], 0.0)
    assert np.all(np.isfinite(got))


# --- near p = q: exact references (issue 15) -----------------------------------------------------
#
# Late in a fit q is close to p, and the divergences are differences of nearly equal numbers. The
# references here are exact: Python's ``decimal`` at 50 digits on the float inputs. Rows have
# q = p (1 + δ u) with δ from 1e-12 to 1e-2 (one row per decade) and u in [0.5, 1.5], the sign
# of δ alternating between rows, so that each row's terms share a sign: its sum is then as
# accurate as its terms, and the tolerance is a relative one (rtol 1e-12 in float64, 1e-5 in
# float32). In float32 the smallest δ round q to p itself, an exact 0.

NEAR_DELTAS = 10.0 ** np.arange(-12, -1)
NEAR_BINS = 32
NEAR_RTOL = {np.float32: 1e-5, np.float64: 1e-12}


def _near_pairs(rng, dtype):
    p = rng.dirichlet(np.ones(NEAR_BINS), size=len(NEAR_DELTAS))
    signs = np.where(np.arange(len(NEAR_DELTAS)) % 2 == 0, 1.0, -1.0)
    u = rng.uniform(0.5, 1.5, p.shape)
    q = p * (1 + (signs * NEAR_DELTAS)[:, None] * u)
    return p.astype(dtype), q.astype(dtype)


def _decimal_rows(term, *arrays):
    """Σ term(*entries) per row, each entry an exact Decimal, rounded once to float."""
    sums = []
    with decimal.localcontext(decimal.Context(prec=50)):
        for row in zip(*(_f64(a) for a in arrays), strict=True):
            entries = zip(*row, strict=True)
            sums.append(float(sum(term(*(decimal.Decimal(float(x)) for x in e)) for e in entries)))
    return np.asarray(sums)


def _decimal_rel_entr(p, q):
    return p * (p / q).ln() if p else decimal.Decimal(0)


def test_kl_divergence_near_p_equals_q_matches_exact_decimal(precision, call, rng):
    """scipy ``test_rel_entr_gh_20710_near_zero`` on whole distributions: p·(log p − log q) is off
    by 9% at δ = 1e-8 (float64); p·log1p((p − q)/q), p − q exact by Sterbenz, is not."""
    p, q = _near_pairs(rng, precision.dtype)
    got = call(infolib.kl_divergence, p, q)
    expected = _decimal_rows(_decimal_rel_entr, p, q)
    assert got.dtype == precision.dtype
    np.testing.assert_allclose(got, expected, rtol=NEAR_RTOL[precision.dtype], atol=0)


def test_js_divergence_near_p_equals_q_matches_exact_decimal(precision, call, rng):
    """Each term of the Jensen–Shannon divergence is ≥ 0 and of order (p − q)²/p: the textbook
    ½[p log(p/m) + q log(q/m)] is a difference of two terms of order |p − q|."""
    p, q = _near_pairs(rng, precision.dtype)
    got = call(infolib.js_divergence, p, q)

    def term(a, b):
        m = (a + b) / 2
        return (_decimal_rel_entr(a, m) + _decimal_rel_entr(b, m)) / 2

    expected = _decimal_rows(term, p, q)
    assert got.dtype == precision.dtype
    np.testing.assert_allclose(got, expected, rtol=NEAR_RTOL[precision.dtype], atol=0)


def test_kl_divergence_with_logits_near_equal_logits_matches_exact_decimal(precision, call, rng):
    """b = a + c + δ·noise: the softmaxes are close, and the divergence (≈ ½ Var_p(a − b)) is
    second order in δ while its terms are first order. The textbook Σ p (log p − log q) carries
    the rounding of two log-sum-exps, an absolute error of ε·|logsumexp|; infolib's is at most
    ε·Σ p |v| (v = a − b up to a constant, of order δ), which this bound checks: 16 ε Σ p |v|."""
    a = 2.0 * rng.standard_normal((len(NEAR_DELTAS), NEAR_BINS))
    b = a + 0.37 + NEAR_DELTAS[:, None] * rng.standard_normal(a.shape)
    a, b = a.astype(precision.dtype), b.astype(precision.dtype)
    got = call(infolib.kl_divergence_with_logits, a, b)
    expected, scale = [], []
    with decimal.localcontext(decimal.Context(prec=50)):
        for row_a, row_b in zip(_f64(a), _f64(b), strict=True):
            log_p = _decimal_log_softmax(row_a)
            log_q = _decimal_log_softmax(row_b)
            p = [x.exp() for x in log_p]
            diff = [x - y for x, y in zip(log_p, log_q, strict=True)]
            expected.append(float(sum(pi * d for pi, d in zip(p, diff, strict=True))))
            v = [d - diff[0] for d in diff]  # log p − log q up to a constant
            scale.append(float(sum(pi * abs(x) for pi, x in zip(p, v, strict=True))))
    eps = np.finfo(precision.dtype).eps
    assert got.dtype == precision.dtype
    error = np.abs(_f64(got) - expected)
    assert np.all(error <= 16 * eps * np.asarray(scale)), (error, scale)


def _decimal_log_softmax(z):
    zs = [decimal.Decimal(float(x)) for x in z]
    top = max(zs)
    log_sum = sum((x - top).exp() for x in zs).ln()
    return [x - top - log_sum for x in zs]
