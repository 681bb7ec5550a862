"""experiments.model: logits, the two losses, the priors and the MAP objective.

References are closed forms in float64 (numpy, scipy.special). Tolerances: float32 values
against float64 references rtol=1e-5, atol=1e-6; float64 gradients (under jax.enable_x64)
by jax.test_util.check_grads at its float64 defaults.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy.special import expit, log_expit, log_softmax, softmax

from experiments.kinds.classifier import model
from experiments.kinds.classifier.model import Params

RTOL, ATOL = 1e-5, 1e-6


@pytest.fixture(params=[2, 3], ids=["binary", "softmax"])
def problem(request):
    """Random float64 data and parameters: 2 classes (sigmoid) or 3 (softmax)."""
    n_classes = request.param
    rng = np.random.default_rng(n_classes)
    n, d = 7, 4
    x = rng.normal(size=(n, d))
    y = rng.integers(0, n_classes, size=n).astype(np.int32)
    shape = (d,) if n_classes == 2 else (d, n_classes)
    params = Params(rng.normal(size=shape), rng.normal(size=shape[1:]))
    return x, y, params


def _as32(params: Params) -> Params:
    return Params(*(jnp.asarray(p, jnp.float32) for p in params))


def _reference_logits(x, params):
    return x @ params.weights + params.bias


def _reference_nll(x, y, params):
    z = _reference_logits(x, params)
    if z.ndim == 1:
        return -(y * log_expit(z) + (1 - y) * log_expit(-z))
    return -log_softmax(z, axis=-1)[np.arange(len(y)), y]


def _reference_squared_error(x, y, params):
    z = _reference_logits(x, params)
    if z.ndim == 1:
        return 0.5 * (expit(z) - y) ** 2
    return 0.5 * np.sum((softmax(z, axis=-1) - np.eye(z.shape[1])[y]) ** 2, axis=-1)


@pytest.mark.parametrize(
    ("loss", "reference"),
    [("ce", _reference_nll), ("mse", _reference_squared_error)],
)
def test_loss_matches_closed_form(problem, loss, reference):
    x, y, params = problem
    value = jax.jit(model.LOSSES[loss])(_as32(params), jnp.asarray(x, jnp.float32), jnp.asarray(y))
    x32 = np.asarray(x, np.float32).astype(np.float64)
    params32 = Params(*(np.asarray(p, np.float32).astype(np.float64) for p in params))
    assert value.dtype == jnp.float32
    np.testing.assert_allclose(value, np.mean(reference(x32, y, params32)), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_loss_gradients(problem, loss):
    x, y, params = problem
    with jax.enable_x64(True):
        fn = jax.jit(lambda p: model.LOSSES[loss](p, jnp.asarray(x), jnp.asarray(y)))
        check_grads(fn, (Params(*map(jnp.asarray, params)),), order=1, modes=["rev"])


def test_logit_shapes(problem):
    x, _, params = problem
    z = model.logits(_as32(params), jnp.asarray(x, jnp.float32))
    assert z.shape == (x.shape[0], *params.bias.shape)


def test_accuracy_counts_most_probable_class(problem):
    x, y, params = problem
    z = _reference_logits(x, params)
    predicted = (z > 0).astype(int) if z.ndim == 1 else np.argmax(z, axis=-1)
    value = model.accuracy(_as32(params), jnp.asarray(x, jnp.float32), jnp.asarray(y))
    assert value == pytest.approx(np.mean(predicted == y))


def test_squared_error_gradient_vanishes_at_a_saturated_wrong_logit():
    # The source material's claim: at z = -10 with label 1, ∂MSE/∂z = (σ - 1)σ(1 - σ) is
    # tiny while ∂CE/∂z = σ - 1 is about -1.
    x = jnp.ones((1, 1), jnp.float32)
    y = jnp.ones((1,), jnp.int32)
    params = Params(jnp.zeros((1,), jnp.float32), jnp.asarray(-10.0, jnp.float32))
    grad_ce = jax.jit(jax.grad(model.cross_entropy_loss))(params, x, y).bias
    grad_mse = jax.jit(jax.grad(model.squared_error_loss))(params, x, y).bias
    s = expit(-10.0)
    np.testing.assert_allclose(grad_ce, s - 1.0, rtol=RTOL)
    np.testing.assert_allclose(grad_mse, (s - 1.0) * s * (1.0 - s), rtol=RTOL)
    assert abs(grad_mse) < 1e-4 * abs(grad_ce)


def test_cross_entropy_is_exact_for_saturated_logits():
    # log(1 - σ(z)) would round to log 0 = -inf at z = 100; log-sigmoids keep it exact.
    x = jnp.ones((2, 1), jnp.float32)
    params = Params(jnp.zeros((1,), jnp.float32), jnp.asarray(100.0, jnp.float32))
    value = jax.jit(model.cross_entropy_loss)(params, x, jnp.array([0, 1], jnp.int32))
    np.testing.assert_allclose(value, 50.0, rtol=RTOL)


@pytest.mark.parametrize(
    ("prior", "sklearn_penalty"),
    [
        ("gaussian", lambda w: 0.5 * np.sum(w**2)),  # sklearn's l2 with C = σ²
        ("laplace", lambda w: np.sum(np.abs(w))),  # sklearn's l1 with C = b
    ],
)
def test_map_objective_is_sklearn_objective_over_c_n(problem, prior, sklearn_penalty):
    # scikit-learn minimises penalty(w) + C Σ_i NLL_i; ours is that divided by C·n.
    x, y, params = problem
    n, scale = x.shape[0], 0.7
    c = scale**2 if prior == "gaussian" else scale
    objective = jax.jit(functools.partial(model.map_objective, loss="ce", prior=prior, n=n))(
        _as32(params),
        jnp.asarray(x, jnp.float32),
        jnp.asarray(y),
        prior_scale=jnp.float32(scale),
    )
    x32 = np.asarray(x, np.float32).astype(np.float64)
    params32 = Params(*(np.asarray(p, np.float32).astype(np.float64) for p in params))
    sklearn = sklearn_penalty(params32.weights) + c * np.sum(_reference_nll(x32, y, params32))
    np.testing.assert_allclose(objective, sklearn / (c * n), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("prior", ["none", "gaussian", "laplace"])
def test_prior_never_penalises_the_bias(problem, prior):
    x, _, params = problem

    def penalty(p: Params):
        return model.prior_penalty(prior, p.weights, jnp.float32(0.5), x.shape[0])

    grads = jax.jit(jax.grad(penalty))(_as32(params))
    np.testing.assert_array_equal(grads.bias, 0.0)


def test_smooth_objective_leaves_the_laplace_penalty_to_the_prox(problem):
    x, y, params = problem
    args = (_as32(params), jnp.asarray(x, jnp.float32), jnp.asarray(y), jnp.float32(0.5))

    @functools.partial(jax.jit, static_argnums=(0, 1))
    def objective(fn, prior, params, x, y, scale):
        return fn(params, x, y, loss="ce", prior=prior, prior_scale=scale, n=x.shape[0])

    smooth = objective(model.smooth_objective, "laplace", *args)
    np.testing.assert_allclose(smooth, objective(model.smooth_objective, "none", *args))
    full = objective(model.map_objective, "laplace", *args)
    l1 = np.sum(np.abs(np.asarray(params.weights, np.float32))) / (0.5 * x.shape[0])
    np.testing.assert_allclose(full - smooth, l1, rtol=RTOL)


def test_minimum_norm_subgradient():
    # At w = 0 the subdifferential of |w| is [-1, 1]: the smallest element of g + λ[-1, 1]
    # is 0 when |g| ≤ λ and g ∓ λ otherwise; at w ≠ 0 it is g + λ sign(w).
    grads = Params(jnp.array([0.3, -0.3, 2.0, -2.0, 0.5]), jnp.asarray(0.25))
    params = Params(jnp.array([0.0, 0.0, 0.0, 0.0, -1.0]), jnp.asarray(3.0))
    result = jax.jit(model.minimum_norm_subgradient)(grads, params, jnp.float32(1.0))
    np.testing.assert_allclose(result.weights, [0.0, 0.0, 1.0, -1.0, -0.5])
    assert result.bias == 0.25
    assert model.minimum_norm_subgradient(grads, params, None) is grads


@pytest.mark.parametrize("n_classes", [2, 4])
def test_init_params(n_classes):
    hyper = {
        "init_scale": jnp.float32(0.1),
        "init_weights": jnp.float32(-2.0),
        "init_bias": jnp.float32(3.0),
    }
    key = jax.random.key(0)
    bias_shape = () if n_classes == 2 else (n_classes,)

    def init(kind):
        return model.init_params(kind, hyper, key=key, n_features=500, n_classes=n_classes)

    zeros = init("zeros")
    assert zeros.bias.shape == bias_shape
    assert not np.any(zeros.weights) and not np.any(zeros.bias)
    constant = init("constant")
    np.testing.assert_array_equal(constant.weights, -2.0)
    np.testing.assert_array_equal(constant.bias, 3.0)
    normal = init("normal")
    assert normal.weights.dtype == jnp.float32
    assert np.std(normal.weights) == pytest.approx(0.1, rel=0.1)
    np.testing.assert_array_equal(normal.bias, 0.0)
    np.testing.assert_array_equal(normal.weights, init("normal").weights)  # from the key alone
    with pytest.raises(ValueError, match="unknown init kind 'ones'"):
        init("ones")
