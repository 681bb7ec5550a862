"""The max_entropy kind's metric names, in the order tables list them.

``dual`` is L(λ), ``entropy`` H(p_λ) in nats (the two meet at the solution),
``constraint_error`` the largest |E[f_j] − c_j| in the constraint's own units; then p_λ's
``mean``, ``variance`` and ``mean_abs_deviation`` (about the centre, or the mean).
"""

METRICS = ("dual", "entropy", "constraint_error", "mean", "variance", "mean_abs_deviation")
