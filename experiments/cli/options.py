"""What the subcommands share: the exit codes; :class:`Command`, a subcommand as data (its
handler, its help line, its arguments); the arguments that :func:`add_commands` gives
them (a config command's ``CONFIG``, ``KEY=VALUE`` overrides, ``--set`` and ``-m``;
``--device``, ``--quiet``), read back by :func:`overrides`, :func:`runner` and :func:`log`;
and :class:`BadInput`, the bad input that a command finds itself."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.config.merge import command_line_overrides
from experiments.tools.shipped import config_file

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_FIGURES = 0, 1, 2, 3

Handler = Callable[[argparse.Namespace, Sequence[str]], int]


class BadInput(Exception):
    """Bad input found by the command line itself (a run folder to plot, ...)."""


@dataclass(frozen=True)
class Command:
    """A subcommand. ``handler(args, argv)`` returns its exit code; ``config`` gives it a
    config command's arguments and ``--device``, ``quiet`` gives it ``--device`` and
    ``--quiet``; ``arguments`` adds its own, after those."""

    handler: Handler
    help: str
    config: bool = False
    quiet: bool = False
    arguments: Callable[[argparse.ArgumentParser], None] | None = None


def add_commands(parser: argparse.ArgumentParser, table: Mapping[str, Command]) -> None:
    """Gives ``parser`` a required ``COMMAND``, the subcommands of ``table`` in its order;
    each one's ``command`` default is its handler."""
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    for name, command in table.items():
        sub = commands.add_parser(name, help=command.help, description=command.help)
        sub.set_defaults(command=command.handler)
        if command.config:
            _config_arguments(sub)
        if command.config or command.quiet:
            sub.add_argument("--device", metavar="cpu|gpu|tpu|N", help="the devices to run on")
        if command.quiet:
            sub.add_argument("--quiet", action="store_true", help="no progress or summaries")
        if command.arguments is not None:
            command.arguments(sub)


def _config_arguments(sub: argparse.ArgumentParser) -> None:
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


def overrides(args: argparse.Namespace) -> list[str]:
    """A config command's overrides: its ``KEY=VALUE`` words, ``--set`` and ``-m``.

    Raises:
        BadInput: an override is not ``KEY=VALUE``, or a sweep not ``KEY=VALUES``.
    """
    try:
        return command_line_overrides(args.set, args.overrides, args.sweep)
    except ValueError as error:
        raise BadInput(str(error)) from None


def runner(args: argparse.Namespace | None = None) -> Any:
    """The pipeline's runner, :mod:`experiments.pipeline.run`, once the devices of
    ``--device`` are chosen and the compilation cache is on. These load jax: only the
    commands that compute call this, before anything compiles."""
    from experiments.pipeline import devices
    from experiments.pipeline import run as pipeline_run
    from experiments.pipeline.cache import enable_compilation_cache

    devices.choose(getattr(args, "device", None))  # before JAX starts its backends
    enable_compilation_cache()  # a second run of the same programs skips XLA's compilation
    return pipeline_run


def log(quiet: bool) -> Callable[[str], None] | None:
    """Where progress lines go: stderr, or nowhere with ``--quiet``."""
    return None if quiet else lambda line: print(line, file=sys.stderr)


def command_record(argv: Sequence[str], config: Path) -> dict[str, object]:
    """What a run's manifest records of the command that made it."""
    return {"command": ["python", "-m", "experiments", *argv], "config_file": str(config)}


def relative(path: Path) -> str:
    """``path`` as printed: relative to the working folder where it lies below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
