"""``python -m infolib``: the worked numbers of the source material, computed by infolib."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import jax.numpy as jnp

import infolib


def _rows() -> list[tuple[str, object]]:
    p, q = jnp.array([0.75, 0.25]), jnp.array([0.5, 0.5])
    return [
        ("H([1]) in bits", infolib.entropy(jnp.array([1.0]), base=2)),
        ("H([.5, .5]) in bits", infolib.entropy(jnp.array([0.5, 0.5]), base=2)),
        ("H(four equal outcomes) in bits", infolib.entropy(jnp.full(4, 0.25), base=2)),
        (
            "H([.9, .1]) (a 9-to-1 pass rate) in bits",
            infolib.entropy(jnp.array([0.9, 0.1]), base=2),
        ),
        (
            "H([0, 1, 0], [.2, .7, .1]) in bits",
            infolib.cross_entropy(jnp.array([0.0, 1.0, 0.0]), jnp.array([0.2, 0.7, 0.1]), base=2),
        ),
        ("KL([.75, .25] ‖ [.5, .5]) in bits", infolib.kl_divergence(p, q, base=2)),
        ("KL([.5, .5] ‖ [.75, .25]) in bits", infolib.kl_divergence(q, p, base=2)),
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


def main(argv: Sequence[str] | None = None) -> int:
    """Prints the table; ``--help`` says what it is."""
    parser = argparse.ArgumentParser(
        prog="python -m infolib",
        description="Print the source material's worked numbers (entropy, cross-entropy, "
        "KL in both directions, JS, mutual information), computed by infolib.",
    )
    parser.parse_args(sys.argv[1:] if argv is None else argv)
    rows = _rows()
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {float(value):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
