"""The pipeline: a config becomes a run folder in five stages, each plain data in and out.

1. **resolve**: :func:`experiments.kinds.load_config` validates the config and expands
   its variants and sweep into members, once;
2. **plan** (:func:`experiments.pipeline.plan.plan`): each member's data is loaded (once
   per distinct data set) and checked, and members are grouped into compiled programs;
3. **execute** (:func:`execute`): each planned group is one vectorised, sharded call (or a
   few calls of one size) of its kind's pure member function;
4. **record** (:func:`record`): the run's files are written into a staging folder (made
   before anything ran) and moved into place, complete;
5. **figures** (:func:`draw_run_figures`): the kind draws its figures from the run's
   record alone, into a staging folder that the record stage moves into place.

A plain run is a sweep of one member per variant. The command line and the Python API
call :func:`run`; nothing here knows any particular kind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import tqdm

from experiments import interrupts
from experiments.config import Experiment
from experiments.pipeline import devices
from experiments.pipeline import execute as executor
from experiments.pipeline.plan import Group, Plan, absolute_paths, plan
from experiments.pipeline.store import MemberStore, open_store
from experiments.rundir.folders import KeptBeside, Stage, choose_run_folder, open_stage, staged
from experiments.rundir.manifest import utc_now
from experiments.rundir.read import read_run
from experiments.rundir.write import Result, place_figures, write_run

__all__ = ["draw_run_figures", "drawn_line", "execute", "record", "run"]

Log = Callable[[str], None]


# ---------------------------------------------------------------------------
# Execute
# ---------------------------------------------------------------------------


class _Progress:
    """A bar over member-steps, advanced by a one-member program's callback within a call
    and by each finished call."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._lock = threading.Lock()
        self._done = 0
        self._bar = tqdm.tqdm(
            total=total, unit="step", unit_scale=True, disable=not enabled, leave=False
        )

    def within_call(self, steps_done: Any) -> None:
        with self._lock:
            self._bar.update(self._done + int(steps_done) - self._bar.n)

    def after_call(self, members: int, steps: int) -> None:
        with self._lock:
            self._done += members * steps
            self._bar.update(self._done - self._bar.n)

    def close(self, *, wait: bool = True) -> None:
        """Closes the bar, after the last callbacks have run (``wait``; not after a
        signal, when a call may still be running and its callbacks go nowhere)."""
        if wait:
            jax.effects_barrier()
        with self._lock:
            self._bar.close()


class _Relay:
    """The one host callback compiled into one-member programs (so a program is compiled
    once, whatever bar it reports to): it forwards to the current run's bar."""

    def __init__(self) -> None:
        self.target: _Progress | None = None

    def __call__(self, steps_done: Any) -> None:
        if self.target is not None:
            self.target.within_call(steps_done)


_RELAY = _Relay()


def _member_steps(the_plan: Plan) -> int:
    """The plan's work: steps per member summed over the members."""
    return sum(the_plan.program.steps(g.key) * len(g.members) for g in the_plan.groups)


def execute(
    the_plan: Plan, *, progress: bool = False, store: MemberStore | None = None
) -> executor.Executed:
    """Trains every member of the plan, one compiled program per group.

    Args:
        the_plan: from :func:`plan`.
        progress: show a bar over member-steps (on stderr).
        store: the member store (:mod:`experiments.pipeline.store`): stored chunks are
            read back, computed ones written (None: none).
    """
    specs = [m.spec for m in the_plan.members]
    total = _member_steps(the_plan)
    bar = _Progress(total, progress)
    _RELAY.target = bar
    # The precision decides jax_enable_x64 for everything that traces or runs (on or off,
    # whatever the environment says); jit caches key on it.
    finished = False
    try:
        with jax.enable_x64(the_plan.config.precision == "float64"):
            executed = executor.run_groups(
                the_plan.program,
                the_plan.groups,
                specs,
                progress=_RELAY if progress else None,
                on_chunk=bar.after_call,
                store=store,
            )
        finished = True
        return executed
    finally:
        _RELAY.target = None
        bar.close(wait=finished)


def train_seconds(the_plan: Plan, executed: executor.Executed) -> dict[str, float]:
    """Each variant's share of the training time (compiling excluded): a group's time split
    evenly over its members."""
    compiling = dict(executed.compile_seconds)
    running = [(group, spent - compiling.get(group, 0.0)) for group, spent in executed.seconds]
    return _per_variant(the_plan, running)


