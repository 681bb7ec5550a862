"""Closed forms for the Gaussian and Laplace distributions (the experiments' priors)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from infolib import _base

_HALF_LOG_2PI_E = 0.5 * math.log(2 * math.pi * math.e)


def _prepare(**named: ArrayLike) -> tuple[tuple[jax.Array, ...], jnp.dtype]:
    arrays, out_dtype = _base.as_float(*named.values())
    _base.broadcast_shapes(**dict(zip(named, arrays, strict=True)))
    return arrays, out_dtype


def gaussian_entropy(scale: ArrayLike, *, base: float | None = None) -> jax.Array:
    r"""Differential entropy of a normal distribution N(μ, σ²), elementwise.

    .. math::

        h = \tfrac12 \log(2 \pi e \sigma^2) = \tfrac12 \log(2 \pi e) + \log \sigma,

    −inf at σ = 0 (a point mass); NaN for σ < 0 (not a scale). It does not depend on μ.

    Args:
        scale: the standard deviation σ ≥ 0.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The entropy, of the shape of ``scale``.

    Example:
        >>> import infolib
        >>> infolib.gaussian_entropy(1.0)
        Array(1.4189385, dtype=float32)
    """
    (scale,), out_dtype = _base.as_float(scale)
    return _base.finish(_HALF_LOG_2PI_E + jnp.log(scale), base, out_dtype)


def laplace_entropy(scale: ArrayLike, *, base: float | None = None) -> jax.Array:
    r"""Differential entropy of a Laplace distribution with scale b, elementwise.

    .. math::

        h = 1 + \log(2 b),

    −inf at b = 0; NaN for b < 0. It does not depend on the location.

    Args:
        scale: the scale b ≥ 0 (the density is exp(−|x − μ|/b) / (2b)).
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The entropy, of the shape of ``scale``.

    Example:
        >>> import infolib
        >>> infolib.laplace_entropy(0.5)
        Array(1., dtype=float32)
    """
    (scale,), out_dtype = _base.as_float(scale)
    return _base.finish(1 + jnp.log(2 * scale), base, out_dtype)


def gaussian_kl(
    loc_p: ArrayLike,
    scale_p: ArrayLike,
    loc_q: ArrayLike,
    scale_q: ArrayLike,
    *,
    base: float | None = None,
) -> jax.Array:
    r"""KL divergence between two normal distributions, elementwise.

    .. math::

        D_{KL}(\mathcal N(\mu_p, \sigma_p^2) \| \mathcal N(\mu_q, \sigma_q^2))
        = \log \frac{\sigma_q}{\sigma_p}
          + \frac{\sigma_p^2 + (\mu_p - \mu_q)^2}{2 \sigma_q^2} - \frac12.

    Arguments broadcast against each other. It is +inf for σ_q = 0 < σ_p and for
    σ_p = 0 < σ_q (a point mass against a density).

    Args:
        loc_p: mean μ_p of the reference distribution.
        scale_p: standard deviation σ_p > 0 of the reference distribution.
        loc_q: mean μ_q of the approximating distribution.
        scale_q: standard deviation σ_q > 0 of the approximating distribution.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The divergence, of the broadcast shape.

    Example:
        >>> import infolib
        >>> infolib.gaussian_kl(0.0, 1.0, 1.0, 1.0)
        Array(0.5, dtype=float32)
    """
    (mp, sp, mq, sq), out_dtype = _prepare(
        loc_p=loc_p, scale_p=scale_p, loc_q=loc_q, scale_q=scale_q
    )
    point_q = sq == 0  # a density against a point mass: +inf
    safe_sq = jnp.where(point_q, 1, sq)
    ratio = sp / safe_sq
    d = 0.5 * (ratio**2 + ((mp - mq) / safe_sq) ** 2 - 1) - jnp.log(ratio)
    # NaN in a location propagates (it would otherwise be lost under the +inf).
    outside = point_q & (sp > 0) & ~jnp.isnan(mp - mq)
    return _base.finish(jnp.where(outside, jnp.inf, d), base, out_dtype)


def laplace_kl(
    loc_p: ArrayLike,
    scale_p: ArrayLike,
    loc_q: ArrayLike,
    scale_q: ArrayLike,
    *,
    base: float | None = None,
) -> jax.Array:
    r"""KL divergence between two Laplace distributions, elementwise.

    .. math::

        D_{KL}(\mathrm{Laplace}(\mu_p, b_p) \| \mathrm{Laplace}(\mu_q, b_q))
        = \log \frac{b_q}{b_p}
          + \frac{|\mu_p - \mu_q| + b_p \exp(-|\mu_p - \mu_q| / b_p)}{b_q} - 1.

    Arguments broadcast against each other. It is +inf for b_q = 0 < b_p and for
    b_p = 0 < b_q. The expression is smooth in μ_p − μ_q (the
    kinks of the two absolute values cancel), and its gradient is 0 at μ_p = μ_q.

    Args:
        loc_p: location μ_p of the reference distribution.
        scale_p: scale b_p > 0 of the reference distribution.
        loc_q: location μ_q of the approximating distribution.
        scale_q: scale b_q > 0 of the approximating distribution.
        base: base of the logarithm: None for nats, 2 for bits, any number > 1.

    Returns:
        The divergence, of the broadcast shape.

    Example:
        >>> import infolib
        >>> infolib.laplace_kl(0.0, 1.0, 0.0, 2.0)
        Array(0.19314718, dtype=float32)
    """
    (mp, bp, mq, bq), out_dtype = _prepare(
        loc_p=loc_p, scale_p=scale_p, loc_q=loc_q, scale_q=scale_q
    )
    point_q = bq == 0  # a density against a point mass: +inf
    safe_bq = jnp.where(point_q, 1, bq)
    point_p = bp == 0
    gap = jnp.abs(mp - mq)
    tail = jnp.where(point_p, 0, bp * jnp.exp(-gap / jnp.where(point_p, 1, bp)))
    d = jnp.log(safe_bq / bp) + (gap + tail) / safe_bq - 1
    outside = point_q & (bp > 0) & ~jnp.isnan(gap)  # NaN in a location propagates
    return _base.finish(jnp.where(outside, jnp.inf, d), base, out_dtype)
