"""Finding and comparing runs: ``infolab ls`` and ``infolab compare`` (no jax).

>>> flatten({"train": {"steps": 5, "prior": {"kind": "none"}}, "seed": 0})
{'train.steps': 5, 'train.prior.kind': 'none', 'seed': 0}
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from experiments.config import read_yaml
from experiments.config.yamlio import YamlError
from experiments.rundir.folders import listed_files
from experiments.rundir.read import RunFilesError

__all__ = [
    "compare_lines",
    "compare_runs",
    "config_differences",
    "flatten",
    "list_runs",
    "ls_lines",
    "value_text",
]


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested mapping as ``{dotted.key: value}`` (lists stay values)."""
    if not isinstance(value, Mapping) or not value:
        return {prefix: value} if prefix else {}
    flat: dict[str, Any] = {}
    for key, inner in value.items():
        flat.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _problem(error: BaseException) -> str:
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg}, line {error.lineno})"
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error)


def _summary_runs(path: Path) -> list[dict[str, Any]]:
    """A ``summary.json``'s runs, checked as far as ``ls`` and ``compare`` read them.

    Raises:
        RunFilesError: naming the file and what is wrong with it.
    """
    try:
        document = _read(path)
    except (OSError, ValueError) as error:
        raise RunFilesError(f"{path}: {_problem(error)}") from None
    runs = document.get("runs") if isinstance(document, dict) else None
    if not isinstance(runs, list) or not all(
        isinstance(run, dict)
        and isinstance(run.get("variant"), str)
        and isinstance(run.get("final", {}), dict)
        and isinstance(run.get("sweep", {}), dict)
        for run in runs
    ):
        raise RunFilesError(
            f"{path}: expected {{'runs': [{{'variant': ..., 'final': {{...}}}}, ...]}}"
        )
    return runs


def _config_mapping(path: Path) -> dict[str, Any]:
    """A ``config.yaml`` as a mapping.

    Raises:
        RunFilesError: naming the file and what is wrong with it.
    """
    try:
        config = read_yaml(path)
    except (OSError, UnicodeDecodeError, YamlError) as error:
        raise RunFilesError(f"{path}: {_problem(error)}") from None
    if not isinstance(config, dict):
        raise RunFilesError(f"{path}: expected a mapping of config keys")
    return config


