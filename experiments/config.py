"""Experiment configs: validated data with every default visible in one place.

A config is a YAML file read with ``yaml.safe_load`` and validated by the pydantic models
below (``extra="forbid"`` everywhere, so a typo is an error, never a silently ignored key).
The models are the single source of defaults: ``python -m experiments show CONFIG`` prints
the resolved config, and a run folder keeps it as ``config.yaml``.

Overrides ``--set key.path=value`` are parsed as YAML scalars and merged into the raw mapping
before validation, so they are checked exactly like the file. ``variants`` are partial
configs deep-merged onto the base (``seed``, ``data``, ``model`` and ``train``); where a
variant or an override changes a tagged choice (``data.source``, ``model.init.kind``,
``train.prior.kind``) the keys the new choice does not know are dropped.

Every problem is reported at once, each with its dotted path::

    train.optimizer.learning_rate: must be > 0, got -0.1
    train.los: unknown key (allowed: loss, prior, optimizer, steps, batch_size, log_every)
    variants[1].train.prior.kind: 'cauchy' is not one of none, gaussian, laplace
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "ConfigError",
    "Constant",
    "CsvData",
    "DataConfig",
    "ExperimentConfig",
    "GaussianPrior",
    "InitConfig",
    "InlineData",
    "LaplacePrior",
    "ModelConfig",
    "NoPrior",
    "Normal",
    "OptimizerConfig",
    "OutputConfig",
    "PriorConfig",
    "RunSpec",
    "SklearnData",
    "SyntheticData",
    "TrainConfig",
    "Zeros",
    "config_hash",
    "dump_config",
    "load_config",
]


class ConfigError(ValueError):
    """A config, or an override, is invalid. ``problems`` holds one line per problem."""

    def __init__(self, problems: Iterable[str], *, source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__("\n".join(self.problems))


# ---------------------------------------------------------------------------
# Field types
# ---------------------------------------------------------------------------


def _reject_bool(value: Any) -> Any:
    # YAML reads `yes`/`true` as booleans; pydantic's lax mode would take them as 1.
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()}")
    return value


# Floats accept YAML 1.1's quirk of reading `1e-3` as a string; NaN and inf are rejected.
Float = Annotated[float, BeforeValidator(_reject_bool), Field(allow_inf_nan=False)]
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Seed = Annotated[int, Strict(), Field(ge=0, lt=2**32)]
NAME_PATTERN = r"^[A-Za-z0-9_-]+$"
Name = Annotated[str, Strict(), Field(min_length=1, max_length=64, pattern=NAME_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    """

    source: Literal["synthetic"] = "synthetic"
    n_samples: Int = Field(2000, ge=4)
    n_features: Int = Field(50, ge=1)
    n_informative: Int = Field(5, ge=0)
    class_sep: Float = Field(1.0, gt=0)
    label_noise: Float = Field(0.0, ge=0, le=0.5)
    separable: Bool = False

    @field_validator("n_informative")
    @classmethod
    def _at_most_n_features(cls, value: int, info: ValidationInfo) -> int:
        n_features = info.data.get("n_features")
        if n_features is not None and value > n_features:
            raise ValueError(f"must be <= n_features ({n_features}), got {value}")
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
    """A tiny hand-made data set written in the config."""

    source: Literal["inline"] = "inline"
    x: list[list[Float]] = Field(min_length=2)
    y: list[Int] = Field(min_length=2)

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


def _default_tag(key: str, default: str) -> BeforeValidator:
    """Fills in a union's tag when a mapping leaves it out, so the tag has a default."""

    def fill(value: Any) -> Any:
        if isinstance(value, Mapping) and key not in value:
            return {key: default, **value}
        return value

    return BeforeValidator(fill)


