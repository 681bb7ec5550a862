"""``checked(fn)``: opt-in input validation with ``jax.experimental.checkify``.

Invalid inputs raise ``checkify.JaxRuntimeError`` whose message names the problem ("negative",
"sum to 1", "NaN", "label"); valid inputs give exactly the unchecked result (``rtol=1e-6``, the
same float32 computation). Unchecked calls never renormalise.

Each invalid input is a valid one (``VALID``) with one entry corrupted, so that it has the same
shape and reuses the compilation of the module-level checked function.
"""

import functools
import inspect
import math

import jax
import numpy as np
import pytest
from jax.experimental import checkify

import infolib

INF, NAN = np.inf, np.nan


def _f32(x):
    return np.asarray(x, np.float32)


P = _f32([[0.2, 0.3, 0.5], [0.0, 1.0, 0.0]])  # valid distributions, one with zeros
Q = _f32([[0.4, 0.4, 0.2], [0.1, 0.8, 0.1]])
LOGITS = _f32([[1.0, -INF, 0.5], [0.0, 2.0, -1.0]])  # -inf masks a class: valid
PXY = _f32([[0.1, 0.2, 0.3], [0.0, 0.4, 0.0]])  # sums to 1 over both axes, not per row
COUNTS = _f32([[3, 0, 1], [0, 0, 0]])
SAMPLES = _f32([[0.1, 1.0], [0.7, -0.2], [1.9, 0.4], [-0.8, 0.3], [0.5, 2.2]])  # [n, d]

VALID = {
    "self_information": (P,),
    "entropy": (P,),
    "entropy_with_logits": (LOGITS,),
    "cross_entropy": (P, Q),
    "cross_entropy_with_logits": (Q, LOGITS),
    "sparse_cross_entropy_with_logits": (np.asarray([2, 1]), LOGITS),
    "binary_cross_entropy": (P, Q),
    "binary_cross_entropy_with_logits": (P, LOGITS),
    "kl_divergence": (P, Q),
    "kl_divergence_with_logits": (LOGITS, LOGITS + 1),
    "js_divergence": (P, Q),
    "joint_entropy": (PXY,),
    "conditional_entropy": (PXY,),
    "mutual_information": (PXY,),
    "gaussian_entropy": (Q,),
    "laplace_entropy": (Q,),
    "gaussian_kl": (P, Q, -P, Q + 1),
    "laplace_kl": (P, Q, -P, Q + 1),
    "plugin_entropy": (COUNTS,),
    "miller_madow_entropy": (COUNTS,),
    "jackknife_entropy": (COUNTS,),
    "grassberger_entropy": (COUNTS,),
    "chao_shen_entropy": (COUNTS,),
    "zhang_entropy": (COUNTS,),
    "james_stein_entropy": (COUNTS,),
    "nsb_entropy": (COUNTS,),
    "mutual_information_from_counts": (COUNTS,),
    "conditional_mutual_information_from_counts": (COUNTS[None],),
    "renyi_entropy": (P, 2.0),
    "renyi_entropy_with_logits": (LOGITS, 0.5),
    "tsallis_entropy": (P, 2.0),
    "renyi_divergence": (P, Q, 0.5),
    "renyi_divergence_with_logits": (LOGITS, LOGITS + 1, 3.0),
    "f_divergence": (P, Q),
    "kl_entropy": (SAMPLES,),
    "ksg_mutual_information": (SAMPLES, SAMPLES[::-1].copy()),
    "ksg_conditional_mutual_information": (SAMPLES, SAMPLES[::-1].copy(), SAMPLES**2),
}
OPTIONS = {"f_divergence": {"kind": "jeffreys"}}  # keyword arguments a function needs
FUNCTIONS = sorted(set(infolib.__all__) - {"checked"})
CHECKED = {name: infolib.checked(getattr(infolib, name)) for name in FUNCTIONS}


def test_checked_covers_every_public_function():
    """Every function of ``infolib.__all__`` can be wrapped (``CHECKED`` above) and has valid
    inputs here, so that ``test_valid_inputs_pass_through_with_the_unchecked_value`` runs it."""
    assert set(VALID) == set(FUNCTIONS)


