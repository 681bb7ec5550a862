"""The classifier kind's config: data, model and training sections of a run.

Every default lives here; ``python -m experiments show CONFIG`` prints them resolved. The
sections are validated with ``extra="forbid"`` (see :mod:`experiments.config.fields`), and a
tagged choice (``data.source``, ``model.init.kind``, ``train.prior.kind``) defaults its tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import numpy as np
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
from experiments.kinds.classifier.solvers import SECOND_ORDER, check_solver
from experiments.pipeline.optimizer import log_every_at_most_steps, optimizer_config

__all__ = [
    "Constant",
    "CsvData",
    "CvSelection",
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
    # k-fold cross-validation on the training split (null: none): every run is also fitted
    # on each of k stratified folds and scored on the held-out part (runs[].cv).
    cv_folds: Int | None = Field(None, ge=2)


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


class Logspace(_Strict):
    """``{logspace: [a, b, n]}``: n scales from 10^a to 10^b, evenly spaced in log."""

    logspace: tuple[Float, Float, Annotated[Int, Field(ge=2)]]

    def values(self) -> tuple[float, ...]:
        low, high, n = self.logspace
        return tuple(float(10.0**e) for e in np.linspace(low, high, n))


class CvSelection(_Strict):
    """``{select: cv}``: the prior scale of a given grid with the best mean held-out
    cross-entropy over the folds of ``data.cv_folds`` (which it needs), then the fit at that
    scale on the whole training split.

    ``rule: min`` takes the grid's minimum (glmnet's ``lambda.min``); ``1se`` the smallest
    scale (the strongest prior) whose CV mean is within one standard error (the folds'
    sample std / √k) of the minimum's (glmnet's ``lambda.1se``). Either prior.
    """

    select: Literal["cv"]
    scales: Annotated[list[Annotated[Float, Field(gt=0)]], Field(min_length=2)] | Logspace = (
        Logspace(logspace=(-3.0, 3.0, 31))
    )
    rule: Literal["min", "1se"] = "min"

    @property
    def grid(self) -> tuple[float, ...]:
        """The grid's scales, ascending."""
        values = self.scales.values() if isinstance(self.scales, Logspace) else self.scales
        return tuple(sorted(float(v) for v in values))


_POSITIVE = TypeAdapter(Annotated[Float, Field(gt=0)])


def _number_or_selection(
    value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
) -> float | ScaleSelection | CvSelection:
    """A prior scale: a number > 0, or a mapping read as a :class:`CvSelection` (``select:
    cv``) or a :class:`ScaleSelection` (each checked alone, so an error names one of them,
    not both halves of a union)."""
    del handler
    if isinstance(value, ScaleSelection | CvSelection):
        return value
    if isinstance(value, Mapping):
        chosen = CvSelection if value.get("select") == "cv" else ScaleSelection
        return chosen.model_validate(value, context=info.context)
    return _POSITIVE.validate_python(value, context=info.context)


# A number > 0 (as before), {select: evidence[, per_feature: true]} or {select: cv, ...}.
PriorScale = Annotated[float | ScaleSelection | CvSelection, WrapValidator(_number_or_selection)]


class GaussianPrior(_Strict):
    """MAP with ``w ~ N(0, scale²)``: adds ``‖w‖²/(2·scale²)`` (sklearn's L2 with C = scale²).

    ``scale: {select: evidence}`` chooses σ by its evidence (:class:`ScaleSelection`),
    ``{select: cv}`` by cross-validation (:class:`CvSelection`).
    """

    kind: Literal["gaussian"] = "gaussian"
    scale: PriorScale

    @property
    def selection(self) -> ScaleSelection | CvSelection | None:
        """The scale's selection, or None for a number."""
        return _selection(self.scale)


def _selection(scale: Any) -> ScaleSelection | CvSelection | None:
    return scale if isinstance(scale, ScaleSelection | CvSelection) else None


