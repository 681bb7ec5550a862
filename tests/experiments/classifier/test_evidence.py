"""The Laplace evidence, the implicit hypergradients and the evidence searches against
independent float64 references.

References: the MAP by scipy's ``trust-exact`` on the summed negative log posterior, its
gradient and Hessian written out in numpy below, with ``slogdet`` (agreement 1e-8); the
closed-form marginal likelihood of Bayesian linear regression, where the Laplace formula is
exact; central finite differences of float64 solves (1e-6); a dense grid of evidences; and
MacKay's fixed-point conditions recomputed in numpy in the original coordinates.

Float64 runs inside ``jax.enable_x64(True)``; the compiled programs are cached per static
configuration, so each compiles once for the module.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from experiments import fit
from experiments.kinds.classifier import evidence, newton, scale_search
from tests.experiments.classifier.datasets import breast_cancer, iris

LOG_2PI = math.log(2 * math.pi)

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


@functools.cache
def _small(n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """40 × 3 features, labels from a logistic (softmax) model."""
    rng = np.random.default_rng(10 + n_classes)
    x = rng.standard_normal((40, 3))
    logits = x @ rng.standard_normal((3, n_classes))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return x, np.array([rng.choice(n_classes, p=row) for row in p])


@functools.cache
def _ard_data() -> tuple[np.ndarray, np.ndarray]:
    """n = 300, 20 features of which the first 5 carry the signal."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 20))
    w = np.zeros(20)
    w[:5] = [2.0, -1.5, 1.0, -1.0, 0.8]
    y = (rng.random(300) < 1 / (1 + np.exp(-(x @ w + 0.3)))).astype(int)
    return x, y


# ---------------------------------------------------------------------------
# The numpy reference: summed negative log posterior, its gradient and Hessian
# ---------------------------------------------------------------------------


def _np_parts(theta: np.ndarray, x, y, n_classes: int, scale):
    """f = Σ CE + Σ w²/(2σ²), its gradient and Hessian over the full θ = [w; b] (θ's
    (feature, class) order for a softmax)."""
    n, d = x.shape
    xt = np.hstack([x, np.ones((n, 1))])
    if n_classes == 2:
        z = xt @ theta
        p = 1 / (1 + np.exp(-z))
        value = np.sum(np.logaddexp(0, z) - y * z)
        pen = np.r_[1 / np.broadcast_to(scale, (d,)) ** 2, 0.0]
        grad = xt.T @ (p - y)
        hess = xt.T @ (xt * (p * (1 - p))[:, None])
    else:
        c = n_classes
        theta = theta.reshape(d + 1, c)
        z = xt @ theta
        zmax = z.max(axis=1, keepdims=True)
        lse = zmax[:, 0] + np.log(np.sum(np.exp(z - zmax), axis=1))
        p = np.exp(z - lse[:, None])
        value = np.sum(lse - z[np.arange(n), y])
        pen = np.repeat(np.r_[np.ones(d) / scale**2, 0.0], c)
        grad = (xt.T @ (p - np.eye(c)[y])).reshape(-1)
        blocks = np.einsum("ic,ce->ice", p, np.eye(c)) - np.einsum("ic,ie->ice", p, p)
        hess = np.einsum("ij,ik,ice->jcke", xt, xt, blocks).reshape((d + 1) * c, -1)
    flat = theta.reshape(-1)
    value = value + np.sum(pen * flat**2) / 2
    return value, grad + pen * flat, hess + np.diag(pen)


