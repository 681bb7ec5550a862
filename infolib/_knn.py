"""Continuous estimators from samples by k nearest neighbours: Kozachenko–Leonenko and KSG.

Exact neighbours, by pairwise max-norm (Chebyshev) distances computed a block of rows at a
time (``jax.lax.map`` with a ``batch_size``), so that memory stays O(block × n) however
many samples there are, and the same program runs batched under ``jax.vmap`` and on an
accelerator. No KD-tree: O(n²·d) work, all of it dense arithmetic.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from infolib import _base

_digamma = jax.scipy.special.digamma
# Rows per block: as many as keep one block's [rows, n] distance arrays near 2²¹ entries.
_BLOCK_ENTRIES = 2**21


def _check_k(k: int) -> int:
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a Python int >= 1, got {k!r}")
    return int(k)


def _check_samples(k: int, **samples: jax.Array) -> tuple[tuple[int, ...], int]:
    """Checks that every sample array is [..., n, d] with one batch shape and n, and n > k.

    Returns the batch shape and n.
    """
    for name, x in samples.items():
        if x.ndim < 2:
            raise ValueError(
                f"{name} must have shape [..., n, d] (samples along axis -2, dimensions along "
                f"axis -1), got shape {tuple(x.shape)}; for scalar samples use x[:, None]"
            )
        if x.shape[-1] == 0:
            raise ValueError(f"{name} has no dimensions (shape {tuple(x.shape)})")
    leading = {name: tuple(x.shape[:-1]) for name, x in samples.items()}
    if len(set(leading.values())) > 1:
        listed = " and ".join(f"{name} has shape {tuple(x.shape)}" for name, x in samples.items())
        raise ValueError(f"batch shapes and sample counts must match: {listed}")
    *batch, n = next(iter(leading.values()))
    if n <= k:
        raise ValueError(f"k={k} nearest neighbours need more than k samples, got n={n}")
    return tuple(batch), n


def _max_norm_row(point: jax.Array, x: jax.Array) -> jax.Array:
    """max_c |x[j, c] − point[c]| for every j: [n], one dimension at a time (no [n, d])."""
    columns = [jnp.abs(x[:, c] - point[c]) for c in range(x.shape[-1])]
    return functools.reduce(jnp.maximum, columns)


def _kth_smallest(d: jax.Array, k: int) -> jax.Array:
    """The k-th smallest entry of the row ``d`` [n], ties counted (as a sort would give it).

    k passes of a minimum and a count over the row, each pass taking the next distinct
    value: XLA:CPU's ``top_k`` is a sort, over 100× slower than these reductions.
    """
    previous = jnp.asarray(-jnp.inf, d.dtype)
    needed = jnp.asarray(k, jnp.int32)  # how many entries are still to be passed
    kth = jnp.asarray(jnp.inf, d.dtype)
    for _ in range(k):
        smallest = jnp.min(jnp.where(d > previous, d, jnp.inf))
        ties = jnp.sum(d == smallest, dtype=jnp.int32)
        reached = (ties >= needed) & (needed > 0)
        kth = jnp.where(reached, smallest, kth)
        needed = jnp.where(reached, 0, needed - ties)
        previous = smallest
    return kth


def _neighbour_counts(
    groups: Sequence[jax.Array], combos: Sequence[tuple[int, ...]], k: int
) -> tuple[jax.Array, jax.Array]:
    """For every sample i: ε_i, the max-norm distance in the joint space of ``groups`` to its
    k-th nearest neighbour (i itself left out), and, per combination of groups, the number
    of other samples strictly closer than ε_i in that subspace.

    Args:
        groups: arrays [n, d_g] of one data set.
        combos: tuples of indices into ``groups``: the subspaces whose counts are wanted.
        k: the neighbour.

    Returns:
        ε [n] and the counts [n, len(combos)] (in the floating dtype; zeros [n] when
        ``combos`` is empty).
    """
    n = groups[0].shape[0]
    dtype = groups[0].dtype
    others = jnp.arange(n)

    def row(i: jax.Array) -> tuple[jax.Array, jax.Array]:
        self_ = others == i
        distances = [_max_norm_row(g[i], g) for g in groups]
        joint = jnp.where(self_, jnp.inf, functools.reduce(jnp.maximum, distances))
        eps = _kth_smallest(joint, k)
        counts = []
        for combo in combos:
            sub = functools.reduce(jnp.maximum, [distances[g] for g in combo])
            inside = (sub < eps) & ~self_
            counts.append(jnp.sum(inside.astype(dtype)))
        return eps, jnp.stack(counts) if counts else jnp.zeros((), dtype)

    block = max(1, min(n, _BLOCK_ENTRIES // n))
    return jax.lax.map(row, others, batch_size=block)


def _per_data_set(fn, batch: tuple[int, ...], *samples: jax.Array) -> jax.Array:
    """``fn`` of one data set ([n, d] arrays) over the flattened batch, reshaped back."""
    flat = [x.reshape(-1, *x.shape[-2:]) for x in samples]
    return jax.vmap(fn)(*flat).reshape(batch)


def _nan_unless_finite(value: jax.Array, *samples: jax.Array) -> jax.Array:
    """NaN where a data set holds a NaN or infinite sample (its distances are meaningless)."""
    finite = functools.reduce(
        jnp.logical_and, [jnp.all(jnp.isfinite(x), axis=(-2, -1)) for x in samples]
    )
    return jnp.where(finite, value, jnp.nan)


# ---------------------------------------------------------------------------
# Kozachenko–Leonenko entropy
# ---------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnums=(1,))
def _kl_entropy_nats(x: jax.Array, k: int) -> jax.Array:
    batch, n = x.shape[:-2], x.shape[-2]
    d = x.shape[-1]

    def one(x: jax.Array) -> jax.Array:
        radius, _ = _neighbour_counts([x], [], k)
        return jnp.mean(jnp.log(radius))

    mean_log_radius = _per_data_set(one, batch, x)
    constant = _digamma(jnp.asarray(n, x.dtype)) - _digamma(jnp.asarray(k, x.dtype))
    h = constant + d * math.log(2.0) + d * mean_log_radius
    return _nan_unless_finite(h, x)


def kl_entropy(x: ArrayLike, k: int = 3, *, base: float | None = None) -> jax.Array:
    r"""Kozachenko–Leonenko differential entropy estimate from samples, in the max-norm.

    .. math::

        \hat H(X) = \psi(n) - \psi(k) + d \log 2 + \frac{d}{n} \sum_{i=1}^n \log r_i,

    where :math:`r_i` is the max-norm (Chebyshev) distance from sample i to its k-th
    nearest neighbour among the others, ψ the digamma function, and :math:`2^d` the volume
    of the max-norm ball of radius 1 (Kozachenko & Leonenko, 1987; Kraskov, Stögbauer &
    Grassberger, 2004, eq. 20; as NPEET's ``entropy``). The neighbours are exact, found by
    pairwise distances a block of rows at a time (memory O(block × n), work O(n² d)).

    Ties and duplicates: the k-th smallest distance is well defined with ties. No noise is
    added (NPEET adds 1e−10 of it): a sample with k or more exact duplicates has
    :math:`r_i = 0`, and the estimate is −inf, the limit of a density concentrated on a
    point. Add jitter to discrete-valued data yourself. A NaN or infinite sample makes the
    estimate NaN. The gradient with respect to the samples is that of the
    :math:`\log r_i` (finite while no :math:`r_i` is 0).

    Args:
        x: samples, shape [..., n, d] (n samples along axis −2 of d dimensions along axis
            −1; leading axes are independent data sets). Scalar samples are ``x[:, None]``.
        k: the neighbour, a Python int with 1 ≤ k < n.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The estimate, of the leading (batch) shape.

    Example:
        >>> import jax
        >>> import infolib
        >>> x = jax.random.normal(jax.random.key(0), (2000, 1))
        >>> h = infolib.kl_entropy(x, k=3)  # N(0, 1): ½ log(2πe) ≈ 1.419 nats
        >>> bool(abs(h - 1.419) < 0.05)
        True
    """
    k = _check_k(k)
    (x,), out_dtype = _base.as_float(x)
    _check_samples(k, x=x)
    return _base.finish(_kl_entropy_nats(x, k), base, out_dtype)


# ---------------------------------------------------------------------------
# Kraskov–Stögbauer–Grassberger mutual information (algorithm 1) and Frenzel–Pompe CMI
# ---------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnums=(2,))
def _ksg_nats(x: jax.Array, y: jax.Array, k: int) -> jax.Array:
    batch, n = x.shape[:-2], x.shape[-2]

    def one(x: jax.Array, y: jax.Array) -> jax.Array:
        _, counts = _neighbour_counts([x, y], [(0,), (1,)], k)
        return jnp.mean(jnp.sum(_digamma(counts + 1), axis=-1))

    mean_psi = _per_data_set(one, batch, x, y)
    constant = _digamma(jnp.asarray(k, x.dtype)) + _digamma(jnp.asarray(n, x.dtype))
    return _nan_unless_finite(constant - mean_psi, x, y)


def ksg_mutual_information(
    x: ArrayLike, y: ArrayLike, k: int = 3, *, base: float | None = None
) -> jax.Array:
    r"""Kraskov–Stögbauer–Grassberger mutual information estimate (algorithm 1, max-norm).

    .. math::

        \hat I(X; Y) = \psi(k) + \psi(n)
        - \frac{1}{n} \sum_{i=1}^n \left[\psi(n_x(i) + 1) + \psi(n_y(i) + 1)\right],

    where :math:`\varepsilon_i = \max(\|x_i - x_j\|_\infty, \|y_i - y_j\|_\infty)` for the
    k-th nearest neighbour j of sample i in the joint space, and :math:`n_x(i)` is the
    number of samples j ≠ i with :math:`\|x_i - x_j\|_\infty < \varepsilon_i` (strictly),
    :math:`n_y(i)` likewise in Y (Kraskov, Stögbauer & Grassberger, 2004, eq. 8; as
    NPEET's ``mi``, which counts within :math:`\varepsilon_i - 10^{-15}`, self included,
    and as scikit-learn's ``mutual_info_regression``). The neighbours are exact, by
    pairwise distances a block of rows at a time.

    Ties and duplicates: the counts are strict, so a point at exactly
    :math:`\varepsilon_i` is not counted. No noise is added: a sample with k or more
    duplicates in the joint space has :math:`\varepsilon_i = 0` and counts 0, which adds
    ψ(1) terms (NPEET adds 1e−10 noise first; add jitter to discrete-valued data
    yourself). The estimate can be slightly negative for independent data. For Y = X,
    where the true value is +inf for a continuous X, it is ψ(n) − ψ(k) (no ties): the
    largest the estimator gives. A NaN or infinite sample makes it NaN. It is piecewise
    constant in the samples, so its gradient is 0 almost everywhere.

    Args:
        x: samples of X, shape [..., n, d_x] (leading axes are independent data sets).
        y: samples of Y, shape [..., n, d_y], the same batch shape and n.
        k: the neighbour, a Python int with 1 ≤ k < n.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The estimate, of the leading (batch) shape.

    Example:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import infolib
        >>> kx, ky = jax.random.split(jax.random.key(0))
        >>> x = jax.random.normal(kx, (2000, 1))
        >>> y = 0.8 * x + 0.6 * jax.random.normal(ky, (2000, 1))  # ρ = 0.8
        >>> i = infolib.ksg_mutual_information(x, y)  # −½ log(1 − ρ²) ≈ 0.511 nats
        >>> bool(abs(i - 0.511) < 0.05)
        True
    """
    k = _check_k(k)
    (x, y), out_dtype = _base.as_float(x, y)
    _check_samples(k, x=x, y=y)
    return _base.finish(_ksg_nats(x, y, k), base, out_dtype)


@functools.partial(jax.jit, static_argnums=(3,))
def _ksg_conditional_nats(x: jax.Array, y: jax.Array, z: jax.Array, k: int) -> jax.Array:
    batch = x.shape[:-2]

    def one(x: jax.Array, y: jax.Array, z: jax.Array) -> jax.Array:
        _, counts = _neighbour_counts([x, y, z], [(0, 2), (1, 2), (2,)], k)
        psi = _digamma(counts + 1)
        return jnp.mean(psi[:, 0] + psi[:, 1] - psi[:, 2])

    mean_psi = _per_data_set(one, batch, x, y, z)
    return _nan_unless_finite(_digamma(jnp.asarray(k, x.dtype)) - mean_psi, x, y, z)


def ksg_conditional_mutual_information(
    x: ArrayLike, y: ArrayLike, z: ArrayLike, k: int = 3, *, base: float | None = None
) -> jax.Array:
    r"""Conditional mutual information I(X; Y | Z) by the Frenzel–Pompe kNN estimate.

    .. math::

        \hat I(X; Y \mid Z) = \psi(k) - \frac{1}{n} \sum_{i=1}^n
        \left[\psi(n_{xz}(i) + 1) + \psi(n_{yz}(i) + 1) - \psi(n_z(i) + 1)\right],

    where :math:`\varepsilon_i` is the max-norm distance in the joint (X, Y, Z) space from
    sample i to its k-th nearest neighbour, and :math:`n_{xz}(i)` counts the samples j ≠ i
    strictly within :math:`\varepsilon_i` in the (X, Z) subspace (max-norm), likewise
    :math:`n_{yz}` and :math:`n_z` (Frenzel & Pompe, 2007; KSG's algorithm 1 applied to
    the conditional; as NPEET's ``cmi``). Ties, duplicates, NaN and the gradient are as in
    :func:`ksg_mutual_information`.

    Args:
        x: samples of X, shape [..., n, d_x] (leading axes are independent data sets).
        y: samples of Y, shape [..., n, d_y].
        z: samples of the condition Z, shape [..., n, d_z].
        k: the neighbour, a Python int with 1 ≤ k < n.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The estimate, of the leading (batch) shape.

    Example:
        >>> import jax
        >>> import infolib
        >>> kz, kx, ky = jax.random.split(jax.random.key(0), 3)
        >>> z = jax.random.normal(kz, (2000, 1))
        >>> x = z + 0.5 * jax.random.normal(kx, (2000, 1))
        >>> y = z + 0.5 * jax.random.normal(ky, (2000, 1))  # X ⊥ Y given Z
        >>> i = infolib.ksg_conditional_mutual_information(x, y, z)
        >>> bool(abs(i) < 0.05)
        True
    """
    k = _check_k(k)
    (x, y, z), out_dtype = _base.as_float(x, y, z)
    _check_samples(k, x=x, y=y, z=z)
    return _base.finish(_ksg_conditional_nats(x, y, z, k), base, out_dtype)