def compile_seconds(the_plan: Plan, executed: executor.Executed) -> dict[str, float]:
    """Each variant's share of the time spent tracing, lowering and compiling: a group's
    (its program's, for the first group of a program key) split evenly over its members."""
    return _per_variant(the_plan, executed.compile_seconds)


def _per_variant(the_plan: Plan, times: list[tuple[Group, float]]) -> dict[str, float]:
    seconds = {member.variant: 0.0 for member in the_plan.members}
    for group, spent in times:
        for index in group.members:
            variant = the_plan.members[index].variant
            seconds[variant] += spent / len(group.members)
    return {variant: round(value, 3) for variant, value in seconds.items()}


# ---------------------------------------------------------------------------
# Record
# ---------------------------------------------------------------------------


def record(
    the_plan: Plan, executed: executor.Executed, stage: Stage, extra: dict[str, Any]
) -> Path:
    """Writes the run's files into its stage and moves it into place, complete; returns
    where it went (figures come after, see :func:`run`).

    Raises:
        KeptBeside: the destination held files this tool did not write; the complete run
            is beside it.
        WriteError: the files could not be written (a full disk, ...); nothing is left.
    """
    results = [Result(m, o) for m, o in zip(the_plan.members, executed.outcomes, strict=True)]
    entries = [the_plan.program.data_entry(data) for data in the_plan.datasets]
    with staged(stage):
        stage.write(lambda path: write_run(path, the_plan.config, results, entries, extra))
        return stage.commit()


# ---------------------------------------------------------------------------
# The whole run
# ---------------------------------------------------------------------------


def run(
    config: Experiment,
    base_dir: Path = Path("."),
    *,
    overrides: Sequence[str] = (),
    out: Path | None = None,
    force: bool = False,
    progress: bool = False,
    log: Log | None = None,
    hosts: tuple[str, int, int] | None = None,
    manifest: dict[str, Any] | None = None,
    status: Log | None = None,
    store: bool = True,
) -> Path | None:
    """Runs a config end to end and returns its run folder.

    Everything that can be bad input (the config, the data, the output folder) is checked
    before anything runs: the staging folder is made first. The run's files are written
    and the folder moved into place, complete, before any figure is drawn, so a figure that
    fails (``FigureError``) leaves the results and ``plot`` can retry. With ``hosts``
    (coordinator, process count, process id) the members run over every process's devices
    and only process 0 writes.

    Args:
        config: the resolved config (:func:`experiments.kinds.resolve` makes one from a
            file, a mapping or overrides).
        base_dir: the folder its data paths are relative to (a config file's folder).
        overrides: the ``key.path=value`` strings it was resolved with, for the manifest.
        out: the run folder (default: under ``output.dir``, named by time and hash).
        force: replace an existing run folder at ``out``.
        progress: show a progress bar.
        log: called with a line per finished variant or sweep (None: silent).
        hosts: many-process settings, or None for one process.
        manifest: entries added to ``manifest.json`` (the command, ...).
        status: called with a line as each stage starts ("loading data", "compiling and
            running N program(s)", "drawing figures") and with what was drawn (None: silent).
        store: read and write the member store (:mod:`experiments.pipeline.store`), so a
            stopped run resumes and a finished one computes nothing again (off with many
            processes: they would have to agree on what is stored).

    Returns:
        The run folder, or None on a process other than 0.
    """
    start, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    config = absolute_paths(config, base_dir)
    writer = hosts is None or hosts[2] == 0
    folder = choose_run_folder(config, out, force=force, now=start) if writer else None
    if hosts is not None:  # before anything asks JAX for its devices
        coordinator, count, process = hosts
        jax.distributed.initialize(coordinator, num_processes=count, process_id=process)
    formats = list(config.output.formats) if writer else []
    members = open_store(config.output.dir, config.precision, enabled=store and hosts is None)
    device = devices.describe()  # DeviceError: bad input, before any work
    _status(status, f"loading data for {config.member_count()} member(s)")
    the_plan = plan(config, base_dir)
    stage = open_stage(folder) if folder is not None else None  # the destination, checked
    with staged(stage) if stage is not None else contextlib.nullcontext():
        interrupts.check()
        _status(status, f"compiling and running {len(the_plan.groups)} program(s)")
        executed = execute(the_plan, progress=progress, store=members)
        interrupts.check()
    seconds = train_seconds(the_plan, executed)
    if log is not None:
        _report(the_plan, executed, seconds, log)
    if stage is None:
        return None
    extra = {
        **(manifest or {}),
        "overrides": list(overrides),
        "start": utc_now(start),
        "device": device,
        "compile_time_s": compile_seconds(the_plan, executed),
        "train_time_s": seconds,
        "end": utc_now(),
        "wall_time_s": round(time.perf_counter() - clock, 3),
        **_store_counts(members, len(the_plan.members)),
    }
    if hosts is not None:
        extra["processes"] = hosts[1]
    try:
        final = record(the_plan, executed, stage, extra)
    except KeptBeside as kept:
        if formats:
            _figures(kept.path, config, status)
        raise
    if formats:
        _figures(final, config, status)  # FigureError: the results are kept
    return final