def _np_map(x, y, n_classes: int, scale, keep=None):
    """The MAP by scipy trust-exact over the coordinates ``keep`` (the others fixed at 0)."""
    d = x.shape[1]
    size = d + 1 if n_classes == 2 else (d + 1) * n_classes
    keep = np.arange(size) if keep is None else keep

    def full(v):
        theta = np.zeros(size)
        theta[keep] = v
        return theta

    def fun(v):
        return _np_parts(full(v), x, y, n_classes, scale)[0]

    def jac(v):
        return _np_parts(full(v), x, y, n_classes, scale)[1][keep]

    def hess(v):
        return _np_parts(full(v), x, y, n_classes, scale)[2][np.ix_(keep, keep)]

    v = scipy.optimize.minimize(
        fun, np.zeros(len(keep)), jac=jac, hess=hess, method="trust-exact", options={"gtol": 1e-9}
    ).x
    for _ in range(3):  # Newton polish: trust-exact stops at the rounding of the summed f
        v = v - np.linalg.solve(hess(v), jac(v))
    assert np.linalg.norm(jac(v)) < 1e-10
    return full(v)


def _np_log_evidence(theta, x, y, n_classes: int, scale, drop: int | None = None) -> float:
    """L − Σw²/(2σ²) − Σ log σ + k/2 log 2π − ½ log det A, A over θ without ``drop``."""
    d = x.shape[1]
    value, _, hess = _np_parts(theta, x, y, n_classes, scale)
    if n_classes == 2:
        k, log_scales = 1, np.sum(np.log(np.broadcast_to(scale, (d,))))
    else:
        keep = np.delete(np.arange(hess.shape[0]), drop)
        hess = hess[np.ix_(keep, keep)]
        k, log_scales = n_classes - 1, n_classes * d * np.log(scale)
    sign, log_det = np.linalg.slogdet(hess)
    assert sign > 0
    return -value - log_scales + k / 2 * LOG_2PI - log_det / 2


# ---------------------------------------------------------------------------
# The programs, compiled once per static configuration
# ---------------------------------------------------------------------------


@functools.cache
def _log_evidence(n_classes: int):
    return jax.jit(
        lambda x, y, scale: evidence.log_evidence(x, y, scale=scale, n_classes=n_classes, tol=1e-13)
    )


@functools.cache
def _evidence_at(n_classes: int):
    return jax.jit(functools.partial(evidence.log_evidence_at, n_classes=n_classes))


@functools.cache
def _theta_and_tangent(prior: str):
    """θ*(log s) and dθ*/d log s, vmapped over log s (breast_cancer, two classes)."""

    def theta(u, x, y):
        w, b = evidence.map_weights(
            x, y, prior=prior, scale=jnp.exp(u), n_classes=2, tol=1e-13, max_steps=100
        )
        return jnp.concatenate([w, b[None]])

    def both(u, x, y):
        return jax.jvp(lambda u: theta(u, x, y), (u,), (jnp.ones_like(u),))

    return jax.jit(jax.vmap(both, in_axes=(0, None, None)))


def _solutions_and_tangents(prior: str, log_scales: np.ndarray):
    x, y = breast_cancer()
    with jax.enable_x64(True):
        return jax.device_get(_theta_and_tangent(prior)(jnp.asarray(log_scales), x, y))


# ---------------------------------------------------------------------------
# The evidence against numpy
# ---------------------------------------------------------------------------


def test_default_tolerances_are_fit_maps():
    assert evidence.DEFAULT_TOL == fit.DEFAULT_TOL


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_binary_log_evidence_matches_numpy(scale):
    x, y = breast_cancer()
    reference = _np_log_evidence(_np_map(x, y, 2, scale), x, y, 2, scale)
    with jax.enable_x64(True):
        value = _log_evidence(2)(x, y, jnp.float64(scale))
    assert value.dtype == jnp.float64
    np.testing.assert_allclose(value, reference, rtol=1e-8)


