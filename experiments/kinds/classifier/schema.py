"""The classifier kind's config: data, model and training sections of a run.

Every default lives here; ``python -m experiments show CONFIG`` prints them resolved. The
sections are validated with ``extra="forbid"`` (see :mod:`experiments.config.fields`), and a
tagged choice (``data.source``, ``model.init.kind``, ``train.prior.kind``) defaults its tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from experiments.config.fields import Bool, Float, Int, RunBase, Seed, default_tag
from experiments.config.fields import StrictModel as _Strict
from experiments.pipeline.optimizer import log_every_at_most_steps, optimizer_config

__all__ = [
    "Constant",
    "CsvData",
    "DataConfig",
    "GaussianPrior",
    "InitConfig",
    "InlineData",
    "LaplacePrior",
    "ModelConfig",
    "NoPrior",
    "Normal",
    "OptimizerConfig",
    "PriorConfig",
    "RunSpec",
    "ScaleSelection",
    "SklearnData",
    "SyntheticData",
    "TrainConfig",
    "Zeros",
]

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


class _DataCommon(_Strict):
    # The seed of the data's draw and split; null follows the run's seed. A sweep over
    # seeds with a fixed data.seed varies only the init and the minibatch order.
    seed: Seed | None = None
    test_fraction: Float = Field(0.25, ge=0, lt=1)
    standardize: Bool = True


class SyntheticData(_DataCommon):
    """Binary labels from a sparse logistic model, deterministic from the run's seed.

    ``x ~ N(0, I)``; the true weights have exactly ``n_informative`` nonzeros of magnitude
    ``class_sep·[1, 2)`` and random sign; ``y ~ Bernoulli(σ(x·w))`` (or ``y = [x·w > 0]``
    when ``separable``); then each label is flipped with probability ``label_noise``.

    With ``group_size`` s > 1, the first ``n_informative``·s features form groups of s
    correlated features: each member is √ρ·f + √(1−ρ)·ε for the group's shared factor f
    (ρ = ``group_correlation``, unit variance), and only the group's first member carries
    the true weight. Its s − 1 partners are near-copies that carry none, which is where a
    Gaussian prior (L2) and a Laplace prior (L1) part ways.
    """

    source: Literal["synthetic"] = "synthetic"
    n_samples: Int = Field(2000, ge=4)
    n_features: Int = Field(50, ge=1)
    n_informative: Int = Field(5, ge=0)
    class_sep: Float = Field(1.0, gt=0)
    label_noise: Float = Field(0.0, ge=0, le=0.5)
    separable: Bool = False
    group_size: Int = Field(1, ge=1)
    group_correlation: Float = Field(0.0, ge=0, lt=1)

    @field_validator("n_informative")
    @classmethod
    def _at_most_n_features(cls, value: int, info: ValidationInfo) -> int:
        n_features = info.data.get("n_features")
        if n_features is not None and value > n_features:
            raise ValueError(f"must be <= n_features ({n_features}), got {value}")
        return value

    @field_validator("group_size")
    @classmethod
    def _groups_fit(cls, value: int, info: ValidationInfo) -> int:
        n_features, k = info.data.get("n_features"), info.data.get("n_informative")
        if n_features is not None and k is not None and value * k > n_features:
            raise ValueError(
                f"n_informative × group_size must be <= n_features ({n_features}), "
                f"got {k} × {value}"
            )
        return value


class SklearnData(_DataCommon):
    """A data set bundled with scikit-learn (no network)."""

    source: Literal["sklearn"] = "sklearn"
    name: Literal["breast_cancer", "iris", "wine", "digits"]


class CsvData(_DataCommon):
    """A CSV file with a header row: numeric features and one target column.

    ``path`` is relative to the config file's folder.
    """

    source: Literal["csv"] = "csv"
    path: Annotated[str, Strict(), Field(min_length=1)]
    target: Annotated[str, Strict(), Field(min_length=1)]


class InlineData(_DataCommon):
    """A tiny hand-made data set written in the config; ``y`` holds class indices
    ``0..model.classes-1``, so a single example (with ``test_fraction: 0``) is valid."""

    source: Literal["inline"] = "inline"
    x: list[list[Float]] = Field(min_length=1)
    y: list[Int] = Field(min_length=1)

    @field_validator("x")
    @classmethod
    def _rectangular(cls, value: list[list[float]]) -> list[list[float]]:
        widths = sorted({len(row) for row in value})
        if widths[0] == 0:
            raise ValueError("rows must have at least one feature")
        if len(widths) > 1:
            raise ValueError(f"every row must have the same length, got lengths {widths}")
        return value

    @field_validator("y")
    @classmethod
    def _one_label_per_row(cls, value: list[int], info: ValidationInfo) -> list[int]:
        x = info.data.get("x")
        if x is not None and len(x) != len(value):
            raise ValueError(f"has {len(value)} labels but data.x has {len(x)} rows")
        return value


DataConfig = Annotated[
    SyntheticData | SklearnData | CsvData | InlineData,
    Field(discriminator="source"),
    default_tag("source", "synthetic"),
]


# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------


class Zeros(_Strict):
    """All weights and biases start at zero."""

    kind: Literal["zeros"] = "zeros"


class Normal(_Strict):
    """Weights start at ``N(0, scale²)`` drawn from the run's seed; biases at zero."""

    kind: Literal["normal"] = "normal"
    scale: Float = Field(0.01, gt=0)


