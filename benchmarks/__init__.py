"""Benchmarks: infolib against optax, jax.numpy, scipy and torch; sweeps against a loop and the
matrix-product limit; regularisation paths against scikit-learn; start-up with and without
JAX's persistent compilation cache.

Each is a module run from the repository root::

    python -m benchmarks.infolib [--quick]
    python -m benchmarks.sweep [--quick]
    python -m benchmarks.sklearn_path [--quick]
    python -m benchmarks.startup [--quick]

and prints Markdown tables and writes ``results/benchmarks/<name>.json`` (``<name>-quick.json``
with ``--quick``). ``BENCHMARKS.md`` holds the recorded tables.
"""
