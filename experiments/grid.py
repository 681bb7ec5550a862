"""The grid of a sweep: its points and its members, validated, without jax.

A config's ``sweep`` block maps dotted keys of a run (``train.prior.scale``, ``seed``,
``train.optimizer.learning_rate``, ...) to the values they take::

    sweep:
      train.prior.scale: {logspace: [-3, 1, 100]}   # or {linspace: [a, b, n]}, or a list
      seed: [0, 1, 2, 3, 4]
      zip: [[train.optimizer.learning_rate, train.steps]]   # paired axes

The grid is the product of the axes (a ``zip`` group is one axis whose keys move together),
times the variants. Every member is the run its own config describes: the variant merged
onto the base, then the member's values set, then validated like any config.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from experiments.config import RunSpec, deep_merge

ZIP_KEY = "zip"


class SweepError(ValueError):
    """A sweep block that cannot be expanded; ``problems`` name their dotted paths."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# ---------------------------------------------------------------------------
# The grid
# ---------------------------------------------------------------------------


def axis_values(key: str, spec: Any) -> list[Any]:
    """The values of one axis: a list, ``{linspace: [a, b, n]}`` or ``{logspace: [a, b, n]}``.

    ``logspace`` takes exponents of 10, as numpy does: ``{logspace: [-3, 1, 5]}`` is
    0.001, 0.01, 0.1, 1, 10.
    """
    where = f"sweep.{key}"
    if isinstance(spec, list):
        if not spec:
            raise SweepError([f"{where}: an empty list; give at least one value"])
        return list(spec)
    if isinstance(spec, Mapping) and len(spec) == 1:
        ((kind, args),) = spec.items()
        if kind in ("linspace", "logspace"):
            if (
                not isinstance(args, list)
                or len(args) != 3
                or not all(isinstance(a, int | float) and not isinstance(a, bool) for a in args)
                or not (isinstance(args[2], int) and args[2] >= 1)
            ):
                raise SweepError(
                    [
                        f"{where}.{kind}: expected [start, stop, count], count an integer >= 1; "
                        f"got {args!r}"
                    ]
                )
            start, stop, count = args
            space = np.linspace if kind == "linspace" else np.logspace
            return [float(v) for v in space(start, stop, count)]
    raise SweepError(
        [
            f"{where}: expected a list of values, {{linspace: [a, b, n]}} or "
            f"{{logspace: [a, b, n]}}, got {spec!r}"
        ]
    )


def grid_points(sweep: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Expands a sweep block into its points, each a mapping of dotted key to value.

    The order is that of ``itertools.product`` over the axes in the order written (the last
    axis varies fastest); a ``zip`` group sits where the ``zip`` key is written.
    """
    problems: list[str] = []
    axes: list[list[dict[str, Any]]] = []
    groups = sweep.get(ZIP_KEY, [])
    if not isinstance(groups, list) or not all(isinstance(g, list) and g for g in groups):
        raise SweepError(["sweep.zip: expected a list of key lists, e.g. [[a.b, c.d]]"])
    zipped = {key for group in groups for key in group}
    for key, spec in sweep.items():
        try:
            if key == ZIP_KEY:
                axes.extend(_zip_axis(group, sweep) for group in groups)
            elif key not in zipped:
                axes.append([{key: v} for v in axis_values(key, spec)])
        except SweepError as error:
            problems.extend(error.problems)
    if problems:
        raise SweepError(problems)
    return [
        dict(itertools.chain.from_iterable(part.items() for part in point))
        for point in itertools.product(*axes)
    ]


def _zip_axis(group: list[Any], sweep: Mapping[str, Any]) -> list[dict[str, Any]]:
    missing = [k for k in group if k not in sweep or k == ZIP_KEY]
    if missing:
        raise SweepError(
            [f"sweep.zip: {k!r} has no values; give it its own entry under sweep" for k in missing]
        )
    values = {k: axis_values(k, sweep[k]) for k in group}
    lengths = {k: len(v) for k, v in values.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise SweepError([f"sweep.zip: zipped keys must have equal lengths: {listed}"])
    return [dict(zip(group, row, strict=True)) for row in zip(*values.values(), strict=True)]


# ---------------------------------------------------------------------------
# Members
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Member:
    """One run of a sweep: its variant, its swept values and its resolved config."""

    variant: str
    values: dict[str, Any]
    spec: RunSpec


def _nested(key: str, value: Any) -> dict[str, Any]:
    update: Any = value
    for part in reversed(key.split(".")):
        update = {part: update}
    return update


def expand_members(runs: Sequence[RunSpec], sweep: Mapping[str, Any]) -> list[Member]:
    """Every (variant, grid point) pair, validated as a run, variant-major.

    Args:
        runs: the resolved variants (:meth:`ExperimentConfig.runs`).
        sweep: the sweep block.

    Raises:
        SweepError: listing every problem with the swept key and value that caused it.
    """
    points = grid_points(sweep)
    members, problems = [], []
    for run in runs:
        variant = run.model_dump(mode="json")
        for point in points:
            raw: Mapping[str, Any] = variant
            for key, value in point.items():
                raw = deep_merge(raw, _nested(key, value), RunSpec)
            try:
                members.append(Member(str(variant["name"]), point, RunSpec.model_validate(raw)))
            except ValueError as error:
                problems.extend(_member_problems(error, point))
    if problems:
        raise SweepError(list(dict.fromkeys(problems)))
    return members


def _member_problems(error: ValueError, point: Mapping[str, Any]) -> list[str]:
    errors = getattr(error, "errors", None)
    if errors is None:
        return [f"sweep: {error}"]
    problems = []
    for e in errors():
        path = ".".join(str(part) for part in e["loc"])
        swept = path in point
        where = f"sweep.{path}" if swept else path
        value = f" = {point[path]!r}" if swept else ""
        problems.append(f"{where}{value}: {e['msg']}")
    return problems
