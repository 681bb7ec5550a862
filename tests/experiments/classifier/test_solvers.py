"""Every solver ``auto`` can pick, on small versions of each shape, against float64 references.

Shapes: tall (n ≫ d), wide (d > n), softmax; priors: none, Gaussian (L2), Laplace (L1). The
reference is scipy's L-BFGS-B on the objective and gradient written out in numpy here (L1 as
a smooth problem over w = u − v, u, v ≥ 0), to a projected gradient of 1e-13. Every solver's
members must be within 1e-8 of the reference objective (relative: 1e-10 is typical) and
meet the KKT conditions, which are checked in numpy from the returned weights alone.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

import experiments
from experiments.kinds.classifier import newton

SCALES = (0.3, 1.0, 3.0)  # σ (Gaussian) or s (Laplace), a path in ascending order


@functools.cache
def _data(shape: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(x, y, classes): tall 400 × 12, wide 40 × 120, softmax 300 × 8 with 3 classes."""
    n, d, classes = {"tall": (400, 12, 2), "wide": (40, 120, 2), "softmax": (300, 8, 3)}[shape]
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal((n, d))
    w = np.zeros((d, classes))
    w[:4] = rng.uniform(0.5, 1.5, (4, classes)) * rng.choice([-1.0, 1.0], (4, classes))
    logits = x @ w
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(classes, p=row) for row in p])
    return x, y, classes


def _np_smooth(theta: np.ndarray, x, y, classes: int, l2: float):
    """Mean CE + (l2/2)‖w‖² and its gradient, θ = [w; b] flattened."""
    n, d = x.shape
    k = 1 if classes == 2 else classes
    theta = theta.reshape(d + 1, k)
    z = x @ theta[:-1] + theta[-1]
    if classes == 2:
        z = z[:, 0]
        value = np.mean(np.logaddexp(0, z) - y * z)
        residual = (1 / (1 + np.exp(-z)) - y)[:, None]
    else:
        top = z.max(axis=1, keepdims=True)
        log_norm = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
        value = np.mean(log_norm - z[np.arange(n), y])
        residual = np.exp(z - log_norm[:, None]) - np.eye(classes)[y]
    grad = np.vstack([x.T @ residual, residual.sum(axis=0, keepdims=True)]) / n
    value += l2 / 2 * np.sum(theta[:-1] ** 2)
    grad[:-1] += l2 * theta[:-1]
    return value, grad.reshape(-1)


def _np_objective(weights, bias, x, y, classes, prior, scale) -> float:
    n = x.shape[0]
    theta = np.concatenate([np.reshape(weights, (x.shape[1], -1)), np.reshape(bias, (1, -1))])
    l2 = 1 / (scale**2 * n) if prior == "gaussian" else 0.0
    value = _np_smooth(theta.reshape(-1), x, y, classes, l2)[0]
    if prior == "laplace":
        value += np.sum(np.abs(weights)) / (scale * n)
    return value


@functools.cache
def _reference(shape: str, prior: str, scale: float) -> float:
    """The minimum of J by L-BFGS-B in float64."""
    x, y, classes = _data(shape)
    n, d = x.shape
    k = 1 if classes == 2 else classes
    m = (d + 1) * k
    l2 = 1 / (scale**2 * n) if prior == "gaussian" else 0.0
    if prior != "laplace":
        fun = functools.partial(_np_smooth, x=x, y=y, classes=classes, l2=l2)
        start, bounds = np.zeros(m), None
    else:
        lam = 1 / (scale * n)
        weights = d * k

        def fun(z):  # z = [u; v; b], w = u − v
            theta = np.concatenate([z[:weights] - z[weights : 2 * weights], z[2 * weights :]])
            value, grad = _np_smooth(theta, x, y, classes, 0.0)
            value += lam * np.sum(z[: 2 * weights])
            gw = grad[:weights] + lam
            return value, np.concatenate([gw, -grad[:weights] + 2 * lam, grad[weights:]])

        start = np.zeros(2 * weights + k)
        bounds = [(0, None)] * (2 * weights) + [(None, None)] * k
    result = scipy.optimize.minimize(
        fun,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 50_000, "maxcor": 50, "gtol": 1e-13, "ftol": 1e-16},
    )
    return float(result.fun)


