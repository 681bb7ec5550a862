"""The experiment schema: a base run of some kind, its variants, a sweep and an output.

An experiment's model is made per kind by :func:`experiment_model`: the shared fields below
plus the kind's run fields (``seed``, and for the classifier ``data``, ``model``,
``train``). Validating it also resolves it, once: every variant deep-merged onto the base
and validated as a run, and every sweep member (variant × grid point) validated as a run.
What comes out, :attr:`Experiment.members`, is what everything downstream reads.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    Field,
    PrivateAttr,
    Strict,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from experiments.config.errors import custom_error, describe_error
from experiments.config.merge import deep_merge, nested
from experiments.config.sweep import SweepConfig, SweepError, parse_sweep
from experiments.fields import Name, RunBase, StrictModel
from experiments.kind import Kind

__all__ = ["Experiment", "MemberSpec", "OutputConfig", "experiment_model"]


class OutputConfig(StrictModel):
    """Where runs go (``<dir>/<name>/<UTC time>-<config hash>/``) and the figure formats."""

    dir: Annotated[str, Strict(), Field(min_length=1)] = "results"
    formats: list[Literal["png", "pdf", "svg"]] = Field(default_factory=lambda: ["png", "pdf"])

    @field_validator("formats")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"formats must not repeat, got {value}")
        return value


@dataclasses.dataclass(frozen=True)
class MemberSpec:
    """One run of an experiment: its index, variant, swept values ({} when nothing is
    swept) and resolved, validated config."""

    index: int
    variant: str
    values: dict[str, Any]
    spec: RunBase


class Experiment(StrictModel):
    """The fields every experiment has, whatever its kind (see :func:`experiment_model`)."""

    KIND: ClassVar[Kind]

    name: Name
    description: Annotated[str, Strict()] = ""
    kind: str
    variants: list[dict[str, Any]] = Field(
        default_factory=lambda: [{"name": "default"}], min_length=1
    )
    output: OutputConfig = OutputConfig()
    # Dotted run keys to the values they take (see experiments.config.sweep); {} is no sweep.
    sweep: SweepConfig = SweepConfig()

    _runs: tuple[RunBase, ...] = PrivateAttr(())
    _members: tuple[MemberSpec, ...] = PrivateAttr(())

    def runs(self) -> list[RunBase]:
        """Each variant deep-merged onto the base, validated."""
        return list(self._runs)

    @property
    def members(self) -> list[MemberSpec]:
        """Every run: variant-major, then grid point; one per variant without a sweep."""
        return list(self._members)

    def describe_sweep(self) -> list[str]:
        """A line for the grid and one per member (empty without a sweep), for ``show``."""
        if not self.sweep:
            return []
        members = self.members
        points = len(members) // len(self.variants)
        lines = [
            f"sweep: {len(members)} members = {len(self.variants)} variant(s) × "
            f"{points} grid point(s)"
        ]
        for member in members:
            values = ", ".join(f"{k}={v!r}" for k, v in member.values.items())
            lines.append(f"  [{member.index}] {member.variant}: {values}")
        return lines

    @model_validator(mode="wrap")
    @classmethod
    def _resolve(cls, data: Any, handler: Callable[[Any], Experiment]) -> Any:
        # Validates the base, then each variant and sweep member as a run: their errors
        # are reported together, a base error repeated by every variant once.
        errors: list[Any] = []
        if isinstance(data, Mapping):
            data = dict(data)
            try:
                data["sweep"] = parse_sweep(data.get("sweep"))
            except SweepError as error:
                errors.extend(_sweep_errors(error))
                data.pop("sweep")
        config = None
        try:
            config = handler(data)
        except ValidationError as error:
            errors.extend(error.errors())
        runs: list[RunBase] = []
        if isinstance(data, Mapping):
            variants = config.variants if config is not None else data.get("variants")
            if isinstance(variants, list):
                runs = _resolve_variants(cls.KIND, data, variants, errors)
        if errors or config is None:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        config._runs = tuple(runs)
        config._members = tuple(_expand(cls.KIND, runs, config.sweep))
        return config


@functools.cache
def experiment_model(kind: Kind) -> type[Experiment]:
    """The experiment schema of a kind: :class:`Experiment`'s fields and the kind's run's."""
    model = create_model(
        f"{kind.name.title()}Experiment",
        __base__=(Experiment, kind.spec),
        kind=(Literal[kind.name], kind.name),  # type: ignore[valid-type]
    )
    model.KIND = kind
    return model


