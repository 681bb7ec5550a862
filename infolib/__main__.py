"""``python -m infolib``: the worked numbers of the source material, computed by infolib."""

from __future__ import annotations

import jax.numpy as jnp

import infolib


def main() -> None:
    rows = [
        ("H([1]) in bits", infolib.entropy(jnp.array([1.0]), base=2)),
        ("H([.5, .5]) in bits", infolib.entropy(jnp.array([0.5, 0.5]), base=2)),
        ("H(four equal outcomes) in bits", infolib.entropy(jnp.full(4, 0.25), base=2)),
        (
            "H([0, 1, 0], [.2, .7, .1]) in bits",
            infolib.cross_entropy(jnp.array([0.0, 1.0, 0.0]), jnp.array([0.2, 0.7, 0.1]), base=2),
        ),
        (
            "KL([.5, .5] ‖ [.9, .1]) in bits",
            infolib.kl_divergence(jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1]), base=2),
        ),
        (
            "KL([.5, .5] ‖ [1, 0])",
            infolib.kl_divergence(jnp.array([0.5, 0.5]), jnp.array([1.0, 0.0])),
        ),
        (
            "JS([1, 0] , [0, 1]) in bits",
            infolib.js_divergence(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]), base=2),
        ),
        (
            "I(X; Y), Y = X, fair coin, in bits",
            infolib.mutual_information(jnp.array([[0.5, 0.0], [0.0, 0.5]]), base=2),
        ),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {float(value):.4f}")


if __name__ == "__main__":
    main()
