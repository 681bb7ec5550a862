"""The ``classifier`` kind: logistic regression under MSE versus cross-entropy, and MLE
versus MAP with Gaussian (L2) and Laplace (L1) priors.

``schema`` (its config sections) · ``data`` (data sets and splits) · ``model`` and
``optim`` (objectives and optimizers) · ``train`` (the pure, vmappable run function) ·
``program`` (what the pipeline calls) · ``newton`` and ``evidence`` (the exact MAP solve, its
Laplace evidence and hypergradients) · ``selection`` (the evidence in a run, and prior scales
chosen by it) · ``cv`` (cross-validation folds in a run, and prior scales chosen by them) ·
``figures``, ``path_figures`` and ``evidence_figures`` (drawn from a run
folder's files). Importing this package loads neither jax nor matplotlib.
"""

from __future__ import annotations

from experiments.contract import Kind
from experiments.kinds.classifier.metrics import COUNT_METRICS, METRICS
from experiments.kinds.classifier.schema import RunSpec

__all__ = ["KIND"]


KIND = Kind(
    name="classifier",
    spec=RunSpec,
    metrics=METRICS,
    count_metrics=COUNT_METRICS,
    path_keys=("data.path",),
    higher_is_better=frozenset({"accuracy"}),
    precisions=("float32", "float64"),
    headline_metric="ce",
    program="experiments.kinds.classifier.program:PROGRAM",
    figures="experiments.kinds.classifier.figures:draw",
)
