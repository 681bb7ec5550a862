"""A run's provenance, ``manifest.json``: what ran, from which code, where, on what.

Written with the other run files (:func:`experiments.rundir.write.write_run`); the figures
stage adds what it drew with :func:`update_manifest`.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from experiments.config import Experiment, MemberSpec, config_hash
from experiments.rundir.folders import RUN_FILES, TOOL, sync_folder, write_synced

__all__ = ["RUN_FILES", "json_text", "manifest", "update_manifest", "utc_now"]


def manifest(
    config: Experiment,
    members: Sequence[MemberSpec],
    statuses: Sequence[str],
    data_entries: Sequence[Mapping[str, Any]],
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """Provenance: what ran, from which code, where, on what; counts per variant and status."""
    status: dict[str, dict[str, int]] = {}
    for member, outcome in zip(members, statuses, strict=True):
        counts = status.setdefault(member.variant, {})
        counts[outcome] = counts.get(outcome, 0) + 1
    start = str(extra.get("start", utc_now()))
    record = {
        "tool": TOOL,
        "run_id": f"{config.name}-{config_hash(config)[:8]}-{start}",
        "files": list(RUN_FILES),
        "name": config.name,
        "kind": config.kind,
        "config_sha256": config_hash(config),
        "precision": config.precision,
        "git": _git_state(),
        "versions": _versions(),
        "platform": platform.platform(),
        "devices": _devices(),
        "xla_flags": os.environ.get("XLA_FLAGS"),
        "seeds": {
            "config": config.seed,
            "members": sorted({int(m.spec.seed) for m in members}),
        },
        "data_sha256": sorted({data["sha256"] for data in data_entries}),
        "members": len(members),
        "status": status,
        "end": utc_now(),
    }
    record.update(extra)
    return record


def update_manifest(run_dir: Path, **entries: Any) -> None:
    """Sets entries of a run folder's manifest, replacing the file atomically (a folder
    without one, such as figures drawn from copied files, records nothing)."""
    path = Path(run_dir) / "manifest.json"
    if not path.is_file():
        return
    record = json.loads(path.read_text(encoding="utf-8"))
    record.update(entries)
    staging = path.with_name(".manifest.json.partial")
    write_synced(staging, json_text(record))
    os.replace(staging, path)
    sync_folder(path.parent)


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


def utc_now(moment: dt.datetime | None = None) -> str:
    """An ISO 8601 UTC time to the microsecond, ``Z``-suffixed (every time in a manifest)."""
    moment = moment or dt.datetime.now(dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def json_text(data: Any) -> str:
    """The JSON of every run file: indented, keys sorted, no NaN, UTF-8 as it is."""
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"
