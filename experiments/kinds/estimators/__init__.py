r"""The ``estimators`` kind: how far estimates from samples fall from the true value.

A run is one study (``study.kind``), drawn ``repeats`` times from a known distribution:

- ``discrete``: counts of n draws from a Zipf (p_i ∝ i^−s) and a uniform distribution on
  ``bins`` outcomes, for each n of ``sizes``; every estimator of infolib that takes counts
  (plug-in, Miller–Madow, jackknife, Grassberger, Chao–Shen, Zhang, James–Stein, NSB)
  against the true entropy H(p);
- ``ksg``: n samples of a bivariate Gaussian with correlation ρ, for each ρ of ``rhos``;
  :func:`infolib.ksg_mutual_information` against the closed form −½ log(1 − ρ²).

``summary.json`` holds, per estimator and setting, the mean and standard deviation of the
estimates over the repeats, and the true values; the figures (bias ± one standard deviation
against n; the KSG estimate against ρ) are drawn from it.

``schema`` · ``studies`` (the pure, vmappable studies) · ``program`` · ``figures``.
Importing this package loads neither jax nor matplotlib.
"""

from __future__ import annotations

from experiments.contract import Kind
from experiments.kinds.estimators.schema import EstimatorRun

__all__ = ["KIND"]


KIND = Kind(
    name="estimators",
    spec=EstimatorRun,
    metrics=(),
    program="experiments.kinds.estimators.program:PROGRAM",
    figures="experiments.kinds.estimators.figures:draw",
)
