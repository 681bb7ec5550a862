"""``main``: parses the arguments, runs the command's handler and turns what it raises into
an exit code (listed in :mod:`experiments.cli`); ``COMMANDS``, the table of subcommands
that the parser is built from."""

from __future__ import annotations

import argparse
import importlib.metadata
import signal
import sys
import traceback
from collections.abc import Sequence

from experiments import interrupts
from experiments.cli import configs, runs, shipped, store
from experiments.cli.options import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_FIGURES,
    BadInput,
    Command,
    add_commands,
)
from experiments.config import ConfigError
from experiments.contract import DataError
from experiments.pipeline.hosts import DeviceError, HostsError
from experiments.pipeline.launch import LaunchError
from experiments.rundir.folders import OutputError, WriteError
from experiments.rundir.read import RunFilesError
from experiments.rundir.write import FigureError
from experiments.tools.tracking import ExportError

_CAUGHT = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

COMMANDS: dict[str, Command] = {
    "run": configs.RUN,
    "launch": configs.LAUNCH,
    "status": store.STATUS,
    "store": store.STORE,
    "validate": configs.VALIDATE,
    "show": configs.SHOW,
    "plot": runs.PLOT,
    "list": shipped.LIST,
    "init": shipped.INIT,
    "ls": runs.LS,
    "compare": runs.COMPARE,
    "report": runs.REPORT,
    "export": runs.EXPORT,
    "demo": shipped.DEMO,
    "seeds": shipped.SEEDS,
}


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
        BadInput,
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
    """The parser of :data:`COMMANDS`; each subcommand's ``command`` default is its handler."""
    parser = argparse.ArgumentParser(
        prog="infolab",
        description="Config-driven experiments in information theory and learning.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"infolab {version()}")
    add_commands(parser, COMMANDS)
    return parser


def version() -> str:
    """The installed distribution's version."""
    try:
        return importlib.metadata.version("infolab")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"
