"""The Rényi and Tsallis families and the f-divergences.

References are exact: Python's ``decimal`` at 50 digits on the float inputs (every float is a
finite decimal), divided by their sum in ``decimal`` (a float64 distribution sums to 1 only
within rounding, and the textbook quotient turns that 1e−16 into 1e−16/|α − 1|), so that the
tolerances measure infolib's error alone, also at α within 1e−9 of 1. float64 at
``rtol=1e-12, atol=1e-14`` unless stated; float32 at ``rtol=1e-5, atol=1e-6``.
"""

import decimal
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy import spatial, special

import infolib

D = decimal.Decimal
CONTEXT = decimal.Context(prec=50)
INF = np.inf
ORDERS = [0.0, 0.3, 0.5, 0.9, 1 - 1e-9, 1.0, 1 + 1e-9, 1.1, 1.5, 2.0, 7.0, 60.0]


def _dec(x):
    return D(float(x))


def _normalised(p):
    """The entries of ``p`` as decimals, divided by their sum (within ``CONTEXT``)."""
    entries = [_dec(x) for x in p]
    total = sum(entries)
    return [x / total for x in entries]


def exact_renyi_entropy(p, alpha):
    with decimal.localcontext(CONTEXT):
        live = [x for x in _normalised(p) if x > 0]
        if alpha == INF:
            return float(-max(live).ln())
        if alpha == 1:
            return float(-sum(x * x.ln() for x in live))
        a = _dec(alpha)
        return float(sum(x**a for x in live).ln() / (1 - a))


def exact_renyi_divergence(p, q, alpha):
    with decimal.localcontext(CONTEXT):
        pairs = [(x, y) for x, y in zip(_normalised(p), _normalised(q), strict=True) if x > 0]
        if any(y == 0 for _, y in pairs) and alpha >= 1:
            return INF
        if alpha == INF:
            return float(max((x / y).ln() for x, y in pairs))
        if alpha == 1:
            return float(sum(x * (x / y).ln() for x, y in pairs))
        a = _dec(alpha)
        total = sum(x * ((y / x) ** (1 - a)) for x, y in pairs if y > 0)
        return float(total.ln() / (a - 1))


def exact_tsallis(p, q):
    with decimal.localcontext(CONTEXT):
        live = [x for x in _normalised(p) if x > 0]
        if q == 1:
            return float(-sum(x * x.ln() for x in live))
        b = _dec(q)
        return float((1 - sum(x**b for x in live)) / (b - 1))


def exact_amari(p, q, alpha):
    with decimal.localcontext(CONTEXT):
        pairs = list(zip(_normalised(p), _normalised(q), strict=True))
        if alpha == 1:
            return float(sum(x * (x / y).ln() for x, y in pairs if x > 0))
        if alpha == 0:
            return float(sum(y * (y / x).ln() for x, y in pairs if y > 0))
        a = _dec(alpha)
        total = sum(x**a * y ** (1 - a) for x, y in pairs if x > 0 and y > 0)
        return float((total - 1) / (a * (a - 1)))


def _interior_simplex(rng, k):
    """Entries of a similar size, as test_gradients.py's: finite differences of log p at
    check_grads' step are accurate there."""
    p = rng.uniform(0.2, 1.0, k)
    return p / p.sum()


def _simplex(rng, k, zeros=0):
    p = rng.gamma(1.0, size=k) + 1e-3
    p[:zeros] = 0
    return p / p.sum()


# --- values against exact references ---------------------------------------------------------


