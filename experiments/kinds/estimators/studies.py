"""The studies: pure, jit-able functions of a PRNG key that draw the samples and estimate.

Each returns, per estimator and setting, the mean and the standard deviation of the
estimates over the repeats, and the true value, all in the run's base.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

import infolib

__all__ = ["ESTIMATOR_FUNCTIONS", "discrete", "ksg"]

ESTIMATOR_FUNCTIONS = {
    "plugin": infolib.plugin_entropy,
    "miller_madow": infolib.miller_madow_entropy,
    "jackknife": infolib.jackknife_entropy,
    "grassberger": infolib.grassberger_entropy,
    "chao_shen": infolib.chao_shen_entropy,
    "zhang": infolib.zhang_entropy,
    "james_stein": infolib.james_stein_entropy,
    "nsb": lambda counts, base: infolib.nsb_entropy(counts, base=base).mean,
}


def _distributions(bins: int, exponent: jax.Array) -> dict[str, jax.Array]:
    ranks = jnp.arange(1, bins + 1, dtype=jnp.float32)
    zipf = ranks**-exponent
    return {"zipf": zipf / jnp.sum(zipf), "uniform": jnp.full(bins, 1.0 / bins)}


def _counts(key: jax.Array, p: jax.Array, n: int, repeats: int) -> jax.Array:
    draws = jax.random.categorical(key, jnp.log(p), shape=(repeats, n))
    return jnp.zeros((repeats, p.shape[0])).at[jnp.arange(repeats)[:, None], draws].add(1.0)


def discrete(
    key: jax.Array,
    exponent: jax.Array,
    *,
    bins: int,
    sizes: Sequence[int],
    repeats: int,
    estimators: Sequence[str],
    base: float | None,
) -> dict[str, Any]:
    """{distribution: {"true": H(p), estimator: {"mean": [len(sizes)], "std": [...]}}}."""
    out = {}
    for d, (name, p) in enumerate(_distributions(bins, exponent).items()):
        counts = [
            _counts(jax.random.fold_in(key, d * len(sizes) + i), p, n, repeats)
            for i, n in enumerate(sizes)
        ]
        stacked = jnp.stack(counts)  # [sizes, repeats, bins]
        entry: dict[str, Any] = {"true": infolib.entropy(p, base=base)}
        for estimator in estimators:
            values = ESTIMATOR_FUNCTIONS[estimator](stacked, base=base)
            entry[estimator] = {"mean": jnp.mean(values, -1), "std": jnp.std(values, -1)}
        out[name] = entry
    return out


def ksg(
    key: jax.Array, rhos: jax.Array, *, n: int, k: int, repeats: int, base: float | None
) -> dict[str, Any]:
    """{"true": −½ log(1 − ρ²) per ρ, "ksg": {"mean": [...], "std": [...]}}."""
    kx, ky = jax.random.split(key)
    x = jax.random.normal(kx, (rhos.shape[0], repeats, n, 1))
    noise = jax.random.normal(ky, x.shape)
    r = rhos[:, None, None, None]
    y = r * x + jnp.sqrt(1 - r * r) * noise
    values = infolib.ksg_mutual_information(x, y, k, base=base)  # [rhos, repeats]
    true = -0.5 * jnp.log1p(-rhos * rhos)
    if base is not None:
        true = true / jnp.log(base)
    return {"true": true, "ksg": {"mean": jnp.mean(values, -1), "std": jnp.std(values, -1)}}
