"""Identities the theory guarantees, checked with hypothesis on generated distributions.

Run in float64 (``jax.enable_x64``) so that the identities hold to ``rtol=1e-9, atol=1e-12``.
The jitted functions are built once per module, and the sizes are drawn from a few values, so
hypothesis's examples reuse compilations. ``max_examples=50, deadline=None`` keeps each test to
about a second.
"""

import functools
import math

import hypothesis.extra.numpy as hnp
import jax
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import infolib

RTOL, ATOL = 1e-9, 1e-12
PROPERTY_SETTINGS = settings(max_examples=50, deadline=None)
SIZES = st.sampled_from([2, 5])

entropy = jax.jit(infolib.entropy)
cross_entropy = jax.jit(infolib.cross_entropy)
kl_divergence = jax.jit(infolib.kl_divergence)
js_divergence = jax.jit(infolib.js_divergence)
joint_entropy = jax.jit(infolib.joint_entropy)
conditional_entropy = jax.jit(infolib.conditional_entropy)
mutual_information = jax.jit(infolib.mutual_information)
js_divergence_bits = jax.jit(functools.partial(infolib.js_divergence, base=2))
entropy_with_logits = jax.jit(infolib.entropy_with_logits)
cross_entropy_with_logits = jax.jit(infolib.cross_entropy_with_logits)
kl_divergence_with_logits = jax.jit(infolib.kl_divergence_with_logits)
plugin_entropy = jax.jit(infolib.plugin_entropy)
miller_madow_entropy = jax.jit(infolib.miller_madow_entropy)


def _normalised(x):
    return x / x.sum(axis=-1, keepdims=True)


def distributions(shape, min_value=0.0):
    """Float64 arrays whose last axis sums to 1. Before normalising, entries are in
    [min_value, 1], or 0 or in [1e-6, 1] when ``min_value`` is 0 (no subnormals, which XLA on CPU
    flushes to zero)."""
    if min_value:
        element = st.floats(min_value, 1.0)
    else:
        element = st.one_of(st.just(0.0), st.floats(1e-6, 1.0))
    return (
        hnp.arrays(np.float64, shape, elements=element)
        .filter(lambda x: np.all(x.sum(axis=-1) > 0))
        .map(_normalised)
    )


@st.composite
def pairs(draw, min_q=0.0):
    n = draw(SIZES)
    return draw(distributions((n,))), draw(distributions((n,), min_value=min_q))


@st.composite
def joints(draw):
    shape = (draw(SIZES), draw(SIZES))
    pxy = draw(distributions((shape[0] * shape[1],)))
    return pxy.reshape(shape)


@PROPERTY_SETTINGS
@given(pairs())
def test_kl_is_nonnegative_zero_for_equal_arguments_and_above_pinsker_bound(pq):
    """KL(p‖q) >= ½‖p - q‖₁² (Pinsker) >= 0, so it is 0 only if p = q; and KL(p‖p) = 0."""
    p, q = pq
    with jax.enable_x64(True):
        kl = float(kl_divergence(p, q))
        assert kl >= 0.5 * np.abs(p - q).sum() ** 2 - ATOL
        assert abs(float(kl_divergence(p, p))) <= ATOL
        assert abs(float(kl_divergence(q, q))) <= ATOL


@PROPERTY_SETTINGS
@given(pairs(min_q=1e-3))
def test_cross_entropy_is_entropy_plus_kl(pq):
    p, q = pq
    with jax.enable_x64(True):
        np.testing.assert_allclose(
            cross_entropy(p, q), entropy(p) + kl_divergence(p, q), rtol=RTOL, atol=ATOL
        )


@PROPERTY_SETTINGS
@given(pairs())
def test_js_is_symmetric_bounded_by_log_2_and_zero_for_equal_arguments(pq):
    p, q = pq
    with jax.enable_x64(True):
        js = float(js_divergence(p, q))
        np.testing.assert_allclose(js, js_divergence(q, p), rtol=RTOL, atol=ATOL)
        assert -ATOL <= js <= math.log(2.0) + ATOL
        assert float(js_divergence_bits(p, q)) <= 1.0 + ATOL
        assert abs(float(js_divergence(p, p))) <= ATOL


