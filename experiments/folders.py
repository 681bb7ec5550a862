"""Run folders: choosing where a run goes, and staging it so it is complete or absent.

A run folder is ``<output.dir>/<name>/<UTC time>-<config hash[:8]>/`` or the ``--out``
folder. :func:`staged_run_dir` writes into a hidden temporary folder beside the target and
renames it into place once everything is written, so an interrupted run never leaves a
folder that looks complete.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from experiments.config import Experiment, config_hash

__all__ = ["OutputError", "RunFolder", "Stage", "choose_run_folder", "staged_run_dir"]


class OutputError(ValueError):
    """The output folder cannot be used (bad input: nothing has been written)."""


@dataclass(frozen=True)
class RunFolder:
    """Where a run goes. ``chosen``: given with ``--out`` (else named by time and hash)."""

    path: Path
    chosen: bool
    force: bool = False


def choose_run_folder(
    config: Experiment,
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
