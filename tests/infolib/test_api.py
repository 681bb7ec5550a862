"""The API contract: dtypes, shapes, ``axis``, ``base``, transformations and argument errors.

Half-precision results are compared with the float32 computation on the same (rounded) inputs at
the half-precision resolution: ``rtol=1e-2`` for bfloat16 (8 mantissa bits) and ``rtol=2e-3`` for
float16 (11 bits), ``atol=1e-6`` (both are computed in float32 and rounded once at the end).
Each test compiles once: the variants it compares are computed in one jitted function.
Other comparisons are float32 against float32 at ``rtol=1e-5, atol=1e-6``.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import infolib

RTOL, ATOL = 1e-5, 1e-6
BATCH = (2, 3)  # batch axes of every sample input
K = 4  # event size


def _simplex(rng, shape):
    x = rng.uniform(0.1, 1.0, shape)
    return x / x.sum(-1, keepdims=True)


def _sample_inputs(rng):
    """name -> (function, args, kind); kind is "reduce" (over axis -1), "joint" (last two axes)
    or "elementwise". Float arguments are float64 numpy arrays; labels are int32."""
    p, q = _simplex(rng, (*BATCH, K)), _simplex(rng, (*BATCH, K))
    logits, logits_b = rng.standard_normal((2, *BATCH, K))
    elementwise = rng.uniform(0.1, 0.9, (2, *BATCH, K))
    pxy = _simplex(rng, (*BATCH, 12)).reshape(*BATCH, 3, 4)
    loc_p, loc_q = rng.standard_normal((2, *BATCH, K))
    scale_p, scale_q = rng.uniform(0.5, 2.0, (2, *BATCH, K))
    counts = rng.integers(0, 9, (*BATCH, K)).astype(np.float64)
    labels = rng.integers(0, K, BATCH).astype(np.int32)
    return {
        "self_information": (infolib.self_information, (p,), "elementwise"),
        "entropy": (infolib.entropy, (p,), "reduce"),
        "entropy_with_logits": (infolib.entropy_with_logits, (logits,), "reduce"),
        "cross_entropy": (infolib.cross_entropy, (p, q), "reduce"),
        "cross_entropy_with_logits": (infolib.cross_entropy_with_logits, (p, logits), "reduce"),
        "sparse_cross_entropy_with_logits": (
            infolib.sparse_cross_entropy_with_logits,
            (labels, logits),
            "reduce",
        ),
        "binary_cross_entropy": (infolib.binary_cross_entropy, tuple(elementwise), "elementwise"),
        "binary_cross_entropy_with_logits": (
            infolib.binary_cross_entropy_with_logits,
            (elementwise[0], logits),
            "elementwise",
        ),
        "kl_divergence": (infolib.kl_divergence, (p, q), "reduce"),
        "kl_divergence_with_logits": (
            infolib.kl_divergence_with_logits,
            (logits, logits_b),
            "reduce",
        ),
        "js_divergence": (infolib.js_divergence, (p, q), "reduce"),
        "joint_entropy": (infolib.joint_entropy, (pxy,), "joint"),
        "conditional_entropy": (infolib.conditional_entropy, (pxy,), "joint"),
        "mutual_information": (infolib.mutual_information, (pxy,), "joint"),
        "gaussian_entropy": (infolib.gaussian_entropy, (scale_p,), "elementwise"),
        "laplace_entropy": (infolib.laplace_entropy, (scale_p,), "elementwise"),
        "gaussian_kl": (infolib.gaussian_kl, (loc_p, scale_p, loc_q, scale_q), "elementwise"),
        "laplace_kl": (infolib.laplace_kl, (loc_p, scale_p, loc_q, scale_q), "elementwise"),
        "plugin_entropy": (infolib.plugin_entropy, (counts,), "reduce"),
        "miller_madow_entropy": (infolib.miller_madow_entropy, (counts,), "reduce"),
    }


NAMES = list(_sample_inputs(np.random.default_rng(0)))
REDUCING = [
    n for n, (_, _, kind) in _sample_inputs(np.random.default_rng(0)).items() if kind == "reduce"
]
TWO_DISTRIBUTIONS = [
    "cross_entropy",
    "cross_entropy_with_logits",
    "kl_divergence",
    "kl_divergence_with_logits",
    "js_divergence",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
]


def _cast(args, dtype):
    """Casts the float arguments to ``dtype``; integer labels are left alone."""
    return tuple(
        jnp.asarray(a, dtype) if jnp.issubdtype(jnp.result_type(a), jnp.floating) else a
        for a in args
    )


def _jit(fn, **static_kwargs):
    return jax.jit(functools.partial(fn, **static_kwargs))


def _expected_shape(kind):
    return {"reduce": BATCH, "joint": BATCH, "elementwise": (*BATCH, K)}[kind]


# --- dtypes and shapes ---------------------------------------------------------------------------


def _assert_half_precision_matches_float32(name, dtype, rtol):
    fn, args, kind = _sample_inputs(np.random.default_rng(len(name)))[name]

    @jax.jit  # one compilation for both dtypes
    def half_and_float32(*a):
        half = _cast(a, dtype)
        return fn(*half), fn(*_cast(half, jnp.float32))

    got, expected = half_and_float32(*_cast(args, jnp.float32))
    assert got.dtype == dtype
    assert got.shape == _expected_shape(kind)
    assert expected.dtype == jnp.float32
    np.testing.assert_allclose(np.float32(got), expected, rtol=rtol, atol=ATOL)


@pytest.mark.parametrize("name", NAMES)
def test_bfloat16_in_gives_bfloat16_out_computed_in_float32(name):
    """Same dtype out, batch axes kept, and equal to the float32 computation on the same rounded
    inputs to bfloat16's resolution (rtol=1e-2)."""
    _assert_half_precision_matches_float32(name, jnp.bfloat16, rtol=1e-2)


