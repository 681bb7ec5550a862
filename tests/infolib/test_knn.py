"""The kNN estimators (Kozachenko–Leonenko entropy, KSG mutual information, Frenzel–Pompe
conditional mutual information) against SciPy KD-tree implementations of the papers' formulas
written here, in the max-norm with strict counts.

Tolerances: float64 against the references at ``rtol=1e-10, atol=1e-12`` (continuous random data,
so no ties); float32 at ``rtol=1e-5, atol=1e-5`` against the reference on the same float32 data
(the counts are integers; only the digamma sums round). The statistical checks (Gaussians against
their closed forms) use a fixed seed and tolerances of several standard errors.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial import cKDTree
from scipy.special import digamma

import infolib

# --- the references --------------------------------------------------------------------------


def _kth_distance(points: np.ndarray, k: int) -> np.ndarray:
    """Max-norm distance from each point to its k-th nearest other point (itself left out)."""
    return cKDTree(points).query(points, k=k + 1, p=np.inf)[0][:, k]


def _strict_counts(points: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """#{j ≠ i : ‖p_i − p_j‖∞ < r_i}: the ball of radius nextafter(r, 0) (closed in cKDTree)
    holds exactly the points strictly within r; the point itself is taken off. Nothing is
    strictly within r = 0 (duplicates), where that ball would hold the copies."""
    tree = cKDTree(points)
    inside = tree.query_ball_point(points, np.nextafter(radius, 0), p=np.inf, return_length=True)
    return np.where(radius > 0, inside - 1, 0)


def reference_kl_entropy(x: np.ndarray, k: int) -> float:
    """Kraskov et al. (2004) eq. 20 with the max-norm: ψ(n) − ψ(k) + d log 2 + d⟨log r⟩."""
    n, d = x.shape
    r = _kth_distance(x, k)
    return digamma(n) - digamma(k) + d * np.log(2) + d * np.mean(np.log(r))


def reference_ksg(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """Kraskov et al. (2004) eq. 8: ψ(k) + ψ(n) − ⟨ψ(n_x + 1) + ψ(n_y + 1)⟩."""
    eps = _kth_distance(np.hstack([x, y]), k)
    nx, ny = _strict_counts(x, eps), _strict_counts(y, eps)
    return digamma(k) + digamma(len(x)) - np.mean(digamma(nx + 1) + digamma(ny + 1))


def reference_cmi(x: np.ndarray, y: np.ndarray, z: np.ndarray, k: int) -> float:
    """Frenzel & Pompe (2007): ψ(k) − ⟨ψ(n_xz + 1) + ψ(n_yz + 1) − ψ(n_z + 1)⟩."""
    eps = _kth_distance(np.hstack([x, y, z]), k)
    nxz = _strict_counts(np.hstack([x, z]), eps)
    nyz = _strict_counts(np.hstack([y, z]), eps)
    nz = _strict_counts(z, eps)
    return digamma(k) - np.mean(digamma(nxz + 1) + digamma(nyz + 1) - digamma(nz + 1))


def _data(rng, n, dx, dy, dz=0):
    x = rng.standard_normal((n, dx))
    y = 0.5 * x[:, :1] + rng.standard_normal((n, dy))
    z = rng.standard_normal((n, dz)) + x[:, :1] if dz else None
    return x, y, z


# --- against the references ------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 7])
@pytest.mark.parametrize(("dx", "dy"), [(1, 1), (2, 3)])
def test_against_kd_tree_references_in_float64(rng, k, dx, dy):
    with jax.enable_x64(True):
        x, y, z = _data(rng, 300, dx, dy, dz=2)
        got = jax.jit(
            lambda x, y, z: (
                infolib.kl_entropy(x, k),
                infolib.ksg_mutual_information(x, y, k),
                infolib.ksg_conditional_mutual_information(x, y, z, k),
            )
        )(x, y, z)
        expected = (reference_kl_entropy(x, k), reference_ksg(x, y, k), reference_cmi(x, y, z, k))
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_float32_matches_the_reference_on_the_same_data(rng):
    x, y, z = (a.astype(np.float32) for a in _data(rng, 300, 2, 1, dz=1))
    got = (
        infolib.kl_entropy(x),
        infolib.ksg_mutual_information(x, y),
        infolib.ksg_conditional_mutual_information(x, y, z),
    )
    for value in got:
        assert value.dtype == jnp.float32
    x64, y64, z64 = (a.astype(np.float64) for a in (x, y, z))
    expected = (
        reference_kl_entropy(x64, 3),
        reference_ksg(x64, y64, 3),
        reference_cmi(x64, y64, z64, 3),
    )
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_blocks_of_rows_give_the_unblocked_answer(rng, monkeypatch):
    """More samples than one block holds (the block is shrunk to 7 rows, with a remainder)."""
    from infolib import _knn

    with jax.enable_x64(True):
        x, y, _ = _data(rng, 100, 1, 2)
        monkeypatch.setattr(_knn, "_BLOCK_ENTRIES", 7 * 100)
        got = _knn._ksg_nats.__wrapped__(jnp.asarray(x), jnp.asarray(y), 3)
        np.testing.assert_allclose(got, reference_ksg(x, y, 3), rtol=1e-10)


# --- batches and transformations -------------------------------------------------------------


def test_leading_axes_and_vmap_are_independent_data_sets(rng):
    x = rng.standard_normal((2, 3, 40, 2)).astype(np.float32)
    y = (x[..., :1] + rng.standard_normal((2, 3, 40, 1))).astype(np.float32)
    batched = jax.jit(infolib.ksg_mutual_information)(x, y)
    assert batched.shape == (2, 3)
    vmapped = jax.jit(jax.vmap(jax.vmap(infolib.ksg_mutual_information)))(x, y)
    one = infolib.ksg_mutual_information(x[1, 2], y[1, 2])
    np.testing.assert_allclose(vmapped, batched, rtol=1e-6)
    np.testing.assert_allclose(batched[1, 2], one, rtol=1e-6)
    entropies = jax.vmap(functools.partial(infolib.kl_entropy, k=2))(x[0])
    np.testing.assert_allclose(entropies, infolib.kl_entropy(x[0], k=2), rtol=1e-6)


def test_base_divides_by_log_base(rng):
    x, y, z = (a.astype(np.float32) for a in _data(rng, 50, 1, 1, dz=1))
    for fn, args in [
        (infolib.kl_entropy, (x,)),
        (infolib.ksg_mutual_information, (x, y)),
        (infolib.ksg_conditional_mutual_information, (x, y, z)),
    ]:
        np.testing.assert_allclose(fn(*args, base=2), fn(*args) / np.log(2), rtol=1e-6)


def test_kl_entropy_gradient_is_that_of_the_mean_log_radius(rng):
    """d/dx of (d/n) Σ log r_i: the finite-difference check in float64 (no ties, so the
    neighbours do not change under the perturbation)."""
    from jax.test_util import check_grads

    with jax.enable_x64(True):
        x = rng.standard_normal((30, 2))
        check_grads(jax.jit(infolib.kl_entropy), (x,), order=1, modes=("fwd", "rev"))


def test_ksg_gradients_are_zero_and_finite(rng):
    """The KSG estimates are piecewise constant in the samples."""
    x, y, z = (a.astype(np.float32) for a in _data(rng, 40, 1, 1, dz=1))
    gx, gy = jax.grad(infolib.ksg_mutual_information, argnums=(0, 1))(x, y)
    gz = jax.grad(infolib.ksg_conditional_mutual_information, argnums=2)(x, y, z)
    for g in (gx, gy, gz):
        np.testing.assert_array_equal(g, 0)


# --- boundaries ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_nan_or_infinite_sample_gives_nan_for_its_data_set_only(rng, bad):
    x = rng.standard_normal((2, 20, 1)).astype(np.float32)
    y = rng.standard_normal((2, 20, 1)).astype(np.float32)
    x[0, 5, 0] = bad
    for value in (infolib.kl_entropy(x), infolib.ksg_mutual_information(x, y)):
        assert np.isnan(value[0])
        assert np.isfinite(value[1])
    cmi = infolib.ksg_conditional_mutual_information(y, y, x)
    assert np.isnan(cmi[0]) and np.isfinite(cmi[1])


def test_mutual_information_of_x_with_itself_is_psi_n_minus_psi_k(rng):
    """For continuous X, I(X; X) = +inf; the estimator gives its largest value, ψ(n) − ψ(k)."""
    with jax.enable_x64(True):
        x = rng.standard_normal((200, 2))
        for k in (1, 3):
            got = infolib.ksg_mutual_information(x, x, k)
            np.testing.assert_allclose(got, digamma(200) - digamma(k), rtol=1e-12)


def test_duplicates_are_counted_as_the_strict_formula_says():
    """No noise is added: with more than k copies of a point, r = 0, so KL gives −inf, and
    KSG's ε = 0 counts nothing (ψ(1) terms), as the strict formula (and the reference) does."""
    with jax.enable_x64(True):
        x = np.concatenate([np.zeros((5, 1)), np.linspace(1, 2, 20)[:, None]])
        y = np.concatenate([np.zeros((5, 1)), np.linspace(-1, 3, 20)[:, None] ** 2])
        assert infolib.kl_entropy(x) == -np.inf
        np.testing.assert_allclose(
            infolib.ksg_mutual_information(x, y), reference_ksg(x, y, 3), rtol=1e-12
        )


