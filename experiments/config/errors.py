"""Error messages: every problem of a config as one ``dotted.path: what is wrong`` line.

pydantic's errors are translated against the schema they came from, so the path has no
union tags in it (``train.prior.scale``, not ``train.prior.laplace.scale``), an unknown key
lists the keys allowed there, and a bound says what was given::

    train.optimizer.learning_rate: must be > 0, got -0.1
    train.los: unknown key (allowed: loss, prior, optimizer, steps, batch_size, log_every, tol)
    variants[1].train.prior.kind: 'cauchy' is not one of none, gaussian, laplace
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel

from experiments.config.fields import field_annotation, is_model, union_members

__all__ = [
    "ConfigError",
    "custom_error",
    "describe_error",
    "format_errors",
    "format_path",
    "readable_order",
    "show",
    "type_name",
]


class ConfigError(ValueError):
    """A config, or an override, is invalid. ``problems`` holds one line per problem."""

    def __init__(self, problems: Iterable[str], *, source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__("\n".join(self.problems))


def custom_error(loc: tuple[Any, ...], value: Any, message: str) -> dict[str, Any]:
    """A pydantic-shaped error dict with our own message, for checks across fields."""
    return {"type": "value_error", "loc": loc, "input": value, "ctx": {"error": message}}


def format_path(segments: Iterable[str | int]) -> str:
    """``["variants", 1, "train"]`` -> ``variants[1].train``."""
    text = ""
    for segment in segments:
        text += f"[{segment}]" if isinstance(segment, int) else f".{segment}" if text else segment
    return text


_FIRST = ("name", "description", "kind", "source")
_LAST = ("test_fraction", "standardize", "cv_folds", "variants", "output", "sweep")


def readable_order(value: Any) -> Any:
    """A mapping's keys in reading order: name first, variants, output and sweep last."""
    if isinstance(value, list):
        return [readable_order(v) for v in value]
    if not isinstance(value, dict):
        return value
    first = [k for k in _FIRST if k in value]
    last = [k for k in _LAST if k in value]
    middle = [k for k in value if k not in first and k not in last]
    return {k: readable_order(value[k]) for k in [*first, *middle, *last]}


def format_errors(
    errors: Iterable[Mapping[str, Any]],
    model: type[BaseModel],
    variant_model: type[BaseModel],
    set_paths: Mapping[str, str] | None = None,
) -> list[str]:
    """Turns pydantic's ``errors()`` into ``dotted.path: what is wrong`` lines.

    Args:
        errors: pydantic's error dicts, their ``loc`` relative to ``model``.
        model: the schema validated (an experiment's, or a run's).
        variant_model: the schema of one entry of ``variants`` (a run's).
        set_paths: the dotted keys given with ``--set`` mapped to their text, so that a
            problem they caused says so.
    """
    lines = []
    for error in errors:
        path, message = describe_error(error, model, variant_model)
        line = f"{path or '(top level)'}: {message}"
        origin = next((text for key, text in (set_paths or {}).items() if _within(path, key)), None)
        if origin is not None:
            line += f" (from --set {origin})"
        lines.append(line)
    return list(dict.fromkeys(lines))


def describe_error(
    error: Mapping[str, Any], model: type[BaseModel], variant_model: type[BaseModel]
) -> tuple[str, str]:
    """One pydantic error as (dotted path without union tags, what is wrong)."""
    segments, parent = _resolve_loc(error["loc"], model, variant_model)
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        segments.append(str((error.get("ctx") or {}).get("discriminator", "")).strip("'"))
    return format_path(segments), _describe(error, parent, tagged=parent is not model)


def _within(path: str, key: str) -> bool:
    inside = path.startswith((key + ".", key + "["))
    return path == key or inside or key.startswith((path + ".", path + "["))


def _resolve_loc(
    loc: Iterable[Any], model: type[BaseModel], variant_model: type[BaseModel]
) -> tuple[list[str | int], Any]:
    """Walks the schema along a pydantic ``loc``: the path without the union tags that
    pydantic puts into it, and the model holding the last key (for ``allowed`` lists)."""
    segments: list[str | int] = []
    node: Any = model
    parent: Any = None
    union: dict[str, type[BaseModel]] | None = None
    for part in loc:
        if union is not None:
            node, union = union.get(part), None
            continue
        segments.append(part)
        if isinstance(part, int):
            if node == "variants":
                node = variant_model
            else:
                node = typing.get_args(node)[0] if typing.get_origin(node) is list else None
            continue
        parent = node
        if not (is_model(node) and part in node.model_fields):
            node = None
            continue
        annotation, discriminator = field_annotation(node, part)
        if part == "variants" and node is model and model is not variant_model:
            node = "variants"  # validated as merged runs (see experiments.config.resolve)
        elif discriminator is not None:
            union = union_members(annotation, discriminator)
        else:
            node = _strip_optional(annotation)
    return segments, parent


def _strip_optional(annotation: Any) -> Any:
    # ``X | None`` is X; a union of scalars and one model (a number or a mapping, such as
    # a prior scale or its selection) is that model for the keys below it.
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        models = [a for a in args if is_model(a)]
        if len(args) == 1:
            return args[0]
        return models[0] if len(models) == 1 else annotation
    return annotation


# Error types whose message is one phrase and what was given.
_PLAIN = {
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "must be a finite number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "string_sub_type": "expected a string",
    "string_pattern_mismatch": "may contain only letters, digits, '-' and '_'",
    "string_too_short": "must not be empty",
    "list_type": "expected a list",
    "model_type": "expected a mapping of keys",
    "model_attributes_type": "expected a mapping of keys",
    "dict_type": "expected a mapping of keys",
}
_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


def _describe(error: Mapping[str, Any], parent: Any, *, tagged: bool) -> str:
    # tagged: the parent may be a choice of a tagged union (the experiment itself is not).
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    got = f"got {show(value)}"
    if kind == "extra_forbidden":
        if is_model(parent):
            allowed = ", ".join(readable_order(dict.fromkeys(parent.model_fields)))
            within = _tag_phrase(parent) if tagged else ""
            return f"unknown key{within} (allowed: {allowed})"
        return "unknown key"
    if kind == "missing":
        return "required, but missing"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _tag_message(error, ctx)
    if kind == "literal_error":
        expected = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return f"{show(value)} is not one of {expected}"
    if kind in _BOUNDS and isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, {got}"  # NaN fails every bound: say why
    if kind in _BOUNDS:
        limit = next(iter(ctx.values()))
        return f"must be {_BOUNDS[kind]} {_number(limit)}, {got}"
    if kind in _PLAIN:
        return f"{_PLAIN[kind]}, {got}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters, {got}"
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
        return f"{show(ctx.get('tag'))} is not one of {allowed}"
    return f"required, one of {allowed}"


def show(value: Any) -> str:
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


def type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string"}.get(type(value), show(value))


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
