"""The command line, ``infolab COMMAND`` (``python -m experiments``): it parses arguments,
calls the pipeline (:mod:`experiments.pipeline.run`) and prints. ``dispatch`` holds
:func:`main` and the table of subcommands; ``options`` what they share; one module a group
of commands: ``configs`` (run, launch, validate, show), ``runs`` (plot, ls, compare,
report, export), ``shipped`` (list, init, demo, seeds), ``store`` (status, store gc).

Exit codes:

- 0: success;
- 2: bad input (a config, an override, a data file, the output folder, a damaged run
  folder for ``plot``), reported on stderr as one line per problem, each naming what to
  fix, without a traceback and before anything is written;
- 3: the run is complete but a figure failed (recorded in its manifest; ``plot`` retries);
- 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP): interrupted; no partial run folder is left;
- 1: anything else; a run folder that cannot be written (a full disk, ...) is reported in
  one line, without a traceback, and nothing half-written is left.
"""

from experiments.cli.dispatch import build_parser as build_parser
from experiments.cli.dispatch import main as main
from experiments.cli.dispatch import version as version

__all__ = ["build_parser", "main", "version"]