def test_softmax_log_evidence_matches_numpy_with_any_reference_intercept():
    """Three classes: the numpy MAP fixes the first class's intercept at 0 and drops that
    coordinate from A; the code drops the last one. The values agree because the full
    Hessian's only null direction (all intercepts shifted together) has equal entries."""
    x, y = iris()
    scale, c, d = 1.0, 3, x.shape[1]
    first = d * c  # θ's flattened (feature, class) order: the first class's intercept
    keep = np.delete(np.arange((d + 1) * c), first)
    theta = _np_map(x, y, c, scale, keep=keep)
    reference = _np_log_evidence(theta, x, y, c, scale, drop=first)
    # The reference's own check: any other intercept dropped gives the same value.
    other = _np_log_evidence(theta, x, y, c, scale, drop=(d + 1) * c - 1)
    np.testing.assert_allclose(other, reference, rtol=1e-12)
    with jax.enable_x64(True):
        value = _log_evidence(c)(x, y, jnp.float64(scale))
        # At the numpy MAP (another representative of the intercepts) directly, too.
        w, b = theta.reshape(d + 1, c)[:d], theta.reshape(d + 1, c)[d]
        at = _evidence_at(c)(x, y, w, b, scale=scale)
    np.testing.assert_allclose(value, reference, rtol=1e-8)
    np.testing.assert_allclose(at, reference, rtol=1e-10)


def test_per_feature_scales_match_numpy():
    """log_evidence_at with one σ_j per feature (ARD's case), including σ_j = 1e-5."""
    x, y = breast_cancer()
    x, y = x[:, :6], y
    scales = np.array([0.5, 1.0, 2.0, 1e-5, 0.1, 3.0])
    theta = _np_map(x, y, 2, scales)
    reference = _np_log_evidence(theta, x, y, 2, scales)
    with jax.enable_x64(True):
        value = _evidence_at(2)(x, y, theta[:-1], theta[-1], scale=scales)
    np.testing.assert_allclose(value, reference, rtol=1e-10)


def test_laplace_formula_is_exact_for_bayesian_linear_regression():
    """y = Xw (+ b) + ε, ε ~ N(0, s²), w ~ N(0, σ²I), b flat of unit density: the log
    posterior is quadratic, so the Laplace formula is the marginal likelihood of
    N(0, σ²XXᵀ + s²I) (integrated over b in closed form, for n_flat = 1)."""
    rng = np.random.default_rng(3)
    n, d, s, sigma = 25, 3, 0.7, 1.3
    x = rng.standard_normal((n, d))
    y = x @ rng.standard_normal(d) + 0.4 + s * rng.standard_normal(n)
    cov = sigma**2 * x @ x.T + s**2 * np.eye(n)
    inv = np.linalg.inv(cov)
    log_det_cov = np.linalg.slogdet(cov)[1]
    ones = np.ones(n)
    for n_flat in (0, 1):
        design = x if n_flat == 0 else np.hstack([x, ones[:, None]])
        pen = np.r_[np.ones(d) / sigma**2, np.zeros(n_flat)]
        a = design.T @ design / s**2 + np.diag(pen)
        theta = np.linalg.solve(a, design.T @ y / s**2)
        residual = y - design @ theta
        log_lik = -n / 2 * np.log(2 * np.pi * s**2) - residual @ residual / (2 * s**2)
        with jax.enable_x64(True):
            value = evidence.laplace_log_evidence(
                log_lik, theta[:d], np.linalg.slogdet(a)[1], scale=sigma, n_flat=n_flat
            )
        if n_flat == 0:
            exact = -n / 2 * LOG_2PI - log_det_cov / 2 - y @ inv @ y / 2
        else:
            q = ones @ inv @ ones
            exact = (
                -n / 2 * LOG_2PI
                - log_det_cov / 2
                - (y @ inv @ y - (ones @ inv @ y) ** 2 / q) / 2
                + LOG_2PI / 2
                - np.log(q) / 2
            )
        np.testing.assert_allclose(value, exact, rtol=1e-12)


