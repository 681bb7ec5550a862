"""Planning and executing members: one vectorised, compiled, sharded program per group.

Members whose kind gives them equal *program keys* (static choices and data shapes) and who
share a data set form a group: the kind's pure member function is ``jax.vmap``-ed over
their hyperparameters and PRNG keys, so many matrix–vector products become one matrix
product, and the member axis is laid out over every device (of every process) with a
``NamedSharding`` on a one-dimensional mesh. The data is put on the devices once per group,
replicated. A group too large for the memory budget is split into chunks of one size, so
every call runs the same compiled program. Nothing here knows any kind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

from experiments import interrupts
from experiments.contract import Outcome, Program
from experiments.pipeline import cancel
from experiments.pipeline.plan import Group, by_key, call_size, group_members
from experiments.pipeline.store import MemberStore

__all__ = [
    "MEMBER_AXIS",
    "Executed",
    "call_running",
    "member_mesh",
    "run_group",
    "run_groups",
    "run_members",
]

MEMBER_AXIS = "members"


def member_mesh() -> jax.sharding.Mesh:
    """A one-dimensional mesh of every device (of every process), named ``members``.

    Auto axes: explicit ones (``jax.make_mesh``'s default since jax 0.10) break
    ``jax.debug.callback`` inside ``vmap``.
    """
    return jax.make_mesh((jax.device_count(),), (MEMBER_AXIS,), axis_types=(AxisType.Auto,))


# ---------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------


@functools.cache
def _compiled(
    program: Program, key: Hashable, progress: Callable | None, arrays: int, polls: bool
) -> Callable:
    """The member function vmapped over hyperparameters and keys, the ``arrays`` data
    arrays shared (or the kind's function of the whole group, where it has one), jitted:
    built once per program key, and traced with its loops polling for a stop or not
    (``polls``, see :mod:`experiments.pipeline.cancel`)."""
    batched = program.group_fn(key, progress)
    if batched is None:
        member = program.member_fn(key, progress)
        batched = jax.vmap(member, in_axes=(0, 0, *([None] * arrays)))
    run = jax.jit(batched)

    def lower(*args: Any) -> Any:
        with cancel.tracing(polls):
            return run.lower(*args)

    return lower


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


_WIND_DOWN_SECONDS = 10.0  # how long stopped work may take to end (0.1 s for a call)
_running: set[threading.Event] = set()  # each running helper's "done" (see call_running)


def _in_helper(work: Callable[[], Any]) -> Any:
    """Runs ``work`` (XLA's compilation, or a compiled call: C++ that no signal stops) to
    its end in a helper thread, honouring signals at once.

    Waiting inside XLA would hold a signal's handler until the work returns, minutes for a
    long run (a program with a host callback is even dispatched synchronously on a CPU).
    So a helper thread does the work, while this thread waits on an event that a signal
    interrupts, waking every 0.25 s to re-raise a request whose exception was lost (or a
    signal delivered to another thread). The helper only compiles what was traced here,
    or runs what was compiled here, so nothing is traced under another thread's settings.

    On a stop (a signal, or ``KeyboardInterrupt`` in a Python caller) the work is not
    abandoned: inside :func:`experiments.interrupts.cancelling`, a call's loop ends at its
    next stop poll (:mod:`experiments.pipeline.cancel`), a compilation at its end; this
    thread waits for that, then raises the stop, and what the work returned is discarded.
    So the process never ends with a thread inside XLA (whose teardown then aborted it,
    exit 134, or crashed it, 139). Work that takes longer than ``_WIND_DOWN_SECONDS`` to
    end (a program that polls for no stop) is left running: :func:`call_running` then
    says so, and the command line ends the process at once.
    """
    done = threading.Event()
    box: dict[str, Any] = {}

    def helper() -> None:
        try:
            box["output"] = work()
        except BaseException as error:  # raised again in the calling thread
            box["error"] = error
        finally:
            _running.discard(done)
            done.set()

    _running.add(done)
    threading.Thread(target=helper, name="infolab-call", daemon=True).start()
    try:
        while not done.wait(0.25):
            interrupts.check()
    except BaseException:
        with interrupts.cancelling():
            done.wait(_WIND_DOWN_SECONDS)
        raise
    interrupts.check()  # a call that stopped at a poll: its output is incomplete
    if "error" in box:
        raise box["error"]
    return box["output"]


def _call(executable: Any, args: Sequence[Any]) -> Any:
    """Runs one compiled call to its end (:func:`_in_helper`), its outputs ready."""
    return _in_helper(lambda: jax.block_until_ready(executable(*args)))


def call_running() -> bool:
    """Whether a compilation or a compiled call that was stopped is still running in its
    helper thread."""
    return any(not done.is_set() for done in list(_running))


def _gather(tree: Any) -> Any:
    """Brings a (possibly multi-process) result to the host of every process."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    return jax.tree.map(
        lambda leaf: np.asarray(multihost_utils.process_allgather(leaf, tiled=True)), tree
    )


def run_group(
    program: Program,
    group: Group,
    specs: Sequence[Any],
    *,
    size: int,
    progress: Callable | None = None,
    on_chunk: Callable[[int], None] | None = None,
    store: MemberStore | None = None,
) -> list[Outcome]:
    """Trains one group's members as one vectorised, sharded program.

    Args:
        program: the kind's program.
        group: the members (indices into ``specs``), their program key and data set.
        specs: every member's resolved run config.
        size: members per compiled call; the last call is padded to it.
        progress: a host function the program calls with the steps done (only passed to a
            one-member group: a vmapped callback fires once per member).
        on_chunk: called with the number of members after each compiled call.
        store: the member store: a chunk stored there is read back, not computed, and a
            computed one is written as soon as its call returns (None: none).

    Returns:
        One outcome per member of the group, in order (None for a chunk that is not the
        store's share, in a launch task).
    """
    mesh = member_mesh()
    member_sharded = functools.partial(_global, sharding=NamedSharding(mesh, P(MEMBER_AXIS)))
    replicated = NamedSharding(mesh, P())
    shared = [_global(array, replicated) for array in program.arrays(group.data)]
    alone = progress if len(group.members) == 1 else None
    polls = cancel.worth_polling(size * program.steps(group.key), alone is not None)
    lower = _compiled(program, group.key, alone, len(shared), polls)
    members = [specs[i] for i in group.members]
    hyper = _stack([program.hyperparameters(spec) for spec in members])
    seeds = np.array([spec.seed for spec in members], np.uint32)
    outcomes, executable = [], None
    for start in range(0, len(members), size):
        stop = min(start + size, len(members))
        chunk = slice(start, stop)
        entry = (
            None
            if store is None
            else store.entry(program, group.key, group.data, members[chunk], size)
        )
        if entry is not None and (stored := entry.load()) is not None:
            outcomes.extend(stored)  # the chunk's key matched: its results, not recomputed
            if on_chunk is not None:
                on_chunk(stop - start)
            continue
        chunk_hyper = {k: member_sharded(_pad(v[chunk], size)) for k, v in hyper.items()}
        keys = jax.vmap(jax.random.key)(member_sharded(_pad(seeds[chunk], size)))
        args = (chunk_hyper, keys, *shared)
        if executable is None:  # every chunk has one shape: compiled once (jax caches it)
            executable = _in_helper(lower(*args).compile)  # traced here
        output = _gather(_call(executable, args))
        done = [
            program.outcome(group.key, jax.tree.map(lambda leaf, i=i: leaf[i], output))
            for i in range(stop - start)
        ]
        if entry is not None:
            entry.save(done)  # as soon as the call returned: a killed run keeps it
        interrupts.check()  # a signal received just as the call finished stops the run here
        outcomes.extend(done)
        if on_chunk is not None:
            on_chunk(stop - start)
    return outcomes


@dataclasses.dataclass(frozen=True)
class Executed:
    """Every member's outcome, in member order, each group's wall time, and the part of it
    spent tracing, lowering and compiling (0 for a group whose program was compiled)."""

    outcomes: list[Outcome]
    seconds: list[tuple[Group, float]]
    compile_seconds: list[tuple[Group, float]] = dataclasses.field(default_factory=list)


_COMPILE_EVENTS = frozenset(
    {
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
        "/jax/core/compile/backend_compile_duration",
    }
)


@contextlib.contextmanager
def _compile_meter() -> Iterator[list[float]]:
    """Collects the durations jax reports for tracing, lowering and compiling while the
    block runs (a jit traced inside another reports nothing of its own)."""
    spent: list[float] = []

    def listener(event: str, duration: float, **kwargs: Any) -> None:
        if event in _COMPILE_EVENTS:
            spent.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield spent
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def run_groups(
    program: Program,
    groups: Sequence[Group],
    specs: Sequence[Any],
    *,
    progress: Callable[[int], None] | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
    budget: int | None = None,
    store: MemberStore | None = None,
) -> Executed:
    """Trains every member of the groups that :func:`experiments.pipeline.plan.group_members`
    made, one compiled program per program key, in one call size per key.

    Args:
        program: the kind's program.
        groups: the planned groups (their members index ``specs``).
        specs: the members' resolved run configs.
        progress: a host function called with a one-member group's steps done.
        on_chunk: called with (members, steps per member) after every compiled call.
        budget: device memory per device in bytes (default :func:`memory_budget`).
        store: the member store chunks are read from and written to (None: none).
    """
    outcomes: list[Outcome | None] = [None] * len(specs)
    seconds, compiling = [], []
    for key, same in by_key(groups).items():
        size = call_size(program, same, budget)
        steps = program.steps(key)
        report = None if on_chunk is None else (lambda count, steps=steps: on_chunk(count, steps))
        for group in same:
            begun = time.perf_counter()
            with _compile_meter() as spent:
                done = run_group(
                    program,
                    group,
                    specs,
                    size=size,
                    progress=progress,
                    on_chunk=report,
                    store=store,
                )
            seconds.append((group, time.perf_counter() - begun))
            compiling.append((group, sum(spent)))
            for index, outcome in zip(group.members, done, strict=True):
                outcomes[index] = outcome
    return Executed(outcomes, seconds, compiling)  # type: ignore[arg-type]


def run_members(
    program: Program,
    specs: Sequence[Any],
    datasets: Sequence[Any],
    **options: Any,
) -> Executed:
    """Groups members as the plan would and trains them (for a kind's one-member runs).

    Args:
        program: the kind's program.
        specs: the members' resolved run configs.
        datasets: each member's data set; members on the same data share the object.
        **options: ``progress``, ``on_chunk`` and ``budget``, as :func:`run_groups` takes.
    """
    return run_groups(program, group_members(program, specs, datasets), specs, **options)
