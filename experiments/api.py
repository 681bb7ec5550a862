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

from experiments.config import Experiment
from experiments.contract import RunRecord
from experiments.kinds import load_config, resolve
from experiments.pipeline import run as runner
from experiments.rundir.read import read_run
from experiments.tools.report import write_report
from experiments.tools.tables import RunTables, read_tables

__all__ = ["Run", "load_run", "read_record", "run"]


@dataclasses.dataclass(frozen=True)
class Run(RunTables):
    """A finished run, read from its folder (see :class:`~experiments.tools.tables.RunTables`
    for its attributes: ``path``, ``config``, ``summary``, ``metrics``, ``manifest``).

    ``path`` is a temporary folder, removed with this object, when the run was made with
    ``out=None``.
    """

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
        return write_report([self], out)


def load_run(path: str | Path) -> Run:
    """Reads a run folder (checked as ``plot`` checks it).

    Raises:
        RunFilesError: the folder is not a run folder, or one of its files is damaged; the
            message names the file.
        ConfigError: its ``config.yaml`` is not a valid config.
    """
    tables = read_tables(path, load_config)
    return Run(**{f.name: getattr(tables, f.name) for f in dataclasses.fields(tables)})


def run(
    config: str | Path | Mapping[str, Any] | Experiment,
    overrides: Sequence[str] = (),
    *,
    out: str | Path | None = None,
    force: bool = False,
    quiet: bool = True,
    store: bool = True,
) -> Run:
    """Runs a config and returns the finished :class:`Run`.

    Args:
        config: a YAML file's path, a mapping (as the YAML would read), or a validated config.
        overrides: ``key.path=value`` strings, as ``--set`` takes them.
        out: the run folder to write; None writes to a temporary folder that is removed
            when the returned object is.
        force: replace an existing run folder at ``out``.
        quiet: print nothing (else a line per finished variant, on stderr).
        store: read and write the member store (``output.dir``'s ``.members``, or
            ``$INFOLAB_MEMBER_STORE``): members stored by an earlier run with the same
            code, precision and platform are reused, not computed.

    Raises:
        ConfigError, DataError, OutputError: bad input, before anything runs.
    """
    config, base_dir = resolve(config, overrides)
    temporary = None
    if out is None:
        temporary = Path(tempfile.mkdtemp(prefix="infolab-run-"))
        out = temporary / "run"
    log = None if quiet else (lambda line: print(line, file=sys.stderr))
    path = runner.run(
        config, base_dir, overrides=overrides, out=Path(out), force=force, log=log, store=store
    )
    assert path is not None
    result = load_run(path)
    if temporary is not None:
        weakref.finalize(result, shutil.rmtree, temporary, ignore_errors=True)
    return result


def read_record(run_dir: str | Path) -> RunRecord:
    """A run folder read back with its ``config.yaml`` validated: what figures draw from.

    Raises:
        ConfigError: the run's ``config.yaml`` is not a valid config.
        RunFilesError: a file of the run is missing or damaged.
    """
    run_dir = Path(run_dir)
    return read_run(run_dir, load_config(run_dir / "config.yaml"))