def _store_counts(members: MemberStore | None, total: int) -> dict[str, Any]:
    """The manifest's ``members_computed``, ``members_reused``, ``member_store`` and
    ``member_chunks`` (the keys of the run's chunks)."""
    if members is None:
        return {"members_computed": total, "members_reused": 0, "member_store": None}
    return {
        "members_computed": members.computed,
        "members_reused": members.reused,
        "member_store": str(members.root.resolve()),
        "member_chunks": list(members.keys),  # what `infolab store gc` keeps
    }


def _status(log: Log | None, line: str) -> None:
    if log is not None:
        log(line)


def draw_run_figures(
    run_dir: Path,
    config: Experiment,
    formats: Sequence[str] | None = None,
    *,
    width: str | None = None,
    dpi: int | None = None,
) -> list[Path]:
    """The figures stage: a run folder's figures, drawn from its files alone.

    Args:
        run_dir: a run folder.
        config: its resolved config.
        formats: file formats (default: the config's ``output.formats``).
        width: ``column`` or ``page`` (default: ``output.figure_width``).
        dpi: raster resolution (default: ``output.dpi``).

    Returns:
        The files written.

    Raises:
        RunFilesError: a file of the run is damaged (nothing is drawn).
        FigureError: a figure could not be drawn (the old figures are kept).
    """
    from experiments.figures import save  # matplotlib, loaded only by a run that draws

    output = config.output
    formats = list(output.formats if formats is None else formats)
    record = read_run(run_dir, config)
    draw = functools.partial(
        save.draw_figures,
        record,
        formats=formats,
        width=width or output.figure_width,
        dpi=dpi or output.dpi,
    )
    return place_figures(run_dir, draw)


def drawn_line(written: Sequence[Path], folder: Path) -> str:
    """The status line after drawing: ``drew 3 figures (6 files) in FOLDER``."""
    names = {path.stem for path in written}
    where = written[0].parent if written else folder
    figures = "1 figure" if len(names) == 1 else f"{len(names)} figures"
    files = "1 file" if len(written) == 1 else f"{len(written)} files"
    return f"drew {figures} ({files}) in {where}"


def _figures(run_dir: Path, config: Experiment, log: Log | None) -> None:
    _status(log, f"drawing figures ({', '.join(config.output.formats)})")
    written = draw_run_figures(run_dir, config)
    _status(log, drawn_line(written, run_dir / "figures"))


def _report(
    the_plan: Plan, executed: executor.Executed, seconds: dict[str, float], log: Log
) -> None:
    if not the_plan.config.sweep:
        for member, outcome in zip(the_plan.members, executed.outcomes, strict=True):
            line = the_plan.program.headline(outcome)
            log(f"{member.variant}: {line} ({seconds[member.variant]:.1f} s)")
            for row in the_plan.program.details(outcome):
                log(f"  {row}")
        return
    diverged = sum(o.status == "diverged" for o in executed.outcomes)
    total = _member_steps(the_plan)
    spent = max(sum(s for _, s in executed.seconds), 1e-9)
    log(
        f"sweep: {len(executed.outcomes)} members, {diverged} diverged, "
        f"{total / spent:,.0f} member-steps/s ({spent:.1f} s)"
    )
