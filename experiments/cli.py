"""The command line: ``python -m experiments {run,validate,show,plot,list,demo}``.

It parses arguments, calls the pipeline (:mod:`experiments.pipeline.run`) and prints. Exit codes:

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
import re
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from experiments import interrupts
from experiments.cli_parser import build_parser
from experiments.config import ConfigError, dump_config
from experiments.contract import DataError
from experiments.pipeline.hosts import HostsError, distributed_settings
from experiments.resolve import load_config
from experiments.rundir.folders import OutputError, WriteError
from experiments.rundir.manifest import RUN_FILES
from experiments.rundir.read import RunFilesError
from experiments.rundir.write import FigureError
from experiments.tools.tracking import ExportError

__all__ = ["configs_folder", "main"]

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_FIGURES = 0, 1, 2, 3
DEMO_CONFIGS = ("mse_vs_ce.yaml", "mle_vs_map.yaml")
# The source material, reproduced: every config a claim of it runs from (see the README).
SEED_CONFIGS = (
    "entropy_numbers.yaml",
    "curves.yaml",
    "party_losses.yaml",
    "party_losses_binary.yaml",
    "material_gradients.yaml",
    "nielsen_neuron.yaml",
    "kl_direction.yaml",
    "kl_direction_2d.yaml",
    "kl_local_optima.yaml",
    "max_entropy.yaml",
    "mle_vs_map.yaml",
    "regularization_path.yaml",
    "separable_mle.yaml",
    "multiclass_ce.yaml",
    "lr_sweep.yaml",
)
_CAUGHT = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _BadInput(Exception):
    """Bad input found by the command line itself (a run folder to plot, ...)."""


def _on_signal(signum: int, frame: object) -> None:
    interrupts.request(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line and returns its exit code (it never calls ``sys.exit``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage and the problem
        return int(exit_.code or 0)
    previous = {sig: signal.signal(sig, _on_signal) for sig in _CAUGHT}
    try:
        return args.command(args, argv)
    except ConfigError as error:
        where = f" in {error.source}" if error.source else ""
        return _bad_input(f"invalid config{where}:", error.problems)
    except DataError as error:
        return _bad_input("unusable data:", error.problems)
    except (OutputError, HostsError, RunFilesError, ExportError, _BadInput) as error:
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


def _parser() -> argparse.ArgumentParser:
    handlers = {
        "run": _run,
        "validate": _validate,
        "show": _show,
        "plot": _plot,
        "list": _list,
        "ls": _ls,
        "compare": _compare,
        "report": _report,
        "export": _export,
        "demo": _demo,
        "seeds": _seeds,
    }
    return build_parser(handlers)


def _overrides(args: argparse.Namespace) -> list[str]:
    """``--set`` values, then bare ``KEY=VALUE`` arguments (as Hydra users type them)."""
    bare = list(getattr(args, "overrides", []))
    wrong = [text for text in bare if "=" not in text]
    if wrong:
        raise _BadInput(f"{wrong[0]!r}: expected KEY=VALUE after the config, e.g. train.steps=5")
    return [*args.set, *bare, *(_sweep_override(text) for text in getattr(args, "sweep", []))]


def _sweep_override(text: str) -> str:
    """``-m KEY=v1,v2`` as ``sweep.KEY=[v1, v2]``; ``KEY=logspace(a,b,n)`` as
    ``sweep.KEY={logspace: [a, b, n]}`` (and ``linspace``)."""
    key, _, values = text.partition("=")
    if not key.strip() or not values.strip():
        raise _BadInput(
            f"--sweep {text!r}: expected KEY=v1,v2,... or KEY='logspace(a,b,n)', "
            "e.g. -m train.optimizer.learning_rate=0.1,0.5,1"
        )
    space = re.fullmatch(r"\s*(linspace|logspace)\((.*)\)\s*", values)
    if space:
        return f"sweep.{key.strip()}={{{space[1]}: [{space[2]}]}}"
    return f"sweep.{key.strip()}=[{values}]"


def _runner():
    from experiments.pipeline import (
        run as runner,  # imported when needed: it loads jax and matplotlib
    )
    from experiments.pipeline.cache import enable_compilation_cache

    enable_compilation_cache()  # a second run of the same programs skips XLA's compilation
    return runner


def _log(quiet: bool) -> Callable[[str], None] | None:
    return None if quiet else lambda line: print(line, file=sys.stderr)


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    hosts = distributed_settings(args.coordinator, args.num_processes, args.process_id)
    if args.mlflow:
        from experiments.tools.tracking import require_mlflow

        require_mlflow()  # before anything runs
    config = load_config(args.config, _overrides(args))
    run_dir = _runner().run(
        config,
        args.config.parent,
        overrides=_overrides(args),
        out=args.out,
        force=args.force,
        progress=not args.quiet and sys.stderr.isatty(),
        log=_log(args.quiet),
        status=_log(args.quiet),
        hosts=hosts,
        manifest=_command_record(argv, args.config),
    )
    if run_dir is not None:
        print(run_dir)
        if args.mlflow:
            _export_to(run_dir, args.mlflow, retry=True)
    return EXIT_OK


def _export(args: argparse.Namespace, argv: Sequence[str]) -> int:
    _export_to(args.run_dir, args.mlflow)
    return EXIT_OK


def _export_to(run_dir: Path, uri: str, retry: bool = False) -> None:
    from experiments.tools.tracking import export_mlflow

    try:
        ids = export_mlflow(run_dir, uri)
    except ExportError as error:
        hint = f"; the run is complete: retry with infolab export {run_dir} --mlflow URI"
        raise ExportError(f"{error}{hint if retry else ''}") from None
    print(f"mlflow: {uri}: run {ids[0]} with {len(ids) - 1} member run(s)")


def _report(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from experiments.tools.report import write_report

    page = write_report(args.runs, args.out)
    print(f"{page}\n{page.with_suffix('.md')}")
    return EXIT_OK


def _command_record(argv: Sequence[str], config: Path) -> dict[str, object]:
    return {"command": ["python", "-m", "experiments", *argv], "config_file": str(config)}


def _validate(args: argparse.Namespace, argv: Sequence[str]) -> int:
    config = load_config(args.config, _overrides(args))
    _runner()  # the compilation cache, before anything compiles
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


def _demo(args: argparse.Namespace, argv: Sequence[str]) -> int:
    return _run_shipped(DEMO_CONFIGS, args, argv)


def _seeds(args: argparse.Namespace, argv: Sequence[str]) -> int:
    return _run_shipped(SEED_CONFIGS, args, argv)


def _run_shipped(names: Sequence[str], args: argparse.Namespace, argv: Sequence[str]) -> int:
    folder = configs_folder()
    for name in names:
        run_dir = _runner().run(
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
    from experiments.tools.catalog import ls_lines

    if not args.folder.is_dir():
        raise _BadInput(f"DIR: {args.folder} is not a folder")
    print("\n".join(ls_lines(args.folder, _relative)))
    return EXIT_OK


def _compare(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from experiments.tools.catalog import compare_lines

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


def configs_folder() -> Path:
    """The shipped configs: ``configs/`` beside the package in a source checkout, else
    where ``pip install`` put them (``<prefix>/share/infolab/configs``)."""
    beside = Path(__file__).resolve().parent.parent / "configs"
    installed = Path(sys.prefix) / "share" / "infolab" / "configs"
    return next((p for p in (beside, installed) if p.is_dir()), Path("configs"))