@pytest.mark.parametrize(
    "name", ["entropy", "cross_entropy_with_logits", "kl_divergence", "gaussian_kl"]
)
def test_float16_in_gives_float16_out_computed_in_float32(name):
    """As for bfloat16, at float16's resolution (rtol=2e-3)."""
    _assert_half_precision_matches_float32(name, jnp.float16, rtol=2e-3)


INTEGER_INPUTS = {
    "self_information": (infolib.self_information, ([1, 2, 4],)),
    "entropy": (infolib.entropy, ([[1, 0, 0], [0, 0, 1]],)),
    "entropy_with_logits": (infolib.entropy_with_logits, ([1, 2, 3],)),
    "cross_entropy": (infolib.cross_entropy, ([0, 1], [1, 1])),
    "cross_entropy_with_logits": (infolib.cross_entropy_with_logits, ([0, 1, 0], [1, 2, 3])),
    "sparse_cross_entropy_with_logits": (infolib.sparse_cross_entropy_with_logits, (1, [1, 2, 3])),
    "binary_cross_entropy": (infolib.binary_cross_entropy, ([0, 1], [0, 1])),
    "binary_cross_entropy_with_logits": (
        infolib.binary_cross_entropy_with_logits,
        ([0, 1], [2, 3]),
    ),
    "kl_divergence": (infolib.kl_divergence, ([0, 1], [1, 1])),
    "kl_divergence_with_logits": (infolib.kl_divergence_with_logits, ([1, 2, 3], [0, 0, 0])),
    "js_divergence": (infolib.js_divergence, ([1, 0], [0, 1])),
    "joint_entropy": (infolib.joint_entropy, ([[1, 0], [0, 0]],)),
    "conditional_entropy": (infolib.conditional_entropy, ([[1, 0], [0, 0]],)),
    "mutual_information": (infolib.mutual_information, ([[1, 0], [0, 0]],)),
    "gaussian_entropy": (infolib.gaussian_entropy, (2,)),
    "laplace_entropy": (infolib.laplace_entropy, (2,)),
    "gaussian_kl": (infolib.gaussian_kl, (0, 1, 1, 2)),
    "laplace_kl": (infolib.laplace_kl, (0, 1, 1, 2)),
    "plugin_entropy": (infolib.plugin_entropy, ([3, 1, 0, 4],)),
    "miller_madow_entropy": (infolib.miller_madow_entropy, ([3, 1, 0, 4],)),
}


