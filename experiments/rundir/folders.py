"""Run folders: where a run goes, staged so that it is complete or absent, and replaced
only where the tool wrote every file.

A run folder is ``<output.dir>/<name>/<UTC time>-<config hash[:8]>/`` or the ``--out``
folder. Its ``manifest.json`` is the tool's marker: it names the tool, the run's identity
and every file the run wrote. ``--force`` replaces only such a folder, and deletes only the
files that list names; anything else found there is kept, and reported.

A run is written into a hidden staging folder beside its target, made (with the
destination's parents) before anything runs, so an unwritable destination is found at
once. The staging folder carries a marker of its own (the process that made it), so that
one left behind by a killed process is recognised and removed by the next run beside it.

Moving a run into an ``--out`` folder is done under a lock file beside it (made with
``O_EXCL``, holding the process, removed after), with signals held, so two runs racing
into one folder never mix: ``--force`` replaces only the run that was there when the run
started, and a run that finds another one landed meanwhile is kept beside it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments import interrupts
from experiments.config import Experiment, config_hash
from experiments.rundir import locks as owners

__all__ = [
    "RUN_FILES",
    "TOOL",
    "KeptBeside",
    "OutputError",
    "RunFolder",
    "Stage",
    "WriteError",
    "choose_run_folder",
    "foreign_entries",
    "listed_files",
    "odd_listing",
    "open_stage",
    "replace_listed",
    "staged",
    "sync_folder",
    "tool_file_name",
    "write_synced",
]

TOOL = owners.TOOL
RUN_FILES = ("config.yaml", "manifest.json", "metrics.csv", "summary.json", "data.json")
# A drawn figure, in figures/ (or figures-new[-N]/, where figures/ held foreign files).
_FIGURE_FILE = re.compile(r"figures(-new(-[0-9]+)?)?/[^/\\\x00]+\.(png|pdf|svg)")
STAGE_MARKER = ".infolab-stage.json"
LOCK_WAIT_S = 60.0  # how long a run waits for another's move into the same folder


class OutputError(ValueError):
    """The output folder cannot be used (bad input: nothing has been written)."""


class KeptBeside(OutputError):
    """The run is complete, but beside its target, which held files this tool did not
    write (``path`` is where the run went)."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


class WriteError(RuntimeError):
    """The run's files could not be written (a full disk, ...): nothing was left half
    written, and an earlier run at the destination is untouched."""

    def __init__(self, target: Path, error: OSError) -> None:
        super().__init__(f"cannot write the run folder {target}: {error.strerror or error}")


@dataclass(frozen=True)
class RunFolder:
    """Where a run goes. ``chosen``: given with ``--out`` (else named by time and hash);
    ``replaces``: the ``run_id`` of the run that ``--force`` may replace there (the one
    found when the run started)."""

    path: Path
    chosen: bool
    force: bool = False
    replaces: str | None = None


def _manifest(run_dir: Path) -> dict[str, Any] | None:
    """A run folder's manifest, if this tool wrote it (a symbolic link is not one)."""
    if (run_dir / "manifest.json").is_symlink():
        return None
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("tool") == TOOL else None


def _run_id(run_dir: Path) -> str | None:
    run_id = (_manifest(run_dir) or {}).get("run_id")
    return run_id if isinstance(run_id, str) else None


def tool_file_name(name: str) -> bool:
    """Whether ``name`` is a path, relative to a run folder, of a file this tool writes
    there: a run file, or a figure in ``figures/`` (never absolute, never ``..``).

    >>> [tool_file_name(n) for n in ("summary.json", "figures/losses.png", "../x.txt")]
    [True, True, False]
    >>> [tool_file_name(n) for n in ("/etc/passwd", "figures/../../x.png", "figures/.png")]
    [False, False, False]
    """
    if name in RUN_FILES:
        return True
    if _FIGURE_FILE.fullmatch(name) is None:
        return False
    stem = name.rsplit("/", 1)[1][: -len(".png")]
    return stem not in ("", ".", "..") and not stem.startswith(".")


