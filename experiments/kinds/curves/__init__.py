r"""The ``curves`` kind: the material's explanatory curves, each computed on a grid with
infolib (information measures) and ``jax.grad`` (derivatives), in bits where the material
uses bits.

A run is one curve (``curve.kind``); ``configs/curves.yaml`` draws all five as variants:

- ``self_information``: :math:`-\log_2 p` against p;
- ``binary_entropy``: :math:`H(p)`, at most 1 bit, at p = ½;
- ``kl_against_q``: :math:`P_i \log(P_i/Q_i)` and :math:`D(P \| Q)` against Q for a fixed P,
  0 only at Q = P;
- ``sigmoid``: σ and σ′, σ′ < 0.018 beyond |z| > 4;
- ``loss_gradients``: :math:`|\partial_\theta \tfrac12(\sigma - y)^2| = |(\sigma - y)\sigma' x|`
  and :math:`|\partial_\theta \mathrm{CE}| = |(\sigma - y) x|` against z = θx.

``summary.json`` (one entry per variant; ``final`` is empty, nothing is trained)::

    {"runs": [{"variant": "binary_entropy", "status": "ok", "final": {},
               "params": {"base": 2.0,
                          "grid": {"x": [...], "entropy": [...]},
                          "at": {"x": [0.5, 0.1, 0.9], "entropy": [1.0, 0.469, 0.469]},
                          "facts": {"maximum": 1.0, "maximum_at": 0.5}}}]}

``grid`` is the plotted curve (x and each series), ``at`` the series computed exactly at
the config's marked points, and ``facts`` what a claim reads off the grid (for
``binary_entropy`` the maximum and where; for ``kl_against_q`` the minimum and where; for
``sigmoid`` the largest σ′ at |z| ≥ ``flat_beyond``). ``data.json`` records each curve's
settings; the figures (one per variant, named after it) draw from these files.

``schema`` · ``functions`` (the pure curves) · ``program`` · ``figures``. Importing this
package loads neither jax nor matplotlib.
"""

from __future__ import annotations

from experiments.contract import Kind
from experiments.kinds.curves.schema import CurveRun

__all__ = ["KIND"]


KIND = Kind(
    name="curves",
    spec=CurveRun,
    metrics=(),
    program="experiments.kinds.curves.program:PROGRAM",
    figures="experiments.kinds.curves.figures:draw",
)