DataConfig = Annotated[
    SyntheticData | SklearnData | CsvData | InlineData,
    Field(discriminator="source"),
    _default_tag("source", "synthetic"),
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
    Zeros | Normal | Constant, Field(discriminator="kind"), _default_tag("kind", "zeros")
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


class GaussianPrior(_Strict):
    """MAP with ``w ~ N(0, scale²)``: adds ``‖w‖²/(2·scale²)`` (sklearn's L2 with C = scale²)."""

    kind: Literal["gaussian"] = "gaussian"
    scale: Float = Field(gt=0)


class LaplacePrior(_Strict):
    """MAP with ``w ~ Laplace(0, scale)``: adds ``‖w‖₁/scale`` (sklearn's L1 with C = scale)."""

    kind: Literal["laplace"] = "laplace"
    scale: Float = Field(gt=0)


PriorConfig = Annotated[
    NoPrior | GaussianPrior | LaplacePrior,
    Field(discriminator="kind"),
    _default_tag("kind", "none"),
]


class OptimizerConfig(_Strict):
    """The optimizer; ``momentum`` is read by ``momentum`` only; ``b1``, ``b2``, ``eps`` by adam."""

    name: Literal["sgd", "momentum", "adam", "fista"] = "sgd"
    learning_rate: Float = Field(0.5, gt=0)
    momentum: Float = Field(0.9, ge=0, lt=1)
    b1: Float = Field(0.9, ge=0, lt=1)
    b2: Float = Field(0.999, ge=0, lt=1)
    eps: Float = Field(1e-8, gt=0)


class TrainConfig(_Strict):
    """What is minimised and how: ``batch_size: null`` means full batch."""

    loss: Literal["ce", "mse"] = "ce"
    prior: PriorConfig = NoPrior()
    optimizer: OptimizerConfig = OptimizerConfig()
    steps: Int = Field(2000, gt=0)
    batch_size: Int | None = Field(None, gt=0)
    log_every: Int = Field(10, gt=0)

    @field_validator("log_every")
    @classmethod
    def _at_most_steps(cls, value: int, info: ValidationInfo) -> int:
        steps = info.data.get("steps")
        if steps is not None and value > steps:
            raise ValueError(f"must be <= train.steps ({steps}), got {value}")
        return value


class OutputConfig(_Strict):
    """Where runs go (``<dir>/<name>/<UTC time>-<config hash>/``) and the figure formats."""

    dir: Annotated[str, Strict(), Field(min_length=1)] = "results"
    formats: list[Literal["png", "pdf", "svg"]] = ["png", "pdf"]

    @field_validator("formats")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"formats must not repeat, got {value}")
        return value


# ---------------------------------------------------------------------------
# Experiments
# ---------------------------------------------------------------------------


class _RunFields(_Strict):
    """What one run needs; shared by the experiment (its base) and each resolved variant."""

    seed: Seed = 0
    data: DataConfig = SyntheticData()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()


class RunSpec(_RunFields):
    """One resolved variant: the base config with the variant deep-merged onto it."""

    name: Name


RUN_KEYS = ("seed", "data", "model", "train")


class ExperimentConfig(_RunFields):
    """A whole experiment: a base run, the variants compared, and where results go."""

    name: Name
    description: Annotated[str, Strict()] = ""
    variants: list[dict[str, Any]] = Field(
        default_factory=lambda: [{"name": "default"}], min_length=1
    )
    output: OutputConfig = OutputConfig()
    # Dotted run keys to the values they take (see experiments.grid); {} is no sweep.
    sweep: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _check_variants(cls, data: Any, handler: Callable[[Any], ExperimentConfig]) -> Any:
        # The variants are validated as merged RunSpecs, their errors reported together
        # with the base's (a base error repeated by every variant is reported once).
        errors: list[Any] = []
        config = None
        try:
            config = handler(data)
        except ValidationError as error:
            errors.extend(error.errors())
        if isinstance(data, Mapping) and isinstance(data.get("variants"), list):
            errors.extend(_variant_errors(data, errors))
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return config

    def runs(self) -> list[RunSpec]:
        """Returns each variant deep-merged onto the base, validated."""
        base = self.model_dump(mode="json", include=set(RUN_KEYS))
        return [RunSpec.model_validate(_merge_variant(base, variant)) for variant in self.variants]


def _merge_variant(base: Mapping[str, Any], variant: Mapping[str, Any]) -> dict[str, Any]:
    return deep_merge(base, variant, RunSpec)


def _variant_errors(raw: Mapping[str, Any], base_errors: list[Any]) -> list[Any]:
    base = {key: raw[key] for key in RUN_KEYS if key in raw}
    seen = {_error_key(e["loc"], e) for e in base_errors}
    errors = []
    names: dict[str, int] = {}
    for index, variant in enumerate(raw["variants"]):
        if not isinstance(variant, Mapping):
            continue  # the list's own validation reports it
        try:
            RunSpec.model_validate(_merge_variant(base, variant))
        except ValidationError as error:
            for e in error.errors():
                if _error_key(e["loc"], e) in seen:
                    continue
                errors.append({**_line_error(e), "loc": ("variants", index, *e["loc"])})
        name = variant.get("name")
        if isinstance(name, str):
            if name in names:
                message = f"duplicate variant name {name!r} (also variants[{names[name]}])"
                errors.append(_custom_error(("variants", index, "name"), name, message))
            names.setdefault(name, index)
    return errors


