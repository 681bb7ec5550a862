"""Sweeps: a grid of runs trained as one vectorised, compiled program per variant.

A config's ``sweep`` block maps dotted keys of a run (``train.prior.scale``, ``seed``,
``train.optimizer.learning_rate``, ...) to the values they take::

    sweep:
      train.prior.scale: {logspace: [-3, 1, 100]}   # or {linspace: [a, b, n]}, or a list
      seed: [0, 1, 2, 3, 4]
      zip: [[train.optimizer.learning_rate, train.steps]]   # paired axes

The grid is the product of the axes (a ``zip`` group is one axis whose keys move together),
times the variants. Every member is the run its own config describes: the variant merged
onto the base, then the member's values set, then validated like any config.

Members that share a compiled program (the same loss, prior kind, optimizer, steps, ...)
are trained together: the per-run function of :mod:`experiments.train` is ``jax.vmap``-ed
over their hyperparameters and PRNG keys, so many matrix–vector products become one matrix
product, and the member axis is laid out over every device with a ``NamedSharding``. Data
is shared by the members (broadcast) unless their data differ, e.g. a seed that draws the
split: then each member carries its own copy.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

from experiments import train
from experiments.config import RunSpec, deep_merge
from experiments.data import Dataset

MEMBER_AXIS = "members"
ZIP_KEY = "zip"


class SweepError(ValueError):
    """A sweep block that cannot be expanded; ``problems`` name their dotted paths."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# ---------------------------------------------------------------------------
# The grid
# ---------------------------------------------------------------------------


def axis_values(key: str, spec: Any) -> list[Any]:
    """The values of one axis: a list, ``{linspace: [a, b, n]}`` or ``{logspace: [a, b, n]}``.

    ``logspace`` takes exponents of 10, as numpy does: ``{logspace: [-3, 1, 5]}`` is
    0.001, 0.01, 0.1, 1, 10.
    """
    where = f"sweep.{key}"
    if isinstance(spec, list):
        if not spec:
            raise SweepError([f"{where}: an empty list; give at least one value"])
        return list(spec)
    if isinstance(spec, Mapping) and len(spec) == 1:
        ((kind, args),) = spec.items()
        if kind in ("linspace", "logspace"):
            if (
                not isinstance(args, list)
                or len(args) != 3
                or not all(isinstance(a, int | float) and not isinstance(a, bool) for a in args)
                or not (isinstance(args[2], int) and args[2] >= 1)
            ):
                raise SweepError(
                    [
                        f"{where}.{kind}: expected [start, stop, count], count an integer >= 1; "
                        f"got {args!r}"
                    ]
                )
            start, stop, count = args
            space = np.linspace if kind == "linspace" else np.logspace
            return [float(v) for v in space(start, stop, count)]
    raise SweepError(
        [
            f"{where}: expected a list of values, {{linspace: [a, b, n]}} or "
            f"{{logspace: [a, b, n]}}, got {spec!r}"
        ]
    )


