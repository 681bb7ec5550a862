"""Shared machinery: dtype policy, argument checks, units, and boundary-safe primitives.

The primitives here carry hand-written derivatives (``jax.custom_jvp``) so that the
conventions 0·log 0 = 0 and 0·(−∞) = 0 hold in the gradient as well as in the value:
the derivative is then ±inf where the true one is infinite, and never NaN where the true
one is finite.
"""

from __future__ import annotations

import math
import numbers

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
    compute_dtype = jnp.promote_types(out_dtype, jnp.float32)
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
    """Converts nats to ``base``, casts to the output dtype, and writes −0 as +0."""
    ln_base = log_base(base)
    if ln_base is not None:
        x = x / ln_base
    return _positive_zero(x.astype(out_dtype))


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
    """x·log y with 0·log y = 0 for every y ≥ 0 (also y = 0).

    Derivatives: ∂/∂x = log y (−inf at y = 0); ∂/∂y = x/y, which is 0 where x = 0.
    """
    zero = x == 0
    safe_y = jnp.where(zero, 1, y)
    return jnp.where(zero, 0, x * jnp.log(safe_y))


def _xlogy_jvp(primals, tangents):
    x, y = primals
    dx, dy = tangents
    out = xlogy(x, y)
    zero = x == 0
    y_over = jnp.where(zero, 0, x / jnp.where(zero, 1, y))
    return out, tangent(out, (dx, lambda t: t * jnp.log(y)), (dy, lambda t: t * y_over))


xlogy.defjvp(_xlogy_jvp, symbolic_zeros=True)


@jax.custom_jvp
def xmul(x: jax.Array, a: jax.Array) -> jax.Array:
    """x·a with 0·a = 0 for every a, ±inf included (a is a log-probability).

    Derivatives: ∂/∂x = a; ∂/∂a = x, taken as exactly 0 where x = 0.
    """
    zero = x == 0
    return jnp.where(zero, 0, x * jnp.where(zero, 0, a))


def _xmul_jvp(primals, tangents):
    x, a = primals
    dx, da = tangents
    out = xmul(x, a)
    zero = x == 0
    return out, tangent(out, (dx, lambda t: t * a), (da, lambda t: jnp.where(zero, 0, t * x)))


xmul.defjvp(_xmul_jvp, symbolic_zeros=True)


@jax.custom_jvp
def rel_entr(p: jax.Array, q: jax.Array) -> jax.Array:
    """p·log(p/q): 0 where p = 0, +inf where q = 0 < p.

    Derivatives: ∂/∂p = log(p/q) + 1, which is −inf at p = 0 < q and +inf at p = q = 0
    (the one-sided limit of (p·log(p/0)) as p grows from 0); ∂/∂q = −p/q, 0 where p = 0.
    """
    zero = p == 0
    safe_p = jnp.where(zero, 1, p)
    safe_q = jnp.where(zero, 1, q)
    value = safe_p * (jnp.log(safe_p) - jnp.log(safe_q))
    return jnp.where(zero, 0, value)


def _rel_entr_jvp(primals, tangents):
    p, q = primals
    dp, dq = tangents
    out = rel_entr(p, q)
    zero = p == 0
    # log p − log q, with log(0) − log(0) read as +inf: moving p off 0 where q = 0 costs +inf.
    d_p = jnp.where(zero & (q == 0), jnp.inf, jnp.log(p) - jnp.log(q) + 1)
    d_q = jnp.where(zero, 0, -p / jnp.where(zero, 1, q))
    return out, tangent(out, (dp, lambda t: t * d_p), (dq, lambda t: t * d_q))


rel_entr.defjvp(_rel_entr_jvp, symbolic_zeros=True)


def entropy_terms_from_log(log_p: jax.Array) -> jax.Array:
    """−p·log p from log p, with the double-``where`` that keeps masked gradients at 0."""
    finite = jnp.isfinite(log_p)
    safe_log_p = jnp.where(finite, log_p, 0)
    return jnp.where(finite, -jnp.exp(safe_log_p) * safe_log_p, 0)


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


def log_softmax_from(logits: jax.Array, m: jax.Array, log_s: jax.Array) -> jax.Array:
    """log softmax(z) = (z − m) − log Σ exp(z − m), from :func:`log_normalizer`'s outputs.

    Written with −m rather than m: XLA:CPU writes a broadcast that feeds two fusions out as
    a whole array, so this use of the row maximum gets a broadcast of its own (of −m) and
    the reduction that consumes it fuses it, instead of one more write and read of an array
    the size of ``logits``. −inf logits (masked classes) give −inf.
    """
    return (logits + (-m)) - log_s