def list_runs(
    folder: Path,
    headlines: Mapping[str, str | None] | None = None,
    damaged: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Every run folder this tool wrote under ``folder``, oldest first: its path, name,
    kind, start time, member statuses and the best final test (else train) value of its
    kind's headline metric (``headlines``: kind name to metric; else the first metric),
    with the unit of a cross-entropy. A run folder whose ``summary.json`` or
    ``config.yaml`` is damaged is left out, and a line naming the file is added to
    ``damaged`` (if given)."""
    rows = []
    for manifest_path in sorted(Path(folder).rglob("manifest.json")):
        run_dir = manifest_path.parent
        if listed_files(run_dir) is None:
            continue
        try:
            manifest, runs = _read(manifest_path), _summary_runs(run_dir / "summary.json")
            unit = log_unit(_config_mapping(run_dir / "config.yaml"))
        except RunFilesError as error:
            if damaged is not None:
                damaged.append(str(error))
            continue
        except (OSError, ValueError):
            continue
        statuses: dict[str, int] = {}
        counted = manifest.get("status")
        for counts in (counted if isinstance(counted, dict) else {}).values():
            for status, n in (counts if isinstance(counts, dict) else {}).items():
                if isinstance(n, int):
                    statuses[str(status)] = statuses.get(str(status), 0) + n
        rows.append(
            {
                "path": run_dir,
                "name": manifest.get("name"),
                "kind": manifest.get("kind"),
                "start": str(manifest.get("start", "")),
                "status": ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())),
                "headline": _headline(runs, (headlines or {}).get(manifest.get("kind")), unit),
            }
        )
    return sorted(rows, key=lambda row: (row["start"], str(row["path"])))


def log_unit(config: Any) -> str:
    """The unit of a run's cross-entropies: its config's ``base`` (none: nats; 2: bits).

    >>> [log_unit(c) for c in ({}, {"base": 2}, {"base": 10})]
    ['nats', 'bits', 'log10 units']
    """
    base = config.get("base") if isinstance(config, Mapping) else None
    if base is None or base == math.e:
        return "nats"
    return "bits" if base == 2 else f"log{base:g} units"


def _headline(runs: list[dict[str, Any]], metric: str | None, unit: str) -> str:
    """The best final value of the headline metric over the runs (the lowest, or the
    highest accuracy), e.g. ``test ce 0.3541 nats``; ``-`` when there is none."""
    best: tuple[float, str] | None = None
    for run in runs:
        final = run.get("final") or {}
        split = "test" if "test" in final else "train"
        metrics = final.get(split) or {}
        name = metric if metric in metrics else next(iter(metrics), None)
        value = metrics.get(name) if name else None
        if not (isinstance(value, int | float) and math.isfinite(value)):
            continue
        key = -value if name == "accuracy" else value
        if best is None or key < best[0]:
            units = f" {unit}" if name == "ce" else ""
            best = (key, f"{split} {name} {value:.4g}{units}")
    return best[1] if best else "-"


ABSENT = "(absent)"


def value_text(value: Any) -> str:
    """A config value as YAML and JSON read it: a string as it is, the rest as JSON.

    >>> [value_text(v) for v in ("sgd", 0.5, None, True, [1, 2])]
    ['sgd', '0.5', 'null', 'true', '[1, 2]']
    """
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def config_differences(configs: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """The dotted keys whose values are not the same in every config.

    Args:
        configs: nested configs (as ``config.yaml`` reads).

    Returns:
        ``(key, value in the first, value in the second, ...)`` for each key that differs,
        in first-seen order; a key a config lacks reads ``"(absent)"``.

    >>> config_differences([{"a": 1, "b": {"c": 2}}, {"a": 1, "b": {"c": 3}, "d": 0}])
    [('b.c', 2, 3), ('d', '(absent)', 0)]
    """
    flat = [flatten(config) for config in configs]
    keys = list(dict.fromkeys(key for config in flat for key in config))
    rows = [(key, *(config.get(key, ABSENT) for config in flat)) for key in keys]
    return [row for row in rows if any(value != row[1] for value in row[2:])]


def compare_runs(
    a: Path, b: Path
) -> tuple[list[tuple[str, Any, Any]], list[tuple], tuple[list[str], list[str]]]:
    """The differences between two run folders.

    Returns:
        ``(config, metrics, only)``: the config keys whose values differ, as (key, in a, in
        b); for each member found in both (by variant and swept values), each final metric
        that differs, as (member label, split/metric, in a, in b); and the members found in
        only one of them, as (only in a, only in b).
    """
    config_diff = config_differences([_config_mapping(Path(p) / "config.yaml") for p in (a, b)])
    members = [
        {_label(run): run for run in _summary_runs(Path(p) / "summary.json")} for p in (a, b)
    ]
    metric_diff = []
    for label, run in members[0].items():
        other = members[1].get(label)
        if other is None:
            continue
        theirs = flatten(other.get("final", {}))
        for column, value in flatten(run.get("final", {})).items():
            if column in theirs and value != theirs[column]:
                metric_diff.append((label, column.replace(".", "/"), value, theirs[column]))
    only = (
        [m for m in members[0] if m not in members[1]],
        [m for m in members[1] if m not in members[0]],
    )
    return config_diff, metric_diff, only


def _label(run: Mapping[str, Any]) -> str:
    swept = ", ".join(f"{k}={v}" for k, v in sorted(run.get("sweep", {}).items()))
    return f"{run['variant']} [{swept}]" if swept else str(run["variant"])


def ls_lines(
    folder: Path,
    show: Callable[[Path], str] = str,
    headlines: Mapping[str, str | None] | None = None,
    damaged: list[str] | None = None,
) -> list[str]:
    """``infolab ls``: a header, then a line per run (path, name, start, member statuses,
    the best value of its kind's headline metric, with its unit); a line per damaged run
    folder goes to ``damaged`` (if given)."""
    rows = list_runs(folder, headlines, damaged)
    if not rows:
        return [f"no runs under {folder}"]
    table = [("run", "name", "start (UTC)", "members", "best")]
    table += [
        (show(row["path"]), str(row["name"]), str(row["start"])[:19].replace("T", " "),
         row["status"], row["headline"])
        for row in rows
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    return [
        "  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]]) for r in table
    ]


def _delta(left: Any, right: Any) -> str:
    """``left -> right (+Δ, +r%)`` for two numbers; plainly ``left -> right`` otherwise."""
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    if not numbers or not (math.isfinite(left) and math.isfinite(right)):
        return f"{left} -> {right}"
    relative = f", {(right - left) / abs(left):+.1%}" if left else ""
    return f"{left:.6g} -> {right:.6g} ({right - left:+.3g}{relative})"


def compare_lines(a: Path, b: Path) -> list[str]:
    """``infolab compare``: the config differences, then the final-metric differences."""
    config, metrics, (only_a, only_b) = compare_runs(a, b)
    units = [log_unit(_config_mapping(Path(p) / "config.yaml")) for p in (a, b)]
    lines = [f"config: {len(config)} difference(s) (A = {a}, B = {b})"]
    lines += [f"  {key}: {left!r} -> {right!r}" for key, left, right in config]
    shared = "no member in common" if not metrics and (only_a or only_b) else ""
    lines.append(f"final metrics: {len(metrics)} difference(s) {shared}".rstrip())
    for label, column, left, right in metrics:
        unit = f" [{units[0]}]" if column.endswith("/ce") and units[0] == units[1] else ""
        lines.append(f"  {label} {column}{unit}: {_delta(left, right)}")
    lines += [f"only in A: {', '.join(only_a)}"] if only_a else []
    lines += [f"only in B: {', '.join(only_b)}"] if only_b else []
    return lines
