r"""The max_entropy kind's config: a finite support, moment constraints, and the solver.

Every default lives here (``python -m experiments show CONFIG`` prints them). A constraint
that no distribution on the support meets (``mean: 11`` on 0..10) is refused, naming the
field: the solution exists, with finite Lagrange multipliers, exactly when the constraint
values lie strictly inside the set of values that distributions on the support can take.
For one convex feature g next to the mean (the variance, g(x) = (x − m)², or the mean
absolute deviation, g(x) = |x − c|) that set is, at the mean m,

.. math::

    \hat g(m) < \mathbb E[g] < g(a) + \frac{m - a}{b - a}\,(g(b) - g(a)),

with :math:`\hat g` the piecewise-linear interpolation of g through the support's points
(mass on the two points around m) and the chord over the support's ends a, b (mass on the
ends): for the variance, :math:`(m - x_i)(x_{i+1} - m) < v < (m - a)(b - m)`.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator

from experiments.config.errors import custom_error
from experiments.config.fields import FLOAT32_MAX, FLOAT32_TINY, Float, Int, RunBase, StrictModel
from experiments.pipeline.optimizer import log_every_at_most_steps, optimizer_config

__all__ = ["CONSTRAINTS", "Constraints", "OptimizerConfig", "RunSpec", "TrainConfig", "bounds"]

CONSTRAINTS = ("mean", "variance", "mean_abs_deviation")
PositiveFloat = Annotated[Float, Field(gt=0)]


def _problem(loc: tuple[Any, ...], value: Any, message: str) -> dict[str, Any]:
    return {"type": "value_error", "loc": loc, "input": value, "ctx": {"error": message}}


class Constraints(StrictModel):
    """E[x] = ``mean``; E[(x − mean)²] = ``variance`` (needs ``mean``); E|x − centre| =
    ``mean_abs_deviation``, about ``centre`` (default: ``mean``). null: not constrained;
    none at all gives the uniform distribution."""

    mean: Float | None = None
    variance: PositiveFloat | None = None
    mean_abs_deviation: PositiveFloat | None = None
    centre: Float | None = None

    @model_validator(mode="before")
    @classmethod
    def _centre_defaults_to_the_mean(cls, value: Any) -> Any:
        if (
            isinstance(value, dict)
            and value.get("mean_abs_deviation") is not None
            and value.get("centre") is None
            and value.get("mean") is not None
        ):
            value = {**value, "centre": value["mean"]}
        return value

    @model_validator(mode="after")
    def _combinations(self) -> Constraints:
        problems = []
        if self.variance is not None and self.mean is None:
            message = "needs constraints.mean (the variance is about it)"
            problems.append(_problem(("variance",), self.variance, message))
        if self.variance is not None and self.mean_abs_deviation is not None:
            message = "give variance or mean_abs_deviation, not both"
            problems.append(_problem(("mean_abs_deviation",), self.mean_abs_deviation, message))
        if self.mean_abs_deviation is not None and self.centre is None:
            message = "needs constraints.centre (or constraints.mean, its default)"
            problems.append(_problem(("centre",), None, message))
        if self.mean_abs_deviation is None and self.centre is not None:
            message = "is the centre of mean_abs_deviation, which is not given"
            problems.append(_problem(("centre",), self.centre, message))
        if problems:
            raise ValidationError.from_exception_data("Constraints", problems)  # type: ignore[arg-type]
        return self

    @property
    def active(self) -> tuple[str, ...]:
        """The constrained moments, in :data:`CONSTRAINTS` order."""
        return tuple(name for name in CONSTRAINTS if getattr(self, name) is not None)


OptimizerConfig = optimizer_config(
    "lbfgs",
    "sgd",
    "adam",
    default="lbfgs",
    learning_rate=1.0,
    settings=(),
    doc="""The solver of the dual: ``lbfgs`` (optax's L-BFGS with a zoom line search, no
    learning rate), or gradient descent with ``sgd`` or ``adam`` (optax's default b1, b2 and eps)
    at ``learning_rate``.""",
    module=__name__,
)


class TrainConfig(StrictModel):
    """``steps`` of the solver on the dual, metrics every ``log_every`` steps."""

    optimizer: OptimizerConfig = OptimizerConfig()
    steps: Int = Field(200, gt=0)
    log_every: Int = Field(5, gt=0)

    _at_most_steps = field_validator("log_every")(log_every_at_most_steps)


class RunSpec(RunBase):
    """One resolved run: the maximum-entropy distribution on ``support`` that meets
    ``constraints``."""

    support: list[Float] = Field(min_length=2, max_length=10_000)
    constraints: Constraints = Constraints()
    train: TrainConfig = TrainConfig()

    @field_validator("support")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError("must be strictly increasing (each point once, in order)")
        return value

    @model_validator(mode="after")
    def _feasible(self) -> Any:
        spread = _spread_problem(self.support, self.precision)
        if spread is not None:
            raise ValidationError.from_exception_data(
                "RunSpec", [custom_error(("support",), self.support, spread)]
            )
        problems = feasibility_problems(self.support, self.constraints)
        if problems:
            raise ValidationError.from_exception_data("RunSpec", problems)  # type: ignore[arg-type]
        return self


def _spread_problem(support: list[float], precision: str) -> str | None:
    """Why the support's squared distances do not fit the precision (a variance of
    [-3e38, 3e38] overflows float32, and one of [0, 1e-30] is flushed to 0), or None."""
    if precision != "float32":
        return None
    span = support[-1] - support[0]
    gap = min(b - a for a, b in itertools.pairwise(support))
    if span * span > FLOAT32_MAX or gap * gap < FLOAT32_TINY:
        return (
            f"its points must lie at least {FLOAT32_TINY**0.5:.2g} apart and span at most "
            f"{FLOAT32_MAX**0.5:.2g}, so that its variances fit float32; got a span of "
            f"{span:g} and a smallest gap of {gap:g}"
        )
    return None


def bounds(support: list[float], g, mean: float | None) -> tuple[float, float]:
    """The open interval of E[g(x)] over distributions on ``support`` (with E[x] = mean)."""
    values = [g(x) for x in support]
    if mean is None:
        return min(values), max(values)
    a, b = support[0], support[-1]
    upper = values[0] + (mean - a) / (b - a) * (values[-1] - values[0])
    right = next(i for i, x in enumerate(support) if x >= mean)
    if support[right] == mean:
        return values[right], upper
    left = right - 1
    t = (mean - support[left]) / (support[right] - support[left])
    return values[left] + t * (values[right] - values[left]), upper


def feasibility_problems(support: list[float], constraints: Constraints) -> list[dict]:
    """The constraints no distribution on ``support`` meets, one problem each."""
    a, b = support[0], support[-1]
    mean = constraints.mean
    if mean is not None and not a < mean < b:
        message = (
            f"no distribution on the support has mean {mean:g}: it must lie strictly "
            f"between {a:g} and {b:g}"
        )
        return [_problem(("constraints", "mean"), mean, message)]
    checks = []
    if constraints.variance is not None:
        checks.append(("variance", constraints.variance, lambda x: (x - mean) ** 2))
    if constraints.mean_abs_deviation is not None:
        centre = constraints.centre
        checks.append(
            ("mean_abs_deviation", constraints.mean_abs_deviation, lambda x: abs(x - centre))
        )
    problems = []
    for name, value, g in checks:
        low, high = bounds(support, g, mean)
        if not low < value < high:
            given = "" if mean is None else f" with mean {mean:g}"
            message = (
                f"no distribution on the support{given} has {name} {value:g}: it must lie "
                f"strictly between {low:.6g} and {high:.6g}"
            )
            problems.append(_problem(("constraints", name), value, message))
    return problems