def _error_key(loc: tuple[Any, ...], error: Mapping[str, Any]) -> tuple[Any, ...]:
    return (tuple(loc), error["type"], repr(error.get("input")))


def _line_error(error: Mapping[str, Any]) -> dict[str, Any]:
    # ValidationError.from_exception_data takes the fields of errors() minus msg and url.
    line = {"type": error["type"], "loc": error["loc"], "input": error.get("input")}
    if "ctx" in error:
        line["ctx"] = error["ctx"]
    return line


def _custom_error(loc: tuple[Any, ...], value: Any, message: str) -> dict[str, Any]:
    return {"type": "value_error", "loc": loc, "input": value, "ctx": {"error": message}}


# ---------------------------------------------------------------------------
# Merging and overrides
# ---------------------------------------------------------------------------


def _field_annotation(model: type[BaseModel], key: str) -> tuple[Any, str | None]:
    field = model.model_fields[key]
    discriminator = field.discriminator if isinstance(field.discriminator, str) else None
    return field.annotation, discriminator


def _union_members(annotation: Any, key: str) -> dict[str, type[BaseModel]]:
    """Maps each tag of a discriminated union to its model."""
    members = {}
    for member in typing.get_args(annotation):
        tag = typing.get_args(member.model_fields[key].annotation)[0]
        members[tag] = member
    return members


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any], model: Any) -> dict[str, Any]:
    """Deep-merges ``update`` onto ``base`` (neither is modified), guided by ``model``.

    Mappings merge key by key; anything else is replaced. Where ``update`` changes the tag
    of a discriminated union (``source``, ``kind``), the base keys that the new choice
    does not have are dropped, so ``{kind: laplace, scale: 0.1}`` updated with
    ``{kind: none}`` gives ``{kind: none}``.
    """
    merged = copy.deepcopy(dict(base))
    for key, value in update.items():
        old = merged.get(key)
        if not (_is_model(model) and key in model.model_fields):
            merged[key] = copy.deepcopy(value)
            continue
        if not (isinstance(old, Mapping) and isinstance(value, Mapping)):
            merged[key] = copy.deepcopy(value)
            continue
        annotation, discriminator = _field_annotation(model, key)
        if discriminator is None:
            merged[key] = deep_merge(old, value, annotation)
            continue
        members = _union_members(annotation, discriminator)
        # Each union lists its default choice first (as _default_tag fills it in).
        default = typing.get_args(annotation)[0].model_fields[discriminator].default
        old_tag = old.get(discriminator, default)
        new_tag = value.get(discriminator, old_tag)
        member = members.get(new_tag)
        if new_tag != old_tag and member is not None:
            old = {k: v for k, v in old.items() if k in member.model_fields}
        merged[key] = deep_merge(old, value, member)
    return merged


_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _parse_key(key: str) -> list[str | int]:
    """``variants[1].train.steps`` (or ``variants.1.train.steps``) -> path segments."""
    if not key or key.startswith(".") or key.endswith(".") or ".." in key:
        raise ValueError("expected a dotted key such as train.optimizer.learning_rate")
    segments: list[str | int] = []
    position = 0
    for match in _SEGMENT.finditer(key):
        if match.start() != position:
            raise ValueError("expected a dotted key such as train.optimizer.learning_rate")
        name, index = match.groups()
        if index is not None:
            segments.append(int(index))
        elif name.isdigit():
            segments.append(int(name))
        else:
            segments.append(name)
        position = match.end()
        if position < len(key) and key[position] == ".":
            position += 1
    if position != len(key):
        raise ValueError("expected a dotted key such as train.optimizer.learning_rate")
    return segments


def _format_path(segments: Iterable[str | int]) -> str:
    text = ""
    for segment in segments:
        text += f"[{segment}]" if isinstance(segment, int) else f".{segment}" if text else segment
    return text


def parse_override(text: str) -> tuple[list[str | int], Any]:
    """Parses ``key.path=value``; the value is a YAML scalar (``1e-3`` and ``null`` work)."""
    key, sep, value_text = text.partition("=")
    if not sep:
        raise ValueError("expected KEY=VALUE, e.g. train.steps=100")
    segments = _parse_key(key.strip())
    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise ValueError(f"the value {value_text!r} is not valid YAML ({problem})") from None
    if isinstance(value, str):
        value = _float_or_str(value)
    return segments, value


def _float_or_str(text: str) -> Any:
    # YAML 1.1 reads 1e-3 as a string; such strings are numbers to a user.
    if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", text):
        return float(text)
    return text


