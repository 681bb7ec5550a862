"""Reading configs: YAML in, overrides applied, one validated, resolved experiment out.

A config is a YAML file read with a safe loader that refuses repeated keys. Its ``kind:``
(default ``classifier``) picks the schema from the registry the caller passes (the package
passes :data:`experiments.kinds.KINDS`: the config layer imports no kind); overrides
``--set key.path=value`` are merged into the raw mapping first, so they are checked
exactly like the file, and every problem is reported at once with its dotted path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from experiments.config.errors import (
    ConfigError,
    format_errors,
    format_path,
    readable_order,
    show,
    type_name,
)
from experiments.config.fields import precision_context
from experiments.config.merge import apply_override, parse_override
from experiments.config.schema import DEFAULT_KIND, Experiment, KindSchema, experiment_model
from experiments.config.yamlio import YamlError, parse_yaml, read_yaml

__all__ = [
    "config_hash",
    "dump_config",
    "load_config",
    "parse_yaml",
    "read_yaml",
    "validate_config",
]


def load_config(
    path: str | Path, overrides: Iterable[str] = (), *, kinds: Mapping[str, KindSchema]
) -> Experiment:
    """Reads, overrides, validates and resolves a config.

    Args:
      path: the YAML file.
      overrides: ``key.path=value`` strings, applied in order.
      kinds: the registry a config's ``kind:`` is looked up in (:data:`experiments.kinds.KINDS`;
        :func:`experiments.load_config` passes it).

    Returns:
      The validated experiment; its ``members`` are the resolved runs.

    Raises:
      ConfigError: listing every problem, each with its dotted path.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        what = "not found" if not path.exists() else "is a folder" if path.is_dir() else None
        what = what or "is not a regular file"
        raise ConfigError([f"config file {what}: {path}"], source=source)
    try:
        raw = read_yaml(path)
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"], source=source) from None
    except YamlError as error:
        raise ConfigError([f"{path}: {error}"], source=source) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        message = f"{path}: the top level must be a mapping of keys, got {type_name(raw)}"
        raise ConfigError([message], source=source)
    return validate_config(raw, overrides, kinds=kinds, source=source)


def validate_config(
    raw: Mapping[str, Any],
    overrides: Iterable[str] = (),
    *,
    kinds: Mapping[str, KindSchema],
    source: str | None = None,
) -> Experiment:
    """Applies ``overrides`` to the raw mapping and validates it (see :func:`load_config`)."""
    overrides = list(overrides)
    problems: list[str] = []
    raw = dict(raw)
    kind_name = _kind_name(raw, overrides)
    if kind_name not in kinds:
        allowed = ", ".join(kinds)
        raise ConfigError([f"kind: {show(kind_name)} is not one of {allowed}"], source=source)
    model = experiment_model(kinds[kind_name])
    set_paths: dict[str, str] = {}
    for text in overrides:
        try:
            segments, value = parse_override(text)
            raw = apply_override(raw, segments, value, model=model, variant_model=model.KIND.spec)
            set_paths[format_path(segments)] = text
        except ValueError as error:
            problems.append(f"--set {text}: {error}")
    try:
        config = model.model_validate(raw, context=precision_context(raw))
    except ValidationError as error:
        problems.extend(format_errors(error.errors(), model, model.KIND.spec, set_paths))
    if problems:
        raise ConfigError(problems, source=source)
    return config


def _kind_name(raw: Mapping[str, Any], overrides: list[str]) -> Any:
    kind = raw.get("kind", DEFAULT_KIND)
    for text in overrides:
        try:
            segments, value = parse_override(text)
        except ValueError:
            continue  # reported with the other overrides
        if segments == ["kind"]:
            kind = value
    return kind


def dump_config(config: Experiment) -> str:
    """The resolved config as YAML, every default written out."""
    data = readable_order(config.model_dump(mode="json"))
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=100)


def config_hash(config: Experiment) -> str:
    """SHA-256 of what runs (everything but ``description`` and ``output``), canonical
    JSON, as hex."""
    data = config.model_dump(mode="json", exclude={"description", "output"})
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
