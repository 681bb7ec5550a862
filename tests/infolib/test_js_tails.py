"""Jensen–Shannon where one distribution is many orders of magnitude below the other.

Found by the divergence_fit kind: a Gaussian q against a far-away mode of p has entries
with p/q ~ 1e-22; d = (p − q)/(p + q) rounds to −1 there, and log1p(d) gave −inf.
"""

import jax
import jax.numpy as jnp
import numpy as np

import infolib


def _reference(p: np.ndarray, q: np.ndarray) -> float:
    p, q = p.astype(np.float64), q.astype(np.float64)
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / m), 0.0) + np.where(q > 0, q * np.log(q / m), 0.0)
    return 0.5 * float(np.sum(terms))


def test_js_of_distributions_with_far_tails_is_finite_and_exact():
    x = jnp.linspace(-30.0, 30.0, 201)
    log_p = jnp.logaddexp(-0.5 * jnp.square(x + 3), -0.5 * jnp.square(x - 3))
    log_q = -0.5 * jnp.square((x - 0.5) / 2)
    p, q = jax.nn.softmax(log_p), jax.nn.softmax(log_q)
    value = infolib.js_divergence(p, q)
    np.testing.assert_allclose(float(value), _reference(np.asarray(p), np.asarray(q)), rtol=1e-5)
    gradient = jax.grad(lambda q: infolib.js_divergence(p, q))(q)
    assert np.all(np.isfinite(gradient[q > 0]))


def test_js_elementwise_where_p_is_22_orders_below_q():
    p, q = jnp.array([4.380579e-38, 1.0]), jnp.array([1.4997600e-16, 1.0])
    expected = _reference(np.asarray(p), np.asarray(q))
    np.testing.assert_allclose(float(infolib.js_divergence(p, q)), expected, rtol=1e-5)
    assert float(infolib.js_divergence(p, q)) > 0