def test_float32_evidence_is_close_to_float64_and_finite_at_extreme_scales():
    x, y = breast_cancer()
    with jax.enable_x64(True):
        theta = _np_map(x, y, 2, 1.0)
        value64 = _evidence_at(2)(x, y, theta[:-1], theta[-1], scale=1.0)
        small = _log_evidence(2)(x, y, jnp.float64(1e-4))
        large = _log_evidence(2)(x, y, jnp.float64(1e4))
    value32 = _evidence_at(2)(x.astype(np.float32), y, theta[:-1], theta[-1], scale=1.0)
    assert value32.dtype == jnp.float32
    np.testing.assert_allclose(value32, value64, rtol=1e-5)
    assert np.isfinite(small) and np.isfinite(large)


def test_n_classes_must_be_given_under_jit():
    x, y = _small(2)
    with pytest.raises(ValueError, match="n_classes"):
        jax.jit(lambda y: evidence.log_evidence(x, y, scale=1.0))(y)


# ---------------------------------------------------------------------------
# Hypergradients: implicit differentiation of the MAP
# ---------------------------------------------------------------------------

STEP = 1e-4  # the central difference step in log s

HYPER_CASES = [
    pytest.param("gaussian", [np.log(0.3), 0.0, np.log(3.0)], id="gaussian"),
    pytest.param("laplace", [np.log(0.05), np.log(0.3), 0.0], id="laplace"),
]


@pytest.mark.parametrize(("prior", "log_scales"), HYPER_CASES)
def test_hypergradients_match_finite_differences_under_vmap(prior, log_scales):
    u = np.array(log_scales)
    theta, tangent = _solutions_and_tangents(prior, u)
    plus, _ = _solutions_and_tangents(prior, u + STEP)
    minus, _ = _solutions_and_tangents(prior, u - STEP)
    if prior == "laplace":  # a stable support: the finite difference stays on it
        np.testing.assert_array_equal(plus == 0, theta == 0)
        np.testing.assert_array_equal(minus == 0, theta == 0)
        assert np.all(tangent[theta == 0] == 0)
        assert np.any(theta[:, :-1] == 0) and np.any(theta[:, :-1] != 0)
    difference = (plus - minus) / (2 * STEP)
    for i in range(len(u)):
        np.testing.assert_allclose(
            tangent[i], difference[i], rtol=1e-6, atol=1e-6 * np.abs(difference[i]).max()
        )


@pytest.mark.parametrize(("prior", "log_scales"), HYPER_CASES)
def test_hypergradient_is_the_implicit_formula(prior, log_scales):
    """dθ*/d log s = −H_FF⁻¹ ∂(∇J)/∂ log s, by hand in numpy: for a Gaussian prior
    ∂(∇J)/∂ log σ = −2 w/(σ² n); for a Laplace one −λ sign(w) on the support F."""
    x, y = breast_cancer()
    d = x.shape[1]
    u = np.array(log_scales)
    theta, tangent = _solutions_and_tangents(prior, u)
    for i, scale in enumerate(np.exp(u)):
        w = theta[i, :d]
        if prior == "gaussian":
            _, _, hess = _np_parts(theta[i], x, y, 2, scale)
            rhs = np.r_[2 * w / scale**2, 0.0]
        else:
            _, _, hess = _np_parts(theta[i], x, y, 2, np.inf)  # the smooth part only
            rhs = np.r_[np.sign(w) / scale, 0.0]  # n λ sign(w), λ = 1/(s n)
        free = np.r_[w != 0, True]
        expected = np.zeros(d + 1)
        expected[free] = np.linalg.solve(hess[np.ix_(free, free)], rhs[free])
        np.testing.assert_allclose(tangent[i], expected, rtol=1e-9, atol=1e-12)


def _while_loops(function, *args) -> int:
    return str(jax.make_jaxpr(function)(*args)).count("while[")


