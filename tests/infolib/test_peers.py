"""Cases from the peers' own test suites on which infolib disagreed (issue 15), each named after
the peer test it comes from.

References are exact: Python's ``decimal`` at 50 digits on the float inputs (every float is a
finite decimal), so the tolerances below measure infolib's error alone. float64 at the peer's own
``rtol=1e-13``; float32 analogues at ``rtol=1e-6`` (a few ulps).
"""

import decimal
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify
from scipy import special

import infolib

NAN, INF = np.nan, np.inf
FUNCTIONS = sorted(set(infolib.__all__) - {"checked"})


def _exact_rel_entr(p: float, q: float) -> float:
    """p·log(p/q) rounded once from 50 significant digits."""
    with decimal.localcontext(decimal.Context(prec=50)):
        p_, q_ = decimal.Decimal(float(p)), decimal.Decimal(float(q))
        return float(p_ * (p_ / q_).ln())


def _jit(fn, **static_kwargs):
    return jax.jit(functools.partial(fn, **static_kwargs))


# --- scipy test_xlogy: 0·log(NaN) is NaN ---------------------------------------------------------


def test_scipy_test_xlogy_zero_times_log_nan_is_nan(precision, call):
    """scipy ``test_xlogy``: xlogy(0, nan) = nan. A NaN in the model's output must reach the loss
    even where the label has no mass, instead of being swallowed by the 0·log 0 = 0 select.
    (float32 eagerly, float64 under jit: see conftest.py.)"""
    dtype = precision.dtype
    assert np.isnan(call(infolib.cross_entropy, np.asarray([0.0], dtype), np.asarray([NAN], dtype)))
    p, q = np.asarray([0.0, 1.0], dtype), np.asarray([NAN, 1.0], dtype)
    assert np.isnan(call(infolib.kl_divergence, p, q))
    # The select itself still holds where nothing is NaN: 0·log 0 = 0, 0·log(+inf) = 0.
    assert call(infolib.cross_entropy, p, np.asarray([0.0, 1.0], dtype)) == 0
    assert float(special.xlogy(0.0, INF)) == 0.0
    assert call(infolib.cross_entropy, p, np.asarray([INF, 1.0], dtype)) == 0


# NaN at every position of every floating argument, for every public function. Each base input
# has the zeros, masked logits and infinities that the boundary selects handle, so that a NaN
# lands on each of them.
NAN_INPUTS = {
    "self_information": ([0.0, 0.5, 1.0],),
    "entropy": ([0.0, 0.5, 0.5],),
    "entropy_with_logits": ([-INF, 0.0, 1.0],),
    "cross_entropy": ([0.0, 0.5, 0.5], [0.5, 0.0, 0.5]),
    "cross_entropy_with_logits": ([0.0, 0.5, 0.5], [-INF, 0.0, 1.0]),
    "sparse_cross_entropy_with_logits": (np.int32(1), [-INF, 0.0, 1.0]),
    "binary_cross_entropy": ([0.0, 1.0, 0.5], [0.0, 1.0, 0.5]),
    "binary_cross_entropy_with_logits": ([0.0, 1.0, 0.5], [-INF, INF, 0.0]),
    "kl_divergence": ([0.0, 0.5, 0.5], [0.5, 0.0, 0.5]),
    "kl_divergence_with_logits": ([-INF, 0.0, 1.0], [0.0, -INF, 1.0]),
    "js_divergence": ([0.0, 0.5, 0.5], [0.5, 0.0, 0.5]),
    "joint_entropy": ([[0.0, 0.5], [0.0, 0.5]],),
    "conditional_entropy": ([[0.0, 0.5], [0.0, 0.5]],),
    "mutual_information": ([[0.0, 0.5], [0.0, 0.5]],),
    "gaussian_entropy": ([0.0, 1.0, 2.0],),
    "laplace_entropy": ([0.0, 1.0, 2.0],),
    "gaussian_kl": ([0.0, 0.0, 1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 1.0, 1.0]),
    "laplace_kl": ([0.0, 0.0, 1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 1.0, 1.0]),
    "plugin_entropy": ([0.0, 3.0, 1.0],),
    "miller_madow_entropy": ([0.0, 3.0, 1.0],),
    "jackknife_entropy": ([0.0, 3.0, 1.0],),
    "grassberger_entropy": ([0.0, 3.0, 1.0],),
    "chao_shen_entropy": ([0.0, 3.0, 1.0],),
    "zhang_entropy": ([0.0, 3.0, 1.0],),
    "james_stein_entropy": ([0.0, 3.0, 1.0],),
    "nsb_entropy": ([0.0, 3.0, 1.0],),
    "mutual_information_from_counts": ([[0.0, 3.0], [1.0, 0.0]],),
    "conditional_mutual_information_from_counts": ([[[0.0, 3.0]], [[1.0, 0.0]]],),
    "renyi_entropy": ([0.0, 0.5, 0.5], 2.0),
    "renyi_entropy_with_logits": ([-INF, 0.0, 1.0], 0.5),
    "tsallis_entropy": ([0.0, 0.5, 0.5], 2.0),
    "renyi_divergence": ([0.0, 0.5, 0.5], [0.5, 0.0, 0.5], 0.5),
    "renyi_divergence_with_logits": ([-INF, 0.0, 1.0], [0.0, -INF, 1.0], 0.5),
    "f_divergence": ([0.0, 0.5, 0.5], [0.5, 0.5, 0.0]),
    "kl_entropy": ([[0.0], [1.0], [3.0], [4.5], [7.0]],),
    "ksg_mutual_information": (
        [[0.0], [1.0], [3.0], [4.5], [7.0]],
        [[2.0], [0.5], [1.0], [5], [3]],
    ),
    "ksg_conditional_mutual_information": (
        [[0.0], [1.0], [3.0], [4.5], [7.0]],
        [[2.0], [0.5], [1.0], [5.0], [3.0]],
        [[1.0], [0.0], [2.5], [6.0], [4.0]],
    ),
}
OPTIONS = {"f_divergence": {"kind": "hellinger"}}  # keyword arguments a function needs
ELEMENTWISE = {
    "self_information",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "gaussian_entropy",
    "laplace_entropy",
    "gaussian_kl",
    "laplace_kl",
}