def _corrupt(name, position, index, value, keep_sum=False):
    """VALID[name] with ``args[position][index] = value``; with ``keep_sum``, the next entry of
    the row takes up the difference, so that the row (and the array) keeps its sum."""
    args = [np.array(a) for a in VALID[name]]
    target = args[position]
    if keep_sum:
        target[(*index[:-1], index[-1] + 1)] += target[index] - value
    target[index] = value
    return tuple(args)


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.slow
def test_valid_inputs_pass_through_with_the_unchecked_value(name):
    args, options = VALID[name], OPTIONS.get(name, {})
    got = CHECKED[name](*args, **options)
    expected = jax.jit(functools.partial(getattr(infolib, name), **options))(*args)
    for got_leaf, expected_leaf in zip(
        jax.tree.leaves(got), jax.tree.leaves(expected), strict=True
    ):
        assert isinstance(got_leaf, jax.Array)  # nsb_entropy returns a (mean, std) pair
        assert got_leaf.dtype == expected_leaf.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_checked_keeps_the_signature():
    for name in ("entropy", "cross_entropy_with_logits", "gaussian_kl"):
        assert inspect.signature(CHECKED[name]) == inspect.signature(getattr(infolib, name))


@pytest.mark.parametrize(
    ("name", "position"),
    [
        ("self_information", 0),
        ("entropy", 0),
        ("cross_entropy", 0),
        ("cross_entropy", 1),
        ("kl_divergence", 1),
        ("js_divergence", 0),
        ("binary_cross_entropy", 1),
        ("mutual_information", 0),
        ("plugin_entropy", 0),
    ],
)
def test_negative_probabilities_raise(name, position):
    """-0.1 with the difference added next to it: the row still sums to 1, so negativity is
    the only problem."""
    args = _corrupt(name, position, (0, 0), -0.1, keep_sum=True)
    with pytest.raises(checkify.JaxRuntimeError, match="negative"):
        CHECKED[name](*args)


@pytest.mark.parametrize(
    ("name", "position"),
    [
        ("entropy", 0),
        ("cross_entropy", 0),
        ("cross_entropy", 1),
        ("kl_divergence", 0),
        ("kl_divergence", 1),
        ("js_divergence", 1),
        ("cross_entropy_with_logits", 0),
        ("joint_entropy", 0),
        ("mutual_information", 0),
    ],
)
def test_rows_not_summing_to_one_raise(name, position):
    args = _corrupt(name, position, (1, 1), VALID[name][position][1, 1] + 0.01)
    with pytest.raises(checkify.JaxRuntimeError, match="sum to 1"):
        CHECKED[name](*args)


def test_sum_tolerance_is_1e_4_by_default_and_configurable():
    slightly_off = _corrupt("entropy", 0, (0, 0), 0.2 + 5e-5)
    off = _corrupt("entropy", 0, (0, 0), 0.205)
    np.testing.assert_allclose(
        CHECKED["entropy"](*slightly_off), infolib.entropy(*slightly_off), rtol=1e-6
    )
    with pytest.raises(checkify.JaxRuntimeError, match="sum to 1"):
        CHECKED["entropy"](*_corrupt("entropy", 0, (0, 0), 0.201))
    lenient = infolib.checked(infolib.entropy, atol=1e-2)
    np.testing.assert_allclose(lenient(*off), infolib.entropy(*off), rtol=1e-6)
    with pytest.raises(checkify.JaxRuntimeError, match="sum to 1"):
        infolib.checked(infolib.entropy, atol=1e-3)(*off)


def test_keyword_arguments_pass_through_and_axis_is_the_one_checked():
    columns = _f32([[0.2, 0.5], [0.8, 0.5]])  # columns sum to 1, rows do not
    got = CHECKED["entropy"](columns, axis=0, base=2)
    np.testing.assert_allclose(got, infolib.entropy(columns, axis=0, base=2), rtol=1e-6)
    with pytest.raises(checkify.JaxRuntimeError, match="sum to 1"):
        CHECKED["entropy"](columns, base=2)


