"""The command line: ``python -m experiments {run,validate,show,plot,list,demo}``.

Exit codes: 0 success; 2 bad input (a config, an override, a data file, the output folder),
reported on stderr as one line per problem, each naming the config key to fix, without a
traceback and before anything is written; 1 anything else.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from experiments.config import ConfigError, ExperimentConfig, RunSpec, dump_config, load_config
from experiments.data import DataError, Dataset, check_spec_fits_data, load_dataset
from experiments.grid import expand_members
from experiments.results import (
    RUN_FILES,
    OutputError,
    RunFolder,
    choose_run_folder,
    staged_run_dir,
    write_run,
)

__all__ = ["main"]

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2
DEMO_CONFIGS = ("mse_vs_ce.yaml", "mle_vs_map.yaml")


class _BadInput(Exception):
    """Bad input found by the CLI itself (a run folder to plot, ...)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line and returns its exit code (it never calls ``sys.exit``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage and the problem
        return int(exit_.code or 0)
    try:
        return args.command(args, argv)
    except ConfigError as error:
        where = f" in {error.source}" if error.source else ""
        return _bad_input(f"invalid config{where}:", error.problems)
    except DataError as error:
        return _bad_input("unusable data:", error.problems)
    except (OutputError, _BadInput) as error:
        return _bad_input(str(error), [])
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return EXIT_FAILURE
    except Exception:
        traceback.print_exc()
        print("error: the command failed (see above); nothing was written", file=sys.stderr)
        return EXIT_FAILURE


def _bad_input(headline: str, problems: Sequence[str]) -> int:
    lines = [f"error: {headline}", *(f"  {p}" for p in problems)]
    print("\n".join(lines), file=sys.stderr)
    return EXIT_BAD_INPUT


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m experiments",
        description="Logistic regression under MSE vs cross-entropy and MLE vs MAP.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable, help_: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        sub.set_defaults(command=handler)
        return sub

    def config_arguments(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("config", type=Path, metavar="CONFIG", help="a YAML config file")
        sub.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a config value, e.g. --set train.steps=100 (repeatable)",
        )

    run = command("run", _run_command, "run a config and write a run folder")
    config_arguments(run)
    run.add_argument(
        "--out", type=Path, metavar="DIR", help="the run folder (default: under output.dir)"
    )
    run.add_argument("--force", action="store_true", help="replace an existing run folder")
    run.add_argument("--quiet", action="store_true", help="no progress bars or summaries")
    hosts = run.add_argument_group(
        "many hosts",
        "run one sweep over several processes with jax.distributed; process 0 "
        "writes the run folder (defaults: JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, "
        "JAX_PROCESS_ID)",
    )
    hosts.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address")
    hosts.add_argument("--num-processes", type=int, metavar="N")
    hosts.add_argument("--process-id", type=int, metavar="I")

    config_arguments(command("validate", _validate_command, "check a config and its data"))
    config_arguments(command("show", _show_command, "print the resolved config"))

    plot = command("plot", _plot_command, "redraw a run's figures from its files")
    plot.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    plot.add_argument(
        "--format",
        action="append",
        choices=["png", "pdf", "svg"],
        dest="formats",
        help="a figure format (repeatable; default: the run's output.formats)",
    )

    command("list", _list_command, "list the shipped configs")
    demo = command("demo", _demo_command, "run mse_vs_ce and mle_vs_map on their defaults")
    demo.add_argument("--quiet", action="store_true", help="no progress bars or summaries")
    return parser


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------


def _run_command(args: argparse.Namespace, argv: Sequence[str]) -> int:
    hosts = distributed_settings(args.coordinator, args.num_processes, args.process_id)
    run_dir = run_config(
        args.config,
        args.set,
        out=args.out,
        force=args.force,
        quiet=args.quiet,
        argv=argv,
        hosts=hosts,
    )
    if run_dir is not None:
        print(run_dir)
    return EXIT_OK


def distributed_settings(
    coordinator: str | None, num_processes: int | None, process_id: int | None
) -> tuple[str, int, int] | None:
    """The (coordinator, process count, process id) of a many-process run, from the flags
    or JAX's environment variables, or None for a single process."""
    coordinator = coordinator or os.environ.get("JAX_COORDINATOR_ADDRESS")
    if num_processes is None and "JAX_NUM_PROCESSES" in os.environ:
        num_processes = _env_int("JAX_NUM_PROCESSES")
    if process_id is None and "JAX_PROCESS_ID" in os.environ:
        process_id = _env_int("JAX_PROCESS_ID")
    if coordinator is None and num_processes is None and process_id is None:
        return None
    problems = []
    if not coordinator or ":" not in coordinator:
        problems.append(f"--coordinator: expected HOST:PORT, got {coordinator!r}")
    if num_processes is None or num_processes < 1:
        problems.append(f"--num-processes: expected an integer >= 1, got {num_processes!r}")
    if process_id is None or not 0 <= process_id < (num_processes or 1):
        problems.append(
            f"--process-id: expected an integer in [0, {num_processes}), got {process_id!r}"
        )
    if problems:
        raise _BadInput("bad many-host settings:\n  " + "\n  ".join(problems))
    return coordinator, num_processes, process_id


def _env_int(name: str) -> int | None:
    try:
        return int(os.environ[name])
    except ValueError:
        raise _BadInput(f"{name}: expected an integer, got {os.environ[name]!r}") from None


def _validate_command(args: argparse.Namespace, argv: Sequence[str]) -> int:
    del argv
    config = load_config(args.config, args.set)
    specs = config.runs()
    datasets = load_datasets(specs, args.config.parent)
    print(f"{args.config}: ok: {config.name}, {len(specs)} variant(s)")
    if config.sweep:
        _print_sweep_plan(config, args.config.parent)
    for spec, data in zip(specs, datasets, strict=True):
        train = spec.train
        print(
            f"  {spec.name}: {train.loss}, prior {train.prior.kind}, {train.optimizer.name}, "
            f"{train.steps} steps on {data.description} "
            f"({len(data.y_train)} train, {len(data.y_test)} test)"
        )
    return EXIT_OK


def _print_sweep_plan(config: ExperimentConfig, base_dir: Path) -> None:
    from experiments import sweep  # imported here: it loads jax

    members = expand_members(config.runs(), config.sweep)
    datasets = load_datasets([m.spec for m in members], base_dir)
    rows = sweep.plan([m.spec for m in members], datasets)
    budget = sweep.memory_budget()
    print(
        f"  sweep: {len(members)} members in {len(rows)} compiled program(s) on "
        f"{sweep.jax.device_count()} device(s); memory budget {budget / 2**20:.0f} MiB a device"
    )
    for row in rows:
        print(
            f"    {', '.join(row['variants'])}: {row['members']} members on "
            f"{row['data_sets']} data set(s), about {row['bytes_per_member'] / 2**20:.2f} MiB "
            f"each; {row['calls']} call(s) of {row['members_per_call']} members"
        )


def _show_command(args: argparse.Namespace, argv: Sequence[str]) -> int:
    del argv
    config = load_config(args.config, args.set)
    print(dump_config(config), end="")
    if config.sweep:
        members = expand_members(config.runs(), config.sweep)
        points = len(members) // len(config.variants)
        print(
            f"# sweep: {len(members)} members = {len(config.variants)} variant(s) × "
            f"{points} grid point(s)"
        )
        for index, member in enumerate(members):
            values = ", ".join(f"{k}={v!r}" for k, v in member.values.items())
            print(f"#   [{index}] {member.variant}: {values}")
    return EXIT_OK


def _plot_command(args: argparse.Namespace, argv: Sequence[str]) -> int:
    del argv
    run_dir: Path = args.run_dir
    if not run_dir.is_dir():
        raise _BadInput(f"RUN_DIR: {run_dir} is not a folder")
    missing = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if missing:
        raise _BadInput(f"RUN_DIR: {run_dir} is not a run folder (missing {', '.join(missing)})")
    config = load_config(run_dir / "config.yaml")
    formats = args.formats or list(config.output.formats)
    for path in _figure_drawer(bool(config.sweep))(run_dir, formats):
        print(path)
    return EXIT_OK


def _figure_drawer(sweep: bool) -> Callable[[Path, list[str]], list[Path]]:
    """The figures of a run or of a sweep (imported here: they load matplotlib)."""
    if sweep:
        from experiments.sweep_figures import draw_sweep_figures

        return draw_sweep_figures
    from experiments.figures import draw_figures

    return draw_figures


def _list_command(args: argparse.Namespace, argv: Sequence[str]) -> int:
    del args, argv
    folder = configs_folder()
    paths = sorted(folder.glob("*.yaml"))
    if not paths:
        raise _BadInput(f"no configs found in {folder}")
    rows = []
    for path in paths:
        try:
            description = load_config(path).description or "(no description)"
        except ConfigError as error:
            description = f"(invalid: {error.problems[0]})"
        rows.append((_relative(path), description))
    width = max(len(path) for path, _ in rows)
    for path, description in rows:
        print(f"{path:<{width}}  {description}")
    return EXIT_OK


def _demo_command(args: argparse.Namespace, argv: Sequence[str]) -> int:
    folder = configs_folder()
    for name in DEMO_CONFIGS:
        run_dir = run_config(folder / name, [], quiet=args.quiet, argv=argv)
        print(f"{name}: {_relative(run_dir.resolve())}")
        for figure in sorted((run_dir / "figures").glob("*")):
            print(f"  {_relative(figure.resolve())}")
    return EXIT_OK


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def configs_folder() -> Path:
    """The shipped configs: ``configs/`` beside the package (a source checkout)."""
    beside = Path(__file__).resolve().parent.parent / "configs"
    return beside if beside.is_dir() else Path("configs")


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


def load_datasets(specs: Sequence[RunSpec], base_dir: Path) -> list[Dataset]:
    """Each variant's data set (loaded once per distinct data config and seed), checked
    against the variant's settings. Raises ``DataError`` with every problem found."""
    cache: dict[tuple[str, int], Dataset] = {}
    datasets, problems = [], []
    for spec in specs:
        seed = spec.seed if spec.data.seed is None else spec.data.seed
        key = (spec.data.model_dump_json(), seed)
        if key not in cache:
            cache[key] = load_dataset(spec.data, seed, base_dir)
        try:
            check_spec_fits_data(spec, cache[key])
        except DataError as error:
            problems.extend(error.problems)
        datasets.append(cache[key])
    if problems:
        raise DataError(problems)
    return datasets


def run_config(
    config_path: Path,
    overrides: Sequence[str],
    *,
    out: Path | None = None,
    force: bool = False,
    quiet: bool = False,
    argv: Sequence[str] = (),
    hosts: tuple[str, int, int] | None = None,
) -> Path | None:
    """Validates, trains every variant (or sweep member), writes the run folder and draws
    its figures.

    Everything that can be bad input is checked before anything is written. With ``hosts``
    (coordinator, process count, process id) the sweep runs over every process's devices and
    only process 0 writes.

    Returns:
      The run folder, or None on a process other than 0.
    """
    start, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    config = load_config(config_path, overrides)
    from experiments.cache import enable_compilation_cache

    enable_compilation_cache()  # a second run of the same programs skips XLA's compilation
    writer = hosts is None or hosts[2] == 0
    folder = choose_run_folder(config, out, force=force, now=start) if writer else None
    if config.sweep:
        members = expand_members(config.runs(), config.sweep)
        specs = [m.spec for m in members]
    else:
        members, specs = [], config.runs()
    datasets = load_datasets(specs, Path(config_path).parent)
    if hosts is not None:
        import jax

        coordinator, count, process = hosts
        jax.distributed.initialize(coordinator, num_processes=count, process_id=process)

    # Imported here, so that the commands that train nothing do not load jax or matplotlib.
    from experiments.train import train_run

    progress = not quiet and sys.stderr.isatty()
    extra: dict[str, Any] = {
        "command": ["python", "-m", "experiments", *argv],
        "config_file": str(config_path),
        "overrides": list(overrides),
        "start": _iso(start),
    }
    if config.sweep:
        results = _run_sweep(members, datasets, progress=progress, quiet=quiet)
        if hosts is not None:
            extra["processes"] = hosts[1]
    else:
        results, seconds = [], {}
        for spec, data in zip(specs, datasets, strict=True):
            begun = time.perf_counter()
            result = train_run(spec, data, progress=progress)
            seconds[spec.name] = round(time.perf_counter() - begun, 3)
            results.append(result)
            if not quiet:
                print(_one_line(result, seconds[spec.name]), file=sys.stderr)
        extra["train_time_s"] = seconds
    if folder is None:
        return None
    extra["end"] = _iso(dt.datetime.now(dt.UTC))
    extra["wall_time_s"] = round(time.perf_counter() - clock, 3)
    return _write(folder, config, results, datasets, extra, _figure_drawer(bool(config.sweep)))


def _run_sweep(members, datasets, *, progress: bool, quiet: bool) -> list[Any]:
    """Trains a sweep's members as vectorised programs, with a bar over member-steps."""
    import dataclasses

    import tqdm

    from experiments import sweep

    total = sum(m.spec.train.steps for m in members)
    begun = time.perf_counter()
    with tqdm.tqdm(
        total=total, unit="member-step", unit_scale=True, disable=not progress, leave=False
    ) as bar:
        results = sweep.run_members(
            [m.spec for m in members],
            datasets,
            on_chunk=lambda count, steps: bar.update(count * steps),
        )
    results = [
        dataclasses.replace(result, member=index, sweep=dict(member.values))
        for index, (member, result) in enumerate(zip(members, results, strict=True))
    ]
    if not quiet:
        diverged = sum(r.status == "diverged" for r in results)
        seconds = time.perf_counter() - begun
        print(
            f"sweep: {len(results)} members, {diverged} diverged, "
            f"{total / seconds:,.0f} member-steps/s ({seconds:.1f} s)",
            file=sys.stderr,
        )
    return results


def _write(
    folder: RunFolder,
    config: ExperimentConfig,
    results: list[Any],
    datasets: list[Dataset],
    extra: dict[str, Any],
    draw_figures: Callable[[Path, list[str]], list[Path]],
) -> Path:
    with staged_run_dir(folder) as stage:
        write_run(stage.path, config, results, datasets, extra)
        if config.output.formats:
            draw_figures(stage.path, list(config.output.formats))
    assert stage.final is not None
    return stage.final


def _one_line(result: Any, seconds: float) -> str:
    split = "test" if "test" in result.history else "train"
    metrics = result.history[split]
    ce, accuracy = float(metrics["ce"][-1]), float(metrics["accuracy"][-1])
    status = result.status if result.diverged_at is None else f"diverged at {result.diverged_at}"
    return (
        f"{result.name}: {status}, {split} ce {ce:.4g}, accuracy {accuracy:.4f} ({seconds:.1f} s)"
    )


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