def _sweep_errors(error: SweepError) -> list[dict[str, Any]]:
    return [
        custom_error(("sweep", key) if key else ("sweep",), None, message)
        for key, message in error.problems
    ]


def _resolve_variants(
    kind: Kind, raw: Mapping[str, Any], variants: list[Any], base_errors: list[Any]
) -> list[RunBase]:
    """Each variant merged onto the raw base and validated as a run; the variants' own
    problems are appended to ``base_errors``."""
    base = {key: raw[key] for key in kind.run_keys if key in raw}
    seen = {_error_key(e) for e in base_errors}
    runs, names = [], {}
    for index, variant in enumerate(variants):
        if not isinstance(variant, Mapping):
            continue  # the list's own validation reports it
        try:
            runs.append(kind.spec.model_validate(deep_merge(base, variant, kind.spec)))
        except ValidationError as error:
            for e in error.errors():
                if _error_key(e) not in seen:
                    base_errors.append({**_line_error(e), "loc": ("variants", index, *e["loc"])})
        name = variant.get("name")
        if isinstance(name, str):
            if name in names:
                message = f"duplicate variant name {name!r} (also variants[{names[name]}])"
                base_errors.append(custom_error(("variants", index, "name"), name, message))
            names.setdefault(name, index)
    return runs


def _expand(kind: Kind, runs: list[RunBase], sweep: SweepConfig) -> list[MemberSpec]:
    """Every (variant, grid point) pair validated as a run, variant-major.

    Raises:
        ValidationError: with one ``sweep.<key> = <value>: <problem>`` error per problem.
    """
    if not sweep:
        return [MemberSpec(i, run.name, {}, run) for i, run in enumerate(runs)]
    points = sweep.points()
    members, errors = [], []
    for run in runs:
        variant = run.model_dump(mode="json")
        for point in points:
            raw: Mapping[str, Any] = variant
            for key, value in point.items():
                raw = deep_merge(raw, nested(key, value), kind.spec)
            try:
                spec = kind.spec.model_validate(raw)
            except ValidationError as error:
                errors.extend(_member_error(e, kind, point) for e in error.errors())
                continue
            members.append(MemberSpec(len(members), run.name, point, spec))
    if errors:
        unique = list({repr(e): e for e in errors}.values())
        raise ValidationError.from_exception_data("Sweep", unique)
    return members


def _member_error(error: Mapping[str, Any], kind: Kind, point: Mapping[str, Any]) -> dict:
    path, message = describe_error(error, kind.spec, kind.spec)
    if path in point:
        return custom_error(("sweep", f"{path} = {point[path]!r}"), point[path], message)
    at = ", ".join(f"{key} = {value!r}" for key, value in point.items())
    return custom_error(("sweep",), None, f"{path}: {message} (at {at})")


def _error_key(error: Mapping[str, Any]) -> tuple[Any, ...]:
    return (tuple(error["loc"]), error["type"], repr(error.get("input")))


def _line_error(error: Mapping[str, Any]) -> dict[str, Any]:
    # ValidationError.from_exception_data takes the fields of errors() minus msg and url.
    line = {"type": error["type"], "loc": error["loc"], "input": error.get("input")}
    if "ctx" in error:
        line["ctx"] = error["ctx"]
    return line