@pytest.mark.parametrize(
    ("name", "position"),
    [
        ("entropy", 0),
        ("entropy_with_logits", 0),
        ("cross_entropy", 1),
        ("cross_entropy_with_logits", 1),
        ("sparse_cross_entropy_with_logits", 1),
        ("binary_cross_entropy_with_logits", 1),
        ("kl_divergence_with_logits", 0),
        ("joint_entropy", 0),
        ("gaussian_entropy", 0),
        ("gaussian_kl", 0),
        ("laplace_kl", 3),
        ("miller_madow_entropy", 0),
    ],
)
def test_nan_inputs_raise(name, position):
    with pytest.raises(checkify.JaxRuntimeError, match="NaN"):
        CHECKED[name](*_corrupt(name, position, (0, 0), NAN))


@pytest.mark.parametrize("label", [-1, 3, 7])
def test_out_of_range_labels_raise(label):
    args = _corrupt("sparse_cross_entropy_with_logits", 0, (0,), label)
    with pytest.raises(checkify.JaxRuntimeError, match="label"):
        CHECKED["sparse_cross_entropy_with_logits"](*args)


def test_one_bad_row_in_a_batch_raises():
    p = np.full((16, 4), 0.25, np.float32)
    p[11] = [0.5, 0.5, 0.5, -0.5]
    with pytest.raises(checkify.JaxRuntimeError, match="negative"):
        CHECKED["entropy"](p)


def test_unchecked_calls_never_renormalise():
    """entropy([0.2, 0.2]) is -2 · 0.2 · log 0.2 (not log 2), KL([.2, .2] ‖ [.4, .4]) is
    0.4 log 0.5 (not 0); the checked call rejects the same input."""
    p, q = _f32([0.2, 0.2]), _f32([0.4, 0.4])
    np.testing.assert_allclose(infolib.entropy(p), -2 * 0.2 * math.log(0.2), rtol=1e-6)
    np.testing.assert_allclose(infolib.kl_divergence(p, q), 0.4 * math.log(0.5), rtol=1e-6)
    np.testing.assert_allclose(infolib.cross_entropy(p, q), -0.4 * math.log(0.4), rtol=1e-6)
    with pytest.raises(checkify.JaxRuntimeError, match="sum to 1"):
        CHECKED["entropy"](p)


def test_probabilities_passed_as_logits_are_caught_and_swaps_get_a_hint():
    safe = infolib.checked(infolib.cross_entropy_with_logits)
    # Every row of the "logits" is a distribution: the probabilities were passed by mistake.
    with pytest.raises(checkify.JaxRuntimeError, match="logits looks like probabilities"):
        safe(Q, P)
    # One row that is not a distribution is enough to be plausible logits.
    np.testing.assert_allclose(
        safe(Q, _f32([[0.2, 0.3, 0.5], [0.0, 2.0, 0.0]])),
        infolib.cross_entropy_with_logits(Q, _f32([[0.2, 0.3, 0.5], [0.0, 2.0, 0.0]])),
        rtol=1e-6,
    )
    # The optax order, cross_entropy_with_logits(logits, p): p's checks fail, with a hint.
    with pytest.raises(checkify.JaxRuntimeError, match=r"p has a negative entry"):
        safe(_f32([[1.0, -2.0, 0.5], [0.0, 2.0, -1.0]]), Q)
    with pytest.raises(checkify.JaxRuntimeError, match=r"use cross_entropy_with_logits\)"):
        infolib.checked(infolib.cross_entropy)(P, _f32([[0.5, 2.0, -1.0], [0.1, 0.8, 0.1]]))
    with pytest.raises(TypeError, match=r"labels must hold integer class indices"):
        infolib.checked(infolib.sparse_cross_entropy_with_logits)(Q, LOGITS)
    # Binary logits have no event axis: values in [0, 1] are plausible logits.
    safe_binary = infolib.checked(infolib.binary_cross_entropy_with_logits)
    assert np.isfinite(safe_binary(_f32([1.0, 0.0]), _f32([0.4, 0.6]))).all()
