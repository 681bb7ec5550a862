"""Run folders: where a run's files go, and how they are written.

A run folder is ``<output.dir>/<name>/<UTC time>-<config hash[:8]>/`` or the ``--out``
folder, and holds::

    config.yaml     the resolved config (every default written out)
    manifest.json   provenance: git, versions, devices, XLA flags, seeds, hashes, times
    metrics.csv     tidy: variant,step,split,metric,value
    summary.json    final metrics and parameters per variant (the contract below)
    data.json       per variant: class count, feature and class names, true weights
    figures/        drawn from the files above by experiments.figures

:func:`staged_run_dir` writes into a hidden temporary folder beside the target and renames
it into place once everything is written, so an interrupted run never leaves a folder that
looks complete. ``metrics.csv`` and ``summary.json`` hold no timings: the same config on the
same machine gives the same bytes. Floats are written in the shortest form that reads back
to the same value (float32 values in their float32 shortest form); NaN and infinities are
``nan``/``inf`` in the CSV and ``null`` in JSON.

``summary.json``::

    {"runs": [{"variant": "mle", "status": "ok" | "diverged", "diverged_at": 120,
               "final": {"train": {"ce": ..., "mse": ..., "accuracy": ..., "grad_norm": ...,
                                   "weight_norm": ..., "zero_weights": ...},
                         "test": {...}},
               "params": {"weights": [...] or [[...], ...], "bias": ... or [...]}}]}

``diverged_at`` is present only for a diverged run; ``test`` only when there is test data.
A metric that was NaN or infinite is ``null``.

``data.json``::

    {"variants": [{"variant": "mle", "description": "synthetic data (2000 × 50)",
                   "n_classes": 2, "class_names": ["0", "1"], "feature_names": ["x0", ...],
                   "n_train": 1500, "n_test": 500, "sha256": "...",
                   "true_weights": [...] or null}]}

``true_weights`` (synthetic data only) has one entry per feature, in the units of the
unstandardized features.

A sweep (see ``experiments.sweep``) writes one ``summary.json`` entry per member, with
``"member": i`` and ``"sweep": {dotted key: value}`` after ``variant``; ``metrics.csv`` gains
a ``member`` column; ``data.json`` lists each distinct data set once as
``{"datasets": [{"variants": [...], "members": [...], ...the fields above}]}``; and the
manifest counts statuses per variant.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import importlib.metadata
import io
import json
import math
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from experiments.config import ExperimentConfig, config_hash, dump_config
from experiments.data import Dataset

__all__ = [
    "METRICS",
    "SPLITS",
    "OutputError",
    "RunFolder",
    "Stage",
    "choose_run_folder",
    "manifest",
    "metrics_csv",
    "staged_run_dir",
    "summary",
    "write_run",
]

SPLITS = ("train", "test")
METRICS = ("ce", "mse", "accuracy", "grad_norm", "weight_norm", "zero_weights")
_COUNT_METRICS = frozenset({"zero_weights"})
RUN_FILES = ("config.yaml", "manifest.json", "metrics.csv", "summary.json", "data.json")


class OutputError(ValueError):
    """The output folder cannot be used (bad input: nothing has been written)."""


class RunLike(Protocol):
    """What :func:`write_run` reads from a trained variant (``experiments.train.RunResult``)."""

    name: str
    status: str
    diverged_at: int | None
    steps: np.ndarray
    history: Mapping[str, Mapping[str, np.ndarray]]
    weights: np.ndarray
    bias: np.ndarray
    member: int | None  # a sweep member's index, else None
    sweep: Mapping[str, Any] | None  # a sweep member's swept values, else None


# ---------------------------------------------------------------------------
# Choosing and staging the folder
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFolder:
    """Where a run goes. ``chosen``: given with ``--out`` (else named by time and hash)."""

    path: Path
    chosen: bool
    force: bool = False


def choose_run_folder(
    config: ExperimentConfig,
    out: str | Path | None = None,
    *,
    force: bool = False,
    now: dt.datetime | None = None,
) -> RunFolder:
    """Picks the run folder, checking ``--out`` before anything runs.

    Raises:
      OutputError: ``out`` exists and is a file; or it is a non-empty folder and ``force``
        is not set; or ``force`` is set but the folder is not a run folder (it has no
        ``manifest.json``), which ``--force`` never deletes.
    """
    if out is None:
        now = now or dt.datetime.now(dt.UTC)
        stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"{stamp}-{config_hash(config)[:8]}"
        return RunFolder(Path(config.output.dir) / config.name / name, chosen=False)
    path = Path(out)
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise OutputError(f"--out: {path} exists and is not a folder")
        if any(path.iterdir()):
            if not force:
                raise OutputError(
                    f"--out: {path} exists and is not empty; pass --force to replace it"
                )
            if not (path / "manifest.json").is_file():
                raise OutputError(
                    f"--out: {path} is not a run folder (it has no manifest.json); "
                    "--force replaces only run folders"
                )
    return RunFolder(path, chosen=True, force=force)


@dataclass
class Stage:
    """A run folder being written: ``path`` now, ``final`` once renamed into place."""

    path: Path
    final: Path | None = None


@contextlib.contextmanager
def staged_run_dir(folder: RunFolder) -> Iterator[Stage]:
    """Yields a temporary folder beside ``folder.path``, renamed into place on success.

    On an exception the temporary folder (and any parent folder made for it) is removed.
    An automatically named folder that appeared meanwhile gets a ``-2``, ``-3``, ... suffix;
    ``stage.final`` says where the run went.
    """
    target = folder.path
    made = _make_parents(target.parent)
    stage = Stage(Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent)))
    try:
        yield stage
        stage.final = _move_into_place(stage.path, folder)
    except BaseException:
        shutil.rmtree(stage.path, ignore_errors=True)
        for parent in made:
            with contextlib.suppress(OSError):
                parent.rmdir()  # only if still empty
        raise


def _make_parents(parent: Path) -> list[Path]:
    """Creates ``parent`` and its missing ancestors; returns those made, deepest first."""
    missing = []
    for p in [parent, *parent.parents]:
        if p.exists():
            break
        missing.append(p)
    parent.mkdir(parents=True, exist_ok=True)
    return missing


def _move_into_place(staging: Path, folder: RunFolder) -> Path:
    target = folder.path
    if not folder.chosen:
        for attempt in range(1, 1000):
            candidate = target if attempt == 1 else target.with_name(f"{target.name}-{attempt}")
            try:
                staging.rename(candidate)  # fails if candidate is a non-empty folder
                return candidate
            except OSError:
                if not candidate.exists():
                    raise
        raise OutputError(f"could not find a free run folder name beside {target}")
    if target.is_dir() and any(target.iterdir()):
        if not folder.force:
            raise OutputError(f"--out: {target} was filled by someone else meanwhile")
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.replaced-", dir=target.parent))
        target.rename(old / target.name)
        staging.rename(target)
        shutil.rmtree(old)
        return target
    staging.rename(target)  # replaces an empty folder
    return target


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def write_run(
    out_dir: str | Path,
    config: ExperimentConfig,
    runs: Sequence[RunLike],
    datasets: Sequence[Dataset] | Mapping[str, Dataset],
    manifest_extra: Mapping[str, Any] | None = None,
) -> None:
    """Writes a run's files into ``out_dir`` (made if missing; stage it for atomicity).

    Args:
      out_dir: the folder to write into, typically :func:`staged_run_dir`'s.
      config: the resolved config.
      runs: one result per variant, in the config's variant order.
      datasets: each run's data set, aligned with ``runs`` or keyed by variant name.
      manifest_extra: entries added to ``manifest.json`` (``start``, ``end``,
        ``wall_time_s``, ``command``, ...); ``end`` defaults to now.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if _is_sweep(runs):
        aligned = list(datasets.values()) if isinstance(datasets, Mapping) else list(datasets)
        data_info = _sweep_data_info(runs, aligned)
        record = sweep_manifest(config, runs, aligned, manifest_extra or {})
    else:
        by_name = _datasets_by_name(runs, datasets)
        data_info = _data_info(runs, by_name)
        record = manifest(config, runs, by_name, manifest_extra or {})
    files = {
        "config.yaml": dump_config(config),
        "metrics.csv": metrics_csv(runs),
        "summary.json": _json(summary(runs)),
        "data.json": _json(data_info),
        "manifest.json": _json(record),
    }
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8", newline="\n")