def test_nan_cases_cover_every_public_function():
    assert set(NAN_INPUTS) == set(FUNCTIONS)


def _nan_copies(args):
    """A batch of copies of ``args``: first the clean one, then one per floating entry of each
    argument with that entry set to NaN. Returns the stacked arguments and, per corrupted copy,
    (argument index, flat entry index)."""
    copies, where = [list(args)], []
    for i, arg in enumerate(args):
        if np.issubdtype(arg.dtype, np.integer):
            continue
        for k in range(arg.size):
            corrupted = arg.copy().reshape(-1)
            corrupted[k] = NAN
            copies.append([*args[:i], corrupted.reshape(arg.shape), *args[i + 1 :]])
            where.append((i, k))
    stacked = [np.stack([copy[i] for copy in copies]) for i in range(len(args))]
    return stacked, where


@pytest.mark.parametrize("name", FUNCTIONS)
def test_scipy_test_xlogy_nan_in_any_argument_propagates_through_every_function(name):
    """scipy ``test_xlogy`` generalised: a NaN anywhere in an argument makes the result NaN
    (every entry of the reduced row; the same entry for an elementwise function), whatever
    select it lands on, and leaves the other entries of an elementwise result unchanged.
    The clean input and all corrupted copies are evaluated in one vmapped, jitted call."""
    fn = functools.partial(getattr(infolib, name), **OPTIONS.get(name, {}))
    args = [np.asarray(a) for a in NAN_INPUTS[name]]
    args = [a if np.issubdtype(a.dtype, np.integer) else a.astype(np.float32) for a in args]
    stacked, where = _nan_copies(args)
    got = np.asarray(jax.jit(jax.vmap(fn))(*stacked))
    if name == "nsb_entropy":  # (mean, std): both NaN
        got = np.moveaxis(got, 0, -1)
    clean, corrupted = got[0].reshape(-1), got[1:]
    assert not np.any(np.isnan(clean)), clean
    for (i, k), out in zip(where, corrupted, strict=True):
        out = out.reshape(-1)
        if name in ELEMENTWISE:
            assert np.isnan(out[k]), (i, k, out)
            others = np.arange(out.size) != k
            np.testing.assert_array_equal(out[others], clean[others])
        else:
            assert np.all(np.isnan(out)), (i, k, out)


