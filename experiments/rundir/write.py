"""A run's files: written from its members' outcomes, and read back for figures.

A run folder holds::

    config.yaml     the resolved config (every default written out; ``run`` accepts it)
    manifest.json   provenance: git, versions, devices, XLA flags, seeds, hashes, times
    metrics.csv     tidy: variant,[member,]step,split,metric,value
    summary.json    final metrics and parameters per member (the contract below)
    data.json       each distinct data set once, with the variants and members on it
    figures/        drawn from the files above by the kind's figures

A plain run is a sweep of one member per variant: the same files, the same layouts.
``metrics.csv`` and ``summary.json`` hold no timings, so the same config on the same machine
gives the same bytes. Floats are written in the shortest form that reads back to the same
value (float32 values in their float32 shortest form); NaN and infinities are ``nan``/``inf``
in the CSV and ``null`` in JSON, and the manifest's ``non_finite`` counts them per file
(``{"summary.json": 3}``; ``{}`` when every value is finite).

``summary.json``::

    {"runs": [{"variant": "mle", "member": 3, "sweep": {"seed": 1},
               "status": "ok" | "diverged", "diverged_at": 120,
               "final": {"train": {"ce": ..., ...}, "test": {...}},
               "params": {"weights": [...] or [[...], ...], "bias": ... or [...]}}]}

A parameter that is a mapping (of arrays, or of mappings) is written as a JSON object.

``member`` and ``sweep`` (the swept keys and their values) are present when the config has
a sweep, and the CSV then has a ``member`` column; ``diverged_at`` only for a diverged
member; ``test`` only when there is test data. A metric that was NaN or inf is ``null``.
A sweep's ``best`` names, per variant, the member of best headline metric: on the test
split, or by its cross-validation mean where the members were cross-validated (``by``).

``data.json``::

    {"datasets": [{"variants": ["mle"], "members": [0], "description": "...",
                   "sha256": "...", ...what the kind says of its data}]}
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from experiments.config import Experiment, MemberSpec, dump_config
from experiments.contract import Outcome
from experiments.rundir.folders import (
    foreign_entries,
    listed_files,
    odd_listing,
    replace_listed,
    sync_folder,
    write_synced,
)
from experiments.rundir.manifest import json_text, manifest, update_manifest
from experiments.rundir.read import RunFilesError

__all__ = [
    "SPLITS",
    "FigureError",
    "Result",
    "metrics_csv",
    "place_figures",
    "summary",
    "write_run",
]

SPLITS = ("train", "test")


class FigureError(RuntimeError):
    """Drawing a run's figures failed; the run's results are complete and kept, and the
    failure is recorded in its manifest."""


@dataclass(frozen=True)
class Result:
    """A member and what came of it."""

    member: MemberSpec
    outcome: Outcome


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def write_run(
    out_dir: str | Path,
    config: Experiment,
    results: Sequence[Result],
    data_entries: Sequence[Mapping[str, Any]],
    manifest_extra: Mapping[str, Any] | None = None,
) -> None:
    """Writes a run's files into ``out_dir`` (made if missing; stage it for atomicity).

    Args:
      out_dir: the folder to write into, a :class:`~experiments.rundir.folders.Stage`'s.
      config: the resolved config.
      results: one per member, in member order.
      data_entries: each member's data set as the kind describes it (with ``sha256``).
      manifest_extra: entries added to ``manifest.json`` (``start``, ``wall_time_s``, ...).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kind = type(config).KIND
    swept = bool(config.sweep)
    files = {
        "config.yaml": dump_config(config),
        "metrics.csv": metrics_csv(results, kind.metrics, kind.count_metrics, swept=swept),
        "summary.json": json_text(
            _with_best(summary(results, kind.metrics, kind.count_metrics, swept=swept), kind, swept)
        ),
        "data.json": json_text(_data_info(results, data_entries)),
        "manifest.json": json_text(
            manifest(
                config,
                [r.member for r in results],
                [r.outcome.status for r in results],
                data_entries,
                {**(manifest_extra or {}), "non_finite": _non_finite(results, data_entries)},
            )
        ),
    }
    for name, text in files.items():
        write_synced(out / name, text)
    sync_folder(out)


def _non_finite(results: Sequence[Result], data_entries: Sequence[Mapping[str, Any]]) -> dict:
    """How many NaN or infinite values each file writes (as ``null`` or ``nan``/``inf``)."""
    counts = {"metrics.csv": 0, "summary.json": 0, "data.json": 0}
    for result in results:
        run = result.outcome
        for split in SPLITS:
            for values in run.history.get(split, {}).values():
                counts["metrics.csv"] += _count_non_finite(values)
                if len(run.steps) > 0:
                    counts["summary.json"] += _count_non_finite(np.asarray(values)[-1])
        counts["summary.json"] += _count_non_finite([run.params, run.extra])
    distinct = {data["sha256"]: data for data in data_entries}
    counts["data.json"] = _count_non_finite(list(distinct.values()))
    return {name: count for name, count in counts.items() if count}


