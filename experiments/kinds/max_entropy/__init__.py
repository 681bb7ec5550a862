"""The ``max_entropy`` kind: the maximum-entropy distribution on a finite support under
moment constraints (none, the mean, the mean and variance, the mean absolute deviation),
by descent on the convex dual: uniform, Gibbs, Gaussian-like and Laplace-like solutions.

``schema`` (its config, with the feasibility of the constraints) · ``dual`` (the dual
objective and features) · ``solve`` (the pure, vmappable run function) · ``program`` (what
the pipeline calls) · ``figures`` (drawn from a run folder's files). Importing this package
loads neither jax nor matplotlib.
"""

from __future__ import annotations

from experiments.contract import Kind
from experiments.kinds.max_entropy.metrics import METRICS
from experiments.kinds.max_entropy.schema import RunSpec

__all__ = ["KIND"]


KIND = Kind(
    name="max_entropy",
    spec=RunSpec,
    metrics=METRICS,
    program="experiments.kinds.max_entropy.program:PROGRAM",
    figures="experiments.kinds.max_entropy.figures:draw",
)
