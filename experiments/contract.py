"""What an experiment kind gives the shared pipeline.

A kind is a folder under ``experiments/kinds/`` that provides a :class:`Kind`: its run
schema (light: pydantic only), and where its two heavy parts are, as ``"module:NAME"``
references that :func:`load_reference` imports only when a command needs them, so that ``show``
and ``validate`` import neither jax nor matplotlib:

- :class:`Program` (jax): its data, its pure per-member function and its metrics;
- ``draw(record) -> {name: make}`` (matplotlib): the figures of a run, each a function
  that makes a ``Figure``, drawn from the run's files (a :class:`RunRecord`).

The shared machinery (variants, sweeps, seeds, sharding, chunking, run folders, manifest,
progress, ``plot``, ``show``, ``validate``) reads a kind only through these.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from experiments.config import Experiment
from experiments.config.fields import RunBase

__all__ = ["DataError", "History", "Kind", "Outcome", "Program", "RunRecord", "load_reference"]


class DataError(ValueError):
    """A run's data cannot be used: a missing or malformed file, a single class, ...

    ``problems`` holds one line per problem, each starting with the config key to fix.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One member's result on the host.

    ``steps`` are the logged steps; ``history[split][metric]`` holds each metric at each
    logged step (float64); ``params`` are the final parameters by name (arrays, or mappings
    of them, which ``summary.json`` writes as nested objects). A diverged member
    keeps what was logged before ``diverged_at`` and its last finite parameters. ``extra``
    holds further fields of the member's ``summary.json`` entry (``steps_taken``, ...).
    """

    status: Literal["ok", "diverged"]
    diverged_at: int | None
    steps: np.ndarray
    history: dict[str, dict[str, np.ndarray]]
    params: dict[str, Any]
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # more summary fields


History = dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]  # [split][metric] = (steps, values)


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """A run folder read back: what a kind's figures draw from.

    ``config`` is the run's resolved config; ``runs`` are the summary entries, each with its
    ``member`` index (its position when nothing was swept); ``data[i]`` is member i's
    ``data.json`` entry and ``history[i]`` its metrics.
    """

    path: Path
    config: Experiment
    swept: bool
    runs: list[dict[str, Any]]
    data: dict[int, dict[str, Any]]
    history: dict[int, History]

    def swept_keys(self) -> set[str]:
        return {key for run in self.runs for key in run.get("sweep", {})}


class Program:
    """A kind's computation: data, a pure vmappable member function, and its results.

    A kind subclasses this and writes the six methods that raise ``NotImplementedError``
    here; the others have defaults that a kind overrides where it has more to say.

    A *program key* is a hashable value holding everything that changes the compiled
    program (static choices and data shapes); members with equal keys on one data set are
    trained by one call of one compiled, vmapped program.
    """

    # What every kind writes.

    def data_key(self, spec: Any) -> Hashable:
        """What identifies the data set of a run: runs with equal keys share it."""
        raise NotImplementedError

    def load_data(self, spec: Any, base_dir: Path) -> Any:
        """Loads (and splits) a run's data; raises ``DataError`` naming the config key."""
        raise NotImplementedError

    def program_key(self, spec: Any, data: Any) -> Hashable:
        """The static part of a run on its data."""
        raise NotImplementedError

    def member_fn(self, key: Hashable, progress: Callable | None) -> Callable[..., Any]:
        """The pure ``f(hyper, prng_key, *arrays) -> output`` of a program key.

        ``progress``, when given, is a host function that ``f`` calls through
        ``jax.debug.callback`` with the steps it has done.
        """
        raise NotImplementedError

    def outcome(self, key: Hashable, output: Any) -> Outcome:
        """One member's output (host arrays, member axis removed) as an :class:`Outcome`."""
        raise NotImplementedError

    def data_entry(self, data: Any) -> dict[str, Any]:
        """What ``data.json`` says of a data set (``description`` and ``sha256`` at least)."""
        raise NotImplementedError

    # What a kind may refine.

    def arrays(self, data: Any) -> tuple[np.ndarray, ...]:
        """The data as the arrays the member function takes (shared by the members)."""
        return ()

    def hyperparameters(self, spec: Any) -> dict[str, np.ndarray]:
        """The traced part of a run: scalars of one structure for every run of a program
        (none: members differ only in their static choices and their seeds)."""
        return {}

    def check(self, spec: Any, data: Any) -> list[str]:
        """Problems of a run's settings with its data, one line each (empty: fine)."""
        return []

    def describe(self, spec: Any, data: Any) -> str:
        """One line about the run for ``validate``."""
        return type(spec).__name__

    def steps(self, key: Hashable) -> int:
        """Steps per member, the unit of progress (one: a program that does not iterate)."""
        return 1

    def member_bytes(self, key: Hashable, data: Any) -> int:
        """An estimate of the device memory one member needs (the data is shared): by
        default the size of the data's arrays, a floor for any member's working set."""
        return int(sum(np.asarray(array).nbytes for array in self.arrays(data)))

    def headline(self, outcome: Outcome) -> str:
        """A few words on a finished run, for the terminal."""
        return outcome.status

    def details(self, outcome: Outcome) -> list[str]:
        """Lines (a table) shown after the headline of a run that is not a sweep."""
        return []

    def group_key(self, key: Hashable, specs: Sequence[Any]) -> Hashable:
        """The program key of a group, from its members' specs (members solved together,
        such as a warm-started path, may share one program for the whole group)."""
        return key

    def group_fn(self, key: Hashable, progress: Callable | None) -> Callable[..., Any] | None:
        """``f(hyper, keys, *arrays)`` taking and returning the whole group (a leading member
        axis), in place of the vmapped member function; None: vmap :meth:`member_fn`."""
        return None


