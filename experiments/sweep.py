"""Sweeps: a grid of runs (see :mod:`experiments.grid`) trained as one vectorised, compiled
program per variant.

Members that share a compiled program (the same loss, prior kind, optimizer, steps, ...)
are trained together: the per-run function of :mod:`experiments.train` is ``jax.vmap``-ed
over their hyperparameters and PRNG keys, so many matrix–vector products become one matrix
product, and the member axis is laid out over every device with a ``NamedSharding``. The
members on one data set share it on the devices; each further data set (e.g. a seed that
draws its own split) is one more call of the same compiled program.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

from experiments import train
from experiments.config import RunSpec
from experiments.data import Dataset

MEMBER_AXIS = "members"


# ---------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------


def member_mesh() -> jax.sharding.Mesh:
    """A one-dimensional mesh of every device (of every process), named ``members``.

    Auto axes: explicit ones (``jax.make_mesh``'s default since jax 0.10) break
    ``jax.debug.callback`` inside ``vmap``.
    """
    return jax.make_mesh((jax.device_count(),), (MEMBER_AXIS,), axis_types=(AxisType.Auto,))


def member_bytes(static: train.RunStatic, data: Dataset) -> int:
    """An estimate of the device memory one member needs while it trains.

    Parameters with optimizer state and gradients (about six copies), the metric history,
    and the per-example work of a step and of the evaluation (logits, probabilities and
    their gradients: about eight values per example and class), in float32. The data
    itself is shared by the members.
    """
    n_train, d = data.x_train.shape
    n_test = data.x_test.shape[0]
    classes = 1 if static.n_classes == 2 else static.n_classes
    params = (d + 1) * classes
    n_logs = len(train.logged_steps(static.steps, static.log_every))
    floats = 6 * params + 2 * len(train.METRICS) * n_logs + 8 * (n_train + n_test) * classes
    return 4 * floats


def memory_budget() -> int:
    """Bytes a sweep may use on each device: 70% of what the device reports, or on a CPU,
    a quarter of the machine's memory shared by its devices; ``INFOLAB_SWEEP_MEMORY`` (bytes)
    overrides it."""
    if "INFOLAB_SWEEP_MEMORY" in os.environ:
        return int(float(os.environ["INFOLAB_SWEEP_MEMORY"]))
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


@functools.cache
def _compiled_sweep(static: train.RunStatic) -> Callable[..., train.RunOutput]:
    """The run function vmapped over hyperparameters and keys, the data shared, jitted."""
    run = jax.vmap(train.make_run_fn(static), in_axes=(0, 0, None, None, None, None))
    return jax.jit(run)


def _stack(trees: Sequence[Any]) -> Any:
    return jax.tree.map(lambda *leaves: np.stack(leaves), *trees)


def _pad(array: np.ndarray, size: int) -> np.ndarray:
    """Pads the member axis to ``size`` by repeating the last member."""
    if array.shape[0] == size:
        return array
    filler = np.repeat(array[-1:], size - array.shape[0], axis=0)
    return np.concatenate([array, filler])


def _global(array: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array from a host array every process holds in full."""
    return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def _gather(tree: Any) -> Any:
    """Brings a (possibly multi-process) result to the host of every process."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    return jax.tree.map(
        lambda leaf: np.asarray(multihost_utils.process_allgather(leaf, tiled=True)), tree
    )


def run_group(
    static: train.RunStatic,
    specs: Sequence[RunSpec],
    data: Dataset,
    *,
    budget: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
    size: int | None = None,
) -> list[train.RunResult]:
    """Trains runs that share a compiled program and a data set as one vectorised, sharded
    program; the data is put on the devices once, replicated.

    Args:
        static: the runs' common static configuration (progress callbacks are dropped).
        specs: the runs.
        data: their data set.
        budget: device memory per device, in bytes (default :func:`memory_budget`).
        on_chunk: called with the number of members after each compiled call.
        size: members per compiled call (default: as many as fit, see :func:`chunk_size`);
            the last call is padded to it, so every call runs one compiled program.

    Returns:
        One :class:`~experiments.train.RunResult` per run, in order.
    """
    static = dataclasses.replace(static, progress=None)
    mesh = member_mesh()
    if size is None:
        size = chunk_size(
            len(specs),
            member_bytes(static, data),
            mesh.devices.size,
            budget if budget is not None else memory_budget(),
        )
    member_sharded = functools.partial(_global, sharding=NamedSharding(mesh, P(MEMBER_AXIS)))
    replicated = NamedSharding(mesh, P())
    shared = [_global(array, replicated) for array in _data_arrays(data)]
    run = _compiled_sweep(static)
    hyper = _stack([train.run_hyperparameters(spec) for spec in specs])
    seeds = np.array([spec.seed for spec in specs], np.uint32)

    outputs = []
    for start in range(0, len(specs), size):
        stop = min(start + size, len(specs))
        chunk = slice(start, stop)
        chunk_hyper = {k: member_sharded(_pad(v[chunk], size)) for k, v in hyper.items()}
        keys = jax.vmap(jax.random.key)(member_sharded(_pad(seeds[chunk], size)))
        output = _gather(run(chunk_hyper, keys, *shared))
        outputs.append(jax.tree.map(lambda leaf, n=stop - start: leaf[:n], output))
        if on_chunk is not None:
            on_chunk(stop - start)
    output = jax.tree.map(lambda *leaves: np.concatenate(leaves), *outputs)
    return [
        train.to_result(spec.name, static, jax.tree.map(lambda leaf, i=i: leaf[i], output))
        for i, spec in enumerate(specs)
    ]


def _data_arrays(data: Dataset) -> tuple[np.ndarray, ...]:
    return (
        np.asarray(data.x_train, np.float32),
        np.asarray(data.y_train, np.int32),
        np.asarray(data.x_test, np.float32),
        np.asarray(data.y_test, np.int32),
    )


def group_key(spec: RunSpec, data: Dataset) -> tuple:
    """Runs with equal keys share one compiled program: the static choices and data shapes."""
    return (train.run_static(spec, data), data.x_train.shape, data.x_test.shape)


def run_members(
    specs: Sequence[RunSpec],
    datasets: Sequence[Dataset],
    *,
    on_chunk: Callable[[int, int], None] | None = None,
    budget: int | None = None,
) -> list[train.RunResult]:
    """Trains a sweep's members, one compiled program per group of :func:`group_key`.

    Args:
        specs: the members' resolved configs.
        datasets: each member's data set; members with the same data should share the
            object (it is then put on the devices once).
        on_chunk: called with (members, steps per member) after every compiled call.
        budget: device memory per device in bytes (default :func:`memory_budget`).

    Returns:
        One result per member, in order.
    """
    results: list[train.RunResult | None] = [None] * len(specs)
    for static, by_data in _groups(specs, datasets).items():
        report = None if on_chunk is None else functools.partial(on_chunk, steps=static.steps)
        size = _call_size(static, datasets, by_data, budget)
        for indices in by_data.values():
            group = run_group(
                static,
                [specs[i] for i in indices],
                datasets[indices[0]],
                on_chunk=report,
                size=size,
            )
            for i, result in zip(indices, group, strict=True):
                results[i] = result
    return results  # type: ignore[return-value]


def _groups(
    specs: Sequence[RunSpec], datasets: Sequence[Dataset]
) -> dict[train.RunStatic, dict[int, list[int]]]:
    """Member indices by compiled program (static choices and data shapes), then by data set.

    Members on the same data set are trained together with the data shared on the devices,
    so their matrix–vector products become one matrix product; each data set of a program
    is one more call of the same compiled program.
    """
    groups: dict[tuple, dict[int, list[int]]] = {}
    for index, (spec, data) in enumerate(zip(specs, datasets, strict=True)):
        groups.setdefault(group_key(spec, data), {}).setdefault(id(data), []).append(index)
    return {key[0]: by_data for key, by_data in groups.items()}


def _call_size(
    static: train.RunStatic,
    datasets: Sequence[Dataset],
    by_data: Mapping[int, list[int]],
    budget: int | None,
) -> int:
    largest = max(len(indices) for indices in by_data.values())
    first = datasets[next(iter(by_data.values()))[0]]
    each = member_bytes(static, first)
    budget = budget if budget is not None else memory_budget()
    return chunk_size(largest, each, jax.device_count(), budget)


def plan(specs: Sequence[RunSpec], datasets: Sequence[Dataset]) -> list[dict[str, Any]]:
    """For each compiled program of a sweep: members, memory per member and chunking."""
    rows = []
    for static, by_data in _groups(specs, datasets).items():
        size = _call_size(static, datasets, by_data, None)
        indices = [i for group in by_data.values() for i in group]
        first = datasets[indices[0]]
        rows.append(
            {
                "variants": sorted({specs[i].name for i in indices}),
                "members": len(indices),
                "data_sets": len(by_data),
                "bytes_per_member": member_bytes(static, first),
                "members_per_call": size,
                "calls": sum(math.ceil(len(group) / size) for group in by_data.values()),
            }
        )
    return rows
