"""The commands on the member store (:mod:`experiments.tools.members`): ``status`` and
``store gc``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from experiments.cli.options import EXIT_OK, BadInput, Command, runner
from experiments.kinds import load_config
from experiments.tools import members


def status(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``infolab status``: how many of a run's members the store holds."""
    if not args.target.exists():
        raise BadInput(f"RUN_OR_CONFIG: {args.target} does not exist")
    runner()  # the compilation cache, before anything compiles
    print("\n".join(members.status_lines(args.target, load_config)))
    return EXIT_OK


def store(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``infolab store gc``: removes the store entries that no run refers to."""
    print("\n".join(members.gc_lines(args.dir, dry_run=args.dry_run)))
    return EXIT_OK


def _status_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("target", type=Path, metavar="RUN_OR_CONFIG")


def _store_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("action", choices=["gc"], help="gc: remove unreferenced entries")
    sub.add_argument(
        "dir",
        type=Path,
        nargs="?",
        default=Path("results"),
        metavar="DIR",
        help="the results folder: its runs' entries are kept (default: results)",
    )
    sub.add_argument("--dry-run", action="store_true", help="list, remove nothing")


STATUS = Command(
    status, "how many of a run's members the member store holds", arguments=_status_arguments
)
STORE = Command(
    store,
    "manage the member store: gc removes entries no run refers to",
    arguments=_store_arguments,
)