def _kkt_residual(weights, bias, x, y, classes, prior, scale) -> float:
    """The norm of J's minimum-norm subgradient at (w, b), in numpy."""
    n, d = x.shape
    theta = np.concatenate([np.reshape(weights, (d, -1)), np.reshape(bias, (1, -1))])
    l2 = 1 / (scale**2 * n) if prior == "gaussian" else 0.0
    grad = _np_smooth(theta.reshape(-1), x, y, classes, l2)[1].reshape(d + 1, -1)
    if prior == "laplace":
        lam, w, g = 1 / (scale * n), theta[:-1], grad[:-1]
        grad[:-1] = np.where(
            w != 0, g + lam * np.sign(w), np.sign(g) * np.maximum(np.abs(g) - lam, 0)
        )
    return float(np.linalg.norm(grad))


# Every (shape, prior) and the solvers that apply to it.
CASES = [
    ("tall", "none", ("newton", "newton_cg")),
    ("tall", "gaussian", ("newton", "newton_cg", "newton_woodbury")),
    ("tall", "laplace", ("newton", "newton_working_set")),
    ("wide", "gaussian", ("newton", "newton_cg", "newton_woodbury")),
    ("wide", "laplace", ("newton", "newton_working_set")),
    ("softmax", "none", ("newton", "newton_cg")),
    ("softmax", "gaussian", ("newton", "newton_cg")),
    ("softmax", "laplace", ("newton",)),
]


@functools.cache
def _path(shape: str, prior: str, solver: str):
    """The float64 path of ``solver`` along ``SCALES`` to ‖g‖ ≤ 1e-10, on the host."""
    x, y, classes = _data(shape)
    with jax.enable_x64(True):
        path = newton.newton_path(
            jnp.asarray(x),
            jnp.asarray(y),
            jnp.asarray(SCALES),
            n_classes=classes,
            prior=prior,
            tol=1e-10,
            max_steps=100,
            solver=solver,
        )
        return jax.device_get(path)


@pytest.mark.parametrize(
    ("shape", "prior", "solver"),
    [(shape, prior, solver) for shape, prior, solvers in CASES for solver in solvers],
)
def test_every_solver_meets_the_float64_reference_and_kkt(shape, prior, solver):
    x, y, classes = _data(shape)
    path = _path(shape, prior, solver)
    assert path.converged.all(), path.grad_norm
    for i, scale in enumerate(SCALES):
        w, b = path.weights[i], path.bias[i]
        if prior == "none" and i > 0:
            break  # the same problem at every scale
        value = _np_objective(w, b, x, y, classes, prior, scale)
        reference = _reference(shape, prior, scale)
        assert (value - reference) / reference <= 1e-8, (scale, value, reference)
        assert _kkt_residual(w, b, x, y, classes, prior, scale) <= 1e-9
        np.testing.assert_allclose(path.objective[i], value, rtol=1e-12)


def test_working_set_leaves_the_dense_solves_exact_zeros():
    x = _data("wide")[0]
    working, dense = (_path("wide", "laplace", s) for s in ("newton_working_set", "newton"))
    nonzero = np.count_nonzero(working.weights, axis=1)
    assert np.all((nonzero > 0) & (nonzero < x.shape[0]))  # sparse: fewer than n nonzeros
    np.testing.assert_array_equal(working.weights != 0, dense.weights != 0)


def test_float32_solvers_reach_their_tolerance():
    x, y, _ = _data("wide")
    for solver in ("newton_cg", "newton_woodbury"):
        result = newton.newton_solve(
            jnp.asarray(x, jnp.float32),
            y,
            n_classes=2,
            prior="gaussian",
            prior_scale=1.0,
            tol=1e-5,
            max_steps=100,
            solver=solver,
        )
        assert result.weights.dtype == jnp.float32
        assert bool(result.converged), (solver, float(result.grad_norm))