@pytest.mark.parametrize("alpha", [*ORDERS, INF])
def test_renyi_entropy_and_divergence_against_exact_values(rng, alpha):
    with jax.enable_x64(True):
        p, q = _simplex(rng, 6, zeros=1), _simplex(rng, 6)
        got_h, got_d, got_t = jax.jit(
            lambda p, q, a: (
                infolib.renyi_entropy(p, a),
                infolib.renyi_divergence(p, q, a),
                infolib.tsallis_entropy(p, a),
            )
        )(p, q, alpha)
        np.testing.assert_allclose(got_h, exact_renyi_entropy(p, alpha), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(
            got_d, exact_renyi_divergence(p, q, alpha), rtol=1e-12, atol=1e-14
        )
        if alpha != INF:
            np.testing.assert_allclose(got_t, exact_tsallis(p, alpha), rtol=1e-12, atol=1e-14)
        else:
            assert got_t == 0


def test_order_one_is_shannon_and_kl_exactly(rng):
    with jax.enable_x64(True):
        p, q = _simplex(rng, 8, zeros=2), _simplex(rng, 8)
        np.testing.assert_allclose(infolib.renyi_entropy(p, 1.0), infolib.entropy(p), rtol=1e-14)
        np.testing.assert_allclose(infolib.tsallis_entropy(p, 1.0), infolib.entropy(p), rtol=1e-14)
        np.testing.assert_allclose(
            infolib.renyi_divergence(p, q, 1.0), infolib.kl_divergence(p, q), rtol=1e-15
        )
        logits = np.log(p, where=p > 0, out=np.full(p.shape, -INF))
        np.testing.assert_allclose(
            infolib.renyi_entropy_with_logits(logits, 1.0), infolib.entropy(p), rtol=1e-13
        )


def test_the_limits_at_zero_and_infinity(rng):
    """α = 0: log of the support size (max-entropy), −log Q(supp p); α = ∞: −log max p
    (min-entropy), log max p/q. Tsallis at q = 0: support size − 1."""
    p, q = _simplex(rng, 7, zeros=3).astype(np.float32), _simplex(rng, 7).astype(np.float32)
    np.testing.assert_allclose(infolib.renyi_entropy(p, 0.0), np.log(4), rtol=1e-6)
    np.testing.assert_allclose(infolib.tsallis_entropy(p, 0.0), 3.0, rtol=1e-6)
    np.testing.assert_allclose(infolib.renyi_entropy(p, INF), -np.log(p.max()), rtol=1e-6)
    np.testing.assert_allclose(infolib.renyi_divergence(p, q, 0.0), -np.log(q[3:].sum()), rtol=1e-5)
    np.testing.assert_allclose(
        infolib.renyi_divergence(p, q, INF), np.log((p[3:] / q[3:]).max()), rtol=1e-6
    )
    # Large finite orders approach the limits.
    np.testing.assert_allclose(infolib.renyi_entropy(p, 1e6), -np.log(p.max()), rtol=1e-4)


def test_renyi_is_monotone_in_the_order(rng):
    p, q = _simplex(rng, 9), _simplex(rng, 9)
    orders = jnp.asarray([0.0, 0.2, 0.5, 0.99, 1.0, 1.01, 2.0, 10.0, INF], jnp.float32)
    h = jax.vmap(lambda a: infolib.renyi_entropy(p, a))(orders)
    d = jax.vmap(lambda a: infolib.renyi_divergence(p, q, a))(orders)
    assert np.all(np.diff(h) <= 1e-6)
    assert np.all(np.diff(d) >= -1e-6)


def test_f_divergences_against_scipy_and_closed_forms(rng):
    with jax.enable_x64(True):
        p, q = _simplex(rng, 6), _simplex(rng, 6)
        f = functools.partial(jax.jit, static_argnames=("kind",))(infolib.f_divergence)
        hellinger = 0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)
        np.testing.assert_allclose(f(p, q, kind="hellinger"), hellinger, rtol=1e-13)
        np.testing.assert_allclose(
            f(p, q, kind="total_variation"), 0.5 * np.abs(p - q).sum(), rtol=1e-13
        )
        np.testing.assert_allclose(f(p, q, kind="chi2"), np.sum((p - q) ** 2 / q), rtol=1e-13)
        jeffreys = special.rel_entr(p, q).sum() + special.rel_entr(q, p).sum()
        np.testing.assert_allclose(f(p, q, kind="jeffreys"), jeffreys, rtol=1e-13)
        js = spatial.distance.jensenshannon(p, q) ** 2
        np.testing.assert_allclose(f(p, q, kind="jensen_shannon"), js, rtol=1e-12)
        for alpha in (-1.0, 0.0, 1e-9, 0.3, 0.5, 0.8, 1 - 1e-9, 1.0, 2.0, 5.0):
            got = infolib.f_divergence(p, q, kind="amari_alpha", alpha=alpha)
            np.testing.assert_allclose(
                got, exact_amari(p, q, alpha), rtol=1e-11, err_msg=f"alpha={alpha}"
            )


