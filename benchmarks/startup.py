"""Start-up: the demo command cold and warm, with JAX's persistent compilation cache.

    python -m benchmarks.startup [--quick] [--out DIR]

Runs the command line in fresh processes, each in an empty working folder (the run folders
go there), and times each from start to exit:

- ``off``: ``INFOLAB_JAX_CACHE=off``, every process compiles everything;
- ``cold``: an empty cache folder (``INFOLAB_JAX_CACHE=<new folder>``): compiles and fills it;
- ``warm``: the folder the cold run filled: compiled programs are read from it;
- ``imports``: the floor no cache can lower, a process that imports what the command
  imports (jax, the trainer, scikit-learn's data sets, matplotlib) and starts the device.

Two commands are timed: ``python -m experiments demo --quiet`` (two configs, six variants of
2,000 steps, figures in PNG and PDF), and the same two configs run in one process with
``--set output.formats=[]`` (no figures: what compilation is a part of). Both go through
:func:`experiments.pipeline.cache.enable_compilation_cache` and :func:`experiments.cli.main`,
so that the cache is on whether or not the CLI turns it on itself. ``--quick`` times one variant of
one config for 20 steps, without figures and without the ``off`` process, instead.
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import _common

NAME = "startup"
GOAL = 0.5  # warm at most half of cold

# Runs `python -m experiments ARGS` for each argument list given as a Python literal, in one
# process, with the compilation cache on.
PROGRAM = (
    "import ast, sys\n"
    "from experiments.pipeline.cache import enable_compilation_cache\n"
    "enable_compilation_cache()\n"
    "from experiments.cli import main\n"
    "for args in ast.literal_eval(sys.argv[1]):\n"
    "    if main(args):\n"
    "        sys.exit(1)\n"
)
IMPORTS = (
    "import jax, matplotlib.pyplot, sklearn.datasets\n"
    "import experiments.cli, experiments.pipeline.run, experiments.kinds.classifier.program\n"
    "jax.devices()\n"
)
CONFIGS = _common.REPO / "configs"
NO_FIGURES = ("--set", "output.formats=[]", "--quiet")
COMMANDS = {
    "demo": [["demo", "--quiet"]],
    "demo without figures": [
        ["run", str(CONFIGS / "mse_vs_ce.yaml"), *NO_FIGURES],
        ["run", str(CONFIGS / "mle_vs_map.yaml"), *NO_FIGURES],
    ],
}
QUICK_COMMANDS = {
    "one variant, 20 steps": [
        [
            "run",
            str(CONFIGS / "mle_vs_map.yaml"),
            "--set",
            "variants=[{name: mle}]",
            "--set",
            "train.steps=20",
            *NO_FIGURES,
        ]
    ],
}


def shown(arg_lists: list[list[str]]) -> str:
    """The command lines, as typed from the repository root."""
    return "; ".join(
        shlex.join(
            ["python", "-m", "experiments", *(a.replace(f"{CONFIGS}/", "configs/") for a in args)]
        )
        for args in arg_lists
    )


def time_process(command: Sequence[str], *, cache: str, workdir: Path) -> float:
    """Seconds from start to exit of ``command`` run in ``workdir`` with the cache setting."""
    env = {**os.environ, "INFOLAB_JAX_CACHE": cache}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return seconds


def _folder_size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def bench_command(arg_lists: list[list[str]], *, quick: bool, root: Path) -> dict[str, Any]:
    """Times one command off, cold and warm; ``repeats`` fresh caches for cold."""
    repeats = 1 if quick else 2
    command = [sys.executable, "-c", PROGRAM, repr(arg_lists)]
    times: dict[str, list[float]] = (
        {"cold": [], "warm": []}
        if quick
        else {
            "off": [],
            "cold": [],
            "warm": [],
        }
    )

    def fresh(name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))

    entries = size = 0
    for _ in range(repeats):
        if not quick:
            times["off"].append(time_process(command, cache="off", workdir=fresh("off")))
        cache = fresh("cache")
        times["cold"].append(time_process(command, cache=str(cache), workdir=fresh("cold")))
        times["warm"].append(time_process(command, cache=str(cache), workdir=fresh("warm")))
        entries, size = _folder_size(cache)
    medians = {k: statistics.median(v) for k, v in times.items()}
    return {
        "command": shown(arg_lists),
        "repeats": repeats,
        "seconds": times,
        "median_s": medians,
        "cache_entries": entries,
        "cache_bytes": size,
        "warm_over_cold": medians["warm"] / medians["cold"],
    }


def run(*, quick: bool) -> dict[str, Any]:
    """Runs the benchmark and returns its results (see the module docstring)."""
    commands = QUICK_COMMANDS if quick else COMMANDS
    with tempfile.TemporaryDirectory(prefix="infolab-startup-") as tmp:
        root = Path(tmp)
        imports = [
            time_process([sys.executable, "-c", IMPORTS], cache="off", workdir=root)
            for _ in range(1 if quick else 2)
        ]
        records = {
            name: bench_command(arg_lists, quick=quick, root=root)
            for name, arg_lists in commands.items()
        }
    judged = next(iter(records))
    ratio = records[judged]["warm_over_cold"]
    return {
        "benchmark": NAME,
        "quick": quick,
        "machine": _common.machine(),
        "imports_s": statistics.median(imports),
        "records": records,
        "goals": [
            {
                "goal": f"warm at most {GOAL:.0%} of cold",
                "where": judged,
                "figure": ratio,
                "met": ratio <= GOAL,
            }
        ],
    }


def tables(results: dict[str, Any]) -> list[str]:
    """The printed report: the machine, one table row per command, the goal."""
    rows = []
    for name, r in results["records"].items():
        m = r["median_s"]
        rows.append(
            [
                name,
                f"{m['off']:.2f}" if "off" in m else "—",
                f"{m['cold']:.2f}",
                f"{m['warm']:.2f}",
                _common.percent(r["warm_over_cold"]),
                f"{r['cache_entries']} ({r['cache_bytes'] / 2**20:.1f} MiB)",
            ]
        )
    headers = ["command", "off s", "cold s", "warm s", "warm / cold", "cache entries"]
    goal = results["goals"][0]
    commands = [f"- {name}: `{r['command']}`" for name, r in results["records"].items()]
    return [
        f"# Start-up: {_common.describe(results['machine'])}",
        "",
        *commands,
        "",
        f"Fresh processes, median of {next(iter(results['records'].values()))['repeats']} "
        f"run(s); imports alone take {results['imports_s']:.2f} s.",
        "",
        _common.markdown_table(headers, rows),
        "",
        f"Goal {goal['goal']} ({goal['where']}): {'met' if goal['met'] else 'missed'} "
        f"({_common.percent(goal['figure'])})",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    return _common.main(NAME, __doc__.splitlines()[0], run, tables, argv)


if __name__ == "__main__":
    sys.exit(main())
