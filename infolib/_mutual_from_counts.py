"""Mutual information and conditional mutual information estimated from counts."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from infolib import _base, _estimators

# name -> entropy estimate in nats, (counts, axis) -> array; the one list of methods.
_METHODS: Mapping[str, Callable[[jax.Array, int], jax.Array]] = {
    "plugin": lambda c, axis: _estimators._plugin_nats(c, axis)[0],
    "miller_madow": lambda c, axis: _estimators._miller_madow_nats(c, axis),
    "jackknife": _estimators._jackknife_nats,
    "grassberger": _estimators._grassberger_nats,
    "chao_shen": _estimators._chao_shen_nats,
    "zhang": _estimators._zhang_nats,
    "james_stein": _estimators._james_stein_nats,
}


def _method(method: str) -> Callable[[jax.Array, int], jax.Array]:
    try:
        return _METHODS[method]
    except KeyError:
        raise ValueError(f"method must be one of {sorted(_METHODS)}, got {method!r}") from None


def _entropy_of(counts: jax.Array, n_axes: int, method: str) -> jax.Array:
    """The estimate over the last ``n_axes`` axes, flattened into one bin axis."""
    flat = counts.reshape(*counts.shape[: counts.ndim - n_axes], -1)
    return _METHODS[method](flat, -1)


@functools.partial(jax.jit, static_argnums=(1,))
def _mi_nats(joint: jax.Array, method: str) -> jax.Array:
    hx = _entropy_of(jnp.sum(joint, axis=-1), 1, method)
    hy = _entropy_of(jnp.sum(joint, axis=-2), 1, method)
    return hx + hy - _entropy_of(joint, 2, method)


@functools.partial(jax.jit, static_argnums=(1,))
def _cmi_nats(counts: jax.Array, method: str) -> jax.Array:
    hxz = _entropy_of(jnp.sum(counts, axis=-2), 2, method)
    hyz = _entropy_of(jnp.sum(counts, axis=-3), 2, method)
    hz = _entropy_of(jnp.sum(counts, axis=(-3, -2)), 1, method)
    return hxz + hyz - _entropy_of(counts, 3, method) - hz


class PermutationTest(NamedTuple):
    """An estimate with its permutation null.

    ``value``: the estimate; ``corrected``: value minus the null mean, floored at 0;
    ``p_value``: (1 + #{null ≥ value}) / (1 + null_samples); ``null_mean``: the mean of the
    estimates on the permuted data.
    """

    value: jax.Array
    corrected: jax.Array
    p_value: jax.Array
    null_mean: jax.Array


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _null(joint, key, method, null_samples, n):
    nx, ny = joint.shape
    cells = jnp.arange(nx * ny)
    # The n observations as (x, y) pairs, in cell order: cell j holds joint.flat[j] of them.
    pair = jnp.repeat(cells, joint.reshape(-1).astype(jnp.int32), total_repeat_length=n)
    x, y = pair // ny, pair % ny

    def one(key):
        table = jnp.zeros((nx, ny), joint.dtype).at[x, jax.random.permutation(key, y)].add(1)
        return _mi_nats(table, method)

    return jax.vmap(one)(jax.random.split(key, null_samples))


def mutual_information_from_counts(
    joint_counts: ArrayLike,
    *,
    method: str = "plugin",
    base: float | None = None,
    null_samples: int | None = None,
    key: jax.Array | None = None,
) -> jax.Array | PermutationTest:
    r"""Mutual information estimated from a contingency table of counts.

    .. math::

        \hat I(X; Y) = \hat H(X) + \hat H(Y) - \hat H(X, Y),

    with one entropy estimator for all three terms, applied to the row sums, the column
    sums and the table flattened: ``method`` is one of ``"plugin"``, ``"miller_madow"``,
    ``"jackknife"``, ``"grassberger"``, ``"chao_shen"``, ``"zhang"`` or ``"james_stein"``
    (see the ``*_entropy`` functions of the same names). For every method but
    ``"james_stein"`` empty cells change nothing, so a diagonal table gives
    :math:`\hat I(X; X) = \hat H(X)` exactly; James–Stein shrinks towards the uniform
    distribution on all cells, so its three terms use supports of different sizes. A
    bias-corrected estimate can be negative; the permutation null's ``corrected`` is not.

    With ``null_samples`` = K and a PRNG ``key``, Y is permuted against X K times (the
    table with the same margins, under independence) and the estimate recomputed each
    time. This needs a 2-d table of whole counts whose total is concrete (not traced).

    Args:
        joint_counts: counts with X along axis −2 and Y along axis −1; leading axes are
            batch axes (without a null).
        method: the entropy estimator, by name.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.
        null_samples: the number of permutations, or None for no null.
        key: a ``jax.random`` key, required with ``null_samples``.

    Returns:
        The estimate, with the last two axes reduced; with ``null_samples``, a
        :class:`PermutationTest` ``(value, corrected, p_value, null_mean)`` of scalars.

    Example:
        >>> import jax
        >>> import infolib
        >>> infolib.mutual_information_from_counts([[5, 0], [0, 5]], base=2)
        Array(1., dtype=float32)
        >>> test = infolib.mutual_information_from_counts(
        ...     [[5, 0], [0, 5]], null_samples=99, key=jax.random.key(0))
        >>> bool(test.p_value < 0.05)
        True
    """
    _method(method)
    (joint,), out_dtype = _base.as_float(joint_counts)
    _base.check_joint(joint, "joint_counts")
    value = _mi_nats(joint, method)
    if null_samples is None:
        return _base.finish(value, base, out_dtype)
    if key is None:
        raise ValueError("null_samples needs an explicit PRNG key: key=jax.random.key(seed)")
    if joint.ndim != 2:
        raise ValueError(f"the permutation null needs a 2-d table, got shape {joint.shape}")
    n = round(float(jnp.sum(joint)))  # a concrete total: the size of the permutation
    null = _null(joint, key, method, int(null_samples), n)
    null_mean = jnp.mean(null)
    p_value = (1 + jnp.sum(null >= value - 1e-12 * jnp.abs(value))) / (1 + null.shape[0])
    corrected = jnp.maximum(value - null_mean, 0)
    return PermutationTest(
        _base.finish(value, base, out_dtype),
        _base.finish(corrected, base, out_dtype),
        p_value.astype(out_dtype),
        _base.finish(null_mean, base, out_dtype),
    )


def conditional_mutual_information_from_counts(
    counts_xyz: ArrayLike, *, method: str = "plugin", base: float | None = None
) -> jax.Array:
    r"""Conditional mutual information I(X; Y | Z) estimated from a table of counts.

    .. math::

        \hat I(X; Y \mid Z) = \hat H(X, Z) + \hat H(Y, Z) - \hat H(X, Y, Z) - \hat H(Z),

    with one entropy estimator (``method``, as in :func:`mutual_information_from_counts`)
    for the four terms. With a single Z value it is the mutual information of the table.

    Args:
        counts_xyz: counts with X, Y and Z along the last three axes; leading axes are
            batch axes.
        method: the entropy estimator, by name.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The estimate, with the last three axes reduced.

    Example:
        >>> import infolib
        >>> # X = Y given each z, independent of Z: I(X; Y | Z) = H(X | Z) = 1 bit.
        >>> counts = [[[3, 3], [0, 0]], [[0, 0], [3, 3]]]
        >>> infolib.conditional_mutual_information_from_counts(counts, base=2)
        Array(1., dtype=float32)
    """
    _method(method)
    (counts,), out_dtype = _base.as_float(counts_xyz)
    if counts.ndim < 3:
        raise ValueError(
            "counts_xyz must have at least three dimensions (X, Y, Z along the last three "
            f"axes), got shape {tuple(counts.shape)}"
        )
    return _base.finish(_cmi_nats(counts, method), base, out_dtype)