def listed_files(run_dir: Path) -> list[str] | None:
    """The files a run folder's manifest says this tool wrote (relative paths), or None if
    the folder is not a run folder written by this tool (no manifest of this tool's, or one
    that lists a path this tool never writes: an absolute one, one with ``..``, ...)."""
    files = (_manifest(run_dir) or {}).get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    if not all(tool_file_name(f) for f in files):
        return None
    return files


def odd_listing(run_dir: Path) -> str | None:
    """What is wrong with a manifest of this tool's whose ``files`` name a path this tool
    never writes (for the message), or None."""
    files = (_manifest(run_dir) or {}).get("files")
    if isinstance(files, list):
        odd = next((f for f in files if not isinstance(f, str) or not tool_file_name(f)), None)
        if odd is not None:
            return f"its manifest.json lists {odd!r}, not a file this tool writes"
    return None


def _listing_problem(run_dir: Path) -> str:
    """Why :func:`listed_files` found no listing (for the message)."""
    return odd_listing(run_dir) or "its manifest.json does not list the files it wrote"


def choose_run_folder(
    config: Experiment,
    out: str | Path | None = None,
    *,
    force: bool = False,
    now: dt.datetime | None = None,
) -> RunFolder:
    """Picks the run folder, checking it before anything runs.

    Raises:
      OutputError: ``output.dir`` is, or lies under, a file; ``out`` is the current folder
        or contains it, exists and is a file, or is a non-empty folder and ``force`` is not
        set, or ``force`` is set but the folder is not a run folder this tool wrote.
    """
    if out is None:
        base = Path(config.output.dir)
        blocked = next((p for p in [base, *base.parents] if p.exists() and not p.is_dir()), None)
        if blocked is not None:
            raise OutputError(f"output.dir: {blocked} is a file, not a folder")
        now = now or dt.datetime.now(dt.UTC)
        stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"{stamp}-{config_hash(config)[:8]}"
        return RunFolder(base / config.name / name, chosen=False)
    path = Path(out)
    if any(ord(c) < 32 or ord(c) == 127 for c in str(path)):
        raise OutputError(
            f"--out: {str(path)!r} holds a control character (a newline, a tab, ...); "
            "choose a plain name"
        )
    here = Path.cwd().resolve()
    if path.resolve() == here or path.resolve() in here.parents:
        raise OutputError(f"--out: {path} is the current folder or contains it; choose another")
    if path.is_symlink():
        raise OutputError(
            f"--out: {path} is a symbolic link; give the folder it points to, or another"
        )
    if path.exists():
        if not path.is_dir():
            raise OutputError(f"--out: {path} exists and is not a folder")
        if any(path.iterdir()):
            if not force:
                raise OutputError(
                    f"--out: {path} exists and is not empty; pass --force to replace it"
                )
            if listed_files(path) is None:
                raise OutputError(
                    f"--out: {path} is not a run folder written by {TOOL} "
                    f"({_listing_problem(path)}); --force replaces only those"
                )
    replaces = _run_id(path) if force and path.is_dir() else None
    return RunFolder(path, chosen=True, force=force, replaces=replaces)


# ---------------------------------------------------------------------------
# Staging
# ---------------------------------------------------------------------------


