"""The ``divergence_fit`` kind: fit a distribution q to a target p by gradient descent on a
divergence (forward KL D(p‖q), reverse KL D(q‖p), Jensen–Shannon, cross-entropy).

``schema`` (its config sections) · ``grid`` (the target on a fixed quadrature grid, numpy)
· ``families`` (q: a Gaussian through its Cholesky factor, or softmax logits) ·
``objective`` (the divergences, by infolib) · ``train`` (the pure, vmappable run function)
· ``program`` (what the pipeline calls) · ``figures`` (drawn from a run folder's files).
Importing this package loads neither jax nor matplotlib.
"""

from __future__ import annotations

from experiments.contract import Kind
from experiments.kinds.divergence_fit.metrics import METRICS
from experiments.kinds.divergence_fit.schema import RunSpec

__all__ = ["KIND"]


KIND = Kind(
    name="divergence_fit",
    spec=RunSpec,
    metrics=METRICS,
    program="experiments.kinds.divergence_fit.program:PROGRAM",
    figures="experiments.kinds.divergence_fit.figures:draw",
)
