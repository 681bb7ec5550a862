"""Shared machinery: dtype policy, argument checks, units, and boundary-safe primitives.

The primitives here carry hand-written derivatives (``jax.custom_jvp``) so that the
conventions 0·log 0 = 0 and 0·(−∞) = 0 hold in the gradient as well as in the value:
the derivative is then ±inf where the true one is infinite, and never NaN where the true
one is finite.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero
from jax.typing import ArrayLike

__all__: list[str] = []


# ---------------------------------------------------------------------------
# Dtypes
# ---------------------------------------------------------------------------


def as_float(*xs: ArrayLike) -> tuple[tuple[jax.Array, ...], jnp.dtype]:
    """Converts the inputs to a common floating dtype for computation.

    Integer and boolean inputs are promoted to JAX's default float. Half-precision
    inputs (bfloat16, float16) are computed in float32; the returned ``out_dtype`` is the
    dtype the caller should cast the result back to.

    Returns:
        The converted arrays, all of the compute dtype, and the output dtype.
    """
    arrays = tuple(jnp.asarray(x) for x in xs)
    out_dtype = jnp.result_type(*arrays)
    if not jnp.issubdtype(out_dtype, jnp.floating):
        out_dtype = jnp.result_type(float)
    compute_dtype = jnp.float32 if jnp.finfo(out_dtype).bits < 32 else out_dtype
    return tuple(a.astype(compute_dtype) for a in arrays), out_dtype


# ---------------------------------------------------------------------------
# Argument checks (trace time)
# ---------------------------------------------------------------------------


def check_same_shape(**arrays: jax.Array) -> None:
    """Raises ``ValueError`` unless every named array has the same shape."""
    shapes = {name: tuple(a.shape) for name, a in arrays.items()}
    if len(set(shapes.values())) > 1:
        listed = " and ".join(f"{name} has shape {shape}" for name, shape in shapes.items())
        raise ValueError(f"shapes must match: {listed}")


def broadcast_shapes(**arrays: jax.Array) -> tuple[int, ...]:
    """Returns the broadcast shape, or raises ``ValueError`` naming every shape."""
    try:
        return tuple(np.broadcast_shapes(*(a.shape for a in arrays.values())))
    except ValueError:
        listed = ", ".join(f"{name} {tuple(a.shape)}" for name, a in arrays.items())
        raise ValueError(f"shapes do not broadcast: {listed}") from None


def normalize_axis(axis: int, ndim: int, name: str = "axis") -> int:
    """Returns ``axis`` as a non-negative index, or raises ``ValueError``."""
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"{name} must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of range for an array with {ndim} dimension(s)")
    return int(axis) % ndim


def check_event_axis(x: jax.Array, axis: int, name: str) -> int:
    """Checks that ``x`` has an event axis ``axis`` and returns it normalised."""
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (the event axis), got a scalar")
    return normalize_axis(axis, x.ndim)


def check_classes(logits: jax.Array, axis: int, name: str) -> int:
    """Checks that ``logits`` has a nonempty class axis ``axis`` and returns it normalised.

    A softmax over no classes is undefined; this is known from the shape, so it is a
    ``ValueError`` at trace time, like every other shape error.
    """
    axis = check_event_axis(logits, axis, name)
    if logits.shape[axis] == 0:
        raise ValueError(
            f"{name} has no classes along axis {axis} (shape {tuple(logits.shape)}): a "
            "softmax needs at least one"
        )
    return axis


def check_joint(pxy: jax.Array, name: str = "pxy") -> None:
    """Checks that a joint distribution has at least two axes."""
    if pxy.ndim < 2:
        raise ValueError(
            f"{name} must have at least two dimensions (X along axis -2, Y along axis -1), "
            f"got shape {tuple(pxy.shape)}"
        )


# ---------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------


def log_base(base: float | None) -> float | None:
    """Validates ``base`` and returns its natural logarithm (None for nats)."""
    if base is None:
        return None
    if isinstance(base, jax.core.Tracer):
        raise TypeError(
            "base must be a concrete number (a Python float or int), not a traced value"
        )
    value = float(base)
    if not value > 1.0 or math.isinf(value):
        raise ValueError(
            f"base must be a finite number > 1 (2 for bits, None for nats), got {base!r}"
        )
    return math.log(value)


@jax.custom_jvp
def _positive_zero(x: jax.Array) -> jax.Array:
    """Identity, except that −0 becomes +0 (a loss of −0.0 reads badly); derivative 1."""
    return jnp.where(x == 0, jnp.zeros_like(x), x)


_positive_zero.defjvp(lambda primals, tangents: (_positive_zero(*primals), tangents[0]))


def finish(x: jax.Array, base: float | None, out_dtype: jnp.dtype) -> jax.Array:
    """Converts nats to ``base``, casts to the output dtype, and writes −0 as +0.

    Over the flattened array (see :func:`flat`): XLA fuses these elementwise operations
    with the kernel that computed ``x``, in the layout they are written in.
    """
    ln_base = log_base(base)

    def convert(x: jax.Array) -> jax.Array:
        if ln_base is not None:
            x = x / ln_base
        return _positive_zero(x.astype(out_dtype))

    return flat(convert, x)


# ---------------------------------------------------------------------------
# Exact logarithms from the bits (XLA:CPU reads subnormal inputs as 0)
# ---------------------------------------------------------------------------

# XLA on the CPU runs with denormals-are-zero and flush-to-zero: a subnormal input (below
# 2.2e-308 in float64, 1.2e-38 in float32) reads as 0 in every arithmetic operation and
# comparison, so jnp.log(1e-40) is −inf in float32 and 1e-40 == 0 is True. Bit operations
# and integer arithmetic are exact, so the functions below take a probability apart by its
# bits: a subnormal x is m·2^−S exactly, with m = its mantissa bits as an integer (a normal
# float) and S = 1074 (float64) or 149 (float32).


class _Layout(NamedTuple):
    int_dtype: type
    mantissa_bits: int  # 52 or 23
    bias: int  # 1023 or 127

    @property
    def subnormal_shift(self) -> int:
        """S with subnormal x = (mantissa bits as an integer)·2^−S: 1074 or 149."""
        return self.bias - 1 + self.mantissa_bits


_LAYOUTS = {
    np.dtype(np.float64): _Layout(jnp.int64, 52, 1023),
    np.dtype(np.float32): _Layout(jnp.int32, 23, 127),
}
_LN2 = math.log(2.0)


def _layout(x: jax.Array) -> _Layout:
    try:
        return _LAYOUTS[np.dtype(x.dtype)]
    except KeyError:
        raise TypeError(f"expected a float32 or float64 array, got {x.dtype}") from None


def _scale_by_shift(x: jax.Array, sign: jax.Array, layout: _Layout) -> jax.Array:
    """x·2^(sign·S) for sign in {−1, 0, 1}, exactly unless the result over- or underflows.

    2^±S is not a normal float, so the scaling is two multiplications by normal powers of
    two, built from their bits. They depend on the data, so that XLA cannot fold them into
    one constant (which would be subnormal, read as 0, or overflow).
    """
    s = layout.subnormal_shift
    sign = sign.astype(layout.int_dtype)
    first, second = sign * (s // 2), sign * (s - s // 2)
    power = [
        jax.lax.bitcast_convert_type((k + layout.bias) << layout.mantissa_bits, x.dtype)
        for k in (first, second)
    ]
    return x * power[0] * power[1]


class Parts(NamedTuple):
    """A float taken apart by its bits, so that subnormal values are not read as 0.

    ``zero``: x is ±0 (a subnormal is not). ``subnormal``: 0 < |x| < the smallest normal.
    ``negative``: the sign bit is set and x is not ±0. ``m``: x itself where x is normal,
    x·2^S where x is subnormal (exact, a normal float with the sign of x), so that
    x = m·2^(−S·subnormal) always.
    """

    x: jax.Array
    zero: jax.Array
    subnormal: jax.Array
    negative: jax.Array
    m: jax.Array
    layout: _Layout

    def times(self, v: jax.Array) -> jax.Array:
        """x·v, exact where x is subnormal (scaled back in two exact steps)."""
        return _scale_by_shift(self.m * v, -self.subnormal.astype(jnp.int32), self.layout)

    def log(self) -> jax.Array:
        """log x, also where x is subnormal: log m − S·log 2 (−inf at 0, NaN below 0)."""
        offset = jnp.where(self.subnormal, -self.layout.subnormal_shift * _LN2, 0.0)
        return jnp.log(self.m) + offset.astype(self.m.dtype)

    def frexp(self) -> tuple[jax.Array, jax.Array]:
        """(f, e) with |x| = f·2^e exactly, f in [1, 2), for finite nonzero x (e an integer).

        For x = ±0 the result is meaningless; callers select those entries away.
        """
        layout = self.layout
        bits = jax.lax.bitcast_convert_type(jnp.abs(self.m), layout.int_dtype)
        e = (bits >> layout.mantissa_bits) - layout.bias
        e = e - jnp.where(self.subnormal, layout.subnormal_shift, 0).astype(e.dtype)
        mantissa = bits & ((1 << layout.mantissa_bits) - 1)
        f = jax.lax.bitcast_convert_type(
            mantissa | (layout.bias << layout.mantissa_bits), self.m.dtype
        )
        return f, e


def parts(x: jax.Array) -> Parts:
    """Takes ``x`` (float32 or float64) apart by its bits; see :class:`Parts`."""
    layout = _layout(x)
    bits = jax.lax.bitcast_convert_type(x, layout.int_dtype)
    magnitude = bits & jnp.iinfo(layout.int_dtype).max
    zero = magnitude == 0
    subnormal = ~zero & (magnitude < (1 << layout.mantissa_bits))
    negative = ~zero & (bits < 0)
    scaled = magnitude.astype(x.dtype)  # exact: fewer bits than the mantissa
    m = jnp.where(subnormal, jnp.where(negative, -scaled, scaled), x)
    return Parts(x, zero, subnormal, negative, m, layout)


def log(x: jax.Array) -> jax.Array:
    """log x, exact also for subnormal x (which ``jnp.log`` reads as 0 on XLA:CPU)."""
    return parts(x).log()


def ratio(a: Parts, b: Parts) -> jax.Array:
    """a/b, also where a or b is subnormal (0 where a = 0 < b, ±inf where b = 0 < a)."""
    shift = b.subnormal.astype(jnp.int32) - a.subnormal.astype(jnp.int32)
    return _scale_by_shift(a.m / b.m, shift, a.layout)


def log_ratio(a: Parts, b: Parts) -> jax.Array:
    """log(a/b) for finite a, b > 0 (subnormal included), accurate also for a ≈ b.

    With a = f·2^e and b = g·2^d (f, g in [1, 2)), see :func:`log_ratio_of_mantissas`.
    Zeros, infinities, NaN and negative entries give meaningless results: callers select
    them away.
    """
    return log_ratio_of_mantissas(*a.frexp(), *b.frexp(), a.layout)


def log_ratio_of_mantissas(
    f: jax.Array, e: jax.Array, g: jax.Array, d: jax.Array, layout: _Layout
) -> jax.Array:
    """log(f·2^e / (g·2^d)) for f, g in [1, 2) and integer exponents e, d.

    With n = e − d and k = n clipped to [−1, 1], the log is log(f·2^k / g) + (n − k)·log 2.
    The first term is ±log1p(|f·2^k − g| / min(f·2^k, g)): where the ratio is within
    [½, 2], f·2^k − g is exact (Sterbenz's lemma), so the log keeps its relative precision
    as the ratio → 1 (as scipy's ``rel_entr``); log1p's argument lies in [0, 3), where
    XLA's log1p is accurate; and the two terms have the same sign, so nothing cancels.
    """
    n = e - d
    k = jnp.clip(n, -1, 1)
    shifted = jax.lax.bitcast_convert_type(
        jax.lax.bitcast_convert_type(f, layout.int_dtype)
        + (k.astype(layout.int_dtype) << layout.mantissa_bits),
        f.dtype,
    )
    gap = shifted - g
    log_mantissas = jnp.copysign(jnp.log1p(jnp.abs(gap) / jnp.minimum(shifted, g)), gap)
    return log_mantissas + (n - k).astype(f.dtype) * _LN2


# ---------------------------------------------------------------------------
# Boundary-safe primitives
# ---------------------------------------------------------------------------


def tangent(out: jax.Array, *terms: tuple[object, object]) -> jax.Array:
    """Sums ``coefficient * tangent`` over the non-zero tangents."""
    total = jnp.zeros_like(out)
    for tangent, coefficient in terms:
        if not isinstance(tangent, SymbolicZero):
            total = total + coefficient(tangent)
    return total


@jax.custom_jvp
def xlogy(x: jax.Array, y: jax.Array) -> jax.Array:
    """x·log y with 0·log y = 0 for every y ≥ 0 (also y = 0 and y = +inf); NaN in, NaN out.

    As ``scipy.special.xlogy``: the term is 0 where x = 0 unless y is NaN. Exact also
    for subnormal x and y (see :class:`Parts`). Derivatives: ∂/∂x = log y (−inf at
    y = 0); ∂/∂y = x/y, which is 0 where x = 0.
    """
    px = parts(x)
    value = px.times(log(y))
    return jnp.where(px.zero & ~jnp.isnan(y), 0, value)


def _xlogy_jvp(primals, tangents):
    x, y = primals
    dx, dy = tangents
    out = xlogy(x, y)
    px, py = parts(x), parts(y)
    y_over = jnp.where(px.zero, 0, ratio(px, py))
    log_y = py.log()
    return out, tangent(out, (dx, lambda t: t * log_y), (dy, lambda t: t * y_over))


xlogy.defjvp(_xlogy_jvp, symbolic_zeros=True)


@jax.custom_jvp
def xmul(x: jax.Array, a: jax.Array) -> jax.Array:
    """x·a with 0·a = 0 for a = ±inf (a is a log-probability); NaN in, NaN out.

    Derivatives: ∂/∂x = a; ∂/∂a = x, taken as exactly 0 where x = 0.
    """
    zero = (x == 0) & ~jnp.isnan(a)
    return jnp.where(zero, 0, x * jnp.where(zero, 0, a))


def _xmul_jvp(primals, tangents):
    x, a = primals
    dx, da = tangents
    out = xmul(x, a)
    zero = x == 0
    return out, tangent(out, (dx, lambda t: t * a), (da, lambda t: jnp.where(zero, 0, t * x)))


xmul.defjvp(_xmul_jvp, symbolic_zeros=True)


def _rel_entr_pieces(p: jax.Array, q: jax.Array) -> tuple[Parts, Parts, jax.Array, jax.Array]:
    """The parts of p and q, log(p/q) (±inf at the edges), and where the term is NaN.

    NaN where p or q is NaN, where p ≠ 0 and q ≠ 0 have opposite signs (the log of a
    negative ratio), where p < 0 = q, and where p and q are both infinite.
    """
    pp, pq = parts(p), parts(q)
    log_pq = log_ratio(pp, pq)
    p_inf, q_inf = jnp.isinf(p), jnp.isinf(q)
    log_pq = jnp.where(pq.zero | p_inf, jnp.inf, jnp.where(q_inf, -jnp.inf, log_pq))
    opposite = ~pp.zero & ~pq.zero & (pp.negative != pq.negative)
    invalid = jnp.isnan(p) | jnp.isnan(q) | opposite | (pp.negative & pq.zero) | (p_inf & q_inf)
    return pp, pq, log_pq, invalid


@jax.custom_jvp
def rel_entr(p: jax.Array, q: jax.Array) -> jax.Array:
    """p·log(p/q): 0 where p = 0 (and q is not NaN), +inf where q = 0 < p; NaN in, NaN out.

    log(p/q) comes from :func:`log_ratio`: exact for subnormal p and q, and accurate to a
    few ulps as p → q, where p·(log p − log q) loses all its digits.

    Derivatives: ∂/∂p = log(p/q) + 1, which is −inf at p = 0 < q and +inf at p = q = 0
    (the one-sided limit of (p·log(p/0)) as p grows from 0); ∂/∂q = −p/q, 0 where p = 0.
    """
    pp, _, log_pq, invalid = _rel_entr_pieces(p, q)
    value = jnp.where(pp.zero, 0, pp.times(log_pq))
    return jnp.where(invalid, jnp.nan, value)


def rel_entr_partials(p: jax.Array, q: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(∂/∂p, ∂/∂q) of :func:`rel_entr`, elementwise (see there)."""
    pp, pq, log_pq, invalid = _rel_entr_pieces(p, q)
    # log p − log q, with log(0) − log(0) read as +inf: moving p off 0 where q = 0 costs +inf.
    d_p = jnp.where(pp.zero & ~pq.zero, -jnp.inf, log_pq) + 1
    d_q = jnp.where(pp.zero, 0, -ratio(pp, pq))
    return jnp.where(invalid, jnp.nan, d_p), jnp.where(invalid, jnp.nan, d_q)


def _rel_entr_jvp(primals, tangents):
    p, q = primals
    dp, dq = tangents
    out = rel_entr(p, q)
    d_p, d_q = rel_entr_partials(p, q)
    return out, tangent(out, (dp, lambda t: t * d_p), (dq, lambda t: t * d_q))


rel_entr.defjvp(_rel_entr_jvp, symbolic_zeros=True)


def fast_rel_entr(p: jax.Array, q: jax.Array, *, zeros: bool) -> jax.Array:
    """p·log(p/q) from YNNPACK's operations only: p·sign(p − q)·log1p(|p − q| / min(p, q)).

    This is :func:`log_ratio`'s formula without its exponent split: exact (p − q by
    Sterbenz as p → q) wherever p and q are normal, of one sign, and their ratio does not
    overflow; every other entry gives ±inf or NaN, so that :func:`guarded` falls back to
    :func:`rel_entr`. With ``zeros``, a p of 0 gives 0 (min(p, q) is shifted by 1 where
    p = 0): right unless p is subnormal (read as 0), which the caller must rule out.
    """
    gap = p - q
    smaller = jnp.minimum(p, q)
    if zeros:
        smaller = smaller + (1 - indicator(p))
    return p * (jnp.sign(gap) * jnp.log1p(jnp.abs(gap) / smaller))


def entropy_terms_from_log(log_p: jax.Array) -> jax.Array:
    """−p·log p from log p, with the double-``where`` that keeps masked gradients at 0."""
    masked = log_p == -jnp.inf  # NaN is not masked: it propagates
    safe_log_p = jnp.where(masked, 0, log_p)
    return jnp.where(masked, 0, -jnp.exp(safe_log_p) * safe_log_p)


# ---------------------------------------------------------------------------
# Speed on XLA:CPU: fused fast paths, guarded by an exact path
# ---------------------------------------------------------------------------

# XLA:CPU hands a reduction and the elementwise work that feeds it to YNNPACK as one fused
# kernel only if every operation in it is one YNNPACK has (arithmetic, min/max, abs, sign,
# exp, expm1, log, log1p, ...): a select, a comparison or an integer operation splits the
# program, and the elementwise result is written out as a whole array before it is reduced
# (at 1024 × 32768 float32 that write, into fresh memory, costs more than the arithmetic).
# The boundary cases (0·log 0, masked classes, subnormal inputs, NaN) need selects and bit
# operations. So the kernels compute the value twice over, at run time only as needed: a
# fast form, select-free, which is exact wherever its result is finite, and an exact form
# that :func:`guarded` runs only when some entry of the fast result is not finite.


def guarded(fast: jax.Array, exact: Callable[[], jax.Array], ok: jax.Array | None = None):
    """``fast`` if all of it is finite (and ``ok``), else ``exact()``, chosen by ``lax.cond``.

    ``exact`` runs only when it is needed. The test is on the sum of ``fast``: one number,
    NaN or ±inf if any entry is (an overflowing sum of finite entries only costs the exact
    path). Under ``vmap`` with a batched predicate the cond becomes a select and both run;
    the result is the same.
    """
    # The barrier keeps XLA from rewriting the sum of row sums as a second reduction of the
    # elementwise terms, which would split them out of the fused kernel.
    good = jnp.isfinite(jnp.sum(jax.lax.optimization_barrier(fast)))
    if ok is not None:
        good = good & ok
    return jax.lax.cond(good, lambda: fast, exact)


def any_subnormal(x: jax.Array) -> jax.Array:
    """Whether some entry of ``x`` is subnormal (by its bits: arithmetic reads it as 0)."""
    layout = _layout(x)
    bits = jax.lax.bitcast_convert_type(x.reshape(-1), layout.int_dtype)
    magnitude = bits & jnp.iinfo(layout.int_dtype).max
    return jnp.any((magnitude != 0) & (magnitude < (1 << layout.mantissa_bits)))


def indicator(x: jax.Array) -> jax.Array:
    """1 where x ≠ 0, 0 where x = 0 (NaN stays NaN), select-free: sign(x)²."""
    sign = jnp.sign(x)
    return sign * sign


def flat(fn: Callable[..., jax.Array], *arrays: jax.Array) -> jax.Array:
    """``fn`` applied to same-shaped arrays flattened to one axis, and reshaped back.

    XLA:CPU vectorises a loop fusion along the minor axis only: over [65536, 10] that is
    10 lanes, and a fusion with integer operations and selects runs about 10× slower than
    over the same data as one axis. An elementwise function loses nothing by it.
    """
    shape = arrays[0].shape
    return fn(*(a.reshape(-1) for a in arrays)).reshape(shape)


# ---------------------------------------------------------------------------
# Log-softmax without materialising it
# ---------------------------------------------------------------------------


def log_normalizer(logits: jax.Array, axis: int) -> tuple[jax.Array, jax.Array]:
    """The maximum m of ``logits`` along ``axis`` and log Σ exp(z − m), both keeping ``axis``.

    logsumexp(z) = m + log Σ exp(z − m) and log softmax(z) = (z − m) − log Σ exp(z − m).
    A row whose logits are all −inf gives m = −inf and NaN downstream, as
    ``jax.nn.log_softmax`` does. Callers define their derivatives by hand (``custom_jvp``),
    so no ``stop_gradient`` is needed on m.
    """
    m = jnp.max(logits, axis=axis, keepdims=True)
    return m, jnp.log(jnp.sum(jnp.exp(logits - m), axis=axis, keepdims=True))


class Exponentials(NamedTuple):
    """A softmax's pieces along an axis (reduced, not kept): ``e`` = exp(z − m), ``s`` = Σe,
    ``log_z`` = log s + m = logsumexp(z), with m the row maximum, 0 where it is not finite."""

    e: jax.Array
    s: jax.Array
    log_z: jax.Array


def exponentials(logits: jax.Array, axis: int) -> Exponentials:
    """exp(z − m), its sum and logsumexp(z) along ``axis``, as ``jax.nn.logsumexp`` has them.

    On XLA:CPU this runs faster than :func:`log_normalizer`'s form at few classes: the select
    on m keeps the maximum and the sum in two kernels (one kernel of both is slower), and
    the reduced shapes ([B] rather than [B, 1]) are faster in the kernels that use them.
    When ``e`` is used by the sum alone, XLA fuses it into the sum; used again (a softmax in
    a derivative), it is written out once, as optax does.
    """
    # stop_gradient: logsumexp does not depend on m, and a derivative taken through this
    # function (not by hand) should not carry the maximum's one-hot.
    m = jax.lax.stop_gradient(jnp.max(logits, axis=axis))
    m = jnp.where(jnp.isfinite(m), m, 0)
    e = jnp.exp(logits - jnp.expand_dims(m, axis))
    s = jnp.sum(e, axis=axis)
    return Exponentials(e, s, jnp.log(s) + m)


def log_softmax_from(logits: jax.Array, m: jax.Array, log_s: jax.Array) -> jax.Array:
    """log softmax(z) = (z − m) − log Σ exp(z − m), from :func:`log_normalizer`'s outputs.

    Written with −m rather than m: XLA:CPU writes a broadcast that feeds two fusions out as
    a whole array, so this use of the row maximum gets a broadcast of its own (of −m) and
    the reduction that consumes it fuses it, instead of one more write and read of an array
    the size of ``logits``. −inf logits (masked classes) give −inf.
    """
    return (logits + (-m)) - log_s
