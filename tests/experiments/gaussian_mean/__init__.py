"""A deliberately tiny experiment kind, written only for the tests: fitting the mean of a
Gaussian sample by gradient descent on ½(μ − x)².

It touches nothing outside this folder: the test registers it in ``experiments.kinds.KINDS``
and the shared pipeline (variants, sweeps, seeds, run folders, figures, ``plot``) does the
rest.
"""

from __future__ import annotations

from pydantic import Field

from experiments.config.fields import Float, Int, RunBase, StrictModel
from experiments.contract import Kind


class MeanData(StrictModel):
    n: Int = Field(100, ge=1)
    mean: Float = 2.0
    std: Float = Field(1.0, gt=0)


class MeanTrain(StrictModel):
    learning_rate: Float = Field(0.1, gt=0)
    steps: Int = Field(50, gt=0)


class MeanRun(RunBase):
    data: MeanData = MeanData()
    train: MeanTrain = MeanTrain()


KIND = Kind(
    name="gaussian_mean",
    spec=MeanRun,
    metrics=("loss", "mu"),
    program="tests.experiments.gaussian_mean.program:PROGRAM",
    figures="tests.experiments.gaussian_mean.figures:draw",
)
