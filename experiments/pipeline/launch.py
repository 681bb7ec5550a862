"""``infolab launch``: a sweep's chunks spread over a job array through submitit.

Each of the array's ``N`` tasks plans the whole sweep (the plan never depends on what is
stored, so every task sees the same chunks, in the same order) and computes chunk ``i``
for ``i % N == task`` into the shared member store (:mod:`experiments.pipeline.store`). A
final step then writes the one run folder from the store, as ``infolab run`` would: it
computes nothing that the tasks stored, and anything missing it computes itself. With
``--executor local`` the tasks are local processes (submitit's ``LocalExecutor``) and the
final step runs in the launching process once they are done; with ``--executor slurm``
the array and a final job that depends on it (``afterok``) are submitted, and
``infolab launch CONFIG --gather`` writes the folder by hand once the array is done.

A task stopped by a time limit or pre-emption is requeued (submitit's checkpointing, up
to ``--requeue`` times): the chunks it had stored are kept, so it computes only the rest.
submitit's own files (the pickled tasks, their logs) go to ``STORE/.launch/``.

submitit is the optional ``cluster`` extra (``pip install 'infolab[cluster]'``): it is
imported only here, and only by a launch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "ArrayTask",
    "GatherJob",
    "LaunchError",
    "LaunchOptions",
    "add_launch_arguments",
    "compute_share",
    "launch",
    "require_submitit",
]


class LaunchError(ValueError):
    """A launch that cannot start (no submitit, no Slurm, no store): bad input."""


def require_submitit() -> Any:
    """The submitit module, or ``LaunchError`` saying how to install it."""
    try:
        import submitit
    except ImportError:
        raise LaunchError(
            "launch needs submitit, the cluster extra: pip install 'infolab[cluster]' "
            "(or pip install submitit)"
        ) from None
    return submitit


@dataclasses.dataclass(frozen=True)
class LaunchOptions:
    """What the array asks of the cluster (None: the cluster's default)."""

    executor: str = "local"
    tasks: int = 1
    partition: str | None = None
    gpus_per_task: int | None = None
    cpus_per_task: int | None = None
    time_min: int | None = None
    mem_gb: float | None = None
    requeue: int = 3
    device: str | None = None  # --device, for the tasks and the final step


def add_launch_arguments(parser: Any) -> None:
    """The options of ``infolab launch`` (an ``argparse`` parser)."""
    parser.add_argument("--executor", choices=["slurm", "local"], default="slurm")
    parser.add_argument("--tasks", type=int, default=1, metavar="N", help="array tasks")
    parser.add_argument("--partition", metavar="P", help="Slurm partition")
    parser.add_argument("--gpus-per-task", type=int, metavar="G")
    parser.add_argument("--cpus-per-task", type=int, metavar="C")
    parser.add_argument("--time", type=int, metavar="MIN", help="time limit of a task")
    parser.add_argument("--mem", type=float, metavar="GB", help="memory of a task")
    parser.add_argument(
        "--requeue", type=int, default=3, metavar="K", help="requeues of a stopped task"
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="the run folder")
    parser.add_argument("--force", action="store_true", help="replace an existing run folder")
    parser.add_argument(
        "--gather",
        action="store_true",
        help="only write the run folder from the store (once the array is done)",
    )


def compute_share(
    config: Any, base_dir: Path, store_root: Path, task: int, tasks: int
) -> dict[str, int]:
    """One array task: computes its share of the sweep's chunks into the store (chunk i
    when i mod ``tasks`` is ``task``). The command line runs it as ``infolab run CONFIG
    --task T/N`` in the array's processes.

    Args:
        config: the resolved experiment.
        base_dir: the folder its data paths are relative to.
        store_root: the member store (absolute).
        task: this task's index, ``0 <= task < tasks``.
        tasks: the array's size.

    Returns:
        ``task``, and the members this task ``computed`` and found stored (``reused``).
    """
    from experiments.pipeline.plan import absolute_paths, plan  # jax: only in a task
    from experiments.pipeline.run import execute
    from experiments.pipeline.store import MemberStore, check_folder

    config = absolute_paths(config, base_dir)
    check_folder(store_root)
    store = MemberStore(store_root, config.precision, share=(task, tasks))
    execute(plan(config, base_dir), store=store)
    return {"task": task, "computed": store.computed, "reused": store.reused}


def _infolab(argv: Sequence[str], store_root: Path | None = None) -> str:
    """Runs ``python -m experiments ARGV`` in a new process (of the array or the final job)
    and returns its standard output; raises ``RuntimeError`` if it fails."""
    env = {**os.environ, **({"INFOLAB_MEMBER_STORE": str(store_root)} if store_root else {})}
    done = subprocess.run(
        [sys.executable, "-m", "experiments", *argv], env=env, capture_output=True, text=True
    )
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"infolab {' '.join(argv)} exited with {done.returncode}")
    return done.stdout


