"""The estimators kind's config: which study, its sizes and its repeats. Every default is here.

::

    base: 2
    study: {kind: discrete, bins: 50, zipf_exponent: 1.0, sizes: [10, 30, 100], repeats: 50}
"""

from __future__ import annotations

import typing
from typing import Annotated, Literal

from pydantic import Field

from experiments.config.fields import Float, Int, RunBase, StrictModel, default_tag

__all__ = ["ESTIMATORS", "Discrete", "EstimatorRun", "Ksg"]

Estimator = Literal[
    "plugin",
    "miller_madow",
    "jackknife",
    "grassberger",
    "chao_shen",
    "zhang",
    "james_stein",
    "nsb",
]
ESTIMATORS: tuple[str, ...] = typing.get_args(Estimator)
"""The discrete estimators, in the order the figures list them."""


class Discrete(StrictModel):
    """Entropy estimates from the counts of n draws, for each n of ``sizes``, from a Zipf
    distribution (p_i ∝ i^−zipf_exponent) and the uniform one, both on ``bins`` outcomes."""

    kind: Literal["discrete"] = "discrete"
    bins: Int = Field(50, ge=2, le=10_000)
    zipf_exponent: Float = Field(1.0, gt=0)
    sizes: list[Annotated[Int, Field(ge=1, le=100_000)]] = Field(
        default_factory=lambda: [10, 30, 100, 300, 1000], min_length=1
    )
    repeats: Int = Field(50, ge=2, le=10_000)
    estimators: list[Estimator] = Field(default_factory=lambda: list(ESTIMATORS), min_length=1)


class Ksg(StrictModel):
    """KSG mutual information of n samples of a bivariate Gaussian with correlation ρ, for
    each ρ of ``rhos``, against −½ log(1 − ρ²)."""

    kind: Literal["ksg"] = "ksg"
    rhos: list[Annotated[Float, Field(ge=0, lt=1)]] = Field(
        default_factory=lambda: [0.0, 0.3, 0.6, 0.8, 0.9, 0.95], min_length=1
    )
    n: Int = Field(500, ge=5, le=100_000)
    k: Int = Field(3, ge=1, le=100)
    repeats: Int = Field(10, ge=2, le=10_000)


StudyConfig = Annotated[
    Discrete | Ksg, Field(discriminator="kind"), default_tag("kind", "discrete")
]


class EstimatorRun(RunBase):
    """One study, its estimates in logarithms of ``base`` (None: nats)."""

    base: Annotated[Float, Field(gt=1)] | None = 2.0
    study: StudyConfig = Discrete()
