"""YAML in: plain data only, parsed within a budget of values and depth."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_DEPTH", "MAX_NODES", "YamlError", "parse_yaml", "read_yaml"]

MAX_NODES = 100_000  # values, aliases expanded
MAX_DEPTH = 100


class YamlError(ValueError):
    """YAML that is not plain, bounded data."""


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses repeated and non-scalar keys, and reads ``1e-3``
    as a number (as YAML 1.2 does; YAML 1.1 reads it as text)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a plain value, not a list or mapping",
                    key_node.start_mark,
                )  # fmt: skip
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str) -> Any:
    """Parses YAML text into plain data within a budget.

    Raises:
        YamlError: invalid YAML, a repeated or non-scalar key, nesting deeper than
            :data:`MAX_DEPTH`, a recursive alias, or more than :data:`MAX_NODES` values
            once aliases are expanded (an "alias bomb").
    """
    try:
        value = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        raise YamlError(f"invalid YAML: {_yaml_problem(error)}") from None
    except RecursionError:
        raise YamlError(f"invalid YAML: nested more than {MAX_DEPTH} levels deep") from None
    _check_budget(value)
    return value


def _check_budget(value: Any) -> None:
    sizes: dict[int, int] = {}

    def size(node: Any, depth: int, path: frozenset[int]) -> int:
        if not isinstance(node, dict | list):
            return 1
        if depth > MAX_DEPTH:
            raise YamlError(f"nested more than {MAX_DEPTH} levels deep")
        if id(node) in path:
            raise YamlError("a recursive alias (a value that contains itself)")
        if id(node) not in sizes:
            children = node.values() if isinstance(node, dict) else node
            inner = path | {id(node)}
            sizes[id(node)] = 1 + sum(size(child, depth + 1, inner) for child in children)
            if sizes[id(node)] > MAX_NODES:
                raise YamlError(f"more than {MAX_NODES:,} values once aliases are expanded")
        return sizes[id(node)]

    size(value, 0, frozenset())


def read_yaml(path: Path) -> Any:
    """Reads a YAML file (see :func:`parse_yaml`)."""
    return parse_yaml(path.read_text(encoding="utf-8"))


def _yaml_problem(error: Exception) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return problem