def apply_override(raw: Mapping[str, Any], segments: list[str | int], value: Any) -> dict[str, Any]:
    """Returns ``raw`` with ``value`` merged in at ``segments`` (``raw`` is not modified).

    The key need not exist yet: validation then reports it as unknown, with its path.
    """
    return _set_in(raw, segments, value, ExperimentConfig, [])


def _set_in(node: Any, segments: list[str | int], value: Any, model: Any, done: list) -> Any:
    # The mapping part of the path becomes a nested update merged with deep_merge (so a new
    # tag drops the keys its choice lacks); a list index recurses into that one element.
    split = next((i for i, s in enumerate(segments) if isinstance(s, int)), len(segments))
    keys, rest = segments[:split], segments[split:]
    current = node
    for depth, key in enumerate(keys):
        if current is None:
            break
        if not isinstance(current, Mapping):
            where = _format_path([*done, *keys[:depth]]) or "the config"
            raise ValueError(
                f"{where} is {_show(current)}, not a mapping, so .{key} does not apply"
            )
        current = current.get(key)
    if rest:
        index, tail = rest[0], rest[1:]
        where = _format_path([*done, *keys]) or "the config"
        if not isinstance(current, list):
            raise ValueError(
                f"{where} is {_show(current)}, not a list, so [{index}] does not apply"
            )
        if not 0 <= index < len(current):
            raise ValueError(f"{where} has {len(current)} entries, so [{index}] is out of range")
        element_model = RunSpec if [*done, *keys] == ["variants"] else None
        element = current[index]
        if tail:
            element = _set_in(element, tail, value, element_model, [*done, *keys, index])
        else:
            element = value
        value = [*current[:index], element, *current[index + 1 :]]
    if not keys:
        return value
    if node is not None and not isinstance(node, Mapping):
        where = _format_path(done) or "the config"
        raise ValueError(f"{where} is {_show(node)}, not a mapping")
    update: Any = value
    for key in reversed(keys):
        update = {key: update}
    return deep_merge(node or {}, update, model)


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with a repeated key."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    """Reads YAML safely (plain data only), refusing repeated keys."""
    text = path.read_text(encoding="utf-8")
    return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> ExperimentConfig:
    """Reads, overrides and validates a config.

    Args:
      path: the YAML file.
      overrides: ``key.path=value`` strings, applied in order.

    Returns:
      The validated config.

    Raises:
      ConfigError: listing every problem, each with its dotted path.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "not found"
        raise ConfigError([f"config file {what}: {path}"], source=source)
    try:
        raw = read_yaml(path)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(
            [f"{path}: invalid YAML: {_yaml_problem(error)}"], source=source
        ) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        message = f"{path}: the top level must be a mapping of keys, got {_type_name(raw)}"
        raise ConfigError([message], source=source)
    return validate_config(raw, overrides, source=source)


def validate_config(
    raw: Mapping[str, Any], overrides: Iterable[str] = (), *, source: str | None = None
) -> ExperimentConfig:
    """Applies ``overrides`` to the raw mapping and validates it (see ``load_config``)."""
    problems = []
    raw = dict(raw)
    set_paths: dict[str, str] = {}
    for text in overrides:
        try:
            segments, value = parse_override(text)
            raw = apply_override(raw, segments, value)
            set_paths[_format_path(segments)] = text
        except ValueError as error:
            problems.append(f"--set {text}: {error}")
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as error:
        problems.extend(format_errors(error.errors(), set_paths))
    else:
        if config.sweep:
            from experiments.grid import SweepError, expand_members

            try:
                expand_members(config.runs(), config.sweep)
            except SweepError as error:
                problems.extend(error.problems)
    if problems:
        raise ConfigError(problems, source=source)
    return config


def _yaml_problem(error: Exception) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return problem


# ---------------------------------------------------------------------------
# Error messages
# ---------------------------------------------------------------------------


def format_errors(
    errors: Iterable[Mapping[str, Any]], set_paths: Mapping[str, str] | None = None
) -> list[str]:
    """Turns pydantic's ``errors()`` into ``dotted.path: what is wrong`` lines.

    ``set_paths`` maps the dotted keys given with ``--set`` to their text, so that a
    problem they caused says so.
    """
    lines = []
    for error in errors:
        segments, parent = _resolve_loc(error["loc"])
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            segments.append(str((error.get("ctx") or {}).get("discriminator", "")).strip("'"))
        path = _format_path(segments)
        line = f"{path or '(top level)'}: {_describe(error, parent)}"
        origin = next((text for key, text in (set_paths or {}).items() if _within(path, key)), None)
        if origin is not None:
            line += f" (from --set {origin})"
        lines.append(line)
    return list(dict.fromkeys(lines))


