"""The divergence_fit kind's config: the target p, the fitted family q, the quadrature grid
and the training.

Every default lives here; ``python -m experiments show CONFIG`` prints them resolved. The
tagged choices (``target.family``, ``fit.family``) default their tag. Checks across fields
(weights that sum to 1, lengths that match, positive-definite covariances, a fit of the
target's dimension) name the field to fix, e.g. ``target.weights: must sum to 1, got 0.9``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from experiments.config.fields import Float, Int, RunBase, StrictModel, default_tag
from experiments.pipeline.optimizer import log_every_at_most_steps, optimizer_config

__all__ = [
    "DIVERGENCES",
    "DiscreteFit",
    "DiscreteTarget",
    "FitConfig",
    "GaussianFit",
    "GaussianMixture",
    "OptimizerConfig",
    "QuadratureConfig",
    "RunSpec",
    "TargetConfig",
    "TrainConfig",
]

DIVERGENCES = ("forward_kl", "reverse_kl", "js", "cross_entropy")
PositiveFloat = Annotated[Float, Field(gt=0)]
SUM_TOLERANCE = 1e-6


def problem(loc: tuple[Any, ...], value: Any, message: str) -> dict[str, Any]:
    """A pydantic-shaped error naming ``loc`` (the shape ``experiments.config`` formats)."""
    return {"type": "value_error", "loc": loc, "input": value, "ctx": {"error": message}}


def raise_problems(title: str, problems: list[dict[str, Any]]) -> None:
    """Raises every problem at once, each at its own location, if there is any."""
    if problems:
        raise ValidationError.from_exception_data(title, problems)  # type: ignore[arg-type]


def positive_definite(matrix: Sequence[Sequence[float]]) -> str | None:
    """What is wrong with a 2×2 covariance (None if it is symmetric positive definite)."""
    if len(matrix) != 2 or any(len(row) != 2 for row in matrix):
        return f"must be a 2×2 matrix, got {[list(row) for row in matrix]}"
    (a, b), (c, d) = matrix
    if b != c:
        return f"must be symmetric, got off-diagonal entries {b} and {c}"
    if a <= 0 or a * d - b * c <= 0:
        half_trace, root = (a + d) / 2, math.sqrt(((a - d) / 2) ** 2 + b * b)
        eigenvalues = f"{half_trace - root:.4g} and {half_trace + root:.4g}"
        return f"must be positive definite, got eigenvalues {eigenvalues}"
    return None


def _sums_to_one(values: list[float]) -> list[float]:
    total = math.fsum(values)
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise ValueError(f"must sum to 1, got {total:.10g}")
    return values


# ---------------------------------------------------------------------------
# Target p
# ---------------------------------------------------------------------------


class GaussianMixture(StrictModel):
    r"""p(x) = Σ_k w_k N(x; μ_k, Σ_k), in 1-D (``means`` numbers, ``stds``) or 2-D
    (``means`` pairs, ``covariances`` 2×2, symmetric positive definite)."""

    family: Literal["gaussian_mixture"] = "gaussian_mixture"
    weights: list[PositiveFloat] = Field(min_length=1)
    means: list[Float | list[Float]] = Field(min_length=1)
    stds: list[PositiveFloat] | None = None
    covariances: list[list[list[Float]]] | None = None

    @field_validator("weights")
    @classmethod
    def _unit(cls, value: list[float]) -> list[float]:
        return _sums_to_one(value)

    @property
    def dim(self) -> int:
        return 1 if not isinstance(self.means[0], list) else len(self.means[0])

    @model_validator(mode="after")
    def _shapes(self) -> GaussianMixture:
        problems, n = [], len(self.weights)
        if len(self.means) != n:
            message = f"has {len(self.means)} entries but target.weights has {n}"
            problems.append(problem(("means",), self.means, message))
        dims = {1 if not isinstance(mean, list) else len(mean) for mean in self.means}
        if len(dims) > 1 or not dims <= {1, 2} or (dims == {1} and isinstance(self.means[0], list)):
            message = "must be all numbers (1-D) or all pairs [x, y] (2-D)"
            problems.append(problem(("means",), self.means, message))
        elif self.dim == 1:
            problems += self._spread("stds", "covariances", n)
        else:
            problems += self._spread("covariances", "stds", n)
            for index, matrix in enumerate(self.covariances or []):
                wrong = positive_definite(matrix)
                if wrong is not None:
                    problems.append(problem(("covariances", index), matrix, wrong))
        raise_problems("GaussianMixture", problems)
        return self

    def _spread(self, needed: str, unwanted: str, n: int) -> list[dict[str, Any]]:
        dim = f"{self.dim}-D"
        if getattr(self, unwanted) is not None:
            message = f"not for a {dim} mixture: give {needed}"
            return [problem((unwanted,), getattr(self, unwanted), message)]
        values = getattr(self, needed)
        if values is None:
            return [problem((needed,), None, f"required for a {dim} mixture")]
        if len(values) != n:
            message = f"has {len(values)} entries but target.weights has {n}"
            return [problem((needed,), values, message)]
        return []


class DiscreteTarget(StrictModel):
    """p on a finite set of points: ``probabilities`` (each > 0, summing to 1) at
    ``support`` (distinct numbers; null is 0, 1, ..., n − 1)."""

    family: Literal["discrete"] = "discrete"
    probabilities: list[PositiveFloat] = Field(min_length=2)
    support: list[Float] | None = None

    @field_validator("probabilities")
    @classmethod
    def _unit(cls, value: list[float]) -> list[float]:
        return _sums_to_one(value)

    @model_validator(mode="after")
    def _support(self) -> DiscreteTarget:
        n, problems = len(self.probabilities), []
        if self.support is not None and len(self.support) != n:
            message = f"has {len(self.support)} entries but target.probabilities has {n}"
            problems.append(problem(("support",), self.support, message))
        elif self.support is not None and len(set(self.support)) != n:
            problems.append(problem(("support",), self.support, "must not repeat a point"))
        raise_problems("DiscreteTarget", problems)
        return self

    @property
    def points(self) -> list[float]:
        if self.support is None:
            return [float(i) for i in range(len(self.probabilities))]
        return list(self.support)


TargetConfig = Annotated[
    GaussianMixture | DiscreteTarget,
    Field(discriminator="family"),
    default_tag("family", "gaussian_mixture"),
]


# ---------------------------------------------------------------------------
# Fitted family q
# ---------------------------------------------------------------------------


class GaussianFit(StrictModel):
    """q = N(mean, std²) in 1-D, or N(mean, covariance) in 2-D: the initial parameters.

    Trained as the mean and a Cholesky factor with a log diagonal (so q stays valid). A
    1-D fit's ``std`` defaults to 1, a 2-D fit's ``covariance`` to the identity.
    """

    family: Literal["gaussian"] = "gaussian"
    mean: Float | list[Float] = 0.0
    std: PositiveFloat | None = None
    covariance: list[list[Float]] | None = None

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        value = dict(value)
        mean = value.get("mean", 0.0)
        if isinstance(mean, list):
            if "covariance" not in value and "std" not in value:
                n = len(mean)
                value["covariance"] = [[float(i == j) for j in range(n)] for i in range(n)]
        elif "std" not in value and "covariance" not in value:
            value["std"] = 1.0
        return value

    @property
    def dim(self) -> int:
        return len(self.mean) if isinstance(self.mean, list) else 1

    @model_validator(mode="after")
    def _shape(self) -> GaussianFit:
        problems = []
        if isinstance(self.mean, list):
            if len(self.mean) != 2:
                message = "must be a number (1-D) or a pair (2-D)"
                problems.append(problem(("mean",), self.mean, message))
            if self.std is not None:
                problems.append(problem(("std",), self.std, "not for a 2-D fit: give covariance"))
            wrong = positive_definite(self.covariance) if self.covariance else "required in 2-D"
            if wrong is not None:
                problems.append(problem(("covariance",), self.covariance, wrong))
        elif self.covariance is not None:
            message = "not for a 1-D fit: give std"
            problems.append(problem(("covariance",), self.covariance, message))
        raise_problems("GaussianFit", problems)
        return self


class DiscreteFit(StrictModel):
    """q = softmax(logits) on the points of a discrete target; ``logits`` are the initial
    values (null: all 0, the uniform distribution)."""

    family: Literal["discrete"] = "discrete"
    logits: list[Float] | None = None


FitConfig = Annotated[
    GaussianFit | DiscreteFit, Field(discriminator="family"), default_tag("family", "gaussian")
]


# ---------------------------------------------------------------------------
# Quadrature and training
# ---------------------------------------------------------------------------


class QuadratureConfig(StrictModel):
    """The fixed grid the divergences are summed on, for a Gaussian-mixture target: on each
    axis ``points`` equally spaced points over the target's mean ± ``width`` × its standard
    deviation along that axis (a discrete target uses its own points)."""

    points: Int = Field(201, ge=11, le=4001)
    width: Float = Field(8.0, ge=3)


OptimizerConfig = optimizer_config(
    "sgd",
    "momentum",
    "adam",
    default="adam",
    learning_rate=0.05,
    settings=("momentum", "b1", "b2", "eps"),
    doc="""optax's ``sgd``, ``momentum`` (reads ``momentum``) or ``adam`` (reads b1, b2, eps).""",
    module=__name__,
)