def _count_non_finite(value: Any) -> int:
    if isinstance(value, Mapping):
        return sum(_count_non_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(_count_non_finite(v) for v in value)
    if isinstance(value, float | np.generic) or hasattr(value, "__array__"):
        array = np.asarray(value)
        if array.dtype.kind in "fc":
            return int(array.size - np.count_nonzero(np.isfinite(array)))
    return 0


def _ordered(metrics: Mapping[str, Any], order: Sequence[str]) -> list[str]:
    return [m for m in order if m in metrics] + sorted(set(metrics) - set(order))


def metrics_csv(
    results: Sequence[Result], order: Sequence[str], counts: frozenset[str], *, swept: bool
) -> str:
    """The tidy metrics table, by member, step, split and metric (``order``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["variant", *(["member"] if swept else []), "step", "split", "metric", "value"])
    for result in results:
        run, member = result.outcome, result.member
        lead = [member.variant, member.index] if swept else [member.variant]
        splits = [s for s in SPLITS if s in run.history]
        for i, step in enumerate(np.asarray(run.steps)):
            for split in splits:
                metrics = run.history[split]
                for metric in _ordered(metrics, order):
                    value = _csv_number(metrics[metric][i], metric in counts)
                    writer.writerow([*lead, int(step), split, metric, value])
    return buffer.getvalue()


def summary(
    results: Sequence[Result], order: Sequence[str], counts: frozenset[str], *, swept: bool
) -> dict[str, Any]:
    """The ``summary.json`` contract (see the module docstring); no timings."""
    entries = []
    for result in results:
        run, member = result.outcome, result.member
        entry: dict[str, Any] = {"variant": member.variant}
        if swept:
            entry["member"] = member.index
            entry["sweep"] = {key: _plain(value) for key, value in member.values.items()}
        entry["status"] = run.status
        if run.status == "diverged":
            entry["diverged_at"] = None if run.diverged_at is None else int(run.diverged_at)
        entry["final"] = {
            split: {
                metric: _scalar(run.history[split][metric][-1], metric in counts)
                for metric in _ordered(run.history[split], order)
            }
            for split in SPLITS
            if split in run.history and len(run.steps) > 0
        }
        entry["params"] = {name: _floats(value) for name, value in run.params.items()}
        entry.update({key: _finite_tree(value) for key, value in run.extra.items()})
        entries.append(entry)
    return {"runs": entries}


def _with_best(document: dict[str, Any], kind: Any, swept: bool) -> dict[str, Any]:
    """A sweep's summary gains ``best``: for each variant, the member with the best final
    value of the kind's headline metric (test split where there is one). Members that were
    cross-validated (a ``cv`` entry) are chosen by the CV mean of the metric instead, never
    by the test split: their ``best`` has ``split: "cv"`` and ``by: "cv mean <metric>"``."""
    metric = kind.headline_metric
    if not swept or metric is None:
        return document
    best: dict[str, dict[str, Any]] = {}
    for entry in document["runs"]:
        if "cv" in entry:
            split, value = "cv", entry["cv"]["mean"].get(metric)
        else:
            split = "test" if "test" in entry["final"] else "train"
            value = (entry["final"].get(split) or {}).get(metric)
        if value is None:
            continue
        sign = -1.0 if metric in kind.higher_is_better else 1.0
        current = best.get(entry["variant"])
        if current is None or sign * value < sign * current["value"]:
            best[entry["variant"]] = {
                "member": entry["member"],
                "split": split,
                "metric": metric,
                "value": value,
                "sweep": entry["sweep"],
                **({"by": f"cv mean {metric}"} if split == "cv" else {}),
            }
    return {**document, "best": best}


def _data_info(results: Sequence[Result], data_entries: Sequence[Mapping[str, Any]]) -> dict:
    """Each distinct data set once, with the variants and members that trained on it."""
    entries: dict[str, dict[str, Any]] = {}
    for result, data in zip(results, data_entries, strict=True):
        if data["sha256"] not in entries:
            entries[data["sha256"]] = {"variants": [], "members": [], **_plain_tree(data)}
        entry = entries[data["sha256"]]
        entry["members"].append(result.member.index)
        if result.member.variant not in entry["variants"]:
            entry["variants"].append(result.member.variant)
    return {"datasets": list(entries.values())}


def place_figures(run_dir: Path, draw: Callable[[Path], list[Path]]) -> list[Path]:
    """Draws a run's figures into a staging folder and moves them into ``run_dir/figures``.

    The old figures are replaced only when all new ones are drawn; the manifest then lists
    them (or records the failure). Files in ``figures/`` that this tool did not write are
    never overwritten or deleted: the new figures then go to ``figures-new``.

    Args:
        run_dir: a run folder.
        draw: draws the figures into the folder it is given and returns the files.

    Returns:
        The files, where they now are.

    Raises:
        RunFilesError: ``figures`` is a file.
        FigureError: a figure could not be drawn (the old figures are kept).
    """
    target = run_dir / "figures"
    if target.is_symlink():  # never drawn into, or deleted through: it is not the run's
        raise RunFilesError(
            f"figures: {target} is a symbolic link, not a folder of this run; "
            "move it away (nothing was drawn or deleted)"
        )
    if target.exists() and not target.is_dir():
        raise RunFilesError(f"figures: {target} is a file, not a folder")
    listed = listed_files(run_dir)
    if listed is None and (odd := odd_listing(run_dir)) is not None:
        raise RunFilesError(f"manifest.json: {odd}; nothing was drawn")
    stage = Path(tempfile.mkdtemp(prefix=".figures.partial-", dir=run_dir))
    try:
        written = draw(stage)
    except Exception as error:
        shutil.rmtree(stage, ignore_errors=True)
        update_manifest(run_dir, figures={"status": "failed", "error": _brief(error)})
        raise FigureError(f"{type(error).__name__}: {error}") from error
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    try:
        stage.chmod(0o755)
        return _move_figures(run_dir, stage, listed or [], written)
    finally:
        shutil.rmtree(stage, ignore_errors=True)  # gone once moved; else never left behind


def _move_figures(run_dir: Path, stage: Path, listed: list[str], written: list[Path]) -> list:
    """Moves drawn figures from ``stage`` into ``figures/`` (or ``figures-new``)."""
    target = run_dir / "figures"
    previous = [f.removeprefix("figures/") for f in listed if f.startswith("figures/")]
    if target.exists():
        leftover = replace_listed(target, previous) if previous else foreign_entries(target, [])
        if leftover:  # files this tool did not write: never overwrite or delete them
            if {p.name for p in written} & set(leftover):
                target = _free_name(run_dir / "figures-new")
                stage.rename(target)
                return _record_figures(run_dir, listed, [target / p.name for p in written])
            for path in written:
                os.replace(path, target / path.name)
            stage.rmdir()
            return _record_figures(run_dir, listed, [target / p.name for p in written])
    stage.rename(target)
    return _record_figures(run_dir, listed, [target / p.name for p in written])


def _free_name(path: Path) -> Path:
    n = 2
    while os.path.lexists(path):
        path, n = path.with_name(f"{path.name.rsplit('-', 1)[0]}-{n}"), n + 1
    return path


def _record_figures(run_dir: Path, listed: list[str], written: list[Path]) -> list[Path]:
    kept = [f for f in listed if not f.startswith("figures/")]
    figures = [str(p.relative_to(run_dir)) for p in written]
    update_manifest(run_dir, files=kept + figures, figures={"status": "ok"})
    return written


def _brief(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 300 else text[:297] + "..."


# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------


def _scalar(value: Any, count: bool = False) -> float | int | None:
    """A JSON-ready number: counts as int, floats in shortest form, non-finite as None."""
    number = float(value)
    if not math.isfinite(number):
        return None
    if count and number.is_integer():
        return int(number)
    return _shortest(number + 0.0)  # + 0.0 turns -0.0 (from soft-thresholding) into 0.0


def _shortest(number: float) -> float:
    # A float64 that holds a float32 value prints as float32's shortest repr (0.1, not
    # 0.10000000149011612); it reads back to the same float32 value.
    single = np.float32(number)
    return float(str(single)) if float(single) == number else number


def _plain(value: Any) -> Any:
    """A swept value as JSON: numbers in shortest form, the rest as given."""
    if isinstance(value, float):
        return _shortest(value)
    return value


def _plain_tree(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_tree(v) for v in value]
    if isinstance(value, float):
        return _scalar(value)
    return value


def _finite_tree(value: Any) -> Any:
    """A kind's extra (numbers, lists, mappings) with every NaN or infinity as None, the
    contract's null for a non-finite value; finite values as they are."""
    if isinstance(value, Mapping):
        return {k: _finite_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_tree(v) for v in value]
    if isinstance(value, np.ndarray):
        return (
            [_finite_tree(v) for v in value.tolist()] if value.ndim else _finite_tree(value.item())
        )
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        return None
    return value


def _floats(array: Any) -> Any:
    """An array as (nested lists of) JSON numbers; a mapping of arrays, key by key."""
    if isinstance(array, Mapping):
        return {str(key): _floats(value) for key, value in array.items()}
    values = np.asarray(array)
    if values.ndim == 0:
        return _scalar(values)
    return [_floats(v) for v in values]


def _csv_number(value: Any, count: bool) -> str:
    number = float(value)
    if not math.isfinite(number):
        return repr(number)  # nan, inf, -inf
    return repr(_scalar(number, count))
