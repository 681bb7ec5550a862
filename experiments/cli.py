"""The command line, ``infolab COMMAND`` (``python -m experiments``): it parses arguments,
calls the pipeline (:mod:`experiments.pipeline.run`) and prints. Exit codes:

- 0: success;
- 2: bad input (a config, an override, a data file, the output folder, a damaged run
  folder for ``plot``), reported on stderr as one line per problem, each naming what to
  fix, without a traceback and before anything is written;
- 3: the run is complete but a figure failed (recorded in its manifest; ``plot`` retries);
- 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP): interrupted; no partial run folder is left;
- 1: anything else; a run folder that cannot be written (a full disk, ...) is reported in
  one line, without a traceback, and nothing half-written is left.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from experiments import interrupts
from experiments.config import ConfigError, dump_config
from experiments.config.merge import command_line_overrides
from experiments.contract import DataError
from experiments.kinds import KINDS, load_config
from experiments.pipeline import launch as launcher
from experiments.pipeline.hosts import DeviceError, HostsError, distributed_settings
from experiments.pipeline.launch import LaunchError, add_launch_arguments, parse_task
from experiments.pipeline.store import store_folder
from experiments.rundir.folders import OutputError, WriteError
from experiments.rundir.manifest import RUN_FILES
from experiments.rundir.read import RunFilesError
from experiments.rundir.write import FigureError
from experiments.tools.catalog import compare_lines, ls_lines
from experiments.tools.members import add_arguments as add_store_arguments
from experiments.tools.shipped import (
    DEMO_CONFIGS,
    SEED_CONFIGS,
    config_file,
    configs_folder,
    copy_shipped,
    shipped_lines,
)
from experiments.tools.tracking import ExportError, check_uri, export_mlflow, require_mlflow

__all__ = ["main"]

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_FIGURES = 0, 1, 2, 3
_CAUGHT = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _BadInput(Exception):
    """Bad input found by the command line itself (a run folder to plot, ...)."""


def _on_signal(signum: int, frame: object) -> None:
    interrupts.request(signum, frame)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line and returns its exit code (it never calls ``sys.exit``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage and the problem
        return int(exit_.code or 0)
    previous = {sig: signal.signal(sig, _on_signal) for sig in _CAUGHT}
    try:
        interrupts.check()  # a signal recorded while the process was starting
        return args.command(args, argv)
    except ConfigError as error:
        where = f" in {error.source}" if error.source else ""
        return _bad_input(f"invalid config{where}:", error.problems)
    except DataError as error:
        return _bad_input("unusable data:", error.problems)
    except (
        OutputError,
        HostsError,
        DeviceError,
        RunFilesError,
        ExportError,
        LaunchError,
        _BadInput,
    ) as error:
        return _bad_input(str(error), [])
    except FigureError as error:
        print(
            f"error: the run's results are complete, but a figure failed: {error}\n"
            "  retry with: python -m experiments plot RUN_DIR",
            file=sys.stderr,
        )
        return EXIT_FIGURES
    except WriteError as error:
        print(f"error: {error}; nothing was left half-written", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("error: interrupted; no partial run folder was left", file=sys.stderr)
        return 128 + signal.SIGINT
    except interrupts.Interrupted as stop:
        print(
            f"error: stopped by signal {stop.signum}; no partial run folder was left",
            file=sys.stderr,
        )
        return 128 + stop.signum
    except Exception:
        traceback.print_exc()
        print(
            "error: the command failed (see above); no partial run folder was left", file=sys.stderr
        )
        return EXIT_FAILURE
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        interrupts.clear()


def _bad_input(headline: str, problems: Sequence[str]) -> int:
    print("\n".join([f"error: {headline}", *(f"  {p}" for p in problems)]), file=sys.stderr)
    return EXIT_BAD_INPUT


def _overrides(args: argparse.Namespace) -> list[str]:
    try:
        bare, sweeps = getattr(args, "overrides", []), getattr(args, "sweep", [])
        return command_line_overrides(args.set, bare, sweeps)
    except ValueError as error:
        raise _BadInput(str(error)) from None


def _runner(args: argparse.Namespace | None = None):
    from experiments.pipeline import devices  # these load jax: only for the commands that run
    from experiments.pipeline import run as runner
    from experiments.pipeline.cache import enable_compilation_cache

    devices.choose(getattr(args, "device", None))  # before JAX starts its backends
    enable_compilation_cache()  # a second run of the same programs skips XLA's compilation
    return runner


def _log(quiet: bool) -> Callable[[str], None] | None:
    return None if quiet else lambda line: print(line, file=sys.stderr)


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    hosts = distributed_settings(args.coordinator, args.num_processes, args.process_id)
    if args.mlflow is not None:  # before anything runs
        check_uri(args.mlflow)
        require_mlflow()
    overrides = _overrides(args)
    config = load_config(args.config, overrides)
    if args.task is not None:  # one task of a launched array: its chunks into the store
        root = store_folder(config.output.dir)
        _runner(args)
        print(json.dumps(launcher.compute_share(config, args.config.parent, root, *args.task)))
        return EXIT_OK
    run_dir = _runner(args).run(
        config,
        args.config.parent,
        overrides=overrides,
        out=args.out,
        force=args.force,
        progress=not args.quiet and sys.stderr.isatty(),
        log=_log(args.quiet),
        status=_log(args.quiet),
        hosts=hosts,
        manifest=_command_record(argv, args.config),
        store=not args.no_store,
    )
    if run_dir is not None:
        print(run_dir)
        if args.mlflow is not None:
            _export_to(run_dir, args.mlflow, retry=True)
    return EXIT_OK


def _launch(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Submits the job array (:mod:`experiments.pipeline.launch`), then writes the run
    folder: at once for ``local``, by a dependent job for ``slurm``, or with ``--gather``."""
    overrides = _overrides(args)
    config = load_config(args.config, overrides)
    run_argv = launcher.run_command(args, overrides)
    if not args.gather:
        options = launcher.options_from(args)
        root = launcher.prepare(config, options, args.out, args.force)
        _runner(args).plan(config, args.config.parent)  # the data, checked here too
        code = launcher.launch(
            config, args.config, overrides, root, options, run_argv, _log(args.quiet)
        )
        if code is not None:
            return code
    return _run(build_parser().parse_args(run_argv), run_argv)


