r"""The ``loss_table`` kind: fixed predictions scored by several losses, and fixed
distributions measured, with no training.

For one-hot targets :math:`y_i` and each prediction set's distributions :math:`p_i`
(:math:`i = 1..n`), the table gives the mean over samples of

.. math::

    [\arg\max p_i \ne \arg\max y_i], \qquad \sum_c (p_{ic} - y_{ic})^2, \qquad
    H(y_i, p_i) = -\log_b p_{i,\text{true}},

and for named distributions their entropies :math:`H(P)` and, for each pair, both
directions of the cross-entropy and of the KL divergence, in logarithms of ``base``
(2: bits). The per-sample values are kept, so a table shows *why* two sets with one error
rate differ in the other two losses.

``summary.json`` (one entry per variant; ``final`` is empty, nothing is trained)::

    {"runs": [{"variant": "default", "status": "ok", "final": {},
               "params": {
                 "base": 2.0,
                 "predictions": {"model_1": {"error": ..., "squared_error": ...,
                                             "cross_entropy": ...,
                                             "per_sample": {"error": [...],
                                                            "squared_error": [...],
                                                            "cross_entropy": [...]}}},
                 "distributions": {"P": {"entropy": ...}},
                 "pairs": {"P||Q": {"cross_entropy": H(P,Q),
                                    "reverse_cross_entropy": H(Q,P),
                                    "kl_divergence": D(P‖Q),
                                    "reverse_kl_divergence": D(Q‖P)}}}}]}

``predictions`` is present when the config has targets and predictions, ``distributions``
and ``pairs`` when it has distributions; an infinite value is ``null``. The terminal shows
the same table (``Program.details``); the figures compare the sets loss by loss.

``schema`` (the config, checked) · ``losses`` (the pure computations, with infolib) ·
``program`` (what the pipeline calls) · ``table`` (the text table) · ``figures``. Importing
this package loads neither jax nor matplotlib.
"""

from __future__ import annotations

from experiments.contract import Kind
from experiments.kinds.loss_table.schema import TableRun

__all__ = ["KIND"]


KIND = Kind(
    name="loss_table",
    spec=TableRun,
    metrics=(),
    program="experiments.kinds.loss_table.program:PROGRAM",
    figures="experiments.kinds.loss_table.figures:draw",
)