@dataclass
class Stage:
    """A run folder being written: ``path`` now, ``final`` once moved into place."""

    path: Path
    folder: RunFolder
    made: list[Path] = field(default_factory=list)
    final: Path | None = None

    def discard(self) -> None:
        """Removes the staging folder and any parent folder made for it (if still empty)."""
        with interrupts.held():
            shutil.rmtree(self.path, ignore_errors=True)
            for parent in self.made:
                with contextlib.suppress(OSError):
                    parent.rmdir()

    def commit(self) -> Path:
        """Moves the staged run into place, with signals held; returns where it went.

        Raises:
            KeptBeside: the target held files this tool did not write, or another run
                landed there meanwhile; the run is kept beside it.
            WriteError: the move failed (a full disk, ...); the earlier run is untouched.
        """
        with interrupts.held():
            try:
                (self.path / STAGE_MARKER).unlink(missing_ok=True)
                if not self.folder.chosen:
                    self.final = _rename_free(self.path, self.folder.path)
                else:
                    with owners.locked(_lock(self.folder.path), wait_s=LOCK_WAIT_S):
                        self.final = _move_into_place(self.path, self.folder)
            except owners.LockBusy as busy:
                kept = _rename_free(self.path, _beside(self.folder.path))
                raise KeptBeside(
                    f"--out: another process has held {busy.lock} for {LOCK_WAIT_S:.0f} s; "
                    f"the run was written to {kept}",
                    kept,
                ) from None
            except OSError as error:
                raise WriteError(self.folder.path, error) from None
        return self.final

    def write(self, write: Callable[[Path], None]) -> None:
        """Calls ``write(path)`` to write the run's files into the stage.

        Raises:
            WriteError: it failed with an ``OSError`` (a full disk, ...).
        """
        try:
            write(self.path)
        except OSError as error:
            raise WriteError(self.folder.path, error) from None


def open_stage(folder: RunFolder) -> Stage:
    """Makes the staging folder (and the destination's parents) now, before any work.

    Raises:
        OutputError: the destination cannot be created or written.
    """
    target = folder.path
    where = "--out" if folder.chosen else "output.dir"
    try:
        made = _make_parents(target.parent)
        _remove_stale_stages(target.parent)
        path = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    except OSError as error:
        reason = error.strerror or str(error)
        raise OutputError(f"{where}: cannot write a run folder at {target}: {reason}") from None
    path.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; a run folder follows the umask
    (path / STAGE_MARKER).write_text(json.dumps(owners.marker()), encoding="utf-8")
    return Stage(path, folder, made)


@contextlib.contextmanager
def staged(stage: Stage):
    """Discards the stage on any exception (an interrupt included), else leaves it to
    :meth:`Stage.commit`."""
    try:
        yield stage
    except BaseException:
        stage.discard()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _make_parents(parent: Path) -> list[Path]:
    """Creates ``parent`` and its missing ancestors; returns those made, deepest first."""
    missing = []
    for p in [parent, *parent.parents]:
        if p.exists():
            break
        missing.append(p)
    parent.mkdir(parents=True, exist_ok=True)
    for p in missing:
        p.chmod(0o777 & ~_umask())
    return missing


def _remove_stale_stages(parent: Path) -> None:
    """Removes staging folders beside this one whose marker names a process of this host
    that is no longer running (left by a kill or a power cut)."""
    for candidate in parent.glob(".*.partial-*"):
        found = owners.read_marker(candidate / STAGE_MARKER)
        if found is not None and owners.left_by_a_dead_process(found):
            shutil.rmtree(candidate, ignore_errors=True)


# ---------------------------------------------------------------------------
# Moving into place
# ---------------------------------------------------------------------------


def write_synced(path: Path, text: str) -> None:
    """Writes a text file and flushes it to the disk (``fsync``), so that a folder moved
    into place after it holds the file's bytes even after a power cut."""
    with open(path, "w", encoding="utf-8", newline="\n") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())


