"""The loss table's config: fixed predictions and distributions, checked to be what they claim.

A run gives prediction sets scored against one-hot targets, named distributions measured
alone and in pairs, or both::

    base: 2                                  # bits; null for nats; any number > 1
    targets: [[0, 0, 1], [0, 1, 0]]          # one-hot rows: sample × class
    predictions:                             # each set: one distribution per target row
      model_1: [[0.3, 0.3, 0.4], [0.3, 0.4, 0.3]]
    distributions:                           # any lengths
      P: [0.75, 0.25]
      Q: [0.5, 0.5]
    pairs: [[P, Q]]                          # two distributions of one length

Every row of ``predictions`` and every entry of ``distributions`` must be a probability
distribution: no negative entry, and a sum within :data:`SUM_TOLERANCE` of 1. All problems
are reported at once, each with its dotted path (``predictions.model_1[2]: ...``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator

from experiments.config.errors import custom_error
from experiments.config.fields import Float, Name, RunBase

__all__ = ["SUM_TOLERANCE", "TableRun"]

SUM_TOLERANCE = 1e-6
"""How far from 1 a distribution's entries may sum (absolute)."""

Row = list[Float]
Problems = list[dict[str, Any]]


class TableRun(RunBase):
    """One loss table: what is scored (``targets`` with ``predictions``) and what is
    measured (``distributions``, ``pairs``), in logarithms of ``base``."""

    base: Annotated[Float, Field(gt=1)] | None = 2.0
    targets: list[Row] | None = None
    predictions: dict[Name, list[Row]] | None = None
    distributions: dict[Name, Row] | None = None
    pairs: list[tuple[Name, Name]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_tables(self) -> TableRun:
        problems = _scored_problems(self) + _measured_problems(self)
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        return self


def _scored_problems(run: TableRun) -> Problems:
    targets, predictions = run.targets, run.predictions
    if targets is None and predictions is None:
        if run.distributions is None:
            message = "required: give targets and predictions, or distributions"
            return [custom_error(("predictions",), None, message)]
        return []
    if targets is None:
        return [custom_error(("targets",), None, "required with predictions, but missing")]
    if predictions is None:
        return [custom_error(("predictions",), None, "required with targets, but missing")]
    problems = _target_problems(targets)
    if not predictions:
        problems.append(custom_error(("predictions",), {}, "must name at least one set"))
    shape = (len(targets), len(targets[0])) if targets and targets[0] else None
    for name, rows in predictions.items():
        got = _shape(rows)
        if shape is not None and got != shape:
            message = f"has shape {_show_shape(got)}, but targets has {_show_shape(shape)}"
            problems.append(custom_error(("predictions", name), None, message))
        for index, row in enumerate(rows):
            problems += _distribution_problems(("predictions", name, index), row)
    return problems


def _target_problems(targets: list[Row]) -> Problems:
    if not targets:
        return [custom_error(("targets",), [], "must have at least one row")]
    problems = []
    widths = sorted({len(row) for row in targets})
    if len(widths) > 1:
        message = f"every row must have the same length, got lengths {widths}"
        problems.append(custom_error(("targets",), None, message))
    elif widths[0] < 2:
        message = f"rows must have at least 2 classes, got {widths[0]}"
        problems.append(custom_error(("targets",), None, message))
    for index, row in enumerate(targets):
        if sorted(row) != [0.0] * (len(row) - 1) + [1.0]:
            message = f"must be one-hot (one 1, the rest 0), got {_show_row(row)}"
            problems.append(custom_error(("targets", index), row, message))
    return problems


def _measured_problems(run: TableRun) -> Problems:
    distributions = run.distributions
    if distributions is None:
        if run.pairs:
            return [custom_error(("pairs",), None, "needs distributions, but none are given")]
        return []
    problems = []
    if not distributions:
        problems.append(custom_error(("distributions",), {}, "must name at least one"))
    for name, row in distributions.items():
        problems += _distribution_problems(("distributions", name), row)
    for index, pair in enumerate(run.pairs):
        unknown = [name for name in pair if name not in distributions]
        if unknown:
            known = ", ".join(distributions)
            message = f"{unknown[0]!r} is not one of the distributions ({known})"
            problems.append(custom_error(("pairs", index), list(pair), message))
        elif len(distributions[pair[0]]) != len(distributions[pair[1]]):
            sizes = " and ".join(f"{n} has {len(distributions[n])} outcomes" for n in pair)
            problems.append(custom_error(("pairs", index), list(pair), f"{sizes}: must match"))
    return problems


def _distribution_problems(loc: tuple[Any, ...], row: Row) -> Problems:
    if not row:
        return [custom_error(loc, row, "must have at least one entry")]
    negative = [value for value in row if value < 0]
    if negative:
        message = f"is not a distribution: has a negative entry {negative[0]} in {_show_row(row)}"
        return [custom_error(loc, row, message)]
    total = sum(row)
    if abs(total - 1.0) > SUM_TOLERANCE:
        message = (
            f"is not a distribution: sums to {total:.6g}, not 1 (within {SUM_TOLERANCE:g}), "
            f"in {_show_row(row)}"
        )
        return [custom_error(loc, row, message)]
    return []


def _shape(rows: Sequence[Row]) -> tuple[int, ...]:
    widths = sorted({len(row) for row in rows})
    return (len(rows), widths[0]) if len(widths) == 1 else (len(rows), -1)


def _show_shape(shape: tuple[int, ...]) -> str:
    rows, width = shape
    return f"{rows} rows of {width}" if width >= 0 else f"{rows} rows of unequal lengths"


def _show_row(row: Row) -> str:
    return "[" + ", ".join(f"{value:g}" for value in row) + "]"