@PROPERTY_SETTINGS
@given(joints())
def test_mutual_information_is_nonnegative_and_is_kl_from_the_product_of_marginals(pxy):
    px, py = pxy.sum(1), pxy.sum(0)
    with jax.enable_x64(True):
        mi = float(mutual_information(pxy))
        assert mi >= -ATOL
        product = np.outer(px, py).ravel()
        np.testing.assert_allclose(mi, kl_divergence(pxy.ravel(), product), rtol=RTOL, atol=ATOL)
        by_entropies = entropy(px) + entropy(py) - joint_entropy(pxy)
        np.testing.assert_allclose(mi, by_entropies, rtol=RTOL, atol=ATOL)


@PROPERTY_SETTINGS
@given(joints())
def test_chain_rule_joint_is_marginal_plus_conditional(pxy):
    """H(X,Y) = H(X) + H(Y|X), with 0 <= H(Y|X) <= H(Y) (conditioning reduces entropy)."""
    with jax.enable_x64(True):
        h_y_given_x = float(conditional_entropy(pxy))
        np.testing.assert_allclose(
            joint_entropy(pxy), entropy(pxy.sum(1)) + h_y_given_x, rtol=RTOL, atol=ATOL
        )
        assert -ATOL <= h_y_given_x <= float(entropy(pxy.sum(0))) + ATOL


@PROPERTY_SETTINGS
@given(SIZES.flatmap(lambda n: distributions((n,))))
def test_entropy_is_at_most_log_n_with_equality_at_the_uniform(p):
    n = p.shape[-1]
    with jax.enable_x64(True):
        assert -ATOL <= float(entropy(p)) <= math.log(n) + ATOL
        np.testing.assert_allclose(entropy(np.full(n, 1.0 / n)), math.log(n), rtol=RTOL)


@PROPERTY_SETTINGS
@given(
    st.sampled_from(["entropy", "kl_divergence"]),
    distributions((2, 3), min_value=1e-3),
    st.floats(1.01, 100.0),
)
def test_changing_base_divides_by_log_base(name, pq, base):
    """Called eagerly (one fixed shape), since a jitted call would compile once per base; every
    function's bits and base-10 values are checked in test_api.py."""
    fn = getattr(infolib, name)
    p, q = pq
    args = {"entropy": (p,), "kl_divergence": (p, q)}[name]
    with jax.enable_x64(True):
        np.testing.assert_allclose(
            fn(*args, base=base), fn(*args) / math.log(base), rtol=RTOL, atol=ATOL
        )


@PROPERTY_SETTINGS
@given(pairs(min_q=1e-3))
def test_logits_variants_agree_with_probability_variants(pq):
    """With logits = log q + c (any shift c), softmax(logits) = q."""
    p, q = pq
    logits = np.log(q) + 3.0
    with jax.enable_x64(True):
        np.testing.assert_allclose(
            cross_entropy_with_logits(p, logits), cross_entropy(p, q), rtol=RTOL, atol=ATOL
        )
        np.testing.assert_allclose(entropy_with_logits(logits), entropy(q), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(
            kl_divergence_with_logits(logits, np.log(p + q)),
            kl_divergence(q, _normalised(p + q)),
            rtol=RTOL,
            atol=ATOL,
        )


@PROPERTY_SETTINGS
@given(
    SIZES.flatmap(lambda n: hnp.arrays(np.int64, n, elements=st.integers(0, 50))),
    st.integers(1, 7),
)
def test_count_estimators_scale_and_bias_correction(counts, factor):
    """plugin(c) = entropy(c / n) = plugin(k c); Miller-Madow - plugin = (m - 1) / (2 n)."""
    n, m = counts.sum(), np.count_nonzero(counts)
    with jax.enable_x64(True):
        plugin = float(plugin_entropy(counts))
        np.testing.assert_allclose(plugin, plugin_entropy(factor * counts), rtol=RTOL, atol=ATOL)
        miller_madow = float(miller_madow_entropy(counts))
        if n == 0:
            assert plugin == miller_madow == 0.0
        else:
            np.testing.assert_allclose(plugin, entropy(counts / n), rtol=RTOL, atol=ATOL)
            np.testing.assert_allclose(
                miller_madow - plugin, (m - 1) / (2 * n), rtol=RTOL, atol=ATOL
            )
