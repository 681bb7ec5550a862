"""The commands that take a config: ``run``, ``launch``, ``validate`` and ``show``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from experiments.cli.options import (
    EXIT_OK,
    Command,
    add_commands,
    command_record,
    log,
    overrides,
    runner,
)
from experiments.cli.runs import export_to
from experiments.config import dump_config
from experiments.kinds import load_config
from experiments.pipeline import launch as launcher
from experiments.pipeline.hosts import distributed_settings
from experiments.pipeline.launch import add_launch_arguments, parse_task
from experiments.pipeline.store import store_folder
from experiments.tools.tracking import check_uri, require_mlflow


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``infolab run``: one task of a launched array with ``--task``, else the run folder."""
    hosts = distributed_settings(args.coordinator, args.num_processes, args.process_id)
    if args.mlflow is not None:  # before anything runs
        check_uri(args.mlflow)
        require_mlflow()
    config_overrides = overrides(args)
    config = load_config(args.config, config_overrides)
    if args.task is not None:  # one task of a launched array: its chunks into the store
        root = store_folder(config.output.dir)
        runner(args)
        print(json.dumps(launcher.compute_share(config, args.config.parent, root, *args.task)))
        return EXIT_OK
    run_dir = runner(args).run(
        config,
        args.config.parent,
        overrides=config_overrides,
        out=args.out,
        force=args.force,
        progress=not args.quiet and sys.stderr.isatty(),
        log=log(args.quiet),
        status=log(args.quiet),
        hosts=hosts,
        manifest=command_record(argv, args.config),
        store=not args.no_store,
    )
    if run_dir is not None:
        print(run_dir)
        if args.mlflow is not None:
            export_to(run_dir, args.mlflow, retry=True)
    return EXIT_OK


def launch(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Submits the job array (:mod:`experiments.pipeline.launch`), then writes the run
    folder: at once for ``local``, by a dependent job for ``slurm``, or with ``--gather``."""
    config_overrides = overrides(args)
    config = load_config(args.config, config_overrides)
    run_argv = launcher.run_command(args, config_overrides)
    if not args.gather:
        options = launcher.options_from(args)
        root = launcher.prepare(config, options, args.out, args.force)
        runner(args).plan(config, args.config.parent)  # the data, checked here too
        code = launcher.launch(
            config, args.config, config_overrides, root, options, run_argv, log(args.quiet)
        )
        if code is not None:
            return code
    parser = argparse.ArgumentParser(prog="infolab")
    add_commands(parser, {"run": RUN})
    return run(parser.parse_args(run_argv), run_argv)


def validate(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``infolab validate``: the config, its data and the plan, described."""
    config = load_config(args.config, overrides(args))
    runner(args)  # the device and the compilation cache, before anything compiles
    from experiments.pipeline import plan as planner  # loads jax

    plan = planner.plan(config, args.config.parent)
    print(f"{args.config}: ok: {config.name}, {len(config.runs())} variant(s)")
    print("\n".join(planner.describe(plan)))
    return EXIT_OK


def show(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``infolab show``: the resolved config, then its sweep as comments."""
    config = load_config(args.config, overrides(args))
    print(dump_config(config), end="")
    for line in config.describe_sweep():
        print(f"# {line}")
    return EXIT_OK


def _run_arguments(sub: argparse.ArgumentParser) -> None:
    """The options of ``run`` beyond a config command's."""
    sub.add_argument("--out", type=Path, metavar="DIR", help="the run folder")
    sub.add_argument("--force", action="store_true", help="replace an existing run folder")
    sub.add_argument("--mlflow", metavar="URI", help="then log the run to this MLflow store")
    sub.add_argument(
        "--no-store",
        action="store_true",
        help="neither read nor write the member store (default: OUTPUT_DIR/.members, or "
        "$INFOLAB_MEMBER_STORE), so nothing is resumed or reused",
    )
    sub.add_argument("--task", type=parse_task, metavar="T/N", help=argparse.SUPPRESS)
    hosts = sub.add_argument_group(
        "many hosts",
        "run one sweep over several processes with jax.distributed; process 0 writes the run "
        "folder (defaults: JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID)",
    )
    hosts.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address")
    hosts.add_argument("--num-processes", type=int, metavar="N")
    hosts.add_argument("--process-id", type=int, metavar="I")


RUN = Command(
    run, "run a config and write a run folder", config=True, quiet=True, arguments=_run_arguments
)
LAUNCH = Command(
    launch,
    "compute a sweep's chunks in a job array (Slurm or local processes), then write its "
    "run folder from the member store",
    config=True,
    quiet=True,
    arguments=add_launch_arguments,
)
VALIDATE = Command(validate, "check a config and its data", config=True)
SHOW = Command(show, "print the resolved config", config=True)