def test_reverse_mode_runs_no_newton_iteration():
    """A vjp of the MAP, and the gradient of the evidence, hold exactly the while loops of
    the forward solve: the backward pass runs none (no backprop through the Newton steps)."""
    x, y = _small(2)
    with jax.enable_x64(True):

        def weights(s):
            return evidence.map_weights(x, y, prior="laplace", scale=s, n_classes=2)

        def pulled_back(s, cotangent):
            return jax.vjp(weights, s)[1](cotangent)

        def value(u):
            return evidence.log_evidence(x, y, scale=jnp.exp(u), n_classes=2)

        cotangent = (jnp.ones(x.shape[1]), jnp.ones(()))
        forward = _while_loops(weights, 1.0)
        assert forward > 0
        assert _while_loops(pulled_back, 1.0, cotangent) == forward
        assert _while_loops(jax.grad(value), 0.0) == _while_loops(value, 0.0) > 0


def test_gradient_in_the_features_matches_finite_differences():
    """Reverse mode in x, for a softmax (whose intercepts' common shift the rule projects
    out: the solver's representative keeps its class sum, so the differences see none)."""
    n_classes = 3
    x, y = _small(n_classes)
    rng = np.random.default_rng(5)
    shape = (x.shape[1] + 1,) if n_classes == 2 else (x.shape[1] + 1, n_classes)
    v = rng.standard_normal(shape)

    def f(x):
        w, b = evidence.map_weights(
            x, y, prior="gaussian", scale=0.8, n_classes=n_classes, tol=1e-13
        )
        return jnp.sum(v[:-1] * w) + jnp.sum(v[-1] * b)

    h = 1e-5
    eye = np.eye(x.size).reshape(-1, *x.shape)
    with jax.enable_x64(True):
        grad = jax.jit(jax.grad(f))(x)
        values = jax.jit(jax.vmap(f))(jnp.concatenate([x + h * eye, x - h * eye]))
    plus, minus = np.split(np.asarray(values), 2)
    difference = ((plus - minus) / (2 * h)).reshape(x.shape)
    np.testing.assert_allclose(grad, difference, rtol=1e-6, atol=1e-7)


def test_evidence_derivatives_in_log_scale_match_finite_differences():
    """The first and second derivatives of log p(D|σ) in log σ (the Newton search's) against
    central differences of the evidence and of its exact first derivative."""
    x, y = breast_cancer()
    h = 1e-4
    with jax.enable_x64(True):

        def value(u):
            return evidence.log_evidence(x, y, scale=jnp.exp(u), n_classes=2, tol=1e-13)

        derivatives = jax.jit(lambda u: jax.jvp(jax.grad(value), (u,), (jnp.ones_like(u),)))
        for u in (-0.5, 0.0, 1.0):
            slope, curvature = derivatives(jnp.float64(u))
            values = [_log_evidence(2)(x, y, jnp.exp(jnp.float64(u + t))) for t in (h, -h)]
            slopes = [derivatives(jnp.float64(u + t))[0] for t in (h, -h)]
            np.testing.assert_allclose(slope, (values[0] - values[1]) / (2 * h), rtol=1e-6)
            np.testing.assert_allclose(curvature, (slopes[0] - slopes[1]) / (2 * h), rtol=1e-6)


# ---------------------------------------------------------------------------
# The searches
# ---------------------------------------------------------------------------


@functools.cache
def _grid() -> tuple[np.ndarray, np.ndarray]:
    """log p(D|σ) on 400 log-spaced σ in [0.2, 10], breast_cancer, float64."""
    x, y = breast_cancer()
    scales = np.exp(np.linspace(np.log(0.2), np.log(10.0), 400))

    def grid(x, y, scales):
        path = newton.newton_path(
            x, y, scales, n_classes=2, prior="gaussian", tol=1e-12, max_steps=50
        )
        values = jax.vmap(
            lambda w, b, s: evidence.log_evidence_at(x, y, w, b, scale=s, n_classes=2)
        )(path.weights, path.bias, scales)
        return values, jnp.all(path.converged)

    with jax.enable_x64(True):
        values, converged = jax.device_get(jax.jit(grid)(x, y, jnp.asarray(scales)))
    assert converged
    return scales, values