class LaplacePrior(_Strict):
    """MAP with ``w ~ Laplace(0, scale)``: adds ``‖w‖₁/scale`` (sklearn's L1 with C = scale).

    ``scale: {select: cv}`` chooses the scale by cross-validation (:class:`CvSelection`).
    """

    kind: Literal["laplace"] = "laplace"
    scale: PriorScale

    @field_validator("scale")
    @classmethod
    def _not_evidence(cls, value: float | ScaleSelection | CvSelection) -> Any:
        if isinstance(value, ScaleSelection):
            raise ValueError(
                "select: evidence needs a gaussian prior (the Laplace approximation of the "
                "evidence needs a smooth log posterior, and an L1 prior's is not smooth at "
                "w = 0); use a gaussian prior, or select: cv (cross-validation)"
            )
        return value

    @property
    def selection(self) -> CvSelection | None:
        """The scale's selection, or None for a number."""
        return _selection(self.scale)


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
    *SECOND_ORDER,
    default="sgd",
    learning_rate=0.5,
    doc="""The optimizer; ``momentum`` is read by ``momentum`` only; ``b1``, ``b2``, ``eps`` by
    adam; ``restart`` by fista (adaptive gradient restart of the momentum).

    ``newton`` is the second-order MAP solver (:mod:`~experiments.kinds.classifier.newton`):
    a step is one Newton step, and ``learning_rate`` is not used. It needs the
    cross-entropy loss (MSE of a sigmoid is not convex) and full batches. ``newton_cg``,
    ``newton_woodbury`` and ``newton_working_set`` take the same steps with the system
    solved for other shapes of data (tall or softmax; wide with a Gaussian prior; wide with a
    Laplace prior), and ``auto``, the default when ``train.tol`` is set (with ``loss: ce``
    and full batches), picks one of the four from the data's shape and the prior
    (:func:`~experiments.kinds.classifier.newton.choose_solver`); ``summary.json`` records
    the choice as ``runs[].solver``.
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

    @model_validator(mode="before")
    @classmethod
    def _auto_when_tol_is_set(cls, data: Any) -> Any:
        # optimizer.name defaults to auto where a tolerance is given and a second-order
        # solve applies (the cross-entropy, full batches); to sgd elsewhere.
        if not isinstance(data, dict) or data.get("tol") is None:
            return data
        optimizer = data.get("optimizer", {})
        if not isinstance(optimizer, dict) or "name" in optimizer:
            return data
        if data.get("loss", "ce") != "ce" or data.get("batch_size") is not None:
            return data
        return {**data, "optimizer": {**optimizer, "name": "auto"}}

    @model_validator(mode="after")
    def _selection_needs_newton(self) -> TrainConfig:
        # Before the newton check below, so that its advice is about the selection.
        selection = getattr(self.prior, "selection", None)
        if not isinstance(selection, ScaleSelection):
            return self
        problems = []
        if self.loss != "ce":
            problems.append(
                f"needs loss: ce (the evidence is that of the cross-entropy likelihood), got "
                f"loss: {self.loss}; use loss: ce"
            )
        if self.optimizer.name not in SECOND_ORDER:
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
        name = self.optimizer.name
        if name in SECOND_ORDER and (self.loss != "ce" or self.batch_size):
            raise ValueError(
                f"optimizer {name} needs loss: ce (MSE of a sigmoid is not convex) and "
                "batch_size: null; use fista, adam or sgd for "
                + ("loss: mse" if self.loss != "ce" else "minibatches")
            )
        if name in SECOND_ORDER and name != "auto":
            check_solver(name, self.prior.kind)  # the classes are known once data is loaded
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
    def _cv_needs_folds(self) -> RunSpec:
        selection = getattr(self.train.prior, "selection", None)
        if isinstance(selection, CvSelection) and self.data.cv_folds is None:
            where = ("train", "prior", self.train.prior.kind, "scale", "select")
            message = (
                "select: cv needs data.cv_folds (the folds it scores each scale on); set "
                "data.cv_folds: 5, say"
            )
            raise _errors([(where, "cv", message)])
        return self

    @model_validator(mode="after")
    def _per_feature_is_binary(self) -> RunSpec:
        selection = getattr(self.train.prior, "selection", None)
        if (
            isinstance(selection, ScaleSelection)
            and selection.per_feature
            and self.model.classes != 2
        ):
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