def _datasets_by_name(
    runs: Sequence[RunLike], datasets: Sequence[Dataset] | Mapping[str, Dataset]
) -> dict[str, Dataset]:
    if isinstance(datasets, Mapping):
        return {run.name: datasets[run.name] for run in runs}
    if len(datasets) != len(runs):
        raise ValueError(f"got {len(runs)} runs but {len(datasets)} datasets")
    return {run.name: data for run, data in zip(runs, datasets, strict=True)}


def _ordered_metrics(metrics: Mapping[str, Any]) -> list[str]:
    return [m for m in METRICS if m in metrics] + sorted(set(metrics) - set(METRICS))


def _is_sweep(runs: Sequence[RunLike]) -> bool:
    return any(getattr(run, "member", None) is not None for run in runs)


def metrics_csv(runs: Sequence[RunLike]) -> str:
    """The tidy metrics table, ordered by variant (config order), step, split, metric.

    A sweep's table has a ``member`` column after ``variant`` (the member's index in
    ``summary.json``) and is ordered by member.
    """
    sweep = _is_sweep(runs)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["variant", *(["member"] if sweep else []), "step", "split", "metric", "value"])
    for run in runs:
        lead = [run.name, run.member] if sweep else [run.name]
        splits = [s for s in SPLITS if s in run.history]
        for i, step in enumerate(np.asarray(run.steps)):
            for split in splits:
                metrics = run.history[split]
                for metric in _ordered_metrics(metrics):
                    value = _csv_number(metrics[metric][i], metric)
                    writer.writerow([*lead, int(step), split, metric, value])
    return buffer.getvalue()


