"""The API contract: dtypes, shapes, ``axis``, ``base``, transformations and argument errors.

For each public function, every variant that the base, axis and vmap tests compare is computed in
ONE jitted function (``_results``), shared by those tests: XLA shares the common work, and
compilation is what makes a JAX test suite slow. Each test then checks one entry. Output dtypes
and shapes are checked by tracing (``jax.eval_shape``), which compiles nothing.

Tolerances: float32 against float32 at ``rtol=1e-5, atol=1e-6``. Half-precision results are
compared with the float32 computation on the same (rounded) inputs at the half-precision
resolution, ``rtol=1e-2`` for bfloat16 (8 mantissa bits) and ``rtol=2e-3`` for float16 (11 bits),
``atol=1e-6``: both are computed in float32 and rounded once at the end.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import infolib

RTOL, ATOL = 1e-5, 1e-6
FUNCTIONS = sorted(set(infolib.__all__) - {"checked"})  # every public function but the wrapper
BATCH = (2, 3)  # batch axes of every sample input
K = 4  # event size
N_SAMPLES = 6  # samples per data set of the kNN estimators (k = 3 needs more than 3)
# Keyword arguments that the functions taking a static choice need in the tables below.
OPTIONS = {"f_divergence": {"kind": "jeffreys"}}


def _simplex(rng, shape):
    x = rng.uniform(0.1, 1.0, shape)
    return x / x.sum(-1, keepdims=True)


def _sample_inputs(rng):
    """name -> (function, args, kind); kind is "reduce" (over axis -1), "joint" (the last two
    axes) or "elementwise". Float arguments are float64 numpy arrays; labels are int32."""
    p, q = _simplex(rng, (*BATCH, K)), _simplex(rng, (*BATCH, K))
    logits, logits_b = rng.standard_normal((2, *BATCH, K))
    y, p_binary = rng.uniform(0.1, 0.9, (2, *BATCH, K))
    pxy = _simplex(rng, (*BATCH, 12)).reshape(*BATCH, 3, 4)
    loc_p, loc_q = rng.standard_normal((2, *BATCH, K))
    scale_p, scale_q = rng.uniform(0.5, 2.0, (2, *BATCH, K))
    counts = rng.integers(0, 9, (*BATCH, K)).astype(np.float64)
    counts_xy = rng.integers(0, 9, (*BATCH, 3, 4)).astype(np.float64)
    counts_xyz = rng.integers(0, 9, (*BATCH, 2, 3, 2)).astype(np.float64)
    labels = rng.integers(0, K, BATCH).astype(np.int32)
    sx, sy, sz = rng.standard_normal((3, *BATCH, N_SAMPLES, 2))  # samples
    closed_form_kl = (loc_p, scale_p, loc_q, scale_q)
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
        "binary_cross_entropy": (infolib.binary_cross_entropy, (y, p_binary), "elementwise"),
        "binary_cross_entropy_with_logits": (
            infolib.binary_cross_entropy_with_logits,
            (y, logits),
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
        "gaussian_kl": (infolib.gaussian_kl, closed_form_kl, "elementwise"),
        "laplace_kl": (infolib.laplace_kl, closed_form_kl, "elementwise"),
        "plugin_entropy": (infolib.plugin_entropy, (counts,), "reduce"),
        "miller_madow_entropy": (infolib.miller_madow_entropy, (counts,), "reduce"),
        "jackknife_entropy": (infolib.jackknife_entropy, (counts,), "reduce"),
        "grassberger_entropy": (infolib.grassberger_entropy, (counts,), "reduce"),
        "chao_shen_entropy": (infolib.chao_shen_entropy, (counts,), "reduce"),
        "zhang_entropy": (infolib.zhang_entropy, (counts,), "reduce"),
        "james_stein_entropy": (infolib.james_stein_entropy, (counts,), "reduce"),
        "nsb_entropy": (infolib.nsb_entropy, (counts,), "reduce"),  # (mean, std)
        "mutual_information_from_counts": (
            infolib.mutual_information_from_counts,
            (counts_xy,),
            "joint",
        ),
        "conditional_mutual_information_from_counts": (
            infolib.conditional_mutual_information_from_counts,
            (counts_xyz,),
            "joint3",
        ),
        "renyi_entropy": (functools.partial(infolib.renyi_entropy, alpha=2.0), (p,), "reduce"),
        "renyi_entropy_with_logits": (
            functools.partial(infolib.renyi_entropy_with_logits, alpha=0.5),
            (logits,),
            "reduce",
        ),
        "tsallis_entropy": (functools.partial(infolib.tsallis_entropy, q=2.0), (p,), "reduce"),
        "renyi_divergence": (
            functools.partial(infolib.renyi_divergence, alpha=0.5),
            (p, q),
            "reduce",
        ),
        "renyi_divergence_with_logits": (
            functools.partial(infolib.renyi_divergence_with_logits, alpha=3.0),
            (logits, logits_b),
            "reduce",
        ),
        "f_divergence": (
            functools.partial(infolib.f_divergence, kind="jeffreys"),
            (p, q),
            "reduce",
        ),
        "kl_entropy": (infolib.kl_entropy, (sx,), "samples"),
        "ksg_mutual_information": (infolib.ksg_mutual_information, (sx, sy), "samples"),
        "ksg_conditional_mutual_information": (
            infolib.ksg_conditional_mutual_information,
            (sx, sy, sz),
            "samples",
        ),
    }


KINDS = {name: kind for name, (_, _, kind) in _sample_inputs(np.random.default_rng(0)).items()}
NAMES = FUNCTIONS
REDUCING = [name for name, kind in KINDS.items() if kind == "reduce"]
TWO_DISTRIBUTIONS = [
    "cross_entropy",
    "cross_entropy_with_logits",
    "kl_divergence",
    "kl_divergence_with_logits",
    "js_divergence",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
]

# Integer-valued inputs (Python ints, made int32 arrays) for the promotion test.
INTEGER_INPUTS = {
    "self_information": ([1, 2, 4],),
    "entropy": ([[1, 0, 0], [0, 0, 1]],),
    "entropy_with_logits": ([1, 2, 3],),
    "cross_entropy": ([0, 1], [1, 1]),
    "cross_entropy_with_logits": ([0, 1, 0], [1, 2, 3]),
    "sparse_cross_entropy_with_logits": (1, [1, 2, 3]),  # the label stays an integer
    "binary_cross_entropy": ([0, 1], [0, 1]),
    "binary_cross_entropy_with_logits": ([0, 1], [2, 3]),
    "kl_divergence": ([0, 1], [1, 1]),
    "kl_divergence_with_logits": ([1, 2, 3], [0, 0, 0]),
    "js_divergence": ([1, 0], [0, 1]),
    "joint_entropy": ([[1, 0], [0, 0]],),
    "conditional_entropy": ([[1, 0], [0, 0]],),
    "mutual_information": ([[1, 0], [0, 0]],),
    "gaussian_entropy": (2,),
    "laplace_entropy": (2,),
    "gaussian_kl": (0, 1, 1, 2),
    "laplace_kl": (0, 1, 1, 2),
    "plugin_entropy": ([3, 1, 0, 4],),
    "miller_madow_entropy": ([3, 1, 0, 4],),
    "jackknife_entropy": ([3, 1, 0, 4],),
    "grassberger_entropy": ([3, 1, 0, 4],),
    "chao_shen_entropy": ([3, 1, 0, 4],),
    "zhang_entropy": ([3, 1, 0, 4],),
    "james_stein_entropy": ([3, 1, 0, 4],),
    "nsb_entropy": ([3, 1, 0, 4],),
    "mutual_information_from_counts": ([[3, 1], [0, 4]],),
    "conditional_mutual_information_from_counts": ([[[3, 1], [0, 4]]],),
    "renyi_entropy": ([[1, 0, 0], [0, 0, 1]], 2),
    "renyi_entropy_with_logits": ([1, 2, 3], 0),
    "tsallis_entropy": ([[1, 0, 0], [0, 0, 1]], 2),
    "renyi_divergence": ([0, 1], [1, 1], 3),
    "renyi_divergence_with_logits": ([1, 2, 3], [0, 0, 0], 1),
    "f_divergence": ([0, 1], [1, 1]),
    "kl_entropy": ([[1], [2], [4], [8], [16]],),
    "ksg_mutual_information": ([[1], [2], [4], [8], [16]], [[0], [1], [3], [2], [5]]),
    "ksg_conditional_mutual_information": (
        [[1], [2], [4], [8], [16]],
        [[0], [1], [3], [2], [5]],
        [[5], [1], [0], [9], [7]],
    ),
}


def test_all_is_the_public_surface_and_the_tables_here_cover_it():
    """``infolib.__all__`` names every public attribute (and nothing else), and the tables that
    drive the tests in this file (sample inputs, integer inputs) hold exactly its functions."""
    public = {name for name in vars(infolib) if not name.startswith("_")}
    assert public == set(infolib.__all__)
    assert len(infolib.__all__) == len(set(infolib.__all__))
    assert set(KINDS) == set(FUNCTIONS)
    assert set(INTEGER_INPUTS) == set(FUNCTIONS)


def _is_float(x):
    return jnp.issubdtype(jnp.result_type(x), jnp.floating)


def _cast(args, dtype):
    """Casts the float arguments to ``dtype``; integer labels are left alone."""
    return tuple(jnp.asarray(a, dtype) if _is_float(a) else a for a in args)


def _jit(fn, **static_kwargs):
    return jax.jit(functools.partial(fn, **static_kwargs))


def _expected_shape(kind):
    shapes = {"reduce": BATCH, "joint": BATCH, "joint3": BATCH, "samples": BATCH}
    return {**shapes, "elementwise": (*BATCH, K)}[kind]


@functools.cache
def _results(name):
    """The variants that the tests below compare, from one compilation (see the module doc)."""
    fn, args, kind = _sample_inputs(np.random.default_rng(len(name)))[name]

    def moved(a, axis):  # the event axis (last) moved to ``axis``; labels have no event axis
        return [x if not _is_float(x) else jnp.moveaxis(x, -1, axis) for x in a]

    @jax.jit
    def run(a):
        results = {"nats": fn(*a), "bits": fn(*a, base=2), "vmap": jax.vmap(fn)(*a)}
        if kind == "reduce":
            results["axes"] = {axis: fn(*moved(a, axis), axis=axis) for axis in (0, 1, -2)}
        return results

    return run(_cast(args, jnp.float32))


# --- dtypes and shapes ---------------------------------------------------------------------------


@pytest.mark.slow
def test_float32_in_gives_float32_out_with_batch_axes_kept():
    for name, kind in KINDS.items():
        for nats in jax.tree.leaves(_results(name)["nats"]):  # nsb_entropy: (mean, std)
            assert isinstance(nats, jax.Array), name
            assert nats.dtype == jnp.float32, name
            assert nats.shape == _expected_shape(kind), name


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16], ids=["bfloat16", "float16"])
@pytest.mark.parametrize("name", NAMES)
def test_half_precision_in_gives_the_same_dtype_out_with_batch_axes_kept(name, dtype):
    """Checked by tracing (``jax.eval_shape``), which compiles nothing; the values are checked
    for a few functions below."""
    fn, args, kind = _sample_inputs(np.random.default_rng(0))[name]
    for out in jax.tree.leaves(jax.eval_shape(fn, *_cast(args, dtype))):
        assert out.dtype == dtype
        assert out.shape == _expected_shape(kind)


HALF_PRECISION_VALUES = [
    "entropy_with_logits",
    "cross_entropy_with_logits",
    "sparse_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits",
    "kl_divergence",
    "mutual_information",
    "gaussian_kl",
    "miller_madow_entropy",
]


@pytest.mark.parametrize(
    ("dtype", "rtol"), [(jnp.bfloat16, 1e-2), (jnp.float16, 2e-3)], ids=["bfloat16", "float16"]
)
@pytest.mark.parametrize("name", HALF_PRECISION_VALUES)
def test_half_precision_is_computed_in_float32(name, dtype, rtol):
    """Equal to the float32 computation on the same rounded inputs, to the output's resolution:
    rtol=1e-2 for bfloat16, 2e-3 for float16 (computing in half precision would lose more)."""
    fn, args, _ = _sample_inputs(np.random.default_rng(len(name)))[name]

    @jax.jit
    def half_and_float32(*a):
        half = _cast(a, dtype)
        return fn(*half), fn(*_cast(half, jnp.float32))

    got, expected = half_and_float32(*_cast(args, jnp.float32))
    assert got.dtype == dtype
    np.testing.assert_allclose(np.float32(got), expected, rtol=rtol, atol=ATOL)


@pytest.mark.parametrize("name", NAMES)
def test_integer_inputs_are_promoted_to_the_default_float(name):
    """int32 arrays in: float32 out (by tracing, for every function)."""
    ints = [np.asarray(a, np.int32) for a in INTEGER_INPUTS[name]]
    fn = functools.partial(getattr(infolib, name), **OPTIONS.get(name, {}))
    for out in jax.tree.leaves(jax.eval_shape(fn, *ints)):
        assert out.dtype == jnp.float32


@pytest.mark.parametrize(
    "name", ["entropy", "cross_entropy_with_logits", "js_divergence", "plugin_entropy"]
)
def test_integer_inputs_give_the_values_of_the_same_floats(name):
    fn = getattr(infolib, name)
    ints = [np.asarray(a, np.int32) for a in INTEGER_INPUTS[name]]
    got, expected = jax.jit(lambda i: (fn(*i), fn(*(x.astype(jnp.float32) for x in i))))(ints)
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def test_integer_and_bool_inputs_follow_the_default_float():
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
@pytest.mark.slow
def test_axis_equals_moveaxis_then_last_axis(name):
    """``fn(x, axis=a)`` equals ``fn(np.moveaxis(x, a, -1))``, for a = 0, 1, -2 (3-d inputs).

    Sparse labels have the shape of the logits without ``axis``, so they are not moved.
    """
    results = _results(name)
    for axis, value in results["axes"].items():
        np.testing.assert_allclose(
            value, results["nats"], rtol=RTOL, atol=ATOL, err_msg=f"axis={axis}"
        )


def test_sparse_labels_with_axis_zero():
    """Labels have the shape of the logits without ``axis``."""
    logits = np.random.default_rng(1).standard_normal((K, 3)).astype(np.float32)
    labels = np.asarray([0, 3, 1])  # classes along axis 0
    got, expected = jax.jit(
        lambda labels, logits: (
            infolib.sparse_cross_entropy_with_logits(labels, logits, axis=0),
            infolib.sparse_cross_entropy_with_logits(labels, logits.T),
        )
    )(labels, logits)
    np.testing.assert_allclose(got, expected, rtol=RTOL)


# --- base ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_base_divides_nats_by_log_base(name):
    """In bits here; other bases (random, in float64) are in test_properties.py."""
    nats, bits = _results(name)["nats"], _results(name)["bits"]
    np.testing.assert_allclose(bits, nats / np.log(2.0), rtol=RTOL, atol=ATOL)


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
    results = _results(name)
    np.testing.assert_allclose(results["vmap"], results["nats"], rtol=RTOL, atol=ATOL)


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
    zeros, ones = np.zeros(3, np.float32), np.ones(3, np.float32)
    got, got_2d, scalar = jax.jit(
        lambda: (
            fn(0.0, 1.0, zeros, ones),
            fn(np.zeros((2, 1), np.float32), 1.0, zeros, 2.0),
            fn(0.0, 1.0, 0.0, 2.0),
        )
    )()
    assert got.shape == (3,)
    np.testing.assert_array_equal(got, 0.0)
    assert got_2d.shape == (2, 3)
    np.testing.assert_allclose(got_2d, np.broadcast_to(scalar, (2, 3)), rtol=RTOL)
    with pytest.raises(ValueError) as info:
        fn(np.zeros(2, np.float32), 1.0, np.zeros(3, np.float32), 1.0)
    assert "(2,)" in str(info.value)
    assert "(3,)" in str(info.value)


def test_the_readmes_optax_table_maps_every_public_function():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## infolib for optax users", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    named = {name for row in rows for name in re.findall(r"`(\w+)[(`]", row.split("|")[1])}
    assert named == set(FUNCTIONS)
