"""Files that name the process that made them (tool, process id, host), so that one left
behind by a killed process is recognised: a staging folder's marker, and the lock file
held while a run is moved into its folder."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["TOOL", "LockBusy", "left_by_a_dead_process", "locked", "marker", "read_marker"]

TOOL = "infolab"


class LockBusy(Exception):
    """Another live process held the lock ``lock`` for longer than the wait allowed."""

    def __init__(self, lock: Path) -> None:
        super().__init__(lock)
        self.lock = lock


def marker() -> dict[str, Any]:
    """This process's marker: the tool, its process id and its host."""
    return {"tool": TOOL, "pid": os.getpid(), "host": socket.gethostname()}


def read_marker(path: Path) -> dict[str, Any] | None:
    """The marker in ``path``, or None if it is missing, unreadable or not this tool's."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return found if isinstance(found, dict) and found.get("tool") == TOOL else None


def left_by_a_dead_process(found: dict[str, Any]) -> bool:
    """Whether a marker names a process of this host that is no longer running."""
    return found.get("host") == socket.gethostname() and not _alive(found.get("pid"))


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def locked(lock: Path, *, wait_s: float) -> Iterator[None]:
    """Holds the lock file ``lock`` (made with ``O_EXCL``, holding :func:`marker`) while
    the block runs, and removes it after. Waits while another live process holds it;
    removes one left by a dead process (or unreadable and ``wait_s`` old).

    Raises:
        LockBusy: another process held it for ``wait_s`` seconds.

    Example:
        >>> import tempfile
        >>> lock = Path(tempfile.mkdtemp()) / ".run.lock"
        >>> with locked(lock, wait_s=1.0):
        ...     lock.exists()
        True
        >>> lock.exists()
        False
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            if _stale(lock, wait_s):
                lock.unlink(missing_ok=True)
            elif time.monotonic() > deadline:
                raise LockBusy(lock) from None
            else:
                time.sleep(0.02)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(json.dumps(marker()))
        yield
    finally:
        lock.unlink(missing_ok=True)


def _stale(lock: Path, wait_s: float) -> bool:
    found = read_marker(lock)
    if found is not None:
        return left_by_a_dead_process(found)
    try:  # not written yet, or damaged: stale once old
        return time.time() - lock.stat().st_mtime > wait_s
    except OSError:
        return False
