"""The ``sweep:`` block: typed axes, and the grid points they make (no jax).

A sweep maps dotted keys of a run (``train.prior.scale``, ``seed``,
``train.optimizer.learning_rate``, ...) to the values they take::

    sweep:
      train.prior.scale: {logspace: [-3, 1, 100]}   # or {linspace: [a, b, n]}, or a list
      seed: [0, 1, 2, 3, 4]
      zip: [[train.optimizer.learning_rate, train.steps]]   # paired axes

The grid is the product of the axes (a ``zip`` group is one axis whose keys move together),
in the order written, the last axis varying fastest.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from pydantic import Field, model_serializer

from experiments.config.fields import StrictModel

__all__ = ["ZIP_KEY", "SweepConfig", "SweepError", "parse_sweep"]

ZIP_KEY = "zip"


class SweepError(ValueError):
    """A sweep block that cannot be expanded: ``problems`` are (dotted key, message) pairs,
    the key relative to ``sweep``."""

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(f"sweep.{key}: {message}" for key, message in self.problems))


class SweepConfig(StrictModel):
    """A parsed sweep: each axis's values, the zipped groups, and the block as written
    (which is what ``show`` and a run's ``config.yaml`` print)."""

    axes: dict[str, tuple[Any, ...]] = Field(default_factory=dict)
    zip: tuple[tuple[str, ...], ...] = ()
    written: dict[str, Any] = Field(default_factory=dict)

    @model_serializer
    def _as_written(self) -> dict[str, Any]:
        return self.written

    def __bool__(self) -> bool:
        return bool(self.axes)

    def _axes(self) -> list[list[dict[str, Any]]]:
        zipped = {key for group in self.zip for key in group}
        axes: list[list[dict[str, Any]]] = []
        for key in self.written:
            if key == ZIP_KEY:
                axes.extend(_zip_axis(group, self.axes) for group in self.zip)
            elif key not in zipped:
                axes.append([{key: v} for v in self.axes[key]])
        return axes

    def axis_lengths(self) -> list[int]:
        """The length of each axis of the product (a zipped group counts once)."""
        lengths = []
        zipped = {key for group in self.zip for key in group}
        for key in self.written:
            if key == ZIP_KEY:
                lengths.extend(len(self.axes[group[0]]) for group in self.zip)
            elif key not in zipped:
                lengths.append(len(self.axes[key]))
        return lengths

    def size(self) -> int:
        """The number of grid points, from the axis lengths (nothing is expanded)."""
        return math.prod(self.axis_lengths())

    def point(self, index: int) -> dict[str, Any]:
        """Grid point ``index`` of :meth:`points`, without expanding the others."""
        point: dict[str, Any] = {}
        axes = self._axes()
        for axis in reversed(axes):
            index, position = divmod(index, len(axis))
            point = {**axis[position], **point}
        return point

    def points(self) -> list[dict[str, Any]]:
        """The grid points, each a mapping of dotted key to value."""
        axes = self._axes()
        return [
            dict(itertools.chain.from_iterable(part.items() for part in point))
            for point in itertools.product(*axes)
        ]


def _zip_axis(group: tuple[str, ...], axes: Mapping[str, tuple[Any, ...]]) -> list[dict]:
    return [
        dict(zip(group, row, strict=True)) for row in zip(*(axes[k] for k in group), strict=True)
    ]


# Keys of the whole run, not of a member: sweeping one would do nothing (or mislead).
_RUN_WIDE = {
    "name": "the run's name is not a member's setting and cannot be swept",
    "kind": "the kind is the whole run's; run one config per kind",
    "output": "output settings are the whole run's and cannot be swept",
    "sweep": "a sweep cannot sweep itself",
}


def parse_sweep(block: Any) -> SweepConfig:
    """Reads a ``sweep:`` block (``{}`` or absent: no sweep).

    Raises:
        SweepError: every problem, each with its dotted key.
    """
    if isinstance(block, SweepConfig):
        return block
    if block is None:
        block = {}
    if not isinstance(block, Mapping):
        raise SweepError([("", f"expected a mapping of dotted keys to values, got {block!r}")])
    problems: list[tuple[str, str]] = []
    axes: dict[str, tuple[Any, ...]] = {}
    for key, spec in block.items():
        if key == ZIP_KEY:
            continue
        if str(key).split(".", 1)[0] in _RUN_WIDE:
            problems.append((str(key), _RUN_WIDE[str(key).split(".", 1)[0]]))
            continue
        try:
            axes[str(key)] = tuple(axis_values(str(key), spec))
        except SweepError as error:
            problems.extend(error.problems)
    groups = block.get(ZIP_KEY, [])
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and g and all(isinstance(k, str) for k in g) for g in groups
    ):
        problems.append((ZIP_KEY, "expected a list of key lists, e.g. [[a.b, c.d]]"))
        groups = []
    for group in groups:
        problems.extend(_zip_problems(group, axes, block))
    if problems:
        raise SweepError(problems)
    return SweepConfig(axes=axes, zip=tuple(tuple(g) for g in groups), written=dict(block))


def _zip_problems(group: list[str], axes: Mapping[str, tuple], block: Mapping) -> list:
    missing = [k for k in group if k not in block or k == ZIP_KEY]
    if missing:
        message = "{!r} has no values; give it its own entry under sweep"
        return [(ZIP_KEY, message.format(k)) for k in missing]
    lengths = {k: len(axes[k]) for k in group if k in axes}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        return [(ZIP_KEY, f"zipped keys must have equal lengths: {listed}")]
    return []


def axis_values(key: str, spec: Any) -> list[Any]:
    """The values of one axis: a list, ``{linspace: [a, b, n]}`` or ``{logspace: [a, b, n]}``.

    ``logspace`` takes exponents of 10, as numpy does: ``{logspace: [-3, 1, 5]}`` is
    0.001, 0.01, 0.1, 1, 10.
    """
    if isinstance(spec, list):
        if not spec:
            raise SweepError([(key, "an empty list; give at least one value")])
        return list(spec)
    if isinstance(spec, Mapping) and len(spec) == 1:
        ((space, args),) = spec.items()
        if space in ("linspace", "logspace"):
            if (
                not isinstance(args, list)
                or len(args) != 3
                or not all(isinstance(a, int | float) and not isinstance(a, bool) for a in args)
                or not (isinstance(args[2], int) and args[2] >= 1)
            ):
                message = f"expected [start, stop, count], count an integer >= 1; got {args!r}"
                raise SweepError([(f"{key}.{space}", message)])
            start, stop, count = args
            grid = np.linspace if space == "linspace" else np.logspace
            return [float(v) for v in grid(start, stop, count)]
    raise SweepError(
        [
            (
                key,
                "expected a list of values, {linspace: [a, b, n]} or {logspace: [a, b, n]}, "
                f"got {spec!r}",
            )
        ]
    )
