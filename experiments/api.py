"""The Python API: run a config from a script or a notebook and get tables back.

>>> import experiments
>>> run = experiments.run("configs/mle_vs_map.yaml", ["train.steps=200"])  # doctest: +SKIP
>>> run.summary[["variant", "status", "test/ce", "test/accuracy"]]        # doctest: +SKIP
>>> run.best("ce", split="test")                                            # doctest: +SKIP

A :class:`Run` is read from a run folder's files, so ``load_run(path)`` gives the same
object for a run made on the command line. Tables are pandas DataFrames: ``summary`` has a
row per member (its variant, member index, swept values and final metrics as
``split/metric`` columns), ``metrics`` is the tidy per-step table with the swept values as
columns.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.config import Experiment
from experiments.resolve import load_config, resolve
from experiments.rundir.read import RunFilesError, read_manifest, read_run

__all__ = ["Run", "load_run", "run"]


@dataclasses.dataclass(frozen=True)
class Run:
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
        """The run's figure files."""
        return sorted((self.path / "figures").glob("*")) if (self.path / "figures").is_dir() else []

    def report(self, out: str | Path | None = None) -> Path:
        """Writes this run's HTML report and its Markdown twin (:mod:`experiments.tools.report`).

        Args:
            out: the HTML file; default ``report.html`` in the run folder (a run made with
                ``out=None`` lives in a temporary folder: pass ``out`` to keep its report).

        Returns:
            The HTML file's path (the Markdown twin is beside it, with ``.md``).

        Example::

            >>> experiments.load_run("results/mle_vs_map/RUN").report()  # doctest: +SKIP
            PosixPath('results/mle_vs_map/RUN/report.html')
        """
        from experiments.tools.report import write_report

        return write_report([self.path], out)


# What a summary row holds besides the kind's extras (``steps_taken``, ``converged``, ...).
_NOT_COLUMNS = frozenset({"variant", "member", "status", "sweep", "final", "params"})


def load_run(path: str | Path) -> Run:
    """Reads a run folder (checked as ``plot`` checks it).

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
    config = load_config(path / "config.yaml")
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
    return Run(path, config, summary, metrics, manifest, tuple(record.runs))


def run(
    config: str | Path | Mapping[str, Any] | Experiment,
    overrides: Sequence[str] = (),
    *,
    out: str | Path | None = None,
    force: bool = False,
    quiet: bool = True,
) -> Run:
    """Runs a config and returns the finished :class:`Run`.

    Args:
        config: a YAML file's path, a mapping (as the YAML would read), or a validated config.
        overrides: ``key.path=value`` strings, as ``--set`` takes them.
        out: the run folder to write; None writes to a temporary folder that is removed
            when the returned object is.
        force: replace an existing run folder at ``out``.
        quiet: print nothing (else a line per finished variant, on stderr).

    Raises:
        ConfigError, DataError, OutputError: bad input, before anything runs.
    """
    from experiments.pipeline import run as runner  # here: it loads jax

    config, base_dir = resolve(config, overrides)
    temporary = None
    if out is None:
        temporary = Path(tempfile.mkdtemp(prefix="infolab-run-"))
        out = temporary / "run"
    log = None if quiet else (lambda line: print(line, file=sys.stderr))
    path = runner.run(config, base_dir, overrides=overrides, out=Path(out), force=force, log=log)
    assert path is not None
    result = load_run(path)
    if temporary is not None:
        weakref.finalize(result, shutil.rmtree, temporary, ignore_errors=True)
    return result
