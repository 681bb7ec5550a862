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
from typing import Annotated, Any, ClassVar, Literal, Protocol

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
from experiments.config.fields import Name, RunBase, StrictModel, precision_context
from experiments.config.merge import deep_merge, nested
from experiments.config.sweep import SweepConfig, SweepError, parse_sweep

__all__ = [
    "DEFAULT_KIND",
    "Experiment",
    "KindSchema",
    "MemberSpec",
    "OutputConfig",
    "experiment_model",
]


# The kind a config without ``kind:`` has.
DEFAULT_KIND = "classifier"


class KindSchema(Protocol):
    """What validating a config needs of its kind: the registry's entries
    (:class:`experiments.contract.Kind`) have it. The config layer imports no kind."""

    @property
    def name(self) -> str: ...

    @property
    def spec(self) -> type[RunBase]: ...

    @property
    def precisions(self) -> tuple[str, ...]: ...

    @property
    def run_keys(self) -> tuple[str, ...]: ...


class OutputConfig(StrictModel):
    """Where runs go (``<dir>/<name>/<UTC time>-<config hash>/``) and the figures: their
    formats, their width (``column``: 3.5 in, one column of a two-column paper; ``page``:
    7 in) and the resolution of raster formats (dots per inch)."""

    dir: Annotated[str, Strict(), Field(min_length=1)] = "results"
    formats: list[Literal["png", "pdf", "svg"]] = Field(default_factory=lambda: ["png", "pdf"])
    figure_width: Literal["column", "page"] = "page"
    dpi: Annotated[int, Strict(), Field(ge=50, le=1200)] = 200

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

    KIND: ClassVar[KindSchema]

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
    _members: tuple[MemberSpec, ...] | None = PrivateAttr(None)

    def runs(self) -> list[RunBase]:
        """Each variant deep-merged onto the base, validated."""
        return list(self._runs)

    @property
    def members(self) -> list[MemberSpec]:
        """Every run: variant-major, then grid point; one per variant without a sweep.

        A grid of more than :data:`EAGER_MEMBERS` members is expanded here, on first use
        (its axis values were validated one by one when the config was).
        """
        if self._members is None:
            self._members = tuple(_expand(type(self).KIND, list(self._runs), self.sweep))
        return list(self._members)

    def member_count(self) -> int:
        """How many members the config has, without expanding the grid."""
        return len(self._runs) * (self.sweep.size() if self.sweep else 1)

    def describe_sweep(self, shown: int = 10) -> list[str]:
        """For ``show``: a line for the grid, then its members (the first and last
        ``shown`` of a large grid); empty without a sweep."""
        if not self.sweep:
            return []
        count, points = self.member_count(), self.sweep.size()
        lines = [f"sweep: {count} members = {len(self._runs)} variant(s) × {points} grid point(s)"]
        if count > 2 * shown:
            picks = [*range(shown), *range(count - shown, count)]
        else:
            picks = list(range(count))
        points_list = self.sweep.points() if count <= EAGER_MEMBERS else None
        for position, index in enumerate(picks):
            if position == shown and count > 2 * shown:
                lines.append(f"  ... {count - 2 * shown} more ...")
            run = self._runs[index // points]
            point = points_list[index % points] if points_list else self.sweep.point(index % points)
            values = ", ".join(f"{k}={v!r}" for k, v in point.items())
            lines.append(f"  [{index}] {run.name}: {values}")
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
        if config is not None:
            errors.extend(_precision_errors(cls.KIND, config))
        if not errors and config is not None:
            errors.extend(_size_errors(len(runs), config.sweep))
        if errors or config is None:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        config._runs = tuple(runs)
        if len(runs) * (config.sweep.size() if config.sweep else 1) <= EAGER_MEMBERS:
            config._members = tuple(_expand(cls.KIND, runs, config.sweep))
        else:
            _check_axes(cls.KIND, runs, config.sweep)  # each value once; members on first use
        return config


@functools.cache
def experiment_model(kind: KindSchema) -> type[Experiment]:
    """The experiment schema of a kind: :class:`Experiment`'s fields and the kind's run's."""
    model = create_model(
        f"{kind.name.title()}Experiment",
        __base__=(Experiment, kind.spec),
        kind=(Literal[kind.name], kind.name),  # type: ignore[valid-type]
    )
    model.KIND = kind
    return model


def _precision_errors(kind: KindSchema, config: Experiment) -> list[dict[str, Any]]:
    """``precision`` is one per run, set at the top level, and one the kind computes in."""
    errors = []
    if config.precision not in kind.precisions:
        allowed = " or ".join(kind.precisions)
        message = (
            f"kind {kind.name} computes in {allowed} only (its code is not dtype-generic), "
            f"got {config.precision}"
        )
        errors.append(custom_error(("precision",), config.precision, message))
    for index, variant in enumerate(config.variants):
        if "precision" in variant:
            message = "is set once, at the top level: every member of a run has one precision"
            errors.append(custom_error(("variants", index, "precision"), None, message))
    if "precision" in config.sweep.axes:
        message = "cannot be swept: every member of a run has one precision; run each apart"
        errors.append(custom_error(("sweep", "precision"), None, message))
    return errors


EAGER_MEMBERS = 20_000  # grids up to this size are expanded and validated when loaded
MAX_MEMBERS = 1_000_000


def _size_errors(variants: int, sweep: SweepConfig) -> list[dict[str, Any]]:
    """A grid too large to expand: refused from the axis lengths, before any expansion."""
    count = variants * (sweep.size() if sweep else 1)
    if count <= MAX_MEMBERS:
        return []
    axes = " × ".join(str(n) for n in sweep.axis_lengths())
    message = (
        f"{variants} variant(s) × {axes} = {count:,} members, more than {MAX_MEMBERS:,}; "
        "shorten an axis"
    )
    return [custom_error(("sweep",), None, message)]


def _check_axes(kind: KindSchema, runs: list[RunBase], sweep: SweepConfig) -> None:
    """Validates every value of every axis against every variant, alone (a large grid's
    stand-in for validating each member)."""
    errors = []
    for run in runs:
        variant = run.model_dump(mode="json")
        context = precision_context(variant)
        for key, values in sweep.axes.items():
            for value in values:
                try:
                    raw = _with_values(variant, {key: value}, kind.spec)
                    kind.spec.model_validate(raw, context=context)
                except ValidationError as error:
                    errors.extend(_member_error(e, kind, {key: value}) for e in error.errors())
    if errors:
        unique = list({repr(e): e for e in errors}.values())
        raise ValidationError.from_exception_data("Sweep", unique)


def _with_values(variant: Mapping[str, Any], point: Mapping[str, Any], spec: Any) -> Any:
    """``variant`` with each dotted key of ``point`` set: mappings on the path are copied,
    the rest shared (validation does not modify its input). A key that sets a tag
    (``...kind``, ``...source``) merges with :func:`deep_merge`, which drops the keys the
    new choice lacks."""
    raw: Any = variant
    for key, value in point.items():
        parts = key.split(".")
        if parts[-1] in ("kind", "source", "name") and len(parts) > 1:
            raw = deep_merge(raw, nested(key, value), spec)
            continue
        raw = _set(raw, parts, value)
    return raw


def _set(node: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    copy = dict(node) if isinstance(node, Mapping) else {}
    copy[parts[0]] = _set(copy.get(parts[0]), parts[1:], value)
    return copy


def _sweep_errors(error: SweepError) -> list[dict[str, Any]]:
    return [
        custom_error(("sweep", key) if key else ("sweep",), None, message)
        for key, message in error.problems
    ]


def _resolve_variants(
    kind: KindSchema, raw: Mapping[str, Any], variants: list[Any], base_errors: list[Any]
) -> list[RunBase]:
    """Each variant merged onto the raw base and validated as a run; the variants' own
    problems are appended to ``base_errors``."""
    base = {key: raw[key] for key in kind.run_keys if key in raw}
    context = precision_context(raw)  # variants cannot change it (_precision_errors)
    seen = {_error_key(e) for e in base_errors}
    runs, names = [], {}
    for index, variant in enumerate(variants):
        if not isinstance(variant, Mapping):
            continue  # the list's own validation reports it
        try:
            merged = deep_merge(base, variant, kind.spec)
            runs.append(kind.spec.model_validate(merged, context=context))
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


def _expand(kind: KindSchema, runs: list[RunBase], sweep: SweepConfig) -> list[MemberSpec]:
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
        context = precision_context(variant)
        for point in points:
            try:
                raw = _with_values(variant, point, kind.spec)
                spec = kind.spec.model_validate(raw, context=context)
            except ValidationError as error:
                errors.extend(_member_error(e, kind, point) for e in error.errors())
                continue
            members.append(MemberSpec(len(members), run.name, point, spec))
    if errors:
        unique = list({repr(e): e for e in errors}.values())
        raise ValidationError.from_exception_data("Sweep", unique)
    return members


def _member_error(error: Mapping[str, Any], kind: KindSchema, point: Mapping[str, Any]) -> dict:
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