# --- scipy test_rel_entr_gh_20710_near_zero: KL as q → p ----------------------------------------

NEAR_ZERO = [  # (p, q) from scipy's test
    (0.9456657713430001, 0.9456657713430094),
    (0.48066098564791515, 0.48066098564794774),
    (0.786048657854401, 0.7860486578542367),
]


def test_scipy_test_rel_entr_gh_20710_near_zero():
    """scipy ``test_rel_entr_gh_20710_near_zero`` at its ``rtol=1e-13``: p·(log p − log q) loses
    the relative precision as q → p (errors of 5e-4 to 1e-3 here); p·log1p((p − q)/q) keeps it."""
    p, q = np.asarray(NEAR_ZERO).T
    expected = [_exact_rel_entr(a, b) for a, b in NEAR_ZERO]
    # scipy's own published values agree with the exact ones.
    np.testing.assert_allclose(special.rel_entr(p, q), expected, rtol=1e-13, atol=0)
    with jax.enable_x64(True):
        got = _jit(infolib.kl_divergence)(p[:, None], q[:, None])
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)
        # Reversed, and as one distribution: the sum of the three terms.
        got = _jit(infolib.kl_divergence)(q[:, None], p[:, None])
        np.testing.assert_allclose(got, [_exact_rel_entr(b, a) for a, b in NEAR_ZERO], rtol=1e-13)
        np.testing.assert_allclose(_jit(infolib.kl_divergence)(p, q), sum(expected), rtol=1e-13)


def test_scipy_test_rel_entr_gh_20710_near_zero_float32_analogue():
    """The same regime in float32: q a few ulps from p, at rtol=1e-6 (the textbook formula is
    off by up to 100% here)."""
    p = np.float32([0.9456658, 0.48066098, 0.78604865, 0.3])
    q = np.float32(
        [
            np.nextafter(p[0], 1),
            p[1] + 3 * np.spacing(p[1]),
            p[2] - np.spacing(p[2]),
            np.nextafter(p[3], 0),
        ]
    )
    got = _jit(infolib.kl_divergence)(p[:, None], q[:, None])
    expected = [_exact_rel_entr(a, b) for a, b in zip(p, q, strict=True)]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


# --- scipy test_rel_entr_gh_20710_overflow: subnormal and extreme q ------------------------------

OVERFLOW = [(4.0, 2.22e-308), (1e-200, 1e200), (2.22e-308, 1e15)]  # (p, q) from scipy's test
OVERFLOW_FLOAT32 = [(4.0, 1e-40), (1e-20, 1e20), (1e-39, 1e10)]  # subnormal q; p/q underflows;
# subnormal p


