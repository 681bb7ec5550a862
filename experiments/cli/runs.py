"""The commands on finished run folders: ``plot``, ``ls``, ``compare``, ``report`` and
``export``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from experiments.cli.options import EXIT_BAD_INPUT, EXIT_OK, BadInput, Command, relative, runner
from experiments.kinds import KINDS, load_config
from experiments.rundir.manifest import RUN_FILES
from experiments.tools.catalog import compare_lines, ls_lines
from experiments.tools.tracking import ExportError, export_mlflow


def plot(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``infolab plot``: a run's figures, drawn again from its files."""
    run_dir: Path = args.run_dir
    if not run_dir.is_dir():
        raise BadInput(f"RUN_DIR: {run_dir} is not a folder")
    missing = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if missing:
        raise BadInput(f"RUN_DIR: {run_dir} is not a run folder (missing {', '.join(missing)})")
    pipeline_run = runner()
    config = load_config(run_dir / "config.yaml")
    formats = args.formats or list(config.output.formats)
    if not formats:
        raise BadInput(
            f"RUN_DIR: {run_dir} asks for no figures (output.formats: []); pass --format"
        )
    written = pipeline_run.draw_run_figures(run_dir, config, formats)
    for path in written:
        print(path)
    if not args.quiet:
        print(pipeline_run.drawn_line(written, run_dir / "figures"), file=sys.stderr)
    return EXIT_OK


def ls(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``infolab ls``: the runs under a folder; a damaged one is named and exits 2."""
    if not args.folder.is_dir():
        raise BadInput(f"DIR: {args.folder} is not a folder")
    headlines = {name: kind.headline_metric for name, kind in KINDS.items()}
    damaged: list[str] = []
    print("\n".join(ls_lines(args.folder, relative, headlines, damaged)))
    for line in damaged:  # the other runs are listed; each damaged one is named
        print(f"error: damaged run folder: {line}", file=sys.stderr)
    return EXIT_BAD_INPUT if damaged else EXIT_OK


def compare(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``infolab compare``: two runs' config and metric differences."""
    for run_dir in args.runs:
        if not (run_dir / "config.yaml").is_file() or not (run_dir / "summary.json").is_file():
            raise BadInput(f"RUN_DIR: {run_dir} is not a run folder")
    print("\n".join(compare_lines(*args.runs)))
    return EXIT_OK


def report(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``infolab report``: the runs' HTML report and its Markdown twin."""
    from experiments.tools.report import write_report  # pandas: only for a report
    from experiments.tools.tables import read_tables

    page = write_report([read_tables(p, load_config) for p in args.runs], args.out)
    print(f"{page}\n{page.with_suffix('.md')}")
    return EXIT_OK


def export(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``infolab export``: a run folder, logged to an MLflow tracking store."""
    export_to(args.run_dir, args.mlflow)
    return EXIT_OK


def export_to(run_dir: Path, uri: str, retry: bool = False) -> None:
    """Logs ``run_dir`` to the MLflow store at ``uri`` and prints the run's id; with
    ``retry`` (after ``run --mlflow``), an error says how to export again."""
    try:
        ids = export_mlflow(run_dir, uri)
    except ExportError as error:
        hint = f"; the run is complete: retry with infolab export {run_dir} --mlflow URI"
        raise ExportError(f"{error}{hint if retry else ''}") from None
    print(f"mlflow: {uri}: run {ids[0]} with {len(ids) - 1} member run(s)")


def _plot_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    sub.add_argument(
        "--format",
        action="append",
        choices=["png", "pdf", "svg"],
        dest="formats",
        help="a figure format (repeatable; default: the run's output.formats)",
    )
    sub.add_argument("--quiet", action="store_true", help="no status line")


def _ls_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("folder", type=Path, nargs="?", default=Path("results"), metavar="DIR")


def _compare_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("runs", type=Path, nargs=2, metavar="RUN_DIR")


def _report_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR")
    sub.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="the .html file (default: RUN_DIR/report.html for one run, else ./report.html); "
        "a file this command did not write is never replaced",
    )


def _export_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    sub.add_argument("--mlflow", required=True, metavar="URI", help="e.g. sqlite:///mlflow.db")


PLOT = Command(plot, "redraw a run's figures from its files", arguments=_plot_arguments)
LS = Command(ls, "list the runs under a folder", arguments=_ls_arguments)
COMPARE = Command(
    compare, "print two runs' config and metric differences", arguments=_compare_arguments
)
REPORT = Command(
    report, "write runs' HTML report and its Markdown twin", arguments=_report_arguments
)
EXPORT = Command(
    export, "log a run folder to an MLflow tracking store", arguments=_export_arguments
)
