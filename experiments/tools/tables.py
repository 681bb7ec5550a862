"""A run folder as tables: its summary and metrics as pandas DataFrames, its config and
provenance; what the Python API's :class:`experiments.Run` and the report read."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.config import Experiment
from experiments.rundir.read import RunFilesError, own_files, read_manifest, read_run

__all__ = ["RunTables", "read_tables"]


@dataclasses.dataclass(frozen=True)
class RunTables:
    """A finished run, read from its folder.

    Attributes:
        path: the run folder (a temporary one, removed with this object, when the run was
            made with ``out=None``).
        config: the resolved, validated config.
        summary: a row per member: ``variant``, ``member``, ``status``, the swept keys, the
            kind's extras (``steps_taken``, ``converged``, ...), and ``split/metric`` columns
            of final values.
        metrics: the tidy per-step table (``variant``, ``member``, ``step``, ``split``,
            ``metric``, ``value``) with the swept keys as columns.
        manifest: the provenance record.
    """

    path: Path
    config: Experiment
    summary: pd.DataFrame
    metrics: pd.DataFrame
    manifest: dict[str, Any]
    _runs: tuple[dict[str, Any], ...]

    def params(self, which: str | int) -> dict[str, Any]:
        """The final parameters of a variant (by name; a plain run) or a member (by index)."""
        for entry in self._runs:
            if which in (entry["variant"], entry["member"]) and not isinstance(which, bool):
                return entry["params"]
        names = sorted({e["variant"] for e in self._runs})
        raise KeyError(f"no variant or member {which!r}; variants: {', '.join(names)}")

    def best(self, metric: str, split: str = "test", *, maximize: bool | None = None):
        """Each variant's best member by a final metric (the lowest, or for ``accuracy``
        and the metrics its kind says grow, the highest).

        Returns:
            A DataFrame: a row per variant, the summary's columns.
        """
        column = f"{split}/{metric}"
        if column not in self.summary:
            raise KeyError(f"no final metric {column!r}; columns: {', '.join(self.summary)}")
        if maximize is None:
            maximize = metric in type(self.config).KIND.higher_is_better
        ranked = self.summary.dropna(subset=[column])
        ranked = ranked.sort_values([column, "member"], ascending=[not maximize, True])
        return ranked.groupby("variant", sort=False).head(1).reset_index(drop=True)

    def figures(self) -> list[Path]:
        """The run's figure files: regular files in its ``figures/`` folder (a symbolic
        link, or anything that resolves outside the run, is not one of them)."""
        return own_files(self.path, "figures")


# What a summary row holds besides the kind's extras (``steps_taken``, ``converged``, ...).
_NOT_COLUMNS = frozenset({"variant", "member", "status", "sweep", "final", "params"})


def read_tables(path: str | Path, load: Callable[[Path], Experiment]) -> RunTables:
    """Reads a run folder's files as tables (checked as ``plot`` checks them).

    Args:
        path: the run folder.
        load: reads and validates its ``config.yaml`` (:func:`experiments.load_config`).

    Raises:
        RunFilesError: the folder is not a run folder, or one of its files is damaged; the
            message names the file.
        ConfigError: its ``config.yaml`` is not a valid config.
    """
    path = Path(path)
    if not path.is_dir():
        raise RunFilesError(f"{path}: not a run folder (no such folder)")
    if not (path / "config.yaml").is_file():
        raise RunFilesError(f"{path}/config.yaml: missing")
    config = load(path / "config.yaml")
    try:
        record = read_run(path, config)
        manifest = read_manifest(path)
    except RunFilesError as error:  # its messages start with the file's name
        raise RunFilesError(f"{path}/{error}") from None
    rows = []
    for entry in record.runs:
        row: dict[str, Any] = {"variant": entry["variant"], "member": entry["member"]}
        row["status"] = entry["status"]
        row.update(entry.get("sweep", {}))
        row.update({k: v for k, v in entry.items() if k not in _NOT_COLUMNS})
        for split, metrics in entry["final"].items():
            row.update({f"{split}/{name}": value for name, value in (metrics or {}).items()})
        rows.append(row)
    summary = pd.DataFrame(rows)
    metrics = pd.read_csv(path / "metrics.csv")
    if "member" not in metrics:
        metrics.insert(1, "member", metrics["variant"].map(summary.set_index("variant")["member"]))
    swept = sorted(record.swept_keys())
    if swept:
        metrics = metrics.merge(summary[["member", *swept]], on="member", how="left")
    return RunTables(path, config, summary, metrics, manifest, tuple(record.runs))