@dataclasses.dataclass(frozen=True)
class Kind:
    """An experiment kind, registered in :data:`experiments.kinds.KINDS`.

    Attributes:
        name: the value of a config's ``kind:``.
        spec: the schema of one run (a :class:`~experiments.config.fields.RunBase` subclass);
            its fields other than ``name`` are what a variant may change.
        metrics: the metric names, in the order tables list them.
        count_metrics: those that are counts (written as integers).
        headline_metric: the metric a sweep's best member is chosen by (on the test split
            where there is one, by its cross-validation mean where a member has a ``cv``
            entry), recorded in ``summary.json``; None: none is chosen.
        precisions: the values of ``precision`` the kind computes in: ``float64`` only
            where its code is dtype-generic (the dtype of every value follows the data's).
        higher_is_better: the metrics for which more is better (``accuracy``); the rest
            are losses, where less is.
        path_keys: dotted keys of a run that hold file paths relative to the config file;
            a run folder's ``config.yaml`` holds them absolute, so it reruns from anywhere.
        program: where the kind's :class:`Program` is, ``"module:NAME"`` (its module
            imports jax); :meth:`load_program` imports it.
        figures: where its ``draw(record) -> {name: make}`` is, ``"module:NAME"`` (its
            module imports matplotlib); :meth:`load_figures` imports it. ``record`` is the
            :class:`RunRecord` of a run folder, ``make()`` returns
            a ``matplotlib.figure.Figure`` (use :func:`experiments.figures.canvas.new_figure`);
            the pipeline saves it in every format of ``output.formats``.
    """

    name: str
    spec: type[RunBase]
    metrics: tuple[str, ...]
    program: str
    figures: str
    count_metrics: frozenset[str] = frozenset()
    path_keys: tuple[str, ...] = ()
    higher_is_better: frozenset[str] = frozenset()
    precisions: tuple[str, ...] = ("float32",)
    headline_metric: str | None = None

    @property
    def run_keys(self) -> tuple[str, ...]:
        """The keys of a run that the experiment's base and its variants set."""
        return tuple(key for key in self.spec.model_fields if key != "name")

    def load_program(self) -> Program:
        """The kind's :class:`Program` (imports its module, and so jax, on first use)."""
        return load_reference(self.program)

    def load_figures(self) -> Callable[[Any], Mapping[str, Callable[[], Any]]]:
        """The kind's ``draw(record)`` (imports its module, and so matplotlib)."""
        return load_reference(self.figures)


def load_reference(reference: str) -> Any:
    """The object a ``"package.module:NAME"`` reference names, its module imported.

    This is how a kind's heavy parts are loaded only when a command needs them.

    Args:
        reference: a module's dotted name and an attribute of it, joined by ``:``.

    Returns:
        The attribute.

    Example:
        >>> load_reference("experiments.contract:Kind").__name__
        'Kind'
    """
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)
