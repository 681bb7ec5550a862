"""The plan stage: which members run together, in which compiled programs, in calls of
which size.

Members whose kind gives them equal *program keys* (static choices and data shapes) and who
share a data set form a :class:`Group`: one compiled, vmapped program trains them. A group
too large for the memory budget is split into calls of one size, so every call of a program
key runs the same compiled program. Nothing here runs anything or knows any kind.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import jax

from experiments.config import Experiment, MemberSpec
from experiments.config.fields import precision_context
from experiments.contract import DataError, Kind, Program

__all__ = [
    "Group",
    "Plan",
    "absolute_paths",
    "by_key",
    "call_size",
    "chunk_size",
    "describe",
    "group_members",
    "load_members_data",
    "memory_budget",
    "plan",
    "plan_rows",
]


@dataclasses.dataclass(frozen=True)
class Group:
    """Members trained by one compiled program on one data set (indices into the run's
    member list)."""

    key: Hashable
    data: Any
    members: tuple[int, ...]


def group_members(program: Program, specs: Sequence[Any], datasets: Sequence[Any]) -> list[Group]:
    """Groups members by program key, then by data set, in order of first appearance.

    Everything that changes the compiled program or the data is in the group's identity:
    the program key (static choices and data shapes) and the data set itself.
    """
    groups: dict[tuple[Hashable, int], list[int]] = {}
    for index, (spec, data) in enumerate(zip(specs, datasets, strict=True)):
        groups.setdefault((program.program_key(spec, data), id(data)), []).append(index)
    by_id = {id(data): data for data in datasets}
    return [
        Group(program.group_key(key, [specs[i] for i in ix]), by_id[data_id], tuple(ix))
        for (key, data_id), ix in groups.items()
    ]


def memory_budget() -> int:
    """Bytes the members may use on each device: 70% of what the device reports, or on a
    CPU, a quarter of the machine's memory shared by its devices; ``INFOLAB_SWEEP_MEMORY``
    (bytes) overrides it."""
    if "INFOLAB_SWEEP_MEMORY" in os.environ:
        text = os.environ["INFOLAB_SWEEP_MEMORY"]
        try:
            budget = int(float(text))
        except (ValueError, OverflowError):
            budget = 0
        if budget <= 0:
            raise DataError([f"INFOLAB_SWEEP_MEMORY: expected a number of bytes > 0, got {text!r}"])
        return budget
    device = jax.local_devices()[0]
    stats = device.memory_stats() if device.platform != "cpu" else None
    if stats and "bytes_limit" in stats:
        return int(0.7 * stats["bytes_limit"])
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return total // 4 // max(jax.local_device_count(), 1)


def chunk_size(n_members: int, bytes_each: int, n_devices: int, budget: int) -> int:
    """Members per compiled call: all of them if they fit, else as many as fit, rounded to a
    multiple of the device count (at least one per device)."""
    per_device = max(1, budget // max(bytes_each, 1))
    per_call = math.ceil(n_members / n_devices) * n_devices
    return min(per_call, per_device * n_devices)


def call_size(program: Program, groups: Sequence[Group], budget: int | None) -> int:
    """One call size for all the groups of a program key (so it compiles once)."""
    largest = max(len(g.members) for g in groups)
    each = program.member_bytes(groups[0].key, groups[0].data)
    budget = budget if budget is not None else memory_budget()
    return chunk_size(largest, each, jax.device_count(), budget)


def plan_rows(
    program: Program, groups: Sequence[Group], variants: Sequence[str]
) -> list[dict[str, Any]]:
    """For each compiled program: members, data sets, memory per member and chunking.

    Args:
        program: the kind's program.
        groups: from :func:`group_members`.
        variants: each member's variant name.
    """
    rows = []
    for key, same in by_key(groups).items():
        size = call_size(program, same, None)
        indices = [i for g in same for i in g.members]
        rows.append(
            {
                "variants": sorted({variants[i] for i in indices}),
                "members": len(indices),
                "data_sets": len(same),
                "bytes_per_member": program.member_bytes(key, same[0].data),
                "members_per_call": size,
                "calls": sum(math.ceil(len(g.members) / size) for g in same),
            }
        )
    return rows


def by_key(groups: Sequence[Group]) -> dict[Hashable, list[Group]]:
    by_key: dict[Hashable, list[Group]] = {}
    for group in groups:
        by_key.setdefault(group.key, []).append(group)
    return by_key


@dataclasses.dataclass(frozen=True)
class Plan:
    """What will run: the config, its kind, its members, their data and their programs."""

    config: Experiment
    kind: Kind
    program: Program
    members: list[MemberSpec]
    datasets: list[Any]  # one per member; members on the same data share the object
    groups: list[Group]


def load_members_data(config: Experiment, base_dir: Path) -> list[Any]:
    """Each member's data set, loaded once per distinct data key and checked against the
    member's settings. Raises ``DataError`` with every problem found."""
    program = type(config).KIND.load_program()
    cache: dict[Any, Any] = {}
    datasets, problems = [], []
    for member in config.members:
        key = program.data_key(member.spec)
        if key not in cache:
            cache[key] = program.load_data(member.spec, base_dir)
        datasets.append(cache[key])
        for problem in program.check(member.spec, cache[key]):
            if problem not in problems:
                problems.append(problem)
    if problems:
        raise DataError(problems)
    return datasets