@pytest.mark.parametrize(
    ("n", "d", "classes", "prior", "expected"),
    [
        (569, 30, 2, "gaussian", "newton"),
        (569, 30, 2, "laplace", "newton"),
        (20_000, 200, 2, "gaussian", "newton_cg"),
        (20_000, 200, 2, "none", "newton_cg"),
        (20_000, 200, 2, "laplace", "newton"),
        (200, 2_000, 2, "gaussian", "newton_woodbury"),
        (200, 2_000, 2, "laplace", "newton_working_set"),
        (1_797, 64, 10, "gaussian", "newton_cg"),
        (1_797, 64, 10, "laplace", "newton"),
        (100, 5, 3, "none", "newton"),
    ],
)
def test_auto_choice_follows_the_documented_rule(n, d, classes, prior, expected):
    assert newton.choose_solver(n, d, classes, prior) == expected


def test_a_solver_that_does_not_apply_is_refused():
    x, y, _ = _data("tall")
    with pytest.raises(ValueError, match="newton_woodbury needs prior kind gaussian"):
        newton.newton_solve(
            x,
            y,
            n_classes=2,
            prior="laplace",
            prior_scale=1.0,
            tol=1e-6,
            max_steps=5,
            solver="newton_woodbury",
        )
    with pytest.raises(ValueError, match="unknown solver"):
        newton.newton_solve(
            x, y, n_classes=2, prior="none", prior_scale=1.0, tol=1e-6, max_steps=5, solver="lbfgs"
        )


WIDE = {
    "name": "wide",
    "data": {"n_samples": 50, "n_features": 80, "n_informative": 3, "test_fraction": 0.2},
    "train": {"steps": 40, "log_every": 20, "tol": 1e-5},
    "variants": [
        {"name": "ridge", "train": {"prior": {"kind": "gaussian", "scale": 1.0}}},
        {"name": "lasso", "train": {"prior": {"kind": "laplace", "scale": 1.0}}},
        {
            "name": "dense",
            "train": {"prior": {"kind": "gaussian", "scale": 1.0}, "optimizer": {"name": "newton"}},
        },
    ],
    "output": {"formats": []},
}


@pytest.mark.slow
def test_auto_is_the_default_with_tol_and_records_its_choice(tmp_path):
    run = experiments.run(WIDE, out=tmp_path / "run")
    summary = run.summary.set_index("variant")
    # 40 training rows (test_fraction 0.2 of 50) < 80 features: wide.
    assert summary["solver"].to_dict() == {
        "ridge": "newton_woodbury",
        "lasso": "newton_working_set",
        "dense": "newton",
    }
    assert summary["converged"].all()
    np.testing.assert_allclose(
        summary.loc["ridge", "train/ce"], summary.loc["dense", "train/ce"], rtol=1e-5
    )


def test_a_solver_for_another_prior_is_a_config_error():
    config = {
        **WIDE,
        "variants": [
            {
                "name": "x",
                "train": {
                    "optimizer": {"name": "newton_cg"},
                    "prior": {"kind": "laplace", "scale": 1.0},
                },
            }
        ],
    }
    with pytest.raises(ValueError, match="newton_cg needs prior kind none or gaussian"):
        experiments.validate_config(config)


def test_fit_map_uses_auto_and_agrees_with_the_dense_solve():
    from experiments.fit import fit_map

    x, y, _ = _data("wide")
    auto = fit_map(x, y, prior="gaussian", scale=1.0)
    dense = fit_map(x, y, prior="gaussian", scale=1.0, solver="newton")
    assert (auto.solver, dense.solver) == ("newton_woodbury", "newton")
    np.testing.assert_allclose(auto.weights, dense.weights, rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError, match="solver: expected auto or one of"):
        fit_map(x, y, solver="lbfgs")
