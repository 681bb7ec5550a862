"""The divergence_fit kind's metric names, in the order tables list them.

``divergence`` is the one minimised (``train.divergence``); the four divergences, all in
nats, are logged whatever is minimised. Then q's parameters: ``mean`` and ``std`` for a 1-D
Gaussian, ``mean_x``, ``mean_y``, ``std_x``, ``std_y`` and ``correlation`` for a 2-D one,
and ``entropy`` (nats) for a discrete q.
"""

METRICS = (
    "divergence",
    "forward_kl",
    "reverse_kl",
    "js",
    "cross_entropy",
    "mean",
    "std",
    "mean_x",
    "mean_y",
    "std_x",
    "std_y",
    "correlation",
    "entropy",
)
