"""Field types and base models shared by every config schema (the experiment's and each
kind's): strict numbers and names, ``extra="forbid"`` everywhere, and tagged choices whose
tag has a default."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
)

__all__ = [
    "FLOAT32_MAX",
    "FLOAT32_TINY",
    "INT32_LIMIT",
    "Bool",
    "Float",
    "Int",
    "Name",
    "Precision",
    "RunBase",
    "Seed",
    "StrictModel",
    "default_tag",
    "field_annotation",
    "is_model",
    "precision_context",
    "precision_problem",
    "union_members",
]


def _reject_bool(value: Any) -> Any:
    # YAML reads `yes`/`true` as booleans; pydantic's lax mode would take them as 1.
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()}")
    return value


FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_TINY = 1.1754943508222875e-38  # the smallest normal float32; XLA flushes smaller to 0
FLOAT64_TINY = 2.2250738585072014e-308  # the smallest normal float64

# The floating-point type of a run's data, parameters and metrics (see RunBase).
Precision = Literal["float32", "float64"]


def precision_context(raw: Any) -> dict[str, Any]:
    """The validation context of a raw config or run: its ``precision`` (float32 when
    absent or invalid), which sets the range :data:`Float` values must fit."""
    precision = raw.get("precision") if isinstance(raw, Mapping) else None
    return {"precision": "float64" if precision == "float64" else "float32"}


def precision_problem(value: float, precision: str) -> str | None:
    """Why a finite number does not fit ``precision`` (overflows, or is flushed to 0), or
    None: the check of every config number and of the Python API's arguments alike."""
    if precision == "float64":
        if 0 < abs(value) < FLOAT64_TINY:
            return (
                f"is below float64's smallest normal number (2.2e-308) and would be flushed "
                f"to 0, got {value:g}"
            )
        return None  # a finite Python float is a float64
    if abs(value) > FLOAT32_MAX:
        return f"is beyond float32's range (±3.4e38), got {value:g}; precision: float64 allows it"
    if 0 < abs(value) < FLOAT32_TINY:
        return (
            f"is below float32's smallest normal number (1.2e-38) and would be flushed to 0, "
            f"got {value:g}; precision: float64 allows it"
        )
    return None


def _fits_precision(value: float, info: ValidationInfo) -> float:
    # The range of the run's precision, from the validation context (float32 without one).
    precision = "float64" if (info.context or {}).get("precision") == "float64" else "float32"
    problem = precision_problem(value, precision)
    if problem is not None:
        raise ValueError(problem)
    return value


# A number (quoted text is not: "0.5" is refused like "5"), finite, and representable in
# the run's precision (float32 unless the config says float64) without overflowing or
# flushing to 0. YAML's `1e-3` is read as a number.
Float = Annotated[
    float,
    BeforeValidator(_reject_bool),
    Strict(),
    Field(allow_inf_nan=False),
    AfterValidator(_fits_precision),
]
INT32_LIMIT = 2**31  # counters are int32 on the device: every count is below this
Int = Annotated[int, Strict(), Field(lt=INT32_LIMIT)]
Bool = Annotated[bool, Strict()]
Seed = Annotated[int, Strict(), Field(ge=0, lt=2**32)]
NAME_PATTERN = r"^[A-Za-z0-9_-]+$"
Name = Annotated[str, Strict(), Field(min_length=1, max_length=64, pattern=NAME_PATTERN)]


class StrictModel(BaseModel):
    """Unknown keys are errors; values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def default_tag(key: str, default: str) -> BeforeValidator:
    """Fills in a union's tag when a mapping leaves it out, so the tag has a default."""

    def fill(value: Any) -> Any:
        if isinstance(value, Mapping) and key not in value:
            return {key: default, **value}
        return value

    return BeforeValidator(fill)


class RunBase(StrictModel):
    """What every run of every kind has: a name (its variant's), a seed and a precision.

    A kind's run spec subclasses this with its own sections (``data``, ``model``, ...); the
    PRNG key of a run is ``jax.random.key(seed)``. ``precision`` is set once, at the top
    of a config (every member of a run shares it): ``float64`` runs the members with
    ``jax_enable_x64`` on, their data, parameters and metrics in float64, for a kind that
    lists it in :attr:`~experiments.contract.Kind.precisions`.
    """

    name: Name
    seed: Seed = 0
    precision: Precision = "float32"


# Walking a schema (merging and error messages follow the models).


def field_annotation(model: type[BaseModel], key: str) -> tuple[Any, str | None]:
    field = model.model_fields[key]
    discriminator = field.discriminator if isinstance(field.discriminator, str) else None
    return field.annotation, discriminator


def union_members(annotation: Any, key: str) -> dict[str, type[BaseModel]]:
    """Maps each tag of a discriminated union to its model."""
    members = {}
    for member in typing.get_args(annotation):
        tag = typing.get_args(member.model_fields[key].annotation)[0]
        members[tag] = member
    return members


def is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