@pytest.mark.parametrize(
    ("dtype", "cases"), [(np.float64, OVERFLOW), (np.float32, OVERFLOW_FLOAT32)], ids=["f64", "f32"]
)
def test_scipy_test_rel_entr_gh_20710_overflow(dtype, cases):
    """scipy ``test_rel_entr_gh_20710_overflow``: XLA:CPU reads subnormal inputs as 0, so the
    textbook formula gives +inf for KL([4] ‖ [2.22e-308]) (2839.14) and 0 for
    KL([2.22e-308] ‖ [1e15]) (−1.65e-305); p/q underflows for (1e-200, 1e200). The values must be
    exact (rtol 1e-13 in float64, 1e-6 in float32) and ∂/∂p = log(p/q) + 1 finite."""
    with jax.enable_x64(dtype == np.float64):
        p, q = (np.asarray(c, dtype)[:, None] for c in zip(*cases, strict=True))
        grad_p = jax.jit(jax.grad(lambda p, q: infolib.kl_divergence(p, q).sum(), argnums=0))(p, q)
        values = _jit(infolib.kl_divergence)(p, q)
        rtol = 1e-13 if dtype == np.float64 else 1e-6
        expected = [_exact_rel_entr(a, b) for a, b in zip(p[:, 0], q[:, 0], strict=True)]
        np.testing.assert_allclose(values, expected, rtol=rtol, atol=0)
        with decimal.localcontext(decimal.Context(prec=50)):
            log_ratio = [
                float((decimal.Decimal(float(a)) / decimal.Decimal(float(b))).ln() + 1)
                for a, b in zip(p[:, 0], q[:, 0], strict=True)
            ]
        np.testing.assert_allclose(grad_p[:, 0], log_ratio, rtol=rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_subnormal_q_gives_finite_cross_entropy_and_self_information_with_finite_gradients(dtype):
    """The consequence of scipy ``test_rel_entr_gh_20710_overflow`` for the other functions: a
    subnormal probability (a softmax produces them easily in float32) is not 0, so −log q is
    finite (745.1 for 5e-324, 103.3 for 1e-45), and so is −p/q where it is representable."""
    tiny = np.finfo(dtype).smallest_subnormal
    with jax.enable_x64(dtype == np.float64):
        q = np.asarray([tiny, 100 * tiny], dtype)
        with decimal.localcontext(decimal.Context(prec=50)):
            minus_log = [float(-decimal.Decimal(float(v)).ln()) for v in q]
        rtol = 1e-13 if dtype == np.float64 else 1e-6
        np.testing.assert_allclose(_jit(infolib.self_information)(q), minus_log, rtol=rtol)
        p = np.asarray([[1.0, 0.0], [0.0, 1.0]], dtype)
        np.testing.assert_allclose(
            _jit(infolib.cross_entropy)(p, np.broadcast_to(q, p.shape)), minus_log, rtol=rtol
        )
        label = np.asarray([1e-30, 0.0], dtype)  # p/q = 1e-30/tiny is representable
        grad_q = jax.jit(jax.grad(lambda q: infolib.cross_entropy(label, q)))(q)
        assert np.all(np.isfinite(grad_q)), grad_q
        with decimal.localcontext(decimal.Context(prec=50)):
            expected = float(-decimal.Decimal(float(label[0])) / decimal.Decimal(float(q[0])))
        np.testing.assert_allclose(grad_q, [expected, 0.0], rtol=rtol)


# --- issue 15, case 4: checked() on an empty input ----------------------------------------------


@pytest.mark.parametrize("name", ["entropy", "kl_divergence", "cross_entropy", "js_divergence"])
def test_checked_on_an_empty_distribution_raises_the_documented_error(name):
    """A distribution with no outcomes raised numpy's "zero-size array to reduction operation
    min" from inside the error message's ``jnp.min``; it is invalid input, reported as
    ``checkify.JaxRuntimeError`` like every other."""
    fn = infolib.checked(getattr(infolib, name))
    empty = np.zeros((0,), np.float32)
    args = (empty,) if name == "entropy" else (empty, empty)
    with pytest.raises(checkify.JaxRuntimeError, match="no outcomes"):
        fn(*args)


def test_checked_on_an_empty_batch_or_elementwise_input_returns_an_empty_result():
    """No entry is invalid in an empty batch: the result is empty, of the right shape."""
    batch = np.zeros((0, 3), np.float32)
    assert infolib.checked(infolib.entropy)(batch).shape == (0,)
    assert infolib.checked(infolib.kl_divergence)(batch, batch).shape == (0,)
    assert infolib.checked(infolib.self_information)(np.zeros((0,), np.float32)).shape == (0,)
    assert infolib.checked(infolib.plugin_entropy)(batch).shape == (0,)
    labels = np.zeros((0,), np.int32)
    assert infolib.checked(infolib.sparse_cross_entropy_with_logits)(labels, batch).shape == (0,)


def test_checked_joint_with_no_outcomes_raises():
    with pytest.raises(checkify.JaxRuntimeError, match="no outcomes"):
        infolib.checked(infolib.mutual_information)(np.zeros((2, 0), np.float32))


@pytest.mark.parametrize(
    "fn",
    [
        infolib.entropy_with_logits,
        functools.partial(infolib.cross_entropy_with_logits, np.zeros((2, 0), np.float32)),
        functools.partial(infolib.sparse_cross_entropy_with_logits, np.zeros(2, np.int32)),
        functools.partial(infolib.kl_divergence_with_logits, np.zeros((2, 0), np.float32)),
    ],
)
def test_softmax_over_no_classes_is_a_shape_error(fn):
    """A softmax over an empty class axis is undefined; like every shape error, it raises
    ``ValueError`` at trace time (checked or not), naming the shape."""
    with pytest.raises(ValueError, match=r"no classes.*\(2, 0\)"):
        fn(jnp.zeros((2, 0), jnp.float32))