def sync_folder(path: Path) -> None:
    """Flushes a folder's entries (names created, renamed or removed in it) to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _move_into_place(staging: Path, folder: RunFolder) -> Path:
    """Moves a staged run to its ``--out`` folder (under the folder's lock)."""
    target = folder.path
    if target.is_symlink():  # made one while the run ran: never moved into, or through
        kept = _rename_free(staging, _beside(target))
        raise KeptBeside(
            f"--out: {target} became a symbolic link while the run ran; it was left alone "
            f"and the run was written to {kept}",
            kept,
        )
    if not (target.is_dir() and any(target.iterdir())):
        try:
            staging.rename(target)  # replaces an empty folder
            sync_folder(target.parent)
            return target
        except OSError:
            if not (target.is_dir() and any(target.iterdir())):
                raise
    landed = _run_id(target)
    if landed is not None and landed != folder.replaces:
        kept = _rename_free(staging, _beside(target))
        raise KeptBeside(
            f"--out: another run ({landed}) was written to {target} while this one ran; "
            f"it was left alone and this run was written to {kept}",
            kept,
        )
    listed = listed_files(target) if folder.force else None
    foreign = foreign_entries(target, listed)
    if listed is None or foreign:
        kept = _rename_free(staging, _beside(target))
        drawing = any(Path(f).parts[0].startswith(".figures.partial-") for f in foreign)
        if drawing:  # the tool's own, but another process's: a plot still drawing into it
            raise KeptBeside(
                f"--out: {target} is having its figures drawn (infolab plot, its "
                f".figures.partial-* folder); it was left alone and the run was written to {kept}",
                kept,
            )
        what = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        raise KeptBeside(
            f"--out: {target} holds files this tool did not write ({what or 'not a run folder'})"
            f"; it was left alone and the run was written to {kept}",
            kept,
        )
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.replaced-", dir=target.parent))
    target.rename(aside / "old")
    try:
        staging.rename(target)
    except OSError:
        (aside / "old").rename(target)  # the earlier run back in place
        aside.rmdir()
        raise
    sync_folder(target.parent)
    leftover = replace_listed(aside / "old", listed)
    if leftover:
        kept = _rename_free(aside / "old", target.with_name(f"{target.name}-previous"))
        aside.rmdir()
        raise KeptBeside(
            f"--out: files appeared in {target} while it was replaced; the new run is in "
            f"{target} and the files are kept in {kept}",
            target,
        )
    aside.rmdir()
    return target


def _lock(target: Path) -> Path:
    return target.with_name(f".{target.name}.infolab-lock")


def _beside(target: Path) -> Path:
    return target.with_name(f"{target.name}-new")


def _rename_free(source: Path, target: Path) -> Path:
    """Renames ``source`` to ``target``, or ``target-2``, ``-3``, ... if that is taken."""
    for attempt in range(1, 1000):
        candidate = target if attempt == 1 else target.with_name(f"{target.name}-{attempt}")
        try:
            source.rename(candidate)  # fails if candidate is a non-empty folder
            return candidate
        except OSError:
            if not candidate.exists():
                raise
    raise OutputError(f"could not find a free run folder name beside {target}")


def foreign_entries(folder: Path, listed: list[str] | None) -> list[str]:
    """What in ``folder`` this tool did not write (relative paths): every entry that is
    not a folder or a regular file named in ``listed`` (a symbolic link always is one; it
    is never followed)."""
    allowed = set(listed or [])
    foreign = []
    for top, folders, files, top_fd in os.fwalk(folder):  # follows no link
        where = Path(top).relative_to(folder)
        for name in [*folders, *files]:
            info = os.stat(name, dir_fd=top_fd, follow_symlinks=False)
            relative = str(where / name) if where.parts else name
            if stat.S_ISDIR(info.st_mode):
                continue
            if not stat.S_ISREG(info.st_mode) or relative not in allowed:
                foreign.append(relative)
    return sorted(foreign)


def replace_listed(folder: Path, listed: list[str]) -> list[str]:
    """Deletes the listed files of ``folder`` and then its empty subfolders and itself;
    returns what is left (files this tool did not write), which is never deleted.

    Only what a walk of the real folder finds is deleted: regular files whose path in it
    is listed (never a symbolic link, never through one: ``os.fwalk`` with ``dir_fd``),
    so no name in ``listed`` can reach outside ``folder``."""
    allowed = set(listed)
    for top, folders, files, top_fd in os.fwalk(folder, topdown=False):
        where = Path(top).relative_to(folder)
        for name in files:
            relative = str(where / name) if where.parts else name
            if relative not in allowed:
                continue
            info = os.stat(name, dir_fd=top_fd, follow_symlinks=False)
            if stat.S_ISREG(info.st_mode):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=top_fd)
        for name in folders:
            with contextlib.suppress(OSError):  # not empty, or a link (which rmdir refuses)
                os.rmdir(name, dir_fd=top_fd)
    leftover = foreign_entries(folder, [])
    if not leftover:
        with contextlib.suppress(OSError):
            folder.rmdir()
    return leftover