def _within(path: str, key: str) -> bool:
    inside = path.startswith((key + ".", key + "["))
    return path == key or inside or key.startswith((path + ".", path + "["))


def _resolve_loc(loc: Iterable[Any]) -> tuple[list[str | int], Any]:
    """Walks the schema along a pydantic ``loc``: the path without the union tags that
    pydantic puts into it, and the model holding the last key (for ``allowed`` lists)."""
    segments: list[str | int] = []
    node: Any = ExperimentConfig
    parent: Any = None
    union: dict[str, type[BaseModel]] | None = None
    for part in loc:
        if union is not None:
            node, union = union.get(part), None
            continue
        segments.append(part)
        if isinstance(part, int):
            if node == "variants":
                node = RunSpec
            else:
                node = typing.get_args(node)[0] if typing.get_origin(node) is list else None
            continue
        parent = node
        if not (_is_model(node) and part in node.model_fields):
            node = None
            continue
        annotation, discriminator = _field_annotation(node, part)
        if node is ExperimentConfig and part == "variants":
            node = "variants"  # validated as merged RunSpecs, see _variant_errors
        elif discriminator is not None:
            union = _union_members(annotation, discriminator)
        else:
            node = _strip_optional(annotation)
    return segments, parent


def _strip_optional(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _describe(error: Mapping[str, Any], parent: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    got = f"got {_show(value)}"
    if kind == "extra_forbidden":
        if _is_model(parent):
            allowed = ", ".join(_readable_order(dict.fromkeys(parent.model_fields)))
            within = _tag_phrase(parent)
            return f"unknown key{within} (allowed: {allowed})"
        return "unknown key"
    if kind == "missing":
        return "required, but missing"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _tag_message(error, ctx)
    if kind == "literal_error":
        expected = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return f"{_show(value)} is not one of {expected}"
    bounds = {
        "greater_than": ">",
        "greater_than_equal": ">=",
        "less_than": "<",
        "less_than_equal": "<=",
    }
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"must be {bounds[kind]} {_number(limit)}, {got}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected an integer, {got}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, {got}"
    if kind == "finite_number":
        return f"must be a finite number, {got}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, {got}"
    if kind in ("string_type", "string_sub_type"):
        return f"expected a string, {got}"
    if kind == "string_pattern_mismatch":
        return f"may contain only letters, digits, '-' and '_', {got}"
    if kind == "string_too_short":
        return f"must not be empty, {got}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters, {got}"
    if kind == "list_type":
        return f"expected a list, {got}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of keys, {got}"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} entries, got {ctx.get('actual_length')}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error.get("msg", "invalid value")))
    return f"{error.get('msg', 'invalid value')}, {got}"


def _tag_phrase(model: type[BaseModel]) -> str:
    for key in ("source", "kind"):
        field = model.model_fields.get(key)
        if field is not None and typing.get_origin(field.annotation) is Literal:
            return f" for {key} {typing.get_args(field.annotation)[0]!r}"
    return ""


def _tag_message(error: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
    expected = ctx.get("expected_tags", "")
    allowed = ", ".join(re.findall(r"'([^']*)'", str(expected)))
    if error["type"] == "union_tag_invalid":
        return f"{_show(ctx.get('tag'))} is not one of {allowed}"
    return f"required, one of {allowed}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = repr(value)
    elif value is None:
        text = "null"
    elif isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, Mapping):
        text = "a mapping " + json.dumps(value, default=str)
    elif isinstance(value, list):
        text = "a list " + json.dumps(value, default=str)
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string"}.get(type(value), _show(value))


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


_FIRST = ("name", "description", "source", "kind")
_LAST = ("test_fraction", "standardize", "variants", "output", "sweep")


def _readable_order(value: Any) -> Any:
    if isinstance(value, list):
        return [_readable_order(v) for v in value]
    if not isinstance(value, dict):
        return value
    first = [k for k in _FIRST if k in value]
    last = [k for k in _LAST if k in value]
    middle = [k for k in value if k not in first and k not in last]
    return {k: _readable_order(value[k]) for k in [*first, *middle, *last]}


def dump_config(config: ExperimentConfig) -> str:
    """The resolved config as YAML, every default written out."""
    data = _readable_order(config.model_dump(mode="json"))
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=100)


def config_hash(config: ExperimentConfig) -> str:
    """SHA-256 of what runs (everything but ``output``), canonical JSON, as hex."""
    data = config.model_dump(mode="json", exclude={"output"})
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