# --- stability -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_ratios_of_fifty_and_more_stay_finite_and_accurate(dtype):
    """|log(p/q)| from 50 to 300 (float64) / 80 (float32): TFP's f-divergences lose it there."""
    tiny = {np.float64: [1e-22, 1e-60, 1e-130], np.float32: [1e-22, 1e-30, 1e-35]}[dtype]
    with jax.enable_x64(dtype == np.float64):
        for t in tiny:
            p = np.asarray([1 - t, t], dtype)
            q = np.asarray([t, 1 - t], dtype)
            rtol = 1e-12 if dtype == np.float64 else 1e-5
            for alpha in (0.0, 0.5, 0.999, 1.0, 1.001, 3.0, INF):
                got = infolib.renyi_divergence(p, q, alpha)
                assert np.isfinite(got)
                expected = exact_renyi_divergence(p, q, alpha)
                np.testing.assert_allclose(
                    got, expected, rtol=rtol, atol=1e-13, err_msg=f"{t}, {alpha}"
                )
            for alpha in (0.0, 0.5, 1.0):
                got = infolib.f_divergence(p, q, kind="amari_alpha", alpha=alpha)
                np.testing.assert_allclose(got, exact_amari(p, q, alpha), rtol=rtol)
            jeffreys = infolib.f_divergence(p, q, kind="jeffreys")
            np.testing.assert_allclose(jeffreys, 2 * (1 - 2 * t) * np.log((1 - t) / t), rtol=rtol)
            hellinger = infolib.f_divergence(p, q, kind="hellinger")
            np.testing.assert_allclose(hellinger, 1 - 2 * np.sqrt(t * (1 - t)), rtol=rtol)


def test_logits_forms_keep_probabilities_that_underflow():
    """softmax([0, −200]) has p₂ = e^−200 (0 in float32); its log is exact from the logits."""
    a = np.asarray([0.0, -200.0], np.float32)
    b = np.asarray([0.0, 0.0], np.float32)
    got = infolib.renyi_entropy_with_logits(a, 0.5)
    np.testing.assert_allclose(got, 2 * np.log1p(np.exp(-100.0)), rtol=1e-6, atol=1e-30)
    got = infolib.renyi_divergence_with_logits(b, a, INF)  # log max p/q = log(½ / e^−200)
    np.testing.assert_allclose(got, 200 - np.log(2), rtol=1e-6)


def test_continuous_through_order_one_in_value_and_gradient(rng):
    """Values within 1e−8 of α = 1 match the exact references, and the derivatives in α and p
    are finite and continuous; dH_α/dα at 1 is −½ Var_p(log p)."""
    with jax.enable_x64(True):
        p, q = _simplex(rng, 5), _simplex(rng, 5)
        orders = 1 + np.asarray([-1e-6, -1e-12, 0.0, 1e-12, 1e-6])
        dh = jax.vmap(jax.grad(lambda a: infolib.renyi_entropy(p, a)))(orders)
        variance = np.sum(p * (np.log(p) - np.sum(p * np.log(p))) ** 2)
        np.testing.assert_allclose(dh, -variance / 2, rtol=1e-5)
        dd = jax.vmap(jax.grad(lambda a: infolib.renyi_divergence(p, q, a)))(orders)
        r = np.log(p / q)
        np.testing.assert_allclose(dd, np.sum(p * (r - np.sum(p * r)) ** 2) / 2, rtol=1e-5)
        grads = jax.vmap(jax.grad(infolib.renyi_entropy), in_axes=(None, 0))(p, orders)
        np.testing.assert_allclose(grads, np.broadcast_to(grads[2], grads.shape), rtol=1e-5)
        # Along the simplex (the component the formula defines at α = 1): Shannon's gradient.
        tangential = grads[2] - grads[2].mean()
        shannon = -(np.log(p) + 1)
        np.testing.assert_allclose(tangential, shannon - shannon.mean(), rtol=1e-12)


