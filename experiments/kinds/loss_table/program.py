"""The loss table's :class:`~experiments.contract.Program`: no training, one evaluation.

The config's tables are the run's data (shared by the members on it); the member function
computes every loss and measure once (:mod:`experiments.kinds.loss_table.losses`), and the
outcome holds them, nested by name, in ``params`` (the layout is the package docstring's).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

from experiments.contract import Outcome, Program
from experiments.kinds.loss_table import losses
from experiments.kinds.loss_table.schema import TableRun
from experiments.kinds.loss_table.table import lines, units
from experiments.pipeline.hashing import data_sha256

__all__ = ["PROGRAM", "TableKey", "Tables"]

LOSSES = ("error", "squared_error", "cross_entropy")
_TABLES = {"targets", "predictions", "distributions", "pairs"}
PAIR_MEASURES = (
    "cross_entropy",
    "reverse_cross_entropy",
    "kl_divergence",
    "reverse_kl_divergence",
)


@dataclasses.dataclass(frozen=True, eq=False)
class Tables:
    """A run's tables as arrays: ``predictions`` ``(S, n, C)`` against ``targets`` ``(n, C)``,
    ``distributions`` ``(D, K)`` zero-padded to the longest; absent parts are None."""

    targets: np.ndarray | None
    predictions: np.ndarray | None
    set_names: tuple[str, ...]
    distributions: np.ndarray | None
    distribution_names: tuple[str, ...]
    lengths: tuple[int, ...]
    pairs: tuple[tuple[str, str], ...]
    sha256: str


@dataclasses.dataclass(frozen=True)
class TableKey:
    """What the compiled program depends on: the base, the names and the shapes."""

    base: float | None
    set_names: tuple[str, ...]
    scored_shape: tuple[int, ...] | None
    distribution_names: tuple[str, ...]
    measured_shape: tuple[int, ...] | None
    pairs: tuple[tuple[int, int], ...]


def _tables(spec: TableRun) -> Tables:
    targets = predictions = distributions = None
    if spec.predictions is not None:
        targets = np.asarray(spec.targets, np.float32)
        predictions = np.stack([np.asarray(v, np.float32) for v in spec.predictions.values()])
    if spec.distributions is not None:
        width = max(len(row) for row in spec.distributions.values())
        distributions = np.zeros((len(spec.distributions), width), np.float32)
        for index, row in enumerate(spec.distributions.values()):
            distributions[index, : len(row)] = row
    text = json.dumps(spec.model_dump(mode="json", include=_TABLES), sort_keys=True)
    return Tables(
        targets,
        predictions,
        tuple(spec.predictions or ()),
        distributions,
        tuple(spec.distributions or ()),
        tuple(len(row) for row in (spec.distributions or {}).values()),
        tuple(spec.pairs),
        data_sha256(text),
    )


class TableProgram(Program):
    """Scores fixed predictions and measures fixed distributions, in one evaluation."""

    def data_key(self, spec: TableRun) -> str:
        return spec.model_dump_json(include=_TABLES)

    def load_data(self, spec: TableRun, base_dir: Any) -> Tables:
        return _tables(spec)

    def check(self, spec: TableRun, data: Tables) -> list[str]:
        return []  # the schema has checked everything

    def describe(self, spec: TableRun, data: Tables) -> str:
        return f"{_description(data)}, in {units(spec.base)}"

    def program_key(self, spec: TableRun, data: Tables) -> TableKey:
        index = {name: i for i, name in enumerate(data.distribution_names)}
        return TableKey(
            spec.base,
            data.set_names,
            None if data.predictions is None else data.predictions.shape,
            data.distribution_names,
            None if data.distributions is None else data.distributions.shape,
            tuple((index[p], index[q]) for p, q in data.pairs),
        )

    def arrays(self, data: Tables) -> tuple[np.ndarray, ...]:
        parts = (data.targets, data.predictions, data.distributions)
        return tuple(array for array in parts if array is not None)

    def member_fn(self, key: TableKey, progress: Callable | None) -> Callable[..., Any]:
        def evaluate(hyper: dict, prng_key: Any, *arrays: Any) -> dict[str, Any]:
            del hyper, prng_key  # nothing is drawn or tuned
            out, rest = {}, list(arrays)
            if key.scored_shape is not None:
                targets, predictions = rest.pop(0), rest.pop(0)
                scored = losses.score_predictions(targets, predictions, base=key.base)
                means = {f"mean_{loss}": jnp.mean(v, axis=-1) for loss, v in scored.items()}
                out["scored"] = {**scored, **means}
            if key.measured_shape is not None:
                measured = losses.measure_distributions(rest.pop(0), key.pairs, base=key.base)
                out["measured"] = measured
            return out

        return evaluate

    def member_bytes(self, key: TableKey, data: Tables) -> int:
        sizes = [math.prod(s) for s in (key.scored_shape, key.measured_shape) if s is not None]
        return 4 * 8 * (sum(sizes) + 1)

    def outcome(self, key: TableKey, output: Any) -> Outcome:
        params: dict[str, Any] = {"base": np.float64(math.e if key.base is None else key.base)}
        if "scored" in output:
            params["predictions"] = _scored_params(key.set_names, output["scored"])
        if "measured" in output:
            params.update(_measured_params(key, output["measured"]))
        return Outcome("ok", None, np.arange(0), {}, params)

    def data_entry(self, data: Tables) -> dict[str, Any]:
        """The description, the hash and the tables, in the config's order (lists)."""
        entry: dict[str, Any] = {"description": _description(data), "sha256": data.sha256}
        if data.predictions is not None:
            entry["targets"] = data.targets.tolist()
            entry["predictions"] = [
                {"name": name, "rows": rows}
                for name, rows in zip(data.set_names, data.predictions.tolist(), strict=True)
            ]
        if data.distributions is not None:
            rows = data.distributions.tolist()
            entry["distributions"] = [
                {"name": name, "probabilities": rows[index][:length]}
                for index, (name, length) in enumerate(
                    zip(data.distribution_names, data.lengths, strict=True)
                )
            ]
            entry["pairs"] = [list(pair) for pair in data.pairs]
        return entry

    def headline(self, outcome: Outcome) -> str:
        parts = [
            f"{name} ce {float(scores['cross_entropy']):.4g}"
            for name, scores in outcome.params.get("predictions", {}).items()
        ]
        if "distributions" in outcome.params:
            count = len(outcome.params["distributions"])
            parts.append(f"{count} entropies, {len(outcome.params['pairs'])} pair(s)")
        return f"in {units(float(outcome.params['base']))}: " + ", ".join(parts)

    def details(self, outcome: Outcome) -> list[str]:
        """The table, for the terminal: a row per set, distribution and pair."""
        return lines(outcome.params)