class Constant(_Strict):
    """Every weight starts at ``weights`` and every bias at ``bias``."""

    kind: Literal["constant"] = "constant"
    weights: Float
    bias: Float = 0.0


InitConfig = Annotated[
    Zeros | Normal | Constant, Field(discriminator="kind"), default_tag("kind", "zeros")
]


class ModelConfig(_Strict):
    """A linear model: sigmoid output for 2 classes, softmax for more."""

    classes: Int = Field(2, ge=2)
    init: InitConfig = Zeros()


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


class NoPrior(_Strict):
    """Maximum likelihood: no penalty."""

    kind: Literal["none"] = "none"


class ScaleSelection(_Strict):
    """A prior scale the run chooses itself: ``{select: evidence}`` finds the σ of largest
    Laplace evidence p(D | σ) (:func:`~experiments.kinds.classifier.scale_search.select_evidence`),
    then fits the MAP there; ``per_feature: true`` chooses one σ_j per feature instead
    (automatic relevance determination, two classes only).

    It needs a Gaussian prior, ``loss: ce``, ``optimizer: newton`` and full batches (checked
    by :class:`TrainConfig` and :class:`RunSpec`).
    """

    select: Literal["evidence"]
    per_feature: Bool = False


_POSITIVE = TypeAdapter(Annotated[Float, Field(gt=0)])


def _number_or_selection(
    value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
) -> float | ScaleSelection:
    """A prior scale: a number > 0, or a mapping read as a :class:`ScaleSelection` (each
    checked alone, so an error names one of them, not both halves of a union)."""
    del handler
    if isinstance(value, ScaleSelection):
        return value
    if isinstance(value, Mapping):
        return ScaleSelection.model_validate(value, context=info.context)
    return _POSITIVE.validate_python(value, context=info.context)


# A number > 0 (as before), or {select: evidence[, per_feature: true]}.
PriorScale = Annotated[float | ScaleSelection, WrapValidator(_number_or_selection)]


class GaussianPrior(_Strict):
    """MAP with ``w ~ N(0, scale²)``: adds ``‖w‖²/(2·scale²)`` (sklearn's L2 with C = scale²).

    ``scale: {select: evidence}`` chooses σ by its evidence (:class:`ScaleSelection`).
    """

    kind: Literal["gaussian"] = "gaussian"
    scale: PriorScale

    @property
    def selection(self) -> ScaleSelection | None:
        """The scale's selection, or None for a number."""
        return self.scale if isinstance(self.scale, ScaleSelection) else None


class LaplacePrior(_Strict):
    """MAP with ``w ~ Laplace(0, scale)``: adds ``‖w‖₁/scale`` (sklearn's L1 with C = scale)."""

    kind: Literal["laplace"] = "laplace"
    scale: PriorScale

    @field_validator("scale")
    @classmethod
    def _a_number(cls, value: float | ScaleSelection) -> float:
        if isinstance(value, ScaleSelection):
            raise ValueError(
                "select: evidence needs a gaussian prior (the Laplace approximation of the "
                "evidence needs a smooth log posterior, and an L1 prior's is not smooth at "
                "w = 0); use a gaussian prior, or select: cv (cross-validation, not built yet)"
            )
        return value

    @property
    def selection(self) -> None:
        return None


PriorConfig = Annotated[
    NoPrior | GaussianPrior | LaplacePrior,
    Field(discriminator="kind"),
    default_tag("kind", "none"),
]