def absolute_paths(config: Experiment, base_dir: Path) -> Experiment:
    """The config with its kind's file paths (``data.path``, ...) made absolute, in the
    base and every variant, so that the run folder's ``config.yaml`` reruns from anywhere."""
    keys = type(config).KIND.path_keys
    raw = config.model_dump(mode="json")
    changed = False
    for top in [raw, *raw["variants"]]:
        for key in keys:
            node, (*parents, leaf) = top, key.split(".")
            for part in parents:
                node = node.get(part) if isinstance(node, dict) else None
            value = node.get(leaf) if isinstance(node, dict) else None
            if isinstance(value, str) and not Path(value).is_absolute():
                node[leaf] = str((base_dir / value).resolve())
                changed = True
    if not changed:
        return config
    return type(config).model_validate(raw, context=precision_context(raw))


def plan(config: Experiment, base_dir: Path) -> Plan:
    """Loads and checks the data, and groups the members into compiled programs."""
    memory_budget()  # a bad INFOLAB_SWEEP_MEMORY is bad input, found now
    kind = type(config).KIND
    program = kind.load_program()
    datasets = load_members_data(config, base_dir)
    specs = [m.spec for m in config.members]
    groups = group_members(program, specs, datasets)
    return Plan(config, kind, program, config.members, datasets, groups)


def describe(the_plan: Plan) -> list[str]:
    """For ``validate``: a line per variant, or for a sweep, the compiled programs with
    their members, memory and chunks."""
    if not the_plan.config.sweep:
        return [
            f"  {m.variant}: {the_plan.program.describe(m.spec, data)}"
            for m, data in zip(the_plan.members, the_plan.datasets, strict=True)
        ]
    variants = [m.variant for m in the_plan.members]
    rows = plan_rows(the_plan.program, the_plan.groups, variants)
    budget = memory_budget()
    lines = [
        f"  sweep: {len(the_plan.members)} members in {len(rows)} compiled program(s) on "
        f"{jax.device_count()} device(s); memory budget {budget / 2**20:.0f} MiB a device"
    ]
    for row in rows:
        lines.append(
            f"    {', '.join(row['variants'])}: {row['members']} members on "
            f"{row['data_sets']} data set(s), about {row['bytes_per_member'] / 2**20:.2f} MiB "
            f"each; {row['calls']} call(s) of {row['members_per_call']} members"
        )
    return lines