@pytest.mark.slow
def test_select_evidence_lands_on_the_grid_argmax():
    x, y = breast_cancer()
    scales, values = _grid()
    best = int(np.argmax(values))
    assert 0 < best < len(scales) - 1  # an interior maximum
    with jax.enable_x64(True):
        result = jax.device_get(scale_search.select_evidence(x, y, tol=1e-12))
    assert bool(result.converged) and int(result.solves) < 10
    assert result.log_evidence >= values[best] - 1e-9
    step = np.log(scales[1] / scales[0])
    assert abs(np.log(result.scale / scales[best])) <= step
    assert abs(float(result.derivative)) < 1e-6
    # The reported evidence is that of the reported fit.
    with jax.enable_x64(True):
        again = _evidence_at(2)(x, y, result.weights, result.bias, scale=result.scale)
    np.testing.assert_allclose(again, result.log_evidence, rtol=1e-12)


def test_mackay_fixed_point_holds_in_numpy():
    """MacKay's γ = d − α tr((A⁻¹)_ww) = α‖w‖² at the result (A, γ recomputed in numpy);
    it drops a third-derivative term, so its evidence is at most the exact maximum's."""
    x, y = breast_cancer()
    d = x.shape[1]
    with jax.enable_x64(True):
        result = jax.device_get(scale_search.select_evidence(x, y, method="mackay", tol=1e-12))
    assert bool(result.converged)
    theta = np.r_[result.weights, result.bias]
    scale = float(result.scale)
    _, grad, hess = _np_parts(theta, x, y, 2, scale)
    assert np.linalg.norm(grad) < 1e-8  # the MAP of that σ
    alpha = 1 / scale**2
    gamma = d - alpha * np.trace(np.linalg.inv(hess)[:d, :d])
    np.testing.assert_allclose(alpha * np.sum(result.weights**2), gamma, rtol=1e-7)
    assert result.log_evidence <= _grid()[1].max() + 1e-9


def test_ard_keeps_the_informative_features_and_prunes_the_others():
    x, y = _ard_data()
    with jax.enable_x64(True):
        result = jax.device_get(scale_search.select_evidence_ard(x, y, tol=1e-12))
    scales, w = result.scales, result.weights
    assert result.converged and np.all(np.isfinite(scales)) and np.all(np.isfinite(w))
    assert np.all(scales[:5] > 0.5)
    assert np.all(~result.pruned[:5]) and np.sum(result.pruned[5:]) >= 8
    assert np.all(scales[5:] < scales[:5].min() / 2)
    np.testing.assert_allclose(scales[result.pruned], 1e-5)
    # The fit is the MAP of those scales, and MacKay's update, in numpy in the original
    # coordinates (γ_j = 1 − α_j (A⁻¹)_jj, α_j = γ_j / w_j²), leaves the kept σ_j in place.
    theta = np.r_[w, result.bias]
    _, grad, hess = _np_parts(theta, x, y, 2, scales)
    assert np.linalg.norm(grad * np.r_[scales, 1.0]) < 1e-8  # in u = w/σ, as solved
    alpha = 1 / scales**2
    gamma = 1 - alpha * np.diag(np.linalg.inv(hess))[:-1]
    kept = ~result.pruned
    np.testing.assert_allclose(gamma[kept] / w[kept] ** 2, alpha[kept], rtol=1e-5)
    np.testing.assert_allclose(result.gamma[kept], gamma[kept], rtol=1e-8)
    np.testing.assert_allclose(
        result.log_evidence, _np_log_evidence(theta, x, y, 2, scales), rtol=1e-9
    )


def test_ard_refuses_more_than_two_classes():
    x, y = _small(3)
    with pytest.raises(ValueError, match="two classes"):
        scale_search.select_evidence_ard(x, y)
