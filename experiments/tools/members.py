"""``infolab status`` and ``infolab store gc``: what the member store holds for a run, and
clearing out what no run folder refers to.

``status RUN_OR_CONFIG`` plans the run (a run folder's ``config.yaml``, or a config file)
as ``run`` would and looks up each of its chunks in the store: stored (intact), damaged
(present but failing its checksum: recomputed by the next run) or missing.

``store gc [DIR]`` keeps every chunk that a run folder under ``DIR`` (default
``results``) lists in its manifest's ``member_chunks`` and removes the other store
entries (``.chunk`` files, and temporary files left by a killed write), except those
written in the last hour (a run in progress has not written its manifest yet).
``--dry-run`` lists them and removes nothing. It never deletes anything but store entries.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "chunk_entries",
    "gc_lines",
    "referenced_chunks",
    "status_lines",
    "store_entries",
]

_GRACE_S = 3600.0


def chunk_entries(the_plan: Any, members: Any) -> Iterator[tuple[Any, int]]:
    """Each chunk of the plan as ``run`` cuts it: its store entry and its member count."""
    import jax

    from experiments.pipeline.plan import by_key, call_size

    specs = [m.spec for m in the_plan.members]
    with jax.enable_x64(the_plan.config.precision == "float64"):
        for same in by_key(the_plan.groups).values():
            size = call_size(the_plan.program, same, None)
            for group in same:
                chunk = [specs[i] for i in group.members]
                for start in range(0, len(chunk), size):
                    part = chunk[start : start + size]
                    yield (
                        members.entry(the_plan.program, group.key, group.data, part, size),
                        len(part),
                    )


def status_lines(target: Path, load_config: Any) -> list[str]:
    """How many of a run's members are stored, damaged or missing in the store."""
    from experiments.pipeline.plan import absolute_paths, plan
    from experiments.pipeline.store import open_store

    config_file = target / "config.yaml" if target.is_dir() else target
    config = load_config(config_file)
    config = absolute_paths(config, config_file.parent)
    members = open_store(config.output.dir, config.precision)
    if members is None:
        return [f"{target}: the member store is off (INFOLAB_MEMBER_STORE)"]
    the_plan = plan(config, config_file.parent)
    counts = {"stored": [0, 0], "damaged": [0, 0], "missing": [0, 0]}
    for entry, size in chunk_entries(the_plan, members):
        if members.read(entry.path, entry.member_keys) is not None:
            state = "stored"
        else:
            state = "damaged" if entry.path.exists() else "missing"
        counts[state][0] += size
        counts[state][1] += 1
    total = sum(c[0] for c in counts.values())
    chunks = sum(c[1] for c in counts.values())
    parts = ", ".join(f"{m} {state} ({c} chunk(s))" for state, (m, c) in counts.items())
    return [f"{target}: {total} member(s) in {chunks} chunk(s): {parts}", f"store: {members.root}"]


def referenced_chunks(results: Path) -> set[str]:
    """The chunk keys that the manifests of the run folders under ``results`` list."""
    keys: set[str] = set()
    for manifest in results.rglob("manifest.json"):
        try:
            listed = json.loads(manifest.read_text(encoding="utf-8")).get("member_chunks", [])
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(listed, list):
            keys.update(key for key in listed if isinstance(key, str))
    return keys


def store_entries(root: Path) -> Iterator[Path]:
    """The store's entries: ``<xx>/<key>.chunk`` and temporary ``<xx>/.<key>.*.tmp`` files."""
    for folder in sorted(root.glob("[0-9a-f][0-9a-f]")):
        if folder.is_dir():
            yield from sorted(folder.glob("*.chunk"))
            yield from sorted(folder.glob(".*.tmp"))


def gc_lines(results: Path, *, dry_run: bool, now: float | None = None) -> list[str]:
    """Removes (or with ``dry_run`` lists) the store entries no run under ``results``
    refers to, older than an hour; returns a line per entry and a total."""
    from experiments.pipeline.store import store_folder

    root = store_folder(results)
    if root is None:
        return ["the member store is off (INFOLAB_MEMBER_STORE): nothing to collect"]
    if not root.is_dir():
        return [f"{root}: no member store"]
    keep = referenced_chunks(results)
    now = time.time() if now is None else now
    lines, freed = [], 0
    for path in store_entries(root):
        key = path.name.removesuffix(".chunk") if path.suffix == ".chunk" else None
        try:
            stat = path.stat()
        except OSError:
            continue
        if key in keep or now - stat.st_mtime < _GRACE_S:
            continue
        lines.append(f"{'would remove' if dry_run else 'removed'} {path}")
        freed += stat.st_size
        if not dry_run:
            path.unlink(missing_ok=True)
    verb = "would free" if dry_run else "freed"
    lines.append(f"{len(lines)} store entries, {verb} {freed / 2**20:.1f} MiB; store: {root}")
    return lines