class TrainConfig(StrictModel):
    """What is minimised over q and how. ``forward_kl`` is D(p‖q), ``reverse_kl`` D(q‖p),
    ``js`` the Jensen–Shannon divergence and ``cross_entropy`` H(p, q); metrics are logged
    every ``log_every`` steps (default: steps // 100, at least 1)."""

    divergence: Literal["forward_kl", "reverse_kl", "js", "cross_entropy"] = "forward_kl"
    optimizer: OptimizerConfig = OptimizerConfig()
    steps: Int = Field(4000, gt=0)
    log_every: Int = Field(gt=0)

    @model_validator(mode="before")
    @classmethod
    def _default_log_every(cls, value: Any) -> Any:
        if isinstance(value, dict) and "log_every" not in value:
            steps = value.get("steps", cls.model_fields["steps"].default)
            if isinstance(steps, int) and not isinstance(steps, bool) and steps > 0:
                value = {**value, "log_every": max(1, steps // 100)}
        return value

    _at_most_steps = field_validator("log_every")(log_every_at_most_steps)


class RunSpec(RunBase):
    """One resolved run: fit q to p by minimising ``train.divergence``."""

    target: TargetConfig
    fit: FitConfig = GaussianFit(std=1.0)
    quadrature: QuadratureConfig = QuadratureConfig()
    train: TrainConfig = TrainConfig(log_every=40)

    @model_validator(mode="after")
    def _fit_matches_target(self) -> Any:
        raise_problems("RunSpec", fit_problems(self.target, self.fit))
        return self


def fit_problems(target: Any, fit: Any) -> list[dict[str, Any]]:
    """The fit's problems with its target: dimensions, families, lengths.

    The locations carry the union's tag (``fit.discrete.logits``), as pydantic's own do;
    the error formatter drops it.
    """
    if isinstance(fit, DiscreteFit):
        if not isinstance(target, DiscreteTarget):
            message = "discrete fits a discrete target only (use gaussian for a mixture)"
            return [problem(("fit", fit.family, "family"), fit.family, message)]
        n = len(target.probabilities)
        if fit.logits is not None and len(fit.logits) != n:
            message = f"has {len(fit.logits)} entries but target.probabilities has {n}"
            return [problem(("fit", fit.family, "logits"), fit.logits, message)]
        return []
    dim = target.dim if isinstance(target, GaussianMixture) else 1
    if fit.dim != dim:
        message = f"is {fit.dim}-D but the target is {dim}-D"
        return [problem(("fit", fit.family, "mean"), fit.mean, message)]
    return []