def summary(runs: Sequence[RunLike]) -> dict[str, Any]:
    """The ``summary.json`` contract (see the module docstring); no timings."""
    entries = []
    for run in runs:
        entry: dict[str, Any] = {"variant": run.name}
        if getattr(run, "member", None) is not None:
            entry["member"] = int(run.member)
            entry["sweep"] = {key: _plain(value) for key, value in run.sweep.items()}
        entry["status"] = run.status
        if run.status == "diverged":
            entry["diverged_at"] = None if run.diverged_at is None else int(run.diverged_at)
        entry["final"] = {
            split: {
                metric: _scalar(run.history[split][metric][-1], metric)
                for metric in _ordered_metrics(run.history[split])
            }
            for split in SPLITS
            if split in run.history and len(run.steps) > 0
        }
        entry["params"] = {"weights": _floats(run.weights), "bias": _floats(run.bias)}
        entries.append(entry)
    return {"runs": entries}


def _dataset_entry(data: Dataset) -> dict[str, Any]:
    """What data.json says of one data set."""
    return {
        "description": data.description,
        "n_classes": data.n_classes,
        "class_names": list(data.class_names),
        "feature_names": list(data.feature_names),
        "n_train": len(data.y_train),
        "n_test": len(data.y_test),
        "sha256": data.sha256,
        "true_weights": None if data.true_weights is None else _floats(data.true_weights),
    }


def _data_info(runs: Sequence[RunLike], datasets: Mapping[str, Dataset]) -> dict[str, Any]:
    return {
        "variants": [{"variant": run.name, **_dataset_entry(datasets[run.name])} for run in runs]
    }


def _sweep_data_info(runs: Sequence[RunLike], datasets: Sequence[Dataset]) -> dict[str, Any]:
    """A sweep's data sets, each once, with the members that trained on it."""
    entries: dict[str, dict[str, Any]] = {}
    for run, data in zip(runs, datasets, strict=True):
        if data.sha256 not in entries:
            entries[data.sha256] = {"variants": [], "members": [], **_dataset_entry(data)}
        entry = entries[data.sha256]
        entry["members"].append(int(run.member))
        if run.name not in entry["variants"]:
            entry["variants"].append(run.name)
    return {"datasets": list(entries.values())}


def sweep_manifest(
    config: ExperimentConfig,
    runs: Sequence[RunLike],
    datasets: Sequence[Dataset],
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """A sweep's provenance: as :func:`manifest`, with counts per variant and status."""
    status: dict[str, dict[str, int]] = {}
    for run in runs:
        counts = status.setdefault(run.name, {})
        counts[run.status] = counts.get(run.status, 0) + 1
    variant_seeds = {spec.name: spec.seed for spec in config.runs()}
    seeds = sorted({int(run.sweep.get("seed", variant_seeds[run.name])) for run in runs})
    record = {
        **_provenance(config),
        "seeds": {"config": config.seed, "members": seeds},
        "data_sha256": sorted({data.sha256 for data in datasets}),
        "members": len(runs),
        "status": status,
        "end": _utc_now(),
    }
    record.update(extra)
    return record


def _provenance(config: ExperimentConfig) -> dict[str, Any]:
    """What ran, from which code, where: common to every manifest."""
    return {
        "name": config.name,
        "config_sha256": config_hash(config),
        "git": _git_state(),
        "versions": _versions(),
        "platform": platform.platform(),
        "devices": _devices(),
        "xla_flags": os.environ.get("XLA_FLAGS"),
    }


def manifest(
    config: ExperimentConfig,
    runs: Sequence[RunLike],
    datasets: Mapping[str, Dataset],
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """Provenance: what ran, where, on what, from which code; the run's times."""
    specs = {spec.name: spec for spec in config.runs()}
    record: dict[str, Any] = {
        **_provenance(config),
        "seeds": {"config": config.seed, "variants": {n: specs[n].seed for n in datasets}},
        "data_sha256": {name: data.sha256 for name, data in datasets.items()},
        "status": {run.name: run.status for run in runs},
        "end": _utc_now(),
    }
    record.update(extra)
    return record


def _git_state() -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "sha": sha.strip() if sha else None,
        "dirty": None if status is None else bool(status.strip()),
    }


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in ("infolab", "jax", "jaxlib", "optax", "numpy"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _devices() -> dict[str, Any]:
    import jax  # imported here: the commands that write no run should not pay for it

    devices = jax.devices()
    return {
        "platform": devices[0].platform,
        "kind": devices[0].device_kind,
        "count": len(devices),
    }


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------


def _scalar(value: Any, metric: str) -> float | int | None:
    """A JSON-ready number: counts as int, floats in shortest form, non-finite as None."""
    number = float(value)
    if not math.isfinite(number):
        return None
    if metric in _COUNT_METRICS and number.is_integer():
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


def _floats(array: Any) -> Any:
    values = np.asarray(array)
    if values.ndim == 0:
        return _scalar(values, "")
    return [_floats(v) for v in values]


def _csv_number(value: Any, metric: str) -> str:
    number = float(value)
    if not math.isfinite(number):
        return repr(number)  # nan, inf, -inf
    return repr(_scalar(number, metric))


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"
