"""A run folder read back and checked: what ``plot`` and a kind's figures draw from.

Every file is read through a checking reader, so that damaged input (text that is not
UTF-8, JSON that is not this tool's layout, a metrics table cut short) is reported naming
the file and the problem, before anything is drawn.
"""

from __future__ import annotations

import csv
import json
import math
import os
import stat
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from experiments.config import Experiment
from experiments.contract import History, RunRecord

__all__ = ["RunFilesError", "own_file", "own_files", "read_manifest", "read_run"]


class RunFilesError(ValueError):
    """A run folder's files are missing or damaged (bad input: nothing is drawn)."""


def own_file(run_dir: str | Path, name: str) -> bool:
    """Whether ``run_dir/name`` is a regular file of the run itself: not a symbolic link,
    under no link, and inside the run folder once resolved (what ``report`` and ``export``
    may read; anything else is foreign and never read)."""
    root = Path(run_dir)
    path = root / name
    parts = Path(name).parts
    if Path(name).is_absolute() or ".." in parts:
        return False
    for depth in range(1, len(parts) + 1):  # the file and every folder on the way to it
        if root.joinpath(*parts[:depth]).is_symlink():
            return False
    try:
        inside = path.resolve(strict=True).is_relative_to(root.resolve(strict=True))
        return inside and stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def own_files(run_dir: str | Path, folder: str) -> list[Path]:
    """The regular files directly in ``run_dir/folder`` that are the run's own
    (:func:`own_file`), sorted; none if the folder is a link or missing."""
    root = Path(run_dir)
    if (root / folder).is_symlink() or not (root / folder).is_dir():
        return []
    try:
        names = sorted(entry.name for entry in os.scandir(root / folder))
    except OSError:
        return []
    return [root / folder / name for name in names if own_file(root, f"{folder}/{name}")]


def read_run(run_dir: str | Path, config: Experiment) -> RunRecord:
    """Reads and checks a run folder's ``summary.json``, ``data.json`` and ``metrics.csv``.

    Args:
        run_dir: the run folder.
        config: its resolved config (:func:`experiments.api.read_record` reads it from
            the folder's ``config.yaml``).

    Raises:
        RunFilesError: naming the file and what is wrong with it: not UTF-8, not JSON,
            not the layout this module writes, or metrics that disagree with the summary.
    """
    run_dir = Path(run_dir)
    runs = _entries(_read_json(run_dir / "summary.json"), "runs", "summary.json")
    for index, run in enumerate(runs):
        missing = [k for k in ("variant", "status", "final", "params") if k not in run]
        if missing or not isinstance(run.get("final"), dict):
            raise RunFilesError(f"summary.json: runs[{index}] lacks {', '.join(missing)}")
    swept = any("member" in run for run in runs)
    runs = [{**run, "member": run.get("member", index)} for index, run in enumerate(runs)]
    datasets = _entries(_read_json(run_dir / "data.json"), "datasets", "data.json")
    data = {m: entry for entry in datasets for m in entry.get("members", [])}
    absent = [run["member"] for run in runs if run["member"] not in data]
    if absent:
        raise RunFilesError(f"data.json: no data set lists member {absent[0]}")
    by_variant = {run["variant"]: run["member"] for run in runs}
    history = _read_metrics(run_dir / "metrics.csv", by_variant)
    _check_agreement(runs, history)
    return RunRecord(run_dir, config, swept, runs, data, history)


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """Reads a run folder's ``manifest.json`` (its provenance record).

    Raises:
        RunFilesError: the file is missing, not UTF-8, not JSON, or not a JSON object.
    """
    document = _read_json(Path(run_dir) / "manifest.json")
    if not isinstance(document, dict):
        raise RunFilesError("manifest.json: expected a JSON object")
    return document


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFilesError(f"{path.name}: missing") from None
    except UnicodeDecodeError:
        raise RunFilesError(f"{path.name}: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        problem = f"not valid JSON ({error.msg}, line {error.lineno})"
        raise RunFilesError(f"{path.name}: {problem}") from None


def _entries(document: Any, key: str, name: str) -> list[dict[str, Any]]:
    entries = document.get(key) if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RunFilesError(f"{name}: expected {{{key!r}: [...]}}, a list of entries")
    return entries


def _check_agreement(runs: list[dict[str, Any]], history: Mapping[int, History]) -> None:
    """Every metric's last row must be the summary's final value: a table cut short, or
    rows lost, show up here."""
    for run in runs:
        for split, metrics in run["final"].items():
            for metric, value in (metrics or {}).items():
                logged = history.get(run["member"], {}).get(split, {}).get(metric)
                last = None if logged is None or not len(logged[1]) else float(logged[1][-1])
                agree = (value is None and (last is None or not math.isfinite(last))) or (
                    value is not None and last is not None and math.isclose(last, value)
                )
                if not agree:
                    raise RunFilesError(
                        f"metrics.csv: does not agree with summary.json (member "
                        f"{run['member']}, {split} {metric}): cut short or damaged"
                    )


def _read_metrics(path: Path, by_variant: Mapping[str, int]) -> dict[int, History]:
    rows: dict[tuple[int, str, str], list[tuple[int, float]]] = defaultdict(list)
    try:
        with path.open(newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            header = set(reader.fieldnames or [])
            if not {"variant", "step", "split", "metric", "value"} <= header:
                raise RunFilesError(f"metrics.csv: unexpected header {sorted(header)}")
            for line, row in enumerate(reader, start=2):
                try:
                    member = int(row["member"]) if "member" in row else by_variant[row["variant"]]
                    point = (int(row["step"]), float(row["value"]))
                except (KeyError, TypeError, ValueError):
                    raise RunFilesError(f"metrics.csv: line {line} is damaged") from None
                rows[(member, row["split"], row["metric"])].append(point)
    except FileNotFoundError:
        raise RunFilesError("metrics.csv: missing") from None
    except UnicodeDecodeError:
        raise RunFilesError("metrics.csv: not UTF-8 text") from None
    history: dict[int, History] = defaultdict(lambda: defaultdict(dict))
    for (member, split, metric), points in rows.items():
        steps, values = np.array(points, dtype=float).T
        history[member][split][metric] = (steps.astype(int), values)
    return {member: {s: dict(m) for s, m in splits.items()} for member, splits in history.items()}