@dataclasses.dataclass(frozen=True)
class ArrayTask:
    """The callable submitit runs for each task (requeued with the same arguments after a
    time limit or pre-emption: what it stored is kept)."""

    config_file: Path
    overrides: tuple[str, ...]
    store_root: Path
    tasks: int
    device: str | None = None

    def __call__(self, task: int) -> dict[str, int]:
        argv = ["run", str(self.config_file), *(f"--set={text}" for text in self.overrides)]
        argv += ["--task", f"{task}/{self.tasks}"]
        argv += ["--device", self.device] if self.device else []
        return json.loads(_infolab(argv, self.store_root).splitlines()[-1])

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


@dataclasses.dataclass(frozen=True)
class GatherJob:
    """The final Slurm job: ``infolab run`` of the same command, from the store."""

    argv: tuple[str, ...]

    def __call__(self) -> None:
        sys.stdout.write(_infolab(self.argv))


def executor_for(submitit: Any, folder: Path, options: LaunchOptions) -> Any:
    """A submitit executor with the options' resources (``LaunchError`` without Slurm)."""
    try:
        executor = submitit.AutoExecutor(
            folder,
            cluster=options.executor,
            slurm_max_num_timeout=options.requeue,
            local_max_num_timeout=options.requeue,
        )
    except RuntimeError as error:  # no srun: not on a Slurm cluster
        raise LaunchError(f"--executor {options.executor}: {error}") from None
    parameters: dict[str, Any] = {
        "name": "infolab",
        "timeout_min": options.time_min,
        "mem_gb": options.mem_gb,
        "cpus_per_task": options.cpus_per_task,
        "slurm_partition": options.partition,
        "slurm_gpus_per_task": options.gpus_per_task,
        "slurm_array_parallelism": options.tasks,
    }
    executor.update_parameters(**{k: v for k, v in parameters.items() if v is not None})
    return executor


def submit_array(
    config_file: Path,
    overrides: Sequence[str],
    store_root: Path,
    options: LaunchOptions,
    log_folder: Path,
) -> tuple[Any, list[Any]]:
    """Submits the array; returns the executor and its jobs, one per task."""
    submitit = require_submitit()
    executor = executor_for(submitit, log_folder, options)
    task = ArrayTask(
        config_file.resolve(),
        tuple(overrides),
        store_root.resolve(),
        options.tasks,
        options.device,
    )
    jobs = executor.map_array(task, list(range(options.tasks)))
    return executor, jobs


def wait(jobs: Sequence[Any], poll_s: float = 0.5) -> list[dict[str, int]]:
    """Waits for every job; raises ``RuntimeError`` naming a failed task (its log's path)."""
    while not all(job.done() for job in jobs):
        time.sleep(poll_s)
    results = []
    for index, job in enumerate(jobs):
        try:
            results.append(job.result())
        except Exception as error:
            raise RuntimeError(
                f"launch task {index} (job {job.job_id}) failed: {str(error).splitlines()[0]}; "
                f"its log: {job.paths.stderr}; what it stored is kept: launch again to resume"
            ) from None
    return results