def _scored_params(names: tuple[str, ...], scored: dict[str, np.ndarray]) -> dict[str, Any]:
    sets = {}
    for index, name in enumerate(names):
        means = {loss: np.float64(scored[f"mean_{loss}"][index]) for loss in LOSSES}
        per_sample = {loss: np.asarray(scored[loss][index], np.float64) for loss in LOSSES}
        sets[name] = {**means, "per_sample": per_sample}
    return sets


def _measured_params(key: TableKey, measured: dict[str, np.ndarray]) -> dict[str, Any]:
    entropy = np.asarray(measured["entropy"], np.float64)
    distributions = {n: {"entropy": entropy[i]} for i, n in enumerate(key.distribution_names)}
    pairs = {}
    for index, (i, j) in enumerate(key.pairs):
        label = f"{key.distribution_names[i]}||{key.distribution_names[j]}"
        pairs[label] = {m: np.float64(measured[m][index]) for m in PAIR_MEASURES}
    return {"distributions": distributions, "pairs": pairs}


def _description(data: Tables) -> str:
    parts = []
    if data.predictions is not None:
        sets, n, classes = data.predictions.shape
        parts.append(f"{sets} prediction set(s) on {n} sample(s) of {classes} classes")
    if data.distributions is not None:
        parts.append(f"{len(data.distribution_names)} distribution(s), {len(data.pairs)} pair(s)")
    return "; ".join(parts)


PROGRAM = TableProgram()
