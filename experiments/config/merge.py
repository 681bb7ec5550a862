"""Deep merging and ``--set`` overrides, guided by a schema.

``variants`` are partial runs deep-merged onto the base; an override ``key.path=value`` is
parsed as YAML and merged into the raw mapping before validation, so it is checked exactly
like the file. Where a merge changes a tagged choice (``data.source``, ``model.init.kind``,
``train.prior.kind``) the keys the new choice does not know are dropped.
"""

from __future__ import annotations

import copy
import re
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from experiments.config.errors import format_path, show
from experiments.config.fields import field_annotation, is_model, union_members
from experiments.config.yamlio import YamlError, parse_yaml

__all__ = [
    "apply_override",
    "command_line_overrides",
    "deep_merge",
    "format_path",
    "nested",
    "parse_override",
]


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
        if not (is_model(model) and key in model.model_fields):
            merged[key] = copy.deepcopy(value)
            continue
        if not (isinstance(old, Mapping) and isinstance(value, Mapping)):
            merged[key] = copy.deepcopy(value)
            continue
        annotation, discriminator = field_annotation(model, key)
        if discriminator is None:
            merged[key] = deep_merge(old, value, annotation)
            continue
        members = union_members(annotation, discriminator)
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


def parse_override(text: str) -> tuple[list[str | int], Any]:
    """Parses ``key.path=value``; the value is a YAML scalar (``1e-3`` and ``null`` work)."""
    key, sep, value_text = text.partition("=")
    if not sep:
        raise ValueError("expected KEY=VALUE, e.g. train.steps=100")
    segments = _parse_key(key.strip())
    try:
        value = parse_yaml(value_text)
    except YamlError as error:
        raise ValueError(f"the value {value_text!r} is not valid: {error}") from None
    return segments, value


def apply_override(
    raw: Mapping[str, Any],
    segments: list[str | int],
    value: Any,
    *,
    model: type[BaseModel],
    variant_model: type[BaseModel],
) -> dict[str, Any]:
    """Returns ``raw`` with ``value`` merged in at ``segments`` (``raw`` is not modified).

    ``model`` is the experiment's schema and ``variant_model`` that of one of its
    ``variants`` (a run). The key need not exist yet: validation then reports it as
    unknown, with its path.
    """
    if segments == ["sweep"] and value in ({}, None):
        return {k: v for k, v in raw.items() if k != "sweep"}  # --set sweep={} or null: none
    if segments[0] == "sweep" and len(segments) > 2 and all(isinstance(s, str) for s in segments):
        segments = ["sweep", ".".join(segments[1:])]  # a swept key is one dotted key
    return _set_in(raw, segments, value, model, [], variant_model)


def nested(key: str, value: Any) -> dict[str, Any]:
    """``nested("a.b", 1) == {"a": {"b": 1}}``: a dotted key as a mapping to merge."""
    update: Any = value
    for part in reversed(key.split(".")):
        update = {part: update}
    return update


def _set_in(
    node: Any, segments: list[str | int], value: Any, model: Any, done: list, variant_model: Any
) -> Any:
    # The mapping part of the path becomes a nested update merged with deep_merge (so a new
    # tag drops the keys its choice lacks); a list index recurses into that one element.
    split = next((i for i, s in enumerate(segments) if isinstance(s, int)), len(segments))
    keys, rest = segments[:split], segments[split:]
    current = node
    for depth, key in enumerate(keys):
        if current is None:
            break
        if not isinstance(current, Mapping):
            where = format_path([*done, *keys[:depth]]) or "the config"
            raise ValueError(f"{where} is {show(current)}, not a mapping, so .{key} does not apply")
        current = current.get(key)
    if rest:
        index, tail = rest[0], rest[1:]
        where = format_path([*done, *keys]) or "the config"
        if not isinstance(current, list):
            raise ValueError(f"{where} is {show(current)}, not a list, so [{index}] does not apply")
        if not 0 <= index < len(current):
            raise ValueError(f"{where} has {len(current)} entries, so [{index}] is out of range")
        element_model = variant_model if [*done, *keys] == ["variants"] else None
        element = current[index]
        if tail:
            element = _set_in(
                element, tail, value, element_model, [*done, *keys, index], variant_model
            )
        else:
            element = value
        value = [*current[:index], element, *current[index + 1 :]]
    if not keys:
        return value
    if node is not None and not isinstance(node, Mapping):
        where = format_path(done) or "the config"
        raise ValueError(f"{where} is {show(node)}, not a mapping")
    empty = isinstance(value, Mapping) and not value  # merged, {} would change nothing
    update: Any = None if empty else value
    for key in reversed(keys):
        update = {key: update}
    merged = deep_merge(node or {}, update, model)
    if empty:  # so KEY={} empties the mapping at KEY
        leaf = merged
        for key in keys[:-1]:
            leaf = leaf[key]
        leaf[keys[-1]] = {}
    return merged


def command_line_overrides(
    sets: Sequence[str], bare: Sequence[str], sweeps: Sequence[str]
) -> list[str]:
    """The ``--set`` strings of a command line, in order: ``--set`` values, bare ``KEY=VALUE``
    arguments (Hydra's spelling: ``KEY=a,b,c`` makes a sweep axis, ``+KEY=VALUE`` sets a key),
    then ``-m KEY=VALUES`` sweeps (``KEY=v1,v2``, ``KEY='logspace(a,b,n)'`` or ``linspace``).

    Raises:
        ValueError: an argument that is not ``KEY=VALUE``, naming it.

    Example:
        >>> command_line_overrides(["train.steps=5"], ["seed=0,1", "+data.n=10"], ["lr=1,2"])
        ['train.steps=5', 'sweep.seed=[0,1]', 'data.n=10', 'sweep.lr=[1,2]']
    """
    out = list(sets)
    for text in bare:
        key, equals, value = text.removeprefix("+").partition("=")
        if not equals or not key.strip():
            raise ValueError(f"{text!r}: expected KEY=VALUE after the config, e.g. train.steps=5")
        is_axis = "," in value and not re.match(r"\s*[\[{'\"]", value)
        out.append(_sweep_axis(key, value) if is_axis else f"{key}={value}")
    for text in sweeps:
        key, _, values = text.partition("=")
        if not key.strip() or not values.strip():
            raise ValueError(
                f"--sweep {text!r}: expected KEY=v1,v2,... or KEY='logspace(a,b,n)', "
                "e.g. -m train.optimizer.learning_rate=0.1,0.5,1"
            )
        out.append(_sweep_axis(key, values))
    return out


def _sweep_axis(key: str, values: str) -> str:
    space = re.fullmatch(r"\s*(linspace|logspace)\((.*)\)\s*", values)
    if space:
        return f"sweep.{key.strip()}={{{space[1]}: [{space[2]}]}}"
    return f"sweep.{key.strip()}=[{values}]"