@pytest.mark.parametrize("name", list(INTEGER_INPUTS))
def test_integer_inputs_are_promoted_to_the_default_float(name):
    """Python ints and int32 arrays in; float32 out, equal to the computation on floats."""
    fn, args = INTEGER_INPUTS[name]
    is_label = [name == "sparse_cross_entropy_with_logits" and i == 0 for i in range(len(args))]
    ints = tuple(np.asarray(a, np.int32) for a in args)
    floats = tuple(a if label else np.float32(a) for a, label in zip(ints, is_label, strict=True))
    got, expected = jax.jit(lambda i, f: (fn(*i), fn(*f)))(ints, floats)
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def test_integer_and_bool_inputs_follow_the_default_float_under_x64():
    with jax.enable_x64(True):
        assert jax.eval_shape(infolib.entropy, np.asarray([1, 0, 0])).dtype == jnp.float64
        assert jax.eval_shape(infolib.plugin_entropy, np.asarray([3, 1, 0])).dtype == jnp.float64
    got = jax.jit(infolib.entropy)(np.asarray([True, False]))
    assert got.dtype == jnp.float32
    assert got == 0.0


def test_array_likes_are_accepted():
    got = infolib.kl_divergence([0.5, 0.5], (0.25, 0.75))
    assert isinstance(got, jax.Array)
    np.testing.assert_allclose(got, 0.5 * np.log(2.0) + 0.5 * np.log(0.5 / 0.75), rtol=RTOL)


# --- axis ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REDUCING)
def test_axis_equals_moveaxis_then_last_axis(rng, name):
    """``fn(x, axis=a)`` equals ``fn(np.moveaxis(x, a, -1))``, for a = 0, 1, -2 (3-d inputs).

    Sparse labels have the shape of the logits without ``axis``, so they are not moved.
    """
    fn, args, _ = _sample_inputs(rng)[name]
    args = _cast(args, np.float32)
    axes = (0, 1, -2)

    def moved(axis):  # the event axis (last in ``args``) moved to ``axis``
        return [
            a if jnp.issubdtype(a.dtype, jnp.integer) else jnp.moveaxis(a, -1, axis) for a in args
        ]

    @jax.jit  # one compilation for all the axes
    def along_axes():
        return fn(*args), [fn(*moved(axis), axis=axis) for axis in axes]

    expected, got = along_axes()
    for axis, value in zip(axes, got, strict=True):
        np.testing.assert_allclose(value, expected, rtol=RTOL, atol=ATOL, err_msg=f"axis={axis}")


def test_sparse_labels_with_axis_zero():
    """Labels have the shape of the logits without ``axis``."""
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((K, 3)).astype(np.float32)  # classes along axis 0
    labels = np.asarray([0, 3, 1])
    got, expected = jax.jit(
        lambda labels, logits: (
            infolib.sparse_cross_entropy_with_logits(labels, logits, axis=0),
            infolib.sparse_cross_entropy_with_logits(labels, logits.T),
        )
    )(labels, logits)
    np.testing.assert_allclose(got, expected, rtol=RTOL)


# --- base ----------------------------------------------------------------------------------------


@functools.cache
def _plain_bases_and_vmap(name):
    """fn in nats, bits, base 10, and vmapped over the first batch axis: one
    compilation, shared by the base and vmap tests (which check different things)."""
    fn, args, _ = _sample_inputs(np.random.default_rng(len(name)))[name]

    @jax.jit
    def run(*a):
        return fn(*a), fn(*a, base=2), fn(*a, base=10.0), jax.vmap(fn)(*a)

    return run(*_cast(args, np.float32))