OptimizerConfig = optimizer_config(
    "sgd",
    "momentum",
    "adam",
    "fista",
    "newton",
    default="sgd",
    learning_rate=0.5,
    doc="""The optimizer; ``momentum`` is read by ``momentum`` only; ``b1``, ``b2``, ``eps`` by
    adam; ``restart`` by fista (adaptive gradient restart of the momentum).

    ``newton`` is the second-order MAP solver (:mod:`~experiments.kinds.classifier.newton`):
    a step is one Newton step, and ``learning_rate`` is not used. It needs the
    cross-entropy loss (MSE of a sigmoid is not convex) and full batches.
    """,
    module=__name__,
)


class TrainConfig(_Strict):
    """What is minimised and how: ``batch_size: null`` means full batch; ``tol`` stops a run
    (each sweep member on its own) once its ``grad_norm`` is at most ``tol``."""

    loss: Literal["ce", "mse"] = "ce"
    prior: PriorConfig = NoPrior()
    optimizer: OptimizerConfig = OptimizerConfig()
    steps: Int = Field(2000, gt=0)
    batch_size: Int | None = Field(None, gt=0)
    log_every: Int = Field(10, gt=0)
    # Stop once the objective's minimum-norm subgradient norm (the grad_norm metric) is at
    # most tol, checked at every logged step; null runs every step. steps stays the cap.
    tol: Float | None = Field(None, gt=0)

    _at_most_steps = field_validator("log_every")(log_every_at_most_steps)

    @model_validator(mode="after")
    def _selection_needs_newton(self) -> TrainConfig:
        # Before the newton check below, so that its advice is about the selection.
        selection = getattr(self.prior, "selection", None)
        if selection is None:
            return self
        problems = []
        if self.loss != "ce":
            problems.append(
                f"needs loss: ce (the evidence is that of the cross-entropy likelihood), got "
                f"loss: {self.loss}; use loss: ce"
            )
        if self.optimizer.name != "newton":
            problems.append(
                "needs the exact MAP solve and its Hessian, got optimizer: "
                f"{self.optimizer.name}; use optimizer: newton"
            )
        if self.batch_size is not None:
            problems.append(
                f"needs full batches, got batch_size: {self.batch_size}; set batch_size: null"
            )
        if problems:
            where = ("prior", self.prior.kind, "scale")
            given = selection.model_dump()
            raise _errors([(where, given, f"select: evidence {p}") for p in problems])
        return self

    @model_validator(mode="after")
    def _newton_needs_a_convex_full_batch(self) -> TrainConfig:
        if self.optimizer.name == "newton" and (self.loss != "ce" or self.batch_size):
            raise ValueError(
                "optimizer newton needs loss: ce (MSE of a sigmoid is not convex) and "
                "batch_size: null; use fista, adam or sgd for "
                + ("loss: mse" if self.loss != "ce" else "minibatches")
            )
        return self


class RunSpec(RunBase):
    """One resolved classifier run: the base config with its variant (and, in a sweep, the
    member's values) merged in."""

    data: DataConfig = SyntheticData()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    # The logarithm's base of the reported cross-entropy (``ce``): null for nats, 2 for
    # bits. Training always minimises the natural-log objective, so ``grad_norm`` and
    # ``tol`` are in nats whatever the base.
    base: Annotated[Float, Field(gt=1)] | None = None

    @model_validator(mode="after")
    def _per_feature_is_binary(self) -> RunSpec:
        selection = getattr(self.train.prior, "selection", None)
        if selection is not None and selection.per_feature and self.model.classes != 2:
            where = ("train", "prior", self.train.prior.kind, "scale", "per_feature")
            message = (
                f"per_feature (automatic relevance determination) supports two classes, "
                f"got model.classes: {self.model.classes}; use per_feature: false (one σ "
                "for every class's weights)"
            )
            raise _errors([(where, True, message)])
        return self


def _errors(problems: list[tuple[tuple[str, ...], Any, str]]) -> ValidationError:
    """A ValidationError at each ``(loc, input, message)``, loc relative to the model being
    validated, so that a check across fields names the field to change (``train.prior.scale``,
    not ``train``). Its ``value_error`` entries read like any other config error."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError("value_error", "{error}", {"error": message}),
            loc=loc,
            input=value,
        )
        for loc, value, message in problems
    ]
    return ValidationError.from_exception_data("RunSpec", details)
