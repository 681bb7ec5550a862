"""Bias-corrected and Bayesian entropy estimators from counts, and information from counts.

References, each written here from the paper's formula in float64 NumPy/SciPy, independently of
the JAX code (which uses closed forms or O(K) rearrangements of them):

* jackknife: the literal leave-one-observation-out average over the n samples (Zahl, 1977);
* Grassberger (2003) with the integer (−1)^c;
* Chao–Shen: R ``entropy::entropy.ChaoShen`` transcribed;
* Zhang (2012): the product-sum form of the paper, not the digamma form used by the code;
* James–Stein: R ``entropy::freqs.shrink`` transcribed, and values of pyitlib 0.3.1
  ``discrete_random_variable.entropy(x, estimator='JAMES-STEIN', Alphabet_X=range(K))``,
  copied below (pyitlib is not a dependency);
* NSB: adaptive ``scipy.integrate.quad`` over ξ (the prior's uniform variable, β(ξ) by brentq,
  Γ ratios as exact sums of logs) at ``epsrel=1e-13``.

Tolerances: float64 under jit at ``rtol=1e-12, atol=1e-13`` (NSB ``rtol=1e-10``); float32 eager at
``rtol=1e-5, atol=1e-6`` (NSB ``rtol=1e-4``). ``ndd`` (the NSB peer) does not build here, so
there is no ndd comparison.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy import integrate, optimize, special

import infolib

F64 = {"rtol": 1e-12, "atol": 1e-13}
F32 = {"rtol": 1e-5, "atol": 1e-6}
ESTIMATORS = {
    "jackknife": infolib.jackknife_entropy,
    "grassberger": infolib.grassberger_entropy,
    "chao_shen": infolib.chao_shen_entropy,
    "zhang": infolib.zhang_entropy,
    "james_stein": infolib.james_stein_entropy,
}


# --- references ----------------------------------------------------------------------------------


def _plugin(c):
    c = np.asarray(c, np.float64)
    n = c.sum()
    p = c[c > 0] / n
    return float(-(p * np.log(p)).sum()) if n > 0 else 0.0


def jackknife_reference(c):
    c = np.asarray(c, np.int64)
    n = int(c.sum())
    if n < 2:
        return 0.0
    samples = np.repeat(np.arange(c.size), c)
    out = [_plugin(np.bincount(np.delete(samples, j), minlength=c.size)) for j in range(n)]
    return n * _plugin(c) - (n - 1) / n * float(np.sum(out))


def grassberger_reference(c):
    c = np.asarray(c, np.int64)
    n = c.sum()
    if n == 0:
        return 0.0
    h = c[c > 0]
    g = special.digamma(h) + 0.5 * (-1.0) ** h * (
        special.digamma((h + 1) / 2) - special.digamma(h / 2)
    )
    return float(np.log(n) - np.sum(h * g) / n)


def chao_shen_reference(y):  # R entropy.ChaoShen, line by line
    y = np.asarray(y, np.float64)
    yx = y[y > 0]
    n = yx.sum()
    if n == 0:
        return 0.0
    p = yx / n
    f1 = np.sum(yx == 1)
    if f1 == n:
        f1 = n - 1
    C = 1 - f1 / n
    pa = C * p
    la = 1 - (1 - pa) ** n
    return float(-np.sum(pa * np.log(pa) / la))


def zhang_reference(c):  # Zhang (2012): the product-sum form
    c = np.asarray(c, np.float64)
    n = int(c.sum())
    p = c / max(n, 1)
    total = 0.0
    for v in range(1, n):
        factor = n ** (v + 1) * math.factorial(n - v - 1) / math.factorial(n)
        inner = np.prod([1 - p - j / n for j in range(v)], axis=0)
        total += factor / v * np.sum(p * inner)
    return total


def james_stein_reference(y):  # R entropy: freqs.shrink, then the plug-in entropy
    y = np.asarray(y, np.float64)
    n, k = y.sum(), y.size
    u = y / n if n > 0 else np.full(k, 1 / k)
    t = 1 / k
    if n <= 1:
        lam = 1.0
    else:
        varu = u * (1 - u) / (n - 1)
        msp = np.sum((u - t) ** 2)
        lam = 1.0 if msp == 0 else min(1.0, max(0.0, varu.sum() / msp))
    p = lam * t + (1 - lam) * u
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


REFERENCES = {
    "jackknife": jackknife_reference,
    "grassberger": grassberger_reference,
    "chao_shen": chao_shen_reference,
    "zhang": zhang_reference,
    "james_stein": james_stein_reference,
}

# pyitlib 0.3.1: drv.entropy(np.repeat(range(K), c), estimator='JAMES-STEIN',
# Alphabet_X=np.arange(K), base=np.e), printed with repr.
PYITLIB_JAMES_STEIN = [
    ([10, 5, 3, 0, 1], 1.3360365644543686),
    ([20, 1, 1, 1, 0, 0], 0.5907626163857999),
    ([7, 7, 1, 0], 1.120367451377111),
    ([50, 30, 15, 4, 1, 0, 0, 0], 1.2415845703997264),
    ([2, 1], 0.6931471805599453),
]


def _rows(rng):
    """Count vectors with zeros, singletons and doubletons, and the boundary rows."""
    rows = [rng.integers(0, k, 8) for k in (3, 6, 20)]
    rows += [rng.poisson(0.7, 8), [0] * 8, [1] + [0] * 7, [0, 0, 5, 0, 0, 0, 0, 0]]
    rows += [[1] * 8, [1, 1, 0, 2, 0, 0, 0, 0], [30, 1, 1, 0, 0, 0, 0, 0]]
    return np.asarray(rows, np.float64)


# --- values --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_estimators_match_independent_numpy_formulas(precision, call, rng, name):
    """float64 under jit to 1e-12 (float32 eagerly to 1e-5), over a batch that includes n = 0,
    n = 1, one occupied bin, all singletons and zero bins."""
    counts = _rows(rng)
    expected = [REFERENCES[name](row) for row in counts]
    got = call(ESTIMATORS[name], counts.astype(precision.dtype))
    assert got.dtype == precision.dtype
    tol = F64 if precision.dtype == np.float64 else F32
    np.testing.assert_allclose(got, expected, **tol)
    assert np.all(np.isfinite(got))


def test_james_stein_matches_pyitlib():
    with jax.enable_x64(True):
        for counts, expected in PYITLIB_JAMES_STEIN:
            got = jax.jit(infolib.james_stein_entropy)(np.asarray(counts, np.float64))
            np.testing.assert_allclose(got, expected, **F64)


def test_zhang_closed_form_equals_the_papers_sum_up_to_n_60():
    with jax.enable_x64(True):
        rng = np.random.default_rng(3)
        counts = rng.multinomial(60, rng.dirichlet(np.ones(7)), size=4).astype(np.float64)
        expected = [zhang_reference(row) for row in counts]
        np.testing.assert_allclose(jax.jit(infolib.zhang_entropy)(counts), expected, **F64)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_documented_boundary_values(name):
    fn = jax.jit(ESTIMATORS[name])
    assert fn(np.zeros(4, np.float32)) == (np.log(4) if name == "james_stein" else 0.0)
    one = float(fn(np.asarray([0.0, 1.0, 0.0, 0.0], np.float32)))
    expected_one = {"grassberger": np.euler_gamma + np.log(2), "james_stein": np.log(4)}
    np.testing.assert_allclose(one, expected_one.get(name, 0.0), **F32)
    single = float(fn(np.asarray([5.0], np.float32)))  # one category
    np.testing.assert_allclose(
        single, grassberger_reference([5]) if name == "grassberger" else 0, **F32
    )
    assert np.isnan(fn(np.asarray([0.0, np.nan, 0.0], np.float32)))
    assert np.isnan(fn(np.asarray([2.0, np.nan, 1.0], np.float32)))


@pytest.mark.parametrize("name", [n for n in ESTIMATORS if n != "james_stein"])
def test_empty_bins_change_nothing(name):
    """Every estimator but James–Stein (which shrinks towards all K bins) ignores empty bins."""
    fn = jax.jit(ESTIMATORS[name])
    c = np.asarray([4.0, 1.0, 2.0, 1.0], np.float32)
    padded = np.asarray([0.0, 4.0, 1.0, 0.0, 2.0, 1.0, 0.0], np.float32)
    np.testing.assert_allclose(fn(padded), fn(c), **F32)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_axis_base_and_vmap(name):
    fn = ESTIMATORS[name]
    counts = np.random.default_rng(5).integers(0, 6, (3, 5, 4)).astype(np.float32)

    @jax.jit
    def variants(c):
        return (
            fn(c),
            fn(jnp.moveaxis(c, -1, 0), axis=0),
            fn(c, base=2) * np.log(2),
            jax.vmap(fn)(c),
        )

    last, moved, bits, vmapped = variants(counts)
    assert last.shape == (3, 5)
    for other in (moved, bits, vmapped):
        np.testing.assert_allclose(other, last, **F32)
    np.testing.assert_allclose(fn(counts), last, **F32)  # eager equals jit


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_gradients_are_finite_with_zero_counts_and_checked_inside(name):
    """Finite gradients at zero counts (a select, never 0·inf); check_grads at interior points:
    no singletons (Chao–Shen's f1 fixed), counts ≥ 2 (jackknife's (c − 1) log(c − 1) smooth),
    and λ strictly inside (0, 1) for James–Stein."""
    fn = ESTIMATORS[name]
    with jax.enable_x64(True):
        with_zeros = np.asarray([[0.0, 3.0, 2.0, 0.0, 4.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
        grad = jax.jit(jax.grad(lambda c: fn(c).sum()))(with_zeros)
        assert np.all(np.isfinite(grad)), grad
        interior = np.asarray([[6.0, 3.0, 2.5, 2.0], [2.0, 3.0, 4.0, 5.0]])
        if name == "james_stein":
            interior = np.asarray([[10.0, 5.0, 3.0, 2.0]])  # λ ≈ 0.16
        check_grads(jax.jit(fn), (interior,), order=1, modes=("fwd", "rev"))


# --- NSB -----------------------------------------------------------------------------------------


def nsb_reference(counts, k):
    """NSB posterior mean and std by adaptive quadrature over ξ (uniform prior), float64."""
    c = np.asarray(counts, np.float64)
    n = c.sum()
    full = np.concatenate([c, np.zeros(k - c.size)])
    occupied = full[full > 0].astype(int)

    def xi(b):
        return special.digamma(k * b + 1) - special.digamma(b + 1)

    def beta(x):
        hi = 1.0
        while xi(hi) < x and hi < 1e150:
            hi *= 4.0
        return optimize.brentq(lambda b: xi(b) - x, 1e-300, hi, xtol=1e-300, rtol=1e-15)

    def log_like(b):  # log Γ(x + c)/Γ(x) = Σ_{j<c} log(x + j), exact for whole counts
        up = sum(np.sum(np.log(b + np.arange(m))) for m in occupied)
        return up - np.sum(np.log(k * b + np.arange(int(n))))

    def moments(b):  # Wolpert & Wolf (1995): E[H | β] and E[H² | β], the double sum written out
        a, big = full + b, n + k * b
        mean = special.digamma(big + 1) - np.sum(a / big * special.digamma(a + 1))
        e = special.digamma(a + 1) - special.digamma(big + 2)
        t1 = special.polygamma(1, big + 2)
        outer = np.outer(a, a) * (np.outer(e, e) - t1)
        np.fill_diagonal(outer, 0.0)
        f = special.digamma(a + 2) - special.digamma(big + 2)
        diag = a * (a + 1) * (f**2 + special.polygamma(1, a + 2) - t1)
        return mean, (outer.sum() + diag.sum()) / (big * (big + 1))

    top = np.log(k)
    grid = np.linspace(1e-9, top * (1 - 1e-12), 200)
    logs = np.array([log_like(beta(x)) for x in grid])
    peak, shift = grid[np.argmax(logs)], logs.max()
    kw = {"points": [peak], "limit": 2000, "epsabs": 0.0, "epsrel": 1e-13}

    def weighted(fn):
        def integrand(x):
            b = beta(x)
            return np.exp(log_like(b) - shift) * fn(b)

        return integrate.quad(integrand, 0, top, **kw)[0]

    z = weighted(lambda b: 1.0)
    m1 = weighted(lambda b: moments(b)[0]) / z
    m2 = weighted(lambda b: moments(b)[1]) / z
    return m1, np.sqrt(m2 - m1**2)


# (counts, K, mean, std) from nsb_reference above (slow cases, run once; 6 min for K = 10⁴).
NSB_STORED = [
    ([30, 20, 10, 5, 2, 1, 1], 100, 1.4936752617336273, 0.12203136966119917),
    ([1, 1, 1, 1, 1, 1, 1, 1, 1, 2], 10000, 4.927063621012655, 1.1886833283652984),
    ([5000, 3000, 2000], 10, 1.0298201590305762, 0.0036788512869493054),  # a sharp posterior
    ([4, 0, 3, 2, 2, 1, 0, 0], 8, 1.7493669754280976, 0.19682052518400914),
]


def test_nsb_matches_adaptive_quadrature_in_float64():
    """Live: the scipy quad reference on a case with no coincidences (its posterior leans to
    large β); stored: four more from the same reference. rtol=1e-10. Every case is padded with
    empty bins to one length (empty bins are categories unseen, as n_categories implies), so
    that one compilation serves them all."""
    cases = [([1, 1, 1, 1], 10, *nsb_reference([1, 1, 1, 1], 10)), *NSB_STORED]
    with jax.enable_x64(True):
        for counts, k, mean, std in cases:
            padded = np.zeros(min(k, 10))
            padded[: len(counts)] = counts
            got = infolib.nsb_entropy(padded, n_categories=k)
            np.testing.assert_allclose(got.mean, mean, rtol=1e-10, err_msg=f"{counts}, K={k}")
            np.testing.assert_allclose(got.std, std, rtol=1e-10, err_msg=f"{counts}, K={k}")


@pytest.mark.slow
def test_nsb_boundaries_batches_and_float32():
    with jax.enable_x64(True):
        batch = np.zeros((4, 10))
        batch[0, :3] = [3.0, 1.0, 0.0]
        batch[2, :3] = 1.0
        batch[3, :3] = [0.0, np.nan, 1.0]
        got = infolib.nsb_entropy(batch, n_categories=10)
        # No observations: the posterior is the prior, uniform in ξ on [0, log K].
        np.testing.assert_allclose(got.mean[1], np.log(10) / 2, rtol=1e-10)
        assert np.isnan(got.mean[3]) and np.isnan(got.std[3])
        bits = infolib.nsb_entropy(batch, n_categories=10, base=2)
        np.testing.assert_allclose(bits.std[:3], got.std[:3] / np.log(2), rtol=1e-12)
        vmapped = jax.vmap(functools.partial(infolib.nsb_entropy, n_categories=10))(batch)
        np.testing.assert_allclose(vmapped.mean[:3], got.mean[:3], rtol=1e-12)
        np.testing.assert_allclose(vmapped.std[:3], got.std[:3], rtol=1e-12)
        one = infolib.nsb_entropy(np.asarray([7.0]), n_categories=1)
        assert one.mean == 0.0 and one.std == 0.0
    # float32, and a finite gradient (that of the quadrature) also at the empty bins.
    counts = np.zeros(10, np.float32)
    counts[:5] = [10.0, 5.0, 3.0, 0.0, 1.0]

    def mean_and_std(c):
        estimate = infolib.nsb_entropy(c, n_categories=20)
        return estimate.mean, estimate.std

    (mean, std), grad = jax.value_and_grad(mean_and_std, has_aux=True)(counts)
    assert mean.dtype == np.float32
    np.testing.assert_allclose(mean, 1.3046221736426660, rtol=1e-4)
    np.testing.assert_allclose(std, 0.2263348543861498, rtol=1e-4)
    assert np.all(np.isfinite(grad)), grad
    with pytest.raises(ValueError, match="n_categories"):
        infolib.nsb_entropy(np.ones(5), n_categories=3)
    with pytest.raises(TypeError, match="n_categories"):
        infolib.nsb_entropy(np.ones(5), n_categories=5.0)


# --- information from counts ---------------------------------------------------------------------

METHODS = ["plugin", "miller_madow", "jackknife", "grassberger", "chao_shen", "zhang"]


@pytest.mark.parametrize("method", METHODS)
def test_mutual_information_of_x_with_itself_is_its_entropy(method):
    """NPEET #26: I(X; X) = H(X). Exactly (to rounding) for every estimator blind to empty
    cells, which a diagonal table is full of."""
    with jax.enable_x64(True):
        c = np.asarray([7.0, 1.0, 3.0, 0.0, 2.0])
        mi = jax.jit(infolib.mutual_information_from_counts, static_argnames="method")
        entropy = ESTIMATORS.get(method) or getattr(infolib, f"{method}_entropy")
        np.testing.assert_allclose(mi(np.diag(c), method=method), entropy(c), rtol=1e-14)


def test_mutual_information_from_counts_plugin_equals_the_exact_measure_and_batches():
    rng = np.random.default_rng(7)
    joint = rng.integers(0, 9, (2, 3, 4, 5)).astype(np.float32)
    got = jax.jit(infolib.mutual_information_from_counts)(joint)
    expected = infolib.mutual_information(joint / joint.sum((-2, -1), keepdims=True))
    np.testing.assert_allclose(got, expected, **F32)
    js = infolib.mutual_information_from_counts(joint, method="james_stein")
    assert js.shape == (2, 3) and np.all(np.isfinite(js))


def test_conditional_mutual_information_from_counts():
    rng = np.random.default_rng(8)
    xy = rng.integers(0, 9, (3, 4)).astype(np.float32)
    single_z = xy[..., None]
    for method in ("plugin", "zhang"):
        np.testing.assert_allclose(
            infolib.conditional_mutual_information_from_counts(single_z, method=method),
            infolib.mutual_information_from_counts(xy, method=method),
            **F32,
        )
    # X and Y independent given Z (a product table per z): plug-in CMI is 0.
    px, py = np.asarray([1.0, 2.0, 3.0]), np.asarray([2.0, 2.0, 1.0, 1.0])
    xyz = np.stack([np.outer(px, py), 2 * np.outer(px[::-1], py)], axis=-1).astype(np.float32)
    np.testing.assert_allclose(
        infolib.conditional_mutual_information_from_counts(xyz), 0.0, atol=1e-6
    )
    with pytest.raises(ValueError, match="three"):
        infolib.conditional_mutual_information_from_counts(xy)


def test_permutation_null_p_value_and_floored_correction():
    dependent = np.asarray([[20.0, 2.0], [3.0, 25.0]], np.float32)
    independent = np.asarray([[13.0, 12.0], [13.0, 12.0]], np.float32)  # n = 50, as above
    for table, small in ((dependent, True), (independent, False)):
        test = infolib.mutual_information_from_counts(
            table, method="miller_madow", null_samples=199, key=jax.random.key(1)
        )
        assert (test.p_value < 0.01) == small
        assert test.corrected >= 0
        np.testing.assert_allclose(
            test.corrected, max(float(test.value - test.null_mean), 0.0), **F32
        )
        np.testing.assert_allclose(
            test.value, infolib.mutual_information_from_counts(table, method="miller_madow"), **F32
        )
    with pytest.raises(ValueError, match="key"):
        infolib.mutual_information_from_counts(dependent, null_samples=9)
    with pytest.raises(ValueError, match="method"):
        infolib.mutual_information_from_counts(dependent, method="npeet")