def test_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"\[\.\.\., n, d\]"):
        infolib.kl_entropy(np.zeros(10))
    with pytest.raises(ValueError, match=r"\(10, 1\).*\(9, 1\)"):
        infolib.ksg_mutual_information(np.zeros((10, 1)), np.zeros((9, 1)))
    with pytest.raises(ValueError, match="more than k"):
        infolib.kl_entropy(np.zeros((3, 1)), k=3)
    with pytest.raises(ValueError, match="k must be"):
        infolib.kl_entropy(np.zeros((10, 1)), k=0)


# --- statistical behaviour (fixed seed) ------------------------------------------------------


@pytest.mark.parametrize("rho", [0.0, 0.6, 0.9])
def test_correlated_gaussians_are_close_to_the_closed_form(rho):
    """−½ log(1 − ρ²) at n = 2000, k = 3: KSG's standard error there is about 0.02 nats."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 1))
    y = rho * x + np.sqrt(1 - rho**2) * rng.standard_normal((2000, 1))
    got = infolib.ksg_mutual_information(x.astype(np.float32), y.astype(np.float32))
    np.testing.assert_allclose(got, -0.5 * np.log(1 - rho**2), atol=0.05)


def test_kl_entropy_of_a_gaussian_is_close_to_its_closed_form():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2000, 2)) * np.array([1.0, 3.0])
    expected = np.log(2 * np.pi * np.e) + np.log(3.0)  # d/2 log(2πe) + log|det σ|
    np.testing.assert_allclose(infolib.kl_entropy(x.astype(np.float32)), expected, atol=0.1)
