"""The ``infolab`` command line's parser: its subcommands, options and examples (the
handlers live in :mod:`experiments.cli`)."""

from __future__ import annotations

import argparse
import importlib.metadata
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["EXAMPLES", "build_parser", "version"]

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
"""


def build_parser(handlers: Mapping[str, Callable]) -> argparse.ArgumentParser:
    """The command line's parser; each subcommand's ``command`` default is its handler."""
    parser = argparse.ArgumentParser(
        prog="infolab",
        description="Config-driven experiments in information theory and learning.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"infolab {version()}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    def command(name: str, help_: str, config: bool = False):
        sub = commands.add_parser(name, help=help_, description=help_)
        sub.set_defaults(command=handlers[name])
        if config:
            sub.add_argument("config", type=Path, metavar="CONFIG", help="a YAML config file")
            sub.add_argument(
                "overrides",
                nargs="*",
                metavar="KEY=VALUE",
                help="overrides, as with --set (e.g. train.steps=100)",
            )
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
        return sub

    run = command("run", "run a config and write a run folder", config=True)
    run.add_argument("--out", type=Path, metavar="DIR", help="the run folder")
    run.add_argument("--force", action="store_true", help="replace an existing run folder")
    run.add_argument("--quiet", action="store_true", help="no progress bars or summaries")
    run.add_argument("--mlflow", metavar="URI", help="then log the run to this MLflow store")
    hosts = run.add_argument_group(
        "many hosts",
        "run one sweep over several processes with jax.distributed; process 0 writes the run "
        "folder (defaults: JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID)",
    )
    hosts.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address")
    hosts.add_argument("--num-processes", type=int, metavar="N")
    hosts.add_argument("--process-id", type=int, metavar="I")
    command("validate", "check a config and its data", config=True)
    command("show", "print the resolved config", config=True)
    plot = command("plot", "redraw a run's figures from its files")
    plot.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    plot.add_argument(
        "--format",
        action="append",
        choices=["png", "pdf", "svg"],
        dest="formats",
        help="a figure format (repeatable; default: the run's output.formats)",
    )
    plot.add_argument("--quiet", action="store_true", help="no status line")
    command("list", "list the shipped configs")
    ls = command("ls", "list the runs under a folder")
    ls.add_argument("folder", type=Path, nargs="?", default=Path("results"), metavar="DIR")
    compare = command("compare", "print two runs' config and metric differences")
    compare.add_argument("runs", type=Path, nargs=2, metavar="RUN_DIR")
    report = command("report", "write runs' HTML report and its Markdown twin")
    report.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR")
    report.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="the .html file (default: RUN_DIR/report.html for one run, else ./report.html); "
        "a file this command did not write is never replaced",
    )
    export = command("export", "log a run folder to an MLflow tracking store")
    export.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    export.add_argument(
        "--mlflow",
        required=True,
        metavar="URI",
        help="e.g. sqlite:///mlflow.db or http://host:5000",
    )
    demo = command("demo", "run mse_vs_ce and mle_vs_map on their defaults")
    demo.add_argument("--quiet", action="store_true", help="no progress bars or summaries")
    seeds = command("seeds", "run every config that reproduces the source material")
    seeds.add_argument("--quiet", action="store_true", help="no progress bars or summaries")
    return parser


def version() -> str:
    """The installed distribution's version."""
    try:
        return importlib.metadata.version("infolab")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"
