"""The commands on the configs that come with the project: ``list``, ``init``, ``demo``
and ``seeds``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from experiments.cli.options import (
    EXIT_OK,
    BadInput,
    Command,
    command_record,
    log,
    relative,
    runner,
)
from experiments.kinds import load_config
from experiments.tools.shipped import (
    DEMO_CONFIGS,
    SEED_CONFIGS,
    configs_folder,
    copy_shipped,
    shipped_lines,
)


def list_shipped(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``infolab list``: the shipped configs, one a line."""
    if not (lines := shipped_lines(load_config, relative)):
        raise BadInput(f"no configs found in {configs_folder()}")
    print("\n".join(lines))
    return EXIT_OK


def init(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``infolab init NAME``: a shipped config, copied into the working folder."""
    print(relative(copy_shipped(args.name, Path.cwd())))
    return EXIT_OK


def demo(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``infolab demo``: runs the demonstration configs."""
    return _run_shipped(DEMO_CONFIGS, args, argv)


def seeds(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``infolab seeds``: runs every config that reproduces the source material."""
    return _run_shipped(SEED_CONFIGS, args, argv)


def _run_shipped(names: Sequence[str], args: argparse.Namespace, argv: Sequence[str]) -> int:
    folder = configs_folder()
    for name in names:
        run_dir = runner(args).run(
            load_config(folder / name),
            folder,
            progress=not args.quiet and sys.stderr.isatty(),
            log=log(args.quiet),
            status=log(args.quiet),
            manifest=command_record(argv, folder / name),
        )
        assert run_dir is not None
        print(f"{name}: {relative(run_dir.resolve())}")
        for figure in sorted((run_dir / "figures").glob("*")):
            print(f"  {relative(figure.resolve())}")
    return EXIT_OK


def _init_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("name", metavar="NAME")


LIST = Command(list_shipped, "list the shipped configs")
INIT = Command(init, "copy a shipped config here, to edit", arguments=_init_arguments)
DEMO = Command(demo, "run mse_vs_ce and mle_vs_map on their defaults", quiet=True)
SEEDS = Command(seeds, "run every config that reproduces the source material", quiet=True)