STORE_ENV_HINT = "INFOLAB_MEMBER_STORE turns it off: unset it or name a shared folder"


def options_from(args: Any) -> LaunchOptions:
    """The :class:`LaunchOptions` of parsed ``infolab launch`` arguments."""
    return LaunchOptions(
        args.executor,
        args.tasks,
        args.partition,
        args.gpus_per_task,
        args.cpus_per_task,
        args.time,
        args.mem,
        args.requeue,
        args.device,
    )


def run_command(args: Any, overrides: Sequence[str]) -> list[str]:
    """The ``infolab run`` command that writes the launched sweep's run folder from the store
    (the same config, overrides and options, with absolute paths)."""
    argv = ["run", str(args.config.resolve()), *(f"--set={text}" for text in overrides)]
    argv += ["--out", str(args.out.resolve())] if args.out else []
    argv += [*(["--force"] if args.force else []), *(["--quiet"] if args.quiet else [])]
    return argv + (["--device", args.device] if args.device else [])


def prepare(config: Any, options: LaunchOptions, out: Path | None, force: bool) -> Path:
    """Checks a launch before anything is submitted and returns the member store's folder.

    Raises:
        LaunchError: no store, no tasks, or no submitit.
        OutputError: the run folder cannot be written.
    """
    from experiments.pipeline.store import check_folder, store_folder
    from experiments.rundir.folders import choose_run_folder

    root = store_folder(config.output.dir)
    if root is None:
        raise LaunchError(f"launch needs the member store; {STORE_ENV_HINT}")
    check_folder(root)
    if options.tasks < 1:
        raise LaunchError(f"--tasks: expected a number of tasks >= 1, got {options.tasks}")
    require_submitit()
    choose_run_folder(config, out, force=force)  # bad input, before any work
    return root


def parse_task(text: str) -> tuple[int, int]:
    """``--task T/N``: task T of an array of N (``0 <= T < N``)."""
    task, _, tasks = text.partition("/")
    if not (task.isdigit() and tasks.isdigit() and int(task) < int(tasks)):
        raise LaunchError(f"--task: expected T/N with 0 <= T < N, got {text!r}")
    return int(task), int(tasks)


def launch(
    config: Any,
    config_file: Path,
    overrides: Sequence[str],
    store_root: Path,
    options: LaunchOptions,
    run_argv: Sequence[str],
    log: Any = None,
) -> int | None:
    """Submits the array and then waits for it (``local``: None, the caller writes the run
    folder at once) or schedules the final job (``slurm``); returns the exit code.
    ``run_argv`` is the ``infolab run`` command that writes the folder from the store."""
    from experiments.config import config_hash

    say = log or (lambda line: None)
    logs = store_root / ".launch" / config_hash(config)[:12]
    executor, jobs = submit_array(config_file, overrides, store_root, options, logs)
    say(f"launch: {len(jobs)} task(s) on {options.executor}: jobs {jobs[0].job_id} ...")
    if options.executor == "local":
        try:
            done = wait(jobs)
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        computed = sum(result["computed"] for result in done)
        say(f"launch: the tasks computed {computed} member(s); writing the run folder")
        return None  # the caller writes the run folder now
    array = str(jobs[0].job_id).split("_")[0]
    executor.update_parameters(slurm_additional_parameters={"dependency": f"afterok:{array}"})
    final = executor.submit(GatherJob(tuple(run_argv)))
    print(
        f"launch: array {array} ({len(jobs)} tasks); job {final.job_id} writes the run folder "
        f"once it is done (logs in {logs}); or by hand: "
        f"infolab launch {config_file} --gather",
        file=sys.stderr,
    )
    return 0