def test_zero_probabilities_give_no_nan_value_or_gradient(rng):
    p = np.asarray([0.0, 0.3, 0.7], np.float32)
    q = np.asarray([0.2, 0.0, 0.8], np.float32)
    for alpha in (0.0, 0.5, 1.0, 2.0, INF):
        for fn, args in [
            (infolib.renyi_entropy, (p,)),
            (infolib.tsallis_entropy, (p,)),
            (infolib.renyi_divergence, (p, p[::-1].copy())),
            (infolib.renyi_entropy_with_logits, (np.log(p, where=p > 0, out=np.full(3, -INF)),)),
        ]:
            value = fn(*args, alpha)
            grads = jax.grad(lambda *a, fn=fn: fn(*a), argnums=tuple(range(len(args) + 1)))(
                *args, jnp.float32(alpha)
            )
            assert not np.isnan(value), (fn.__name__, alpha)
            for g in grads:
                assert not np.any(np.isnan(g)), (fn.__name__, alpha, grads)
    # q = 0 < p: +inf for α ≥ 1, finite below.
    assert infolib.renyi_divergence(p, q, 1.0) == INF
    assert infolib.renyi_divergence(p, q, 2.0) == INF
    assert np.isfinite(infolib.renyi_divergence(p, q, 0.5))
    for kind in ("chi2", "jeffreys"):
        assert infolib.f_divergence(p, q, kind=kind) == INF
    for kind in ("hellinger", "total_variation", "jensen_shannon"):
        assert np.isfinite(infolib.f_divergence(p, q, kind=kind))
        g = jax.grad(lambda q, kind=kind: infolib.f_divergence(p, q, kind=kind))(p)
        assert not np.any(np.isnan(g))


def test_a_nan_order_or_a_negative_order_gives_nan(rng):
    p, q = _simplex(rng, 4).astype(np.float32), _simplex(rng, 4).astype(np.float32)
    for alpha in (np.nan, -0.5):
        assert np.isnan(infolib.renyi_entropy(p, alpha))
        assert np.isnan(infolib.tsallis_entropy(p, alpha))
        assert np.isnan(infolib.renyi_divergence(p, q, alpha))
    assert np.isnan(infolib.f_divergence(p, q, kind="amari_alpha", alpha=np.nan))


# --- gradients, batches and arguments --------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "alpha"),
    [
        ("hellinger", None),
        ("total_variation", None),
        ("chi2", None),
        ("jeffreys", None),
        ("jensen_shannon", None),
        ("amari_alpha", 0.3),
        ("amari_alpha", 2.0),
    ],
)
def test_f_divergence_check_grads(rng, kind, alpha):
    with jax.enable_x64(True):
        p, q = _interior_simplex(rng, 5), _interior_simplex(rng, 5)
        fn = functools.partial(infolib.f_divergence, kind=kind, alpha=alpha)
        check_grads(jax.jit(fn), (p, q), order=1, modes=("fwd", "rev"))


@pytest.mark.parametrize("alpha", [0.2, 0.9, 1.0, 1.2, 3.0])
def test_check_grads_in_p_q_and_the_order(rng, alpha):
    with jax.enable_x64(True):
        p, q = _interior_simplex(rng, 5), _interior_simplex(rng, 5)
        a = np.float64(alpha)
        check_grads(jax.jit(infolib.renyi_entropy), (p, a), order=1, modes=("fwd", "rev"))
        check_grads(jax.jit(infolib.tsallis_entropy), (p, a), order=1, modes=("fwd", "rev"))
        check_grads(jax.jit(infolib.renyi_divergence), (p, q, a), order=1, modes=("fwd", "rev"))


def test_orders_broadcast_over_the_batch(rng):
    p = np.stack([_simplex(rng, 4) for _ in range(3)]).astype(np.float32)
    alphas = np.asarray([0.5, 1.0, 2.0], np.float32)
    got = infolib.renyi_entropy(p, alphas)
    expected = [infolib.renyi_entropy(p[i], alphas[i]) for i in range(3)]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        infolib.renyi_entropy(p, alphas[:2])


def test_f_divergence_argument_errors():
    p = np.asarray([0.5, 0.5], np.float32)
    with pytest.raises(ValueError, match="kind must be one of"):
        infolib.f_divergence(p, p, kind="kl")
    with pytest.raises(ValueError, match="alpha is required"):
        infolib.f_divergence(p, p, kind="amari_alpha")
    with pytest.raises(ValueError, match="alpha is required"):
        infolib.f_divergence(p, p, kind="hellinger", alpha=0.5)
    with pytest.raises(ValueError, match="base must be None"):
        infolib.f_divergence(p, p, kind="total_variation", base=2)
    np.testing.assert_allclose(
        infolib.f_divergence(p, p[::-1], kind="jeffreys", base=2), 0.0, atol=1e-7
    )
