"""The timing harness shared by the benchmarks.

- :func:`measure` times a callable the way every benchmark here does: a first call (tracing
  and compilation included, reported separately as ``compile_s``), one warm-up call, then the
  median of repeats, each ended by ``jax.block_until_ready``.
- :func:`copy_bandwidth` measures the device's copy bandwidth in the same process.
- :func:`machine` describes the machine, the devices and the library versions.
- :func:`write_json` writes a benchmark's results to ``results/benchmarks/``.
- :func:`markdown_table` prints rows as a Markdown table (as pasted into BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "results" / "benchmarks"
PACKAGES = ("jax", "jaxlib", "optax", "numpy", "scipy", "scikit-learn", "torch")


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Timing:
    """One measurement, in seconds.

    ``first_call_s`` is the first call (tracing, compilation and one run); ``compile_s`` is
    that minus the median run, the cost a user pays once per shape. ``median_s`` and
    ``min_s`` are over ``repeats`` calls made after one warm-up call.
    """

    median_s: float
    min_s: float
    repeats: int
    first_call_s: float

    @property
    def compile_s(self) -> float:
        return max(self.first_call_s - self.median_s, 0.0)

    def as_dict(self) -> dict[str, float | int]:
        return {
            "median_s": self.median_s,
            "min_s": self.min_s,
            "repeats": self.repeats,
            "first_call_s": self.first_call_s,
            "compile_s": self.compile_s,
        }


def _timed(fn: Callable[..., Any], args: Sequence[Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return time.perf_counter() - start, out


def measure(
    fn: Callable[..., Any],
    *args: Any,
    repeats: int | None = None,
    warmup: bool = True,
    budget_s: float = 0.5,
    min_repeats: int = 3,
    max_repeats: int = 50,
) -> tuple[Timing, Any]:
    """Times ``fn(*args)``; returns the timing and the first call's output.

    Args:
        fn: a callable whose output (any pytree) ``jax.block_until_ready`` can wait for;
            outputs that are not JAX arrays (numpy, torch on the CPU) are ready when returned.
        args: its arguments, already on the device.
        repeats: the number of timed calls; by default as many as fit in ``budget_s``
            (judged from the warm-up call), clipped to [min_repeats, max_repeats].
        warmup: make one untimed call between the first call and the timed ones (for
            calls of seconds, where the first call is warm-up enough, pass False).
        budget_s: the time the timed calls may take, when ``repeats`` is None.
        min_repeats: the fewest timed calls.
        max_repeats: the most timed calls.
    """
    first_s, out = _timed(fn, args)
    warm_s = _timed(fn, args)[0] if warmup or repeats is None else 0.0
    if repeats is None:
        repeats = int(min(max(budget_s / max(warm_s, 1e-9), min_repeats), max_repeats))
    times = [_timed(fn, args)[0] for _ in range(repeats)]
    timing = Timing(statistics.median(times), min(times), repeats, first_s)
    return timing, out


def measure_interleaved(
    calls: dict[str, tuple[Callable[..., Any], Sequence[Any]]],
    *,
    budget_s: float = 0.5,
    rounds: int = 5,
) -> tuple[dict[str, Timing], dict[str, Any]]:
    """Times several contenders in interleaved rounds; returns their timings and outputs.

    Each contender is called once (tracing and compilation: ``first_call_s``) and once more
    (warm-up, which sets how many calls of it fit in a round); then, ``rounds`` times, each
    contender in turn makes its share of ``budget_s``. The median is over every timed call.
    Interleaving spreads slow drifts of the machine (other tenants, frequency, the memory
    allocator's state) over all contenders alike, so their ratios mean something on a noisy
    machine.

    Args:
        calls: contender name -> (callable, its arguments, already on the device).
        budget_s: the time each contender's timed calls may take, in all.
        rounds: the number of rounds; each contender makes at least one call per round.
    """
    first, outputs, per_round, times = {}, {}, {}, {}
    for name, (fn, args) in calls.items():
        first[name], outputs[name] = _timed(fn, args)
    for name, (fn, args) in calls.items():
        warm_s = _timed(fn, args)[0]
        per_round[name] = max(1, round(budget_s / rounds / max(warm_s, 1e-9)))
        times[name] = []
    for _ in range(rounds):
        for name, (fn, args) in calls.items():
            times[name].extend(_timed(fn, args)[0] for _ in range(per_round[name]))
    timings = {
        name: Timing(statistics.median(t), min(t), len(t), first[name]) for name, t in times.items()
    }
    return timings, outputs


# ---------------------------------------------------------------------------
# The hardware's limit
# ---------------------------------------------------------------------------


def copy_bandwidth(n_bytes: int, *, budget_s: float = 0.5) -> dict[str, Any]:
    """Measured copy bandwidth of the default device, in bytes per second (read + write).

    The device copy is a jitted ``jnp.copy`` of a float32 array of ``n_bytes`` (XLA emits a
    ``copy`` into a freshly allocated buffer). On a CPU the host's memcpy into a buffer
    allocated and touched beforehand (``np.copyto``) is timed too: XLA's CPU runtime pays
    for page faults on every fresh output buffer, and the faster of the two is the limit.

    Returns:
        ``{"bytes": n, "device_copy_bytes_per_s": ..., "host_copy_bytes_per_s": ... or None,
        "limit_bytes_per_s": the larger}``.
    """
    n = n_bytes // 4
    x = jnp.arange(n, dtype=jnp.float32)
    device_copy = jax.jit(jnp.copy)
    timing, _ = measure(device_copy, x, budget_s=budget_s)
    device_rate = 2 * 4 * n / timing.median_s
    host_rate = None
    if jax.default_backend() == "cpu":
        source = np.arange(n, dtype=np.float32)
        target = np.zeros_like(source)
        host_timing, _ = measure(np.copyto, target, source, budget_s=budget_s)
        host_rate = 2 * 4 * n / host_timing.median_s
    return {
        "bytes": 4 * n,
        "device_copy_bytes_per_s": device_rate,
        "host_copy_bytes_per_s": host_rate,
        "limit_bytes_per_s": max(device_rate, host_rate or 0.0),
    }


# ---------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def machine() -> dict[str, Any]:
    """The machine, the JAX devices, the versions of the libraries compared, and the load."""
    device = jax.devices()[0]
    memory = None
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "time_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_bytes": memory,
        "python": platform.python_version(),
        "backend": jax.default_backend(),
        "device_kind": device.device_kind,
        "devices": [str(d) for d in jax.devices()],
        "versions": {package: _version(package) for package in PACKAGES},
        "git_commit": _git("rev-parse", "HEAD"),
        "git_uncommitted_changes": bool(_git("status", "--porcelain", "--untracked-files=no")),
        # Other processes on the machine: timings are only as quiet as this.
        "load_average_1_5_15_min": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def describe(info: dict[str, Any]) -> str:
    """One line naming the machine, for the top of a printed table."""
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v is not None)
    return (
        f"{info['device_kind']} ({info['backend']}, {len(info['devices'])} device(s)); "
        f"{info['cpu']}, {info['cpu_count']} CPU cores; {versions}"
    )


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def arguments(
    description: str,
    argv: Sequence[str] | None,
    *,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """The options every benchmark takes, ``--quick`` and ``--out DIR``, and its own."""
    parser = argparse.ArgumentParser(description=description)
    if extra is not None:
        extra(parser)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: seconds, to check it runs"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        metavar="DIR",
        help=f"the folder for the JSON results (default: {RESULTS.relative_to(REPO)})",
    )
    return parser.parse_args(argv)


def _plain(value: Any) -> Any:
    """JSON cannot hold inf or NaN: they are written as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def write_json(name: str, payload: dict[str, Any], out: Path, *, quick: bool) -> Path:
    """Writes ``<out>/<name>.json`` (``<name>-quick.json`` for a quick run) and returns it."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}{'-quick' if quick else ''}.json"
    path.write_text(json.dumps(_plain(payload), indent=2) + "\n")
    return path


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table with padded columns; numbers already formatted by the caller."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def ms(seconds: float | None) -> str:
    """Seconds as milliseconds with three significant figures; '—' for none."""
    if seconds is None:
        return "—"
    value = 1e3 * seconds
    return f"{value:.3g}" if value < 1000 else f"{value:.0f}"


def ratio(value: float | None) -> str:
    """A ratio as '1.23×'; '—' for none."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.3g}×" if value < 100 else f"{value:.0f}×"


def percent(value: float | None) -> str:
    """A fraction as a percentage; '—' for none."""
    return "—" if value is None else f"{100 * value:.1f}%"


def report(lines: Sequence[str]) -> None:
    """Prints the report (tables and notes) to stdout and flushes it."""
    print("\n".join(lines))
    sys.stdout.flush()


def main(
    name: str,
    description: str,
    run: Callable[..., dict[str, Any]],
    tables: Callable[[dict[str, Any]], list[str]],
    argv: Sequence[str] | None,
) -> int:
    """A benchmark's command line: parse, run, write the JSON, print the tables."""
    args = arguments(description, argv)
    results = run(quick=args.quick)
    path = write_json(name, results, args.out, quick=args.quick)
    report([*tables(results), "", f"Written: {path}"])
    return 0
