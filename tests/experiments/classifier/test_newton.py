"""The Newton MAP solver against independent float64 references.

References: statsmodels (``Logit``, ``MNLogit``, Newton, no prior), scikit-learn
(``newton-cholesky`` for none/L2, ``saga`` for L1, tol 1e-14 / 1e-12), and our own float64
reference: scipy's ``trust-exact`` on the objective, gradient and Hessian written out in
numpy below. Agreement: 1e-6 against statsmodels and scikit-learn, 1e-8 against scipy. The
Laplace solutions are checked by their KKT residuals (exact zeros where |∂f/∂w_j| ≤ λ,
∂f/∂w_j = −λ sign(w_j) elsewhere) and their zero pattern against saga's.

Float64 runs inside ``jax.enable_x64(True)``; the compiled solvers are cached per static
configuration (:func:`_solver`), so each program compiles once for the whole module.
"""

from __future__ import annotations

import contextlib
import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
import statsmodels.api as sm
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from experiments.kinds.classifier import newton, newton_steps
from tests.experiments.classifier.datasets import breast_cancer

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


@functools.cache
def _synthetic(n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from a logistic (softmax) model: not separable, so the MLE exists."""
    rng = np.random.default_rng(n_classes)
    x = rng.standard_normal((300, 4))
    logits = x @ rng.standard_normal((4, n_classes)) + rng.standard_normal(n_classes)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(n_classes, p=row) for row in p])
    return x, y


# ---------------------------------------------------------------------------
# The solvers, compiled once per static configuration
# ---------------------------------------------------------------------------


@functools.cache
def _solver(n_classes: int, prior: str):
    return jax.jit(functools.partial(newton.newton_solve, n_classes=n_classes, prior=prior))


@functools.cache
def _path_solver(n_classes: int, prior: str):
    return jax.jit(functools.partial(newton.newton_path, n_classes=n_classes, prior=prior))


def _zeros(d: int, n_classes: int, dtype):
    if n_classes == 2:
        return jnp.zeros(d, dtype), jnp.zeros((), dtype)
    return jnp.zeros((d, n_classes), dtype), jnp.zeros(n_classes, dtype)


def _solve64(x, y, n_classes, prior, scale, *, tol=1e-12, max_steps=50, params0=None):
    """A float64 solve, brought to the host as float64 numpy arrays (params0 = None is
    passed as zeros, so that one program serves both)."""
    with jax.enable_x64(True):
        if params0 is None:
            params0 = _zeros(x.shape[1], n_classes, jnp.float64)
        result = _solver(n_classes, prior)(
            jnp.asarray(x, jnp.float64),
            jnp.asarray(y),
            prior_scale=jnp.float64(scale),
            tol=jnp.float64(tol),
            max_steps=jnp.int32(max_steps),
            params0=params0,
        )
        for name in ("weights", "bias", "grad_norm", "objective"):
            assert getattr(result, name).dtype == jnp.float64, name
        assert result.steps_taken.dtype == jnp.int32 and result.converged.dtype == jnp.bool_
        return jax.device_get(result)


# ---------------------------------------------------------------------------
# The objective in numpy, float64 (independent of the solver)
# ---------------------------------------------------------------------------


def _probabilities(z: np.ndarray) -> np.ndarray:
    if z.ndim == 1:
        return 1 / (1 + np.exp(-z))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _unpack(theta: np.ndarray, d: int, n_classes: int):
    if n_classes == 2:
        return theta[:d], theta[d]
    theta = theta.reshape(d + 1, n_classes)
    return theta[:d], theta[d]


def _np_objective(w, b, x, y, prior: str, scale: float) -> float:
    z = x @ w + b
    n = len(y)
    if z.ndim == 1:
        loss = np.mean(np.logaddexp(0, z) - y * z)
    else:
        zmax = z.max(axis=1)
        lse = zmax + np.log(np.sum(np.exp(z - zmax[:, None]), axis=1))
        loss = np.mean(lse - z[np.arange(n), y])
    if prior == "gaussian":
        return loss + np.sum(w * w) / (2 * scale**2 * n)
    if prior == "laplace":
        return loss + np.sum(np.abs(w)) / (scale * n)
    return loss


def _np_smooth_gradient(w, b, x, y, prior: str, scale: float):
    """The gradient of mean CE (+ the Gaussian term) with respect to (w, b)."""
    z = x @ w + b
    n = len(y)
    p = _probabilities(z)
    r = p - y if z.ndim == 1 else p - np.eye(p.shape[1])[y]
    gw = x.T @ r / n
    if prior == "gaussian":
        gw = gw + w / (scale**2 * n)
    return gw, r.mean(axis=0)


def _np_hessian(w, b, x, y, prior: str, scale: float) -> np.ndarray:
    n, d = x.shape
    xt = np.hstack([x, np.ones((n, 1))])
    p = _probabilities(x @ w + b)
    if p.ndim == 1:
        hess = xt.T @ (xt * (p * (1 - p))[:, None]) / n
        pen = np.r_[np.ones(d), 0.0]
    else:
        c = p.shape[1]
        blocks = np.einsum("ic,ce->ice", p, np.eye(c)) - np.einsum("ic,ie->ice", p, p)
        hess = np.einsum("ij,ik,ice->jcke", xt, xt, blocks).reshape((d + 1) * c, -1) / n
        pen = np.repeat(np.r_[np.ones(d), 0.0], c)
    if prior == "gaussian":
        hess = hess + np.diag(pen / (scale**2 * n))
    return hess


def _scipy_reference(x, y, n_classes: int, prior: str, scale: float):
    """Our own float64 reference: scipy's exact trust-region Newton on the numpy objective."""
    d = x.shape[1]
    size = d + 1 if n_classes == 2 else (d + 1) * n_classes

    def fun(theta):
        return _np_objective(*_unpack(theta, d, n_classes), x, y, prior, scale)

    def jac(theta):
        gw, gb = _np_smooth_gradient(*_unpack(theta, d, n_classes), x, y, prior, scale)
        return np.concatenate([gw, gb[None]], axis=0).reshape(-1)

    def hess(theta):
        return _np_hessian(*_unpack(theta, d, n_classes), x, y, prior, scale)

    result = scipy.optimize.minimize(
        fun, np.zeros(size), jac=jac, hess=hess, method="trust-exact", options={"gtol": 1e-13}
    )
    assert np.linalg.norm(jac(result.x)) < 1e-11, result
    return _unpack(result.x, d, n_classes)


def _centred(w: np.ndarray, b: np.ndarray):
    """The all-classes-sum-zero representative of softmax parameters (they are defined up
    to a common vector added to every class when there is no prior on that row)."""
    if np.ndim(b) == 0:
        return w, b
    return w - w.mean(axis=1, keepdims=True), b - b.mean()


def _sklearn(x, y, *, c: float, l1: bool = False):
    solver = "saga" if l1 else "newton-cholesky"
    model = LogisticRegression(
        C=c,
        l1_ratio=1.0 if l1 else 0.0,
        solver=solver,
        tol=1e-12 if l1 else 1e-14,
        max_iter=100_000,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    if model.coef_.shape[0] == 1:
        return model.coef_[0], model.intercept_[0]
    return model.coef_.T, model.intercept_


def _statsmodels(x, y, n_classes: int):
    """The MLE by statsmodels' Newton; MNLogit pins class 0 at zero."""
    exog = sm.add_constant(x, prepend=False)
    if n_classes == 2:
        params = sm.Logit(y, exog).fit(method="newton", maxiter=100, disp=0, tol=1e-14).params
        return params[:-1], params[-1]
    params = sm.MNLogit(y, exog).fit(method="newton", maxiter=100, disp=0, tol=1e-14).params
    theta = np.hstack([np.zeros((exog.shape[1], 1)), np.asarray(params)])
    return theta[:-1], theta[-1]


# ---------------------------------------------------------------------------
# No prior and Gaussian prior
# ---------------------------------------------------------------------------

SMOOTH_CASES = [
    pytest.param("synthetic", 2, "none", 1.0, id="binary-mle"),
    pytest.param("breast_cancer", 2, "gaussian", 1.0, id="binary-gaussian-breast_cancer"),
    pytest.param("synthetic", 3, "none", 1.0, id="softmax-mle"),
    pytest.param("synthetic", 3, "gaussian", 0.3, id="softmax-gaussian"),
]


def _data(name: str, n_classes: int):
    return breast_cancer() if name == "breast_cancer" else _synthetic(n_classes)


@pytest.mark.parametrize(("data", "n_classes", "prior", "scale"), SMOOTH_CASES)
def test_smooth_priors_match_references(data, n_classes, prior, scale):
    x, y = _data(data, n_classes)
    result = _solve64(x, y, n_classes, prior, scale)
    assert result.converged and not result.stalled
    ours = _centred(result.weights, result.bias)

    mine = _centred(*_scipy_reference(x, y, n_classes, prior, scale))
    np.testing.assert_allclose(ours[0], mine[0], rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours[1], mine[1], rtol=0, atol=1e-8)

    # scikit-learn's C is σ² (C = inf: no penalty); statsmodels fits the MLE only.
    sk = _centred(*_sklearn(x, y, c=scale**2 if prior == "gaussian" else np.inf))
    np.testing.assert_allclose(ours[0], sk[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours[1], sk[1], rtol=0, atol=1e-6)
    if prior == "none":
        st = _centred(*_statsmodels(x, y, n_classes))
        np.testing.assert_allclose(ours[0], st[0], rtol=0, atol=1e-6)
        np.testing.assert_allclose(ours[1], st[1], rtol=0, atol=1e-6)


@pytest.mark.parametrize(("data", "n_classes", "prior", "scale"), SMOOTH_CASES)
def test_reported_objective_and_grad_norm_are_the_numpy_ones(data, n_classes, prior, scale):
    x, y = _data(data, n_classes)
    result = _solve64(x, y, n_classes, prior, scale, tol=1e-3)
    w, b = result.weights, result.bias
    gw, gb = _np_smooth_gradient(w, b, x, y, prior, scale)
    expected = np.sqrt(np.sum(gw**2) + np.sum(gb**2))
    np.testing.assert_allclose(result.grad_norm, expected, rtol=1e-10)
    np.testing.assert_allclose(
        result.objective, _np_objective(w, b, x, y, prior, scale), rtol=1e-13
    )
    with jax.enable_x64(True):
        objective = jax.jit(functools.partial(newton.map_objective, prior=prior))
        value = objective(w, b, x, y, prior_scale=scale)
    np.testing.assert_allclose(value, result.objective, rtol=1e-14)


def test_softmax_without_prior_returns_the_minimum_norm_representative():
    """The all-classes direction is a null space of the objective: started at 0, the
    solution has zero class sums, which no step of the singular system could give by luck."""
    x, y = _synthetic(3)
    result = _solve64(x, y, 3, "none", 1.0)
    np.testing.assert_allclose(result.weights.sum(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(result.bias.sum(), 0, atol=1e-12)


# ---------------------------------------------------------------------------
# Laplace prior
# ---------------------------------------------------------------------------

LAPLACE_CASES = [
    pytest.param("breast_cancer", 2, 0.1, id="binary-breast_cancer-s0.1"),
    pytest.param("breast_cancer", 2, 10.0, id="binary-breast_cancer-s10"),
    pytest.param("synthetic", 3, 0.05, id="softmax-s0.05"),
    pytest.param("synthetic", 3, 1.0, id="softmax-s1"),
]


def _kkt_residual(result, x, y, scale: float) -> float:
    """The largest violation of the KKT conditions of f + λ‖w‖₁ (bias included); also
    asserts that every zero weight has |∂f/∂w| ≤ λ, exactly."""
    lam = 1 / (scale * len(y))
    gw, gb = _np_smooth_gradient(result.weights, result.bias, x, y, "laplace", scale)
    zero = result.weights == 0
    assert np.all(np.abs(gw[zero]) <= lam), "a zero weight has |∂f/∂w| > λ"
    on_support = np.abs(gw[~zero] + lam * np.sign(result.weights[~zero]))
    return max(on_support.max(initial=0), np.abs(gb).max())


@pytest.mark.parametrize(("data", "n_classes", "scale"), LAPLACE_CASES)
def test_laplace_meets_kkt_with_exact_zeros(data, n_classes, scale):
    x, y = _data(data, n_classes)
    result = _solve64(x, y, n_classes, "laplace", scale, tol=1e-12)
    assert result.converged and not result.stalled
    assert np.any(result.weights == 0) and np.any(result.weights != 0)
    assert _kkt_residual(result, x, y, scale) <= 1e-12
    # grad_norm is the norm of the minimum-norm subgradient, computed here independently.
    n = len(y)
    gw, gb = _np_smooth_gradient(result.weights, result.bias, x, y, "laplace", scale)
    lam, w = 1 / (scale * n), result.weights
    sub = np.where(w == 0, np.sign(gw) * np.maximum(np.abs(gw) - lam, 0), gw + lam * np.sign(w))
    np.testing.assert_allclose(
        result.grad_norm, np.sqrt(np.sum(sub**2) + np.sum(gb**2)), rtol=1e-6, atol=1e-15
    )


@pytest.mark.parametrize(
    ("data", "n_classes", "scale"),
    [LAPLACE_CASES[0], LAPLACE_CASES[2], LAPLACE_CASES[3]],  # saga is too slow at s = 10
)
def test_laplace_zero_pattern_matches_saga(data, n_classes, scale):
    x, y = _data(data, n_classes)
    result = _solve64(x, y, n_classes, "laplace", scale, tol=1e-12)
    w_saga, b_saga = _sklearn(x, y, c=scale, l1=True)
    np.testing.assert_array_equal(result.weights == 0, w_saga == 0)
    np.testing.assert_allclose(result.weights, w_saga, rtol=0, atol=1e-6)
    bias, bias_saga = _centred(result.weights, result.bias)[1], _centred(w_saga, b_saga)[1]
    np.testing.assert_allclose(bias, bias_saga, rtol=0, atol=1e-6)
    saga_value = _np_objective(w_saga, b_saga, x, y, "laplace", scale)
    assert result.objective <= saga_value + 1e-15


# ---------------------------------------------------------------------------
# Stopping: steps_taken, converged, vmap
# ---------------------------------------------------------------------------


def test_steps_taken_and_converged_follow_tol_and_max_steps():
    x, y = breast_cancer()
    full = _solve64(x, y, 2, "gaussian", 1.0, tol=1e-10, max_steps=50)
    assert full.converged and full.grad_norm <= 1e-10
    k = int(full.steps_taken)
    assert 1 < k < 50
    short = _solve64(x, y, 2, "gaussian", 1.0, tol=1e-10, max_steps=k - 1)
    assert not short.converged and int(short.steps_taken) == k - 1 and short.grad_norm > 1e-10
    # tol = 0: every step is run (or the solve stalls at the float64 optimum), never converged.
    zero = _solve64(x, y, 2, "gaussian", 1.0, tol=0.0, max_steps=k + 3)
    assert not zero.converged
    assert int(zero.steps_taken) == k + 3 or zero.stalled
    # A converged start takes no step.
    again = _solve64(
        x, y, 2, "gaussian", 1.0, tol=1e-10, params0=(full.weights, full.bias), max_steps=50
    )
    assert again.converged and int(again.steps_taken) == 0
    np.testing.assert_array_equal(again.weights, full.weights)


def test_vmapped_members_stop_on_their_own():
    """Under vmap each member runs the steps of its own solve, and a member that has
    converged does not move while the others go on."""
    x, y = breast_cancer()
    tols = np.array([1e-2, 1e-6, 1e-12])
    scales = np.array([0.3, 1.0, 3.0])
    with jax.enable_x64(True):
        solve = jax.jit(
            jax.vmap(
                lambda s, t: newton.newton_solve(
                    x, y, n_classes=2, prior="laplace", prior_scale=s, tol=t, max_steps=50
                )
            )
        )
        batch = jax.device_get(solve(jnp.asarray(scales), jnp.asarray(tols)))
    for i, (s, t) in enumerate(zip(scales, tols, strict=True)):
        alone = _solve64(x, y, 2, "laplace", s, tol=t, max_steps=50)
        assert int(batch.steps_taken[i]) == int(alone.steps_taken)
        assert bool(batch.converged[i]) and bool(alone.converged)
        np.testing.assert_allclose(batch.weights[i], alone.weights, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(batch.weights[i] == 0, alone.weights == 0)
    assert len(set(batch.steps_taken.tolist())) == 3


def test_one_program_serves_every_scale_tol_and_max_steps():
    x, y = _synthetic(2)
    solve = _solver(2, "none")
    args = (jnp.asarray(x, jnp.float32), jnp.asarray(y))
    params0 = _zeros(x.shape[1], 2, jnp.float32)
    for i, (scale, tol, steps) in enumerate([(0.5, 1e-4, 20), (1.0, 1e-5, 3), (2.0, 0.0, 7)]):
        solve(
            *args,
            prior_scale=jnp.float32(scale),
            tol=jnp.float32(tol),
            max_steps=jnp.int32(steps),
            params0=params0,
        )
        if i == 0:
            compiled = solve._cache_size()
    assert solve._cache_size() == compiled


# ---------------------------------------------------------------------------
# Divergence: separable data without a prior
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_separable_mle_stays_finite_and_does_not_converge(n_classes, x64):
    x, _ = _synthetic(n_classes)
    y = np.digitize(x[:, 0] + 0.5 * x[:, 1], [0.0] if n_classes == 2 else [-0.5, 0.5])
    dtype = jnp.float64 if x64 else jnp.float32
    with jax.enable_x64(True) if x64 else contextlib.nullcontext():
        result = _solver(n_classes, "none")(
            jnp.asarray(x, dtype),
            jnp.asarray(y),
            prior_scale=dtype(1.0),
            tol=dtype(0.0),
            max_steps=jnp.int32(200),
            params0=_zeros(x.shape[1], n_classes, dtype),
        )
    assert not result.converged
    assert int(result.steps_taken) == 200 or result.stalled
    for leaf in (result.weights, result.bias, result.objective, result.grad_norm):
        assert leaf.dtype == dtype and np.all(np.isfinite(leaf))
    assert float(result.objective) < 1e-4  # the loss goes to 0 as the weights grow
    # Each step is at most 1/ν long: the weights are bounded by max_steps/ν.
    assert np.abs(result.weights).max() <= 200 / newton_steps.LEVENBERG


# ---------------------------------------------------------------------------
# Dtypes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("prior", newton.PRIORS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_float32_programs_hold_no_float64(prior, n_classes):
    """With x64 enabled a stray Python float or a float64 constant would show in the
    program as f64; a float32 solve and path must have none."""
    x = jnp.ones((10, 3), jnp.float32)
    y = jnp.arange(10) % n_classes
    with jax.enable_x64(True):
        solve = functools.partial(
            newton.newton_solve, n_classes=n_classes, prior=prior, max_steps=3
        )
        path = functools.partial(newton.newton_path, n_classes=n_classes, prior=prior, max_steps=3)
        scale, tol = jnp.float32(1.0), jnp.float32(1e-4)
        for program, args in [
            (solve, dict(prior_scale=scale, tol=tol)),
            (lambda x, y, **kw: path(x, y, jnp.ones(2, jnp.float32), **kw), dict(tol=tol)),
        ]:
            jaxpr = jax.make_jaxpr(functools.partial(program, **args))(x, y)
            assert "f64" not in str(jaxpr)
            assert {leaf.dtype for leaf in jaxpr.out_avals} <= {
                jnp.dtype(jnp.float32),
                jnp.dtype(jnp.int32),
                jnp.dtype(bool),
            }
            hlo = jax.jit(functools.partial(program, **args)).lower(x, y).as_text()
            assert "f64" not in hlo


# ---------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("prior", ["gaussian", "laplace"])
def test_path_members_equal_their_cold_solves(prior):
    """A path vmapped over two data sets (breast_cancer and its rows reversed, which changes
    nothing but the order of the sums): every member equals its own cold solve."""
    x, y = breast_cancer()
    cs = np.logspace(-3, 1, 6)
    scales = np.sqrt(cs) if prior == "gaussian" else cs
    tol = 1e-10
    with jax.enable_x64(True):
        path = functools.partial(newton.newton_path, n_classes=2, prior=prior, max_steps=50)
        paths = jax.jit(jax.vmap(lambda x, y: path(x, y, jnp.asarray(scales), tol=tol)))(
            jnp.asarray(np.stack([x, x[::-1]])), jnp.asarray(np.stack([y, y[::-1]]))
        )
        paths = jax.device_get(paths)
    assert paths.converged.all() and paths.weights.shape == (2, len(cs), x.shape[1])
    for name in ("weights", "bias", "grad_norm", "objective"):
        assert getattr(paths, name).dtype == np.float64, name
    assert paths.steps_taken.dtype == np.int32 and paths.converged.dtype == np.bool_
    for i, s in enumerate(scales):
        cold = _solve64(x, y, 2, prior, s, tol=tol)
        assert cold.converged
        for member in (paths.weights[0, i], paths.weights[1, i]):
            # Both satisfy ‖g‖ ≤ tol, so they agree to about tol/λ_min(H).
            np.testing.assert_allclose(member, cold.weights, rtol=0, atol=1e-6)
            np.testing.assert_array_equal(member == 0, cold.weights == 0)
        np.testing.assert_allclose(paths.objective[:, i], cold.objective, rtol=1e-12)
        # Warm starts help: no member needs more steps than its cold solve.
        assert np.all(paths.steps_taken[:, i] <= cold.steps_taken)


# ---------------------------------------------------------------------------
# The goal: a breast_cancer MAP fit to 1e-10 in at most 30 Newton steps
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("prior", ["gaussian", "laplace"])
@pytest.mark.parametrize("c", [1e-3, 1.0, 10.0])
def test_breast_cancer_map_fit_to_1e_10_in_at_most_30_steps(prior, c):
    x, y = breast_cancer()
    scale = np.sqrt(c) if prior == "gaussian" else c
    result = _solve64(x, y, 2, prior, scale, tol=1e-10, max_steps=30)
    assert result.converged and result.grad_norm <= 1e-10
    assert int(result.steps_taken) <= 30


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


def test_bad_arguments_name_the_problem():
    x, y = np.zeros((4, 2), np.float32), np.zeros(4, np.int32)
    with pytest.raises(ValueError, match="unknown prior 'ridge'"):
        newton.newton_solve(x, y, n_classes=2, prior="ridge", prior_scale=1.0, tol=0, max_steps=1)
    with pytest.raises(ValueError, match=r"y must have shape \[n\] = \(4,\)"):
        newton.newton_solve(
            x, y[:3], n_classes=2, prior="none", prior_scale=1.0, tol=0, max_steps=1
        )
    with pytest.raises(ValueError, match="params0"):
        newton.newton_solve(
            x,
            y,
            n_classes=3,
            prior="none",
            prior_scale=1.0,
            tol=0,
            max_steps=1,
            params0=(np.zeros(2), np.zeros(())),
        )