@pytest.mark.parametrize("name", NAMES)
def test_base_divides_nats_by_log_base(name):
    nats, bits, dits, _ = _plain_bases_and_vmap(name)
    np.testing.assert_allclose(bits, nats / np.log(2.0), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dits, nats / np.log(10.0), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", NAMES)
def test_base_at_most_one_raises_value_error(rng, name):
    fn, args, _ = _sample_inputs(rng)[name]
    args = _cast(args, np.float32)
    for base in (1, 1.0, 0.5, 0, -2):  # raised at trace time, so jit costs no compilation
        with pytest.raises(ValueError):
            _jit(fn, base=base)(*args)


def test_base_at_most_one_raises_value_error_eagerly_too():
    with pytest.raises(ValueError):
        infolib.entropy(np.asarray([0.5, 0.5], np.float32), base=1)


# --- transformations -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_vmap_over_a_batch_axis_equals_the_batched_call(name):
    nats, *_, vmapped = _plain_bases_and_vmap(name)
    np.testing.assert_allclose(vmapped, nats, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ["joint_entropy", "conditional_entropy", "mutual_information"])
def test_joint_measures_batch_over_leading_axes(rng, name):
    fn = getattr(infolib, name)
    pxy = _simplex(rng, (2, 3, 12)).reshape(2, 3, 3, 4).astype(np.float32)
    got = _jit(fn)(pxy)
    assert got.shape == (2, 3)
    single = _jit(fn)
    expected = [[single(pxy[i, j]) for j in range(3)] for i in range(2)]
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def test_works_under_grad_of_jit_and_jit_of_grad(rng):
    p, q = _simplex(rng, (2, K)).astype(np.float32)

    def loss(q):
        return infolib.kl_divergence(p, q)

    np.testing.assert_allclose(jax.grad(jax.jit(loss))(q), jax.jit(jax.grad(loss))(q), rtol=RTOL)
    np.testing.assert_allclose(jax.jit(jax.grad(loss))(q), -p / q, rtol=1e-4)


# --- argument errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("name", TWO_DISTRIBUTIONS)
def test_mismatched_shapes_raise_value_error_naming_both(name, jit):
    fn = getattr(infolib, name)
    a, b = np.full(3, 1 / 3, np.float32), np.full(4, 0.25, np.float32)
    with pytest.raises(ValueError) as info:
        (jax.jit(fn) if jit else fn)(a, b)
    assert "(3,)" in str(info.value)
    assert "(4,)" in str(info.value)


@pytest.mark.parametrize("name", TWO_DISTRIBUTIONS)
def test_broadcastable_but_unequal_shapes_also_raise(name):
    """Exactly equal shapes are required: a (1, 3) against a (2, 3) is not broadcast."""
    fn = getattr(infolib, name)
    a, b = np.full((1, 3), 1 / 3, np.float32), np.full((2, 3), 1 / 3, np.float32)
    with pytest.raises(ValueError, match=r"\(1, 3\)"):
        fn(a, b)


def test_sparse_labels_with_the_wrong_shape_raise_value_error():
    logits = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError):
        infolib.sparse_cross_entropy_with_logits(np.asarray([0, 1, 2]), logits)


def test_sparse_non_integer_labels_raise_type_error():
    logits = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError):
        infolib.sparse_cross_entropy_with_logits(np.asarray([0.0, 1.0]), logits)


@pytest.mark.parametrize("label_smoothing", [-0.1, 1.1])
def test_label_smoothing_outside_unit_interval_raises_value_error(label_smoothing):
    p, logits = np.asarray([0.0, 1.0], np.float32), np.zeros(2, np.float32)
    with pytest.raises(ValueError):
        infolib.cross_entropy_with_logits(p, logits, label_smoothing=label_smoothing)


@pytest.mark.parametrize("fn", [infolib.gaussian_kl, infolib.laplace_kl])
def test_closed_forms_broadcast_and_name_shapes_when_they_cannot(fn):
    got, got_2d = jax.jit(
        lambda: (
            fn(0.0, 1.0, np.zeros(3, np.float32), np.ones(3, np.float32)),
            fn(np.zeros((2, 1), np.float32), 1.0, np.zeros(3, np.float32), 2.0),
        )
    )()
    assert got.shape == (3,)
    np.testing.assert_array_equal(got, 0.0)
    assert got_2d.shape == (2, 3)
    np.testing.assert_allclose(got_2d, fn(0.0, 1.0, 0.0, 2.0), rtol=RTOL)
    with pytest.raises(ValueError) as info:
        fn(np.zeros(2, np.float32), 1.0, np.zeros(3, np.float32), 1.0)
    assert "(2,)" in str(info.value)
    assert "(3,)" in str(info.value)