def grid_points(sweep: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Expands a sweep block into its points, each a mapping of dotted key to value.

    The order is that of ``itertools.product`` over the axes in the order written (the last
    axis varies fastest); a ``zip`` group sits where the ``zip`` key is written.
    """
    problems: list[str] = []
    axes: list[list[dict[str, Any]]] = []
    groups = sweep.get(ZIP_KEY, [])
    if not isinstance(groups, list) or not all(isinstance(g, list) and g for g in groups):
        raise SweepError(["sweep.zip: expected a list of key lists, e.g. [[a.b, c.d]]"])
    zipped = {key for group in groups for key in group}
    for key, spec in sweep.items():
        try:
            if key == ZIP_KEY:
                axes.extend(_zip_axis(group, sweep) for group in groups)
            elif key not in zipped:
                axes.append([{key: v} for v in axis_values(key, spec)])
        except SweepError as error:
            problems.extend(error.problems)
    if problems:
        raise SweepError(problems)
    return [
        dict(itertools.chain.from_iterable(part.items() for part in point))
        for point in itertools.product(*axes)
    ]


def _zip_axis(group: list[Any], sweep: Mapping[str, Any]) -> list[dict[str, Any]]:
    missing = [k for k in group if k not in sweep or k == ZIP_KEY]
    if missing:
        raise SweepError(
            [f"sweep.zip: {k!r} has no values; give it its own entry under sweep" for k in missing]
        )
    values = {k: axis_values(k, sweep[k]) for k in group}
    lengths = {k: len(v) for k, v in values.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise SweepError([f"sweep.zip: zipped keys must have equal lengths: {listed}"])
    return [dict(zip(group, row, strict=True)) for row in zip(*values.values(), strict=True)]


# ---------------------------------------------------------------------------
# Members
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Member:
    """One run of a sweep: its variant, its swept values and its resolved config."""

    variant: str
    values: dict[str, Any]
    spec: RunSpec


def _nested(key: str, value: Any) -> dict[str, Any]:
    update: Any = value
    for part in reversed(key.split(".")):
        update = {part: update}
    return update


def expand_members(
    variants: Sequence[Mapping[str, Any]],
    sweep: Mapping[str, Any],
) -> list[Member]:
    """Every (variant, grid point) pair, validated as a run, variant-major.

    Args:
        variants: each variant already merged onto the base (a RunSpec as a mapping).
        sweep: the sweep block.

    Raises:
        SweepError: listing every problem with the swept key and value that caused it.
    """
    points = grid_points(sweep)
    members, problems = [], []
    for variant in variants:
        for point in points:
            raw: Mapping[str, Any] = variant
            for key, value in point.items():
                raw = deep_merge(raw, _nested(key, value), RunSpec)
            try:
                members.append(Member(str(variant["name"]), point, RunSpec.model_validate(raw)))
            except ValueError as error:
                problems.extend(_member_problems(error, point))
    if problems:
        raise SweepError(list(dict.fromkeys(problems)))
    return members


def _member_problems(error: ValueError, point: Mapping[str, Any]) -> list[str]:
    errors = getattr(error, "errors", None)
    if errors is None:
        return [f"sweep: {error}"]
    problems = []
    for e in errors():
        path = ".".join(str(part) for part in e["loc"])
        swept = path in point
        where = f"sweep.{path}" if swept else path
        value = f" = {point[path]!r}" if swept else ""
        problems.append(f"{where}{value}: {e['msg']}")
    return problems


# ---------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------


def member_mesh() -> jax.sharding.Mesh:
    """A one-dimensional mesh of every device (of every process), named ``members``.

    Auto axes: explicit ones (``jax.make_mesh``'s default since jax 0.10) break
    ``jax.debug.callback`` inside ``vmap``.
    """
    return jax.make_mesh((jax.device_count(),), (MEMBER_AXIS,), axis_types=(AxisType.Auto,))


def member_bytes(static: train.RunStatic, data: Dataset, *, own_data: bool) -> int:
    """An estimate of the device memory one member needs while it trains.

    Parameters with optimizer state and gradients (about six copies), the metric history,
    and the per-example work of a step and of the evaluation (logits, probabilities and
    their gradients: about eight values per example and class), in float32; plus the
    member's own copy of the data when it has one.
    """
    n_train, d = data.x_train.shape
    n_test = data.x_test.shape[0]
    classes = 1 if static.n_classes == 2 else static.n_classes
    params = (d + 1) * classes
    n_logs = len(train.logged_steps(static.steps, static.log_every))
    floats = 6 * params + 2 * len(train.METRICS) * n_logs + 8 * (n_train + n_test) * classes
    if own_data:
        floats += (n_train + n_test) * (d + 1)
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
def _compiled_sweep(static: train.RunStatic, own_data: bool) -> Callable[..., train.RunOutput]:
    data_axis = 0 if own_data else None
    run = jax.vmap(train.make_run_fn(static), in_axes=(0, 0, *(data_axis,) * 4))
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
    datasets: Sequence[Dataset],
    *,
    budget: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> list[train.RunResult]:
    """Trains runs that share a compiled program as one vectorised, sharded program.

    Args:
        static: the runs' common static configuration (progress callbacks are dropped).
        specs: the runs.
        datasets: one per run; runs whose datasets are one object share it on the device.
        budget: device memory per device, in bytes (default :func:`memory_budget`).
        on_chunk: called with the number of members after each compiled call.

    Returns:
        One :class:`~experiments.train.RunResult` per run, in order.
    """
    static = dataclasses.replace(static, progress=None)
    own_data = len({id(d) for d in datasets}) > 1
    mesh = member_mesh()
    n_devices = mesh.devices.size
    size = chunk_size(
        len(specs),
        member_bytes(static, datasets[0], own_data=own_data),
        n_devices,
        budget if budget is not None else memory_budget(),
    )
    by_member = NamedSharding(mesh, P(MEMBER_AXIS))
    replicated = NamedSharding(mesh, P())
    run = _compiled_sweep(static, own_data)
    hyper = _stack([train.run_hyperparameters(spec) for spec in specs])
    seeds = np.array([spec.seed for spec in specs], np.uint32)
    arrays = [_data_arrays(d) for d in (datasets if own_data else datasets[:1])]
    data = _stack(arrays) if own_data else arrays[0]

    outputs = []
    for start in range(0, len(specs), size):
        stop = min(start + size, len(specs))
        chunk = slice(start, stop)
        member_sharded = functools.partial(_global, sharding=by_member)
        chunk_hyper = {k: member_sharded(_pad(v[chunk], size)) for k, v in hyper.items()}
        keys = jax.vmap(jax.random.key)(member_sharded(_pad(seeds[chunk], size)))
        if own_data:
            chunk_data = [member_sharded(_pad(a[chunk], size)) for a in data]
        else:
            chunk_data = [_global(a, replicated) for a in data]
        output = _gather(run(chunk_hyper, keys, *chunk_data))
        outputs.append(jax.tree.map(lambda leaf, n=stop - start: leaf[:n], output))
        if on_chunk is not None:
            on_chunk(stop - start)
    output = jax.tree.map(lambda *leaves: np.concatenate(leaves), *outputs)
    return [
        train._to_result(spec.name, static, jax.tree.map(lambda leaf, i=i: leaf[i], output))
        for i, spec in enumerate(specs)
    ]


def _data_arrays(data: Dataset) -> tuple[np.ndarray, ...]:
    return (
        np.asarray(data.x_train, np.float32),
        np.asarray(data.y_train, np.int32),
        np.asarray(data.x_test, np.float32),
        np.asarray(data.y_test, np.int32),
    )