def _status(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from experiments.tools import members

    if not args.target.exists():
        raise _BadInput(f"RUN_OR_CONFIG: {args.target} does not exist")
    _runner()  # the compilation cache, before anything compiles
    print("\n".join(members.status_lines(args.target, load_config)))
    return EXIT_OK


def _store(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from experiments.tools import members

    print("\n".join(members.gc_lines(args.dir, dry_run=args.dry_run)))
    return EXIT_OK


def _export(args: argparse.Namespace, argv: Sequence[str]) -> int:
    _export_to(args.run_dir, args.mlflow)
    return EXIT_OK


def _export_to(run_dir: Path, uri: str, retry: bool = False) -> None:
    try:
        ids = export_mlflow(run_dir, uri)
    except ExportError as error:
        hint = f"; the run is complete: retry with infolab export {run_dir} --mlflow URI"
        raise ExportError(f"{error}{hint if retry else ''}") from None
    print(f"mlflow: {uri}: run {ids[0]} with {len(ids) - 1} member run(s)")


def _report(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from experiments.tools import report, tables  # pandas: only for a report

    page = report.write_report([tables.read_tables(p, load_config) for p in args.runs], args.out)
    print(f"{page}\n{page.with_suffix('.md')}")
    return EXIT_OK


def _command_record(argv: Sequence[str], config: Path) -> dict[str, object]:
    return {"command": ["python", "-m", "experiments", *argv], "config_file": str(config)}


def _validate(args: argparse.Namespace, argv: Sequence[str]) -> int:
    config = load_config(args.config, _overrides(args))
    _runner(args)  # the device and the compilation cache, before anything compiles
    from experiments.pipeline import plan as planner  # loads jax

    plan = planner.plan(config, args.config.parent)
    print(f"{args.config}: ok: {config.name}, {len(config.runs())} variant(s)")
    print("\n".join(planner.describe(plan)))
    return EXIT_OK


def _show(args: argparse.Namespace, argv: Sequence[str]) -> int:
    config = load_config(args.config, _overrides(args))
    print(dump_config(config), end="")
    for line in config.describe_sweep():
        print(f"# {line}")
    return EXIT_OK


def _plot(args: argparse.Namespace, argv: Sequence[str]) -> int:
    run_dir: Path = args.run_dir
    if not run_dir.is_dir():
        raise _BadInput(f"RUN_DIR: {run_dir} is not a folder")
    missing = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if missing:
        raise _BadInput(f"RUN_DIR: {run_dir} is not a run folder (missing {', '.join(missing)})")
    runner = _runner()
    config = load_config(run_dir / "config.yaml")
    formats = args.formats or list(config.output.formats)
    if not formats:
        raise _BadInput(
            f"RUN_DIR: {run_dir} asks for no figures (output.formats: []); pass --format"
        )
    written = runner.draw_run_figures(run_dir, config, formats)
    for path in written:
        print(path)
    if not args.quiet:
        print(runner.drawn_line(written, run_dir / "figures"), file=sys.stderr)
    return EXIT_OK


def _list(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if not (lines := shipped_lines(load_config, _relative)):
        raise _BadInput(f"no configs found in {configs_folder()}")
    print("\n".join(lines))
    return EXIT_OK


def _init(args: argparse.Namespace, argv: Sequence[str]) -> int:
    print(_relative(copy_shipped(args.name, Path.cwd())))
    return EXIT_OK


def _demo(args: argparse.Namespace, argv: Sequence[str]) -> int:
    return _run_shipped(DEMO_CONFIGS, args, argv)


def _seeds(args: argparse.Namespace, argv: Sequence[str]) -> int:
    return _run_shipped(SEED_CONFIGS, args, argv)


def _run_shipped(names: Sequence[str], args: argparse.Namespace, argv: Sequence[str]) -> int:
    folder = configs_folder()
    for name in names:
        run_dir = _runner(args).run(
            load_config(folder / name),
            folder,
            progress=not args.quiet and sys.stderr.isatty(),
            log=_log(args.quiet),
            status=_log(args.quiet),
            manifest=_command_record(argv, folder / name),
        )
        assert run_dir is not None
        print(f"{name}: {_relative(run_dir.resolve())}")
        for figure in sorted((run_dir / "figures").glob("*")):
            print(f"  {_relative(figure.resolve())}")
    return EXIT_OK


def _ls(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if not args.folder.is_dir():
        raise _BadInput(f"DIR: {args.folder} is not a folder")
    headlines = {name: kind.headline_metric for name, kind in KINDS.items()}
    damaged: list[str] = []
    print("\n".join(ls_lines(args.folder, _relative, headlines, damaged)))
    for line in damaged:  # the other runs are listed; each damaged one is named
        print(f"error: damaged run folder: {line}", file=sys.stderr)
    return EXIT_BAD_INPUT if damaged else EXIT_OK


def _compare(args: argparse.Namespace, argv: Sequence[str]) -> int:
    for run_dir in args.runs:
        if not (run_dir / "config.yaml").is_file() or not (run_dir / "summary.json").is_file():
            raise _BadInput(f"RUN_DIR: {run_dir} is not a run folder")
    print("\n".join(compare_lines(*args.runs)))
    return EXIT_OK


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------

EXAMPLES = """examples:
  infolab list                                         the shipped configs
  infolab run configs/mle_vs_map.yaml train.steps=500  run one, with an override
  infolab show configs/regularization_path.yaml        the resolved config and its grid
  infolab run configs/mse_vs_ce.yaml -m train.optimizer.learning_rate='logspace(-2,1,8)'
                                                       a sweep from the command line
  infolab plot results/mle_vs_map/<run>                redraw a run's figures
  infolab ls results                                   the runs made so far
  infolab compare RUN_A RUN_B                          what differs between two runs
  infolab report RUN [RUN ...]                         an HTML report (and Markdown twin)
  infolab export RUN --mlflow sqlite:///mlflow.db      log a run to MLflow
  infolab status configs/lr_sweep.yaml                 its members in the member store
  infolab launch configs/lr_sweep.yaml --executor slurm --tasks 16 --gpus-per-task 1
                                                       a sweep as a Slurm job array
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser; each subcommand's ``command`` default is its handler."""
    parser = argparse.ArgumentParser(
        prog="infolab",
        description="Config-driven experiments in information theory and learning.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"infolab {version()}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    def command(handler: Callable, help_: str, config: bool = False, quiet: bool = False):
        name = handler.__name__.removeprefix("_")
        sub = commands.add_parser(name, help=help_, description=help_)
        sub.set_defaults(command=handler)
        if config:
            sub.add_argument(
                "config", type=config_file, metavar="CONFIG", help="a YAML file, or a shipped name"
            )
            sub.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="as with --set")
            sub.add_argument(
                "--set",
                action="append",
                default=[],
                metavar="KEY=VALUE",
                help="override a config value, e.g. --set train.steps=100 (repeatable)",
            )
            sub.add_argument(
                "-m",
                "--sweep",
                action="append",
                default=[],
                metavar="KEY=VALUES",
                help="sweep a key: KEY=v1,v2,... or KEY='logspace(a,b,n)' or "
                "KEY='linspace(a,b,n)' (repeatable: the grid of every --sweep)",
            )
            sub.add_argument("--multirun", action="store_true", help="accepted, as Hydra's")
        if config or quiet:
            sub.add_argument("--device", metavar="cpu|gpu|tpu|N", help="the devices to run on")
        if quiet:
            sub.add_argument("--quiet", action="store_true", help="no progress or summaries")
        return sub

    run = command(_run, "run a config and write a run folder", config=True, quiet=True)
    _run_options(run)
    launch = command(
        _launch,
        "compute a sweep's chunks in a job array (Slurm or local processes), then write its "
        "run folder from the member store",
        config=True,
        quiet=True,
    )
    add_launch_arguments(launch)
    add_store_arguments(
        command(_status, "how many of a run's members the member store holds"),
        command(_store, "manage the member store: gc removes entries no run refers to"),
    )
    command(_validate, "check a config and its data", config=True)
    command(_show, "print the resolved config", config=True)
    plot = command(_plot, "redraw a run's figures from its files")
    plot.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    plot.add_argument(
        "--format",
        action="append",
        choices=["png", "pdf", "svg"],
        dest="formats",
        help="a figure format (repeatable; default: the run's output.formats)",
    )
    plot.add_argument("--quiet", action="store_true", help="no status line")
    command(_list, "list the shipped configs")
    command(_init, "copy a shipped config here, to edit").add_argument("name", metavar="NAME")
    ls = command(_ls, "list the runs under a folder")
    ls.add_argument("folder", type=Path, nargs="?", default=Path("results"), metavar="DIR")
    compare = command(_compare, "print two runs' config and metric differences")
    compare.add_argument("runs", type=Path, nargs=2, metavar="RUN_DIR")
    report = command(_report, "write runs' HTML report and its Markdown twin")
    report.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR")
    report.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="the .html file (default: RUN_DIR/report.html for one run, else ./report.html); "
        "a file this command did not write is never replaced",
    )
    export = command(_export, "log a run folder to an MLflow tracking store")
    export.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    export.add_argument("--mlflow", required=True, metavar="URI", help="e.g. sqlite:///mlflow.db")
    command(_demo, "run mse_vs_ce and mle_vs_map on their defaults", quiet=True)
    command(_seeds, "run every config that reproduces the source material", quiet=True)
    return parser


def _run_options(run: argparse.ArgumentParser) -> None:
    """The options of ``run`` beyond a config command's."""
    run.add_argument("--out", type=Path, metavar="DIR", help="the run folder")
    run.add_argument("--force", action="store_true", help="replace an existing run folder")
    run.add_argument("--mlflow", metavar="URI", help="then log the run to this MLflow store")
    run.add_argument(
        "--no-store",
        action="store_true",
        help="neither read nor write the member store (default: OUTPUT_DIR/.members, or "
        "$INFOLAB_MEMBER_STORE), so nothing is resumed or reused",
    )
    run.add_argument("--task", type=parse_task, metavar="T/N", help=argparse.SUPPRESS)
    hosts = run.add_argument_group(
        "many hosts",
        "run one sweep over several processes with jax.distributed; process 0 writes the run "
        "folder (defaults: JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID)",
    )
    hosts.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address")
    hosts.add_argument("--num-processes", type=int, metavar="N")
    hosts.add_argument("--process-id", type=int, metavar="I")


def version() -> str:
    """The installed distribution's version."""
    try:
        return importlib.metadata.version("infolab")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"
