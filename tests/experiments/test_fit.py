"""experiments.fit_map and fit_path on arrays: against scikit-learn (L2), the KKT conditions
(L1), and the argument checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression

import experiments


@pytest.fixture(scope="module")
def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """Standardized (population std), float64: the data, scale and scales of the docstring
    examples of fit_map and fit_path, so that the suite compiles each solver once."""
    data = load_breast_cancer()
    x = (data.data - data.data.mean(0)) / data.data.std(0)
    return x, data.target


def test_fit_map_is_scikit_learns_l2_fit_with_c_the_squared_scale(breast_cancer):
    x, y = breast_cancer
    c = 0.5
    fit = experiments.fit_map(x, y, prior="gaussian", scale=np.sqrt(c))
    assert fit.converged and fit.steps <= 30 and fit.grad_norm <= 1e-10
    assert fit.weights.dtype == np.float64 and fit.weights.shape == (30,)
    reference = LogisticRegression(C=c, solver="lbfgs", tol=1e-10, max_iter=10_000).fit(x, y)
    np.testing.assert_allclose(fit.weights, reference.coef_[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.intercept, reference.intercept_[0], rtol=0, atol=1e-6)


def test_fit_path_meets_the_l1_kkt_conditions_in_the_given_order(breast_cancer):
    x, y = breast_cancer
    scales = np.array([1.0, 0.01, 10.0, 0.1, 0.03])  # not sorted
    path = experiments.fit_path(x, y, prior="laplace", scales=scales)
    assert path.weights.shape == (5, 30) and path.weights.dtype == np.float64
    assert bool(path.converged.all()) and int(path.steps.max()) <= 30
    np.testing.assert_array_equal(path.scales, scales)
    n = len(y)
    xt = np.c_[x, np.ones(n)]
    for i, s in enumerate(scales):
        w, b = np.asarray(path.weights[i]), float(path.intercept[i])
        p = 1 / (1 + np.exp(-(xt @ np.r_[w, b])))
        grad = xt.T @ (p - y) / n  # of the mean cross-entropy
        lam = 1 / (s * n)
        zero = w == 0
        # Exact zeros where |∂f/∂wⱼ| ≤ λ; ∂f/∂wⱼ = −λ·sign(wⱼ) elsewhere; ∂f/∂b = 0.
        assert np.all(np.abs(grad[:-1][zero]) <= lam * (1 + 1e-9))
        np.testing.assert_allclose(grad[:-1][~zero], -lam * np.sign(w[~zero]), rtol=0, atol=1e-10)
        assert abs(grad[-1]) <= 1e-10
    frame = path.to_frame()
    assert list(frame["scale"]) == list(scales) and list(frame["C"]) == list(scales)
    assert frame["nonzero"].iloc[1] < frame["nonzero"].iloc[2]  # s = 0.01 is sparser than 10


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: experiments.fit_map(np.ones(3), [0, 1, 0]), r"X: expected a 2-D array"),
        (lambda: experiments.fit_map(np.ones((3, 1)), [0, 1]), r"y: expected shape \(3,\)"),
        (
            lambda: experiments.fit_map([[0.0], [np.nan]], [0, 1]),
            r"X: every value must be finite in float64; X\[1, 0\] is nan",
        ),
        (lambda: experiments.fit_map([[0.0], [1.0]], [0.0, 1.0]), r"y: expected integer"),
        (
            lambda: experiments.fit_map([[0.0], [1.0]], [0, -1]),
            r"y: labels must be in 0\.\.1 \(n_classes 2\); found \[-1\]",
        ),
        (
            lambda: experiments.fit_map([[0.0], [1.0]], [0, 2], n_classes=2),
            r"y: labels must be in 0\.\.1 \(n_classes 2\); found \[2\]",
        ),
        (lambda: experiments.fit_map([[0.0], [1.0]], [0, 1], scale=0.0), r"scale: .* > 0, got 0"),
        (lambda: experiments.fit_map([[0.0], [1.0]], [0, 1], tol=-1), r"tol: .* > 0, got -1"),
        (lambda: experiments.fit_map([[0.0], [1.0]], [0, 1], prior="l1"), r"prior: expected"),
        (lambda: experiments.fit_map([[0.0], [1.0]], [0, 1], max_steps=0), r"max_steps: "),
        (
            lambda: experiments.fit_map([[0.0], [1.0]], [0, 1], precision="float16"),
            r"precision: expected 'float32', 'float64' or None",
        ),
        (
            lambda: experiments.fit_path([[0.0], [1.0]], [0, 1], scales=[1.0, -2.0]),
            r"scales: every scale must be finite and > 0; got -2\.0",
        ),
        (lambda: experiments.fit_path([[0.0], [1.0]], [0, 1], scales=[]), r"scales: .*non-empty"),
        (
            lambda: experiments.fit_path([[0.0], [1.0]], [0, 1], prior="none", scales=[1.0]),
            r"prior: a path needs 'gaussian' or 'laplace'",
        ),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(call, expected):
    with pytest.raises(ValueError, match=expected):
        call()


@pytest.mark.slow
def test_a_fit_predicts_as_scikit_learn_does():
    # MapFit and PathFit answer predict_proba, decision_function, predict and score like
    # scikit-learn's LogisticRegression at the same optimum (float64, C = σ²).
    for load in (load_breast_cancer, load_iris):
        X, y = load(return_X_y=True)
        X = (X - X.mean(0)) / X.std(0)
        fit = experiments.fit_map(X, y, prior="gaussian", scale=np.sqrt(0.5))
        reference = LogisticRegression(C=0.5, tol=1e-12, max_iter=100_000).fit(X, y)
        np.testing.assert_allclose(fit.predict_proba(X), reference.predict_proba(X), atol=1e-6)
        np.testing.assert_array_equal(fit.predict(X), reference.predict(X))
        assert fit.score(X, y) == reference.score(X, y)
        if load is load_breast_cancer:  # the log-odds of class 1
            np.testing.assert_allclose(
                fit.decision_function(X), reference.decision_function(X), rtol=1e-5, atol=1e-5
            )
        path = experiments.fit_path(X, y, scales=[0.3, np.sqrt(0.5), 3.0])
        assert path.predict_proba(X).shape == (3, *reference.predict_proba(X).shape)
        np.testing.assert_allclose(path.predict_proba(X)[1], fit.predict_proba(X), atol=1e-8)
        assert path.score(X, y)[1] == fit.score(X, y)
    with pytest.raises(ValueError, match="X must be"):
        fit.predict(X[:, :2])
