"""The curves kind's config: which curve, on how fine a grid, and the points to mark.

A run draws one curve (``curve.kind``); a config compares several as variants::

    base: 2          # the logarithm of the information curves: 2 for bits, null for nats
    points: 201      # grid points
    curve: {kind: binary_entropy, at: [0.5, 0.1]}

Each curve has a domain; its grid spans it and its ``at`` points (marked on the figure
and computed exactly, not read off the grid) must lie in it. Every default is here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from experiments.config.errors import custom_error
from experiments.config.fields import Float, Int, RunBase, StrictModel, default_tag

__all__ = [
    "BinaryEntropy",
    "CurveConfig",
    "CurveRun",
    "Jensen",
    "KlAgainstQ",
    "LossGradients",
    "PriorDensities",
    "SelfInformation",
    "Sigmoid",
]


def _problem(model: str, loc: tuple, value: object, message: str) -> ValidationError:
    """An error at ``curve.<loc>`` (raised in a curve's validator, so its path is the key's,
    not the curve's)."""
    return ValidationError.from_exception_data(model, [custom_error(loc, value, message)])


class _Curve(StrictModel):
    at: list[Float] = Field(default_factory=list)

    def domain(self) -> tuple[float, float]:
        """The interval the grid spans."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _at_in_domain(self) -> _Curve:
        low, high = self.domain()
        for index, value in enumerate(self.at):
            if not low <= value <= high:
                message = f"{value:g} is outside the curve's domain [{low:g}, {high:g}]"
                raise _problem(type(self).__name__, ("at", index), value, message)
        return self


class SelfInformation(_Curve):
    """Self-information −log_b p against p ∈ [p_min, 1]: 0 at p = 1, one unit at p = 1/b,
    unbounded as p → 0 (hence ``p_min``)."""

    kind: Literal["self_information"] = "self_information"
    p_min: Float = Field(0.01, gt=0, lt=1)
    at: list[Float] = Field(default_factory=lambda: [1.0, 0.5, 0.25, 0.125])

    def domain(self) -> tuple[float, float]:
        return self.p_min, 1.0


class BinaryEntropy(_Curve):
    """The entropy of a coin that lands heads with probability p, against p ∈ [0, 1]."""

    kind: Literal["binary_entropy"] = "binary_entropy"
    at: list[Float] = Field(default_factory=lambda: [0.5, 0.1, 0.9])

    def domain(self) -> tuple[float, float]:
        return 0.0, 1.0


class KlAgainstQ(_Curve):
    """D(P‖Q) and its terms P_i log(P_i/Q_i) for a fixed two-outcome P, against
    Q = (q, 1 − q), q ∈ [q_min, 1 − q_min]."""

    kind: Literal["kl_against_q"] = "kl_against_q"
    p: tuple[Annotated[Float, Field(gt=0, lt=1)], Annotated[Float, Field(gt=0, lt=1)]] = (
        0.5,
        0.5,
    )
    q_min: Float = Field(0.01, gt=0, lt=0.5)
    at: list[Float] = Field(default_factory=lambda: [0.5, 0.25])

    def domain(self) -> tuple[float, float]:
        return self.q_min, 1.0 - self.q_min

    @model_validator(mode="after")
    def _p_is_a_distribution(self) -> KlAgainstQ:
        if abs(sum(self.p) - 1.0) > 1e-6:
            message = f"must sum to 1 (within 1e-06), got {sum(self.p):.6g}"
            raise _problem(type(self).__name__, ("p",), list(self.p), message)
        return self


# The widest logit domain: σ is 1 or 0 to float64 beyond |z| ≈ 37 and σ′ is 0 beyond ≈ 745,
# and a wider grid (1e38) is too coarse to hold z = 0 in float32, so its peak read 0.
Z_MAX_LIMIT = 1000.0


class Sigmoid(_Curve):
    """σ(z) = 1/(1 + e^−z) and σ′(z) = σ(z)(1 − σ(z)) on z ∈ [−z_max, z_max], with the
    region |z| ≥ ``flat_beyond`` shaded."""

    kind: Literal["sigmoid"] = "sigmoid"
    z_max: Float = Field(8.0, gt=0, le=Z_MAX_LIMIT)
    flat_beyond: Float = Field(4.0, gt=0)
    at: list[Float] = Field(default_factory=lambda: [0.0, 4.0])

    def domain(self) -> tuple[float, float]:
        return -self.z_max, self.z_max

    @model_validator(mode="after")
    def _flat_inside(self) -> Sigmoid:
        if self.flat_beyond >= self.z_max:
            message = f"must be < z_max ({self.z_max:g}), got {self.flat_beyond:g}"
            raise _problem(type(self).__name__, ("flat_beyond",), self.flat_beyond, message)
        return self


class LossGradients(_Curve):
    """|∂L/∂θ| of one sample (x, y) under ½(σ(θx) − y)² and under cross-entropy, against
    z = θx ∈ [−z_max, z_max]; the ``at`` points are marked."""

    kind: Literal["loss_gradients"] = "loss_gradients"
    x: Float = 2.0
    y: Float = Field(0.0, ge=0, le=1)
    z_max: Float = Field(8.0, gt=0, le=Z_MAX_LIMIT)
    at: list[Float] = Field(default_factory=lambda: [4.0])

    def domain(self) -> tuple[float, float]:
        return -self.z_max, self.z_max

    @model_validator(mode="after")
    def _x_nonzero(self) -> LossGradients:
        if self.x == 0:
            message = "must not be 0 (z = θx would not depend on θ)"
            raise _problem(type(self).__name__, ("x",), self.x, message)
        return self


class Jensen(_Curve):
    """Jensen's inequality for the convex f(x) = −log_b x on [x_min, x_max]: a random X
    taking ``values`` with ``probabilities`` has E[f(X)] ≥ f(E[X]) (the chord between the
    points lies above the curve). The defaults are the material's KL proof for
    P = (¾, ¼), Q = (½, ½): X = Q/P = (⅔, 2) with P's weights, E[X] = ΣQ = 1, so
    f(E[X]) = 0 and E[f(X)] = D(P‖Q) = 0.1887 bits."""

    kind: Literal["jensen"] = "jensen"
    x_min: Float = Field(0.1, gt=0)
    x_max: Float = 3.0
    values: list[Annotated[Float, Field(gt=0)]] = Field(
        default_factory=lambda: [2 / 3, 2.0], min_length=2
    )
    probabilities: list[Annotated[Float, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: [0.75, 0.25], min_length=2
    )

    def domain(self) -> tuple[float, float]:
        return self.x_min, self.x_max

    @model_validator(mode="after")
    def _a_distribution_in_the_domain(self) -> Jensen:
        if self.x_max <= self.x_min:
            message = f"must be > x_min ({self.x_min:g}), got {self.x_max:g}"
            raise _problem(type(self).__name__, ("x_max",), self.x_max, message)
        if len(self.probabilities) != len(self.values):
            message = f"has {len(self.probabilities)} entries but values has {len(self.values)}"
            raise _problem(type(self).__name__, ("probabilities",), self.probabilities, message)
        if abs(sum(self.probabilities) - 1.0) > 1e-6:
            message = f"must sum to 1 (within 1e-06), got {sum(self.probabilities):.6g}"
            raise _problem(type(self).__name__, ("probabilities",), self.probabilities, message)
        for index, value in enumerate(self.values):
            if not self.x_min <= value <= self.x_max:
                message = f"{value:g} is outside [x_min, x_max] = [{self.x_min:g}, {self.x_max:g}]"
                raise _problem(type(self).__name__, ("values", index), value, message)
        return self


class PriorDensities(_Curve):
    """The two priors of the MAP material side by side, on θ ∈ [−theta_max, theta_max]: the
    normal N(0, normal_std²) and the Laplace(0, laplace_scale) densities, and their negative
    logarithms less the constant, θ²/(2σ²) (L2) and |θ|/b (L1), in nats."""

    kind: Literal["prior_densities"] = "prior_densities"
    normal_std: Float = Field(1.0, gt=0)
    laplace_scale: Float = Field(1.0, gt=0)
    theta_max: Float = Field(4.0, gt=0)
    at: list[Float] = Field(default_factory=lambda: [0.0, 1.0])

    def domain(self) -> tuple[float, float]:
        return -self.theta_max, self.theta_max


CurveConfig = Annotated[
    SelfInformation
    | BinaryEntropy
    | KlAgainstQ
    | Sigmoid
    | LossGradients
    | Jensen
    | PriorDensities,
    Field(discriminator="kind"),
    default_tag("kind", "self_information"),
]


class CurveRun(RunBase):
    """One curve on a grid of ``points``, its information measures in logarithms of
    ``base`` (the sigmoid and the loss gradients have no unit)."""

    base: Annotated[Float, Field(gt=1)] | None = 2.0
    points: Int = Field(201, ge=3, le=100_001)
    curve: CurveConfig = SelfInformation()
