"""The max_entropy kind's :class:`~experiments.contract.Program`: the support is the data, the
constraint values are traced, the solver is :mod:`experiments.kinds.max_entropy.solve`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from experiments.contract import Outcome, Program
from experiments.kinds.max_entropy import solve
from experiments.kinds.max_entropy.metrics import METRICS
from experiments.kinds.max_entropy.schema import CONSTRAINTS, RunSpec
from experiments.pipeline import loop
from experiments.pipeline.hashing import data_sha256
from experiments.pipeline.optimizer import optimizer_hyperparameters

__all__ = ["PROGRAM", "ProgramKey", "Support"]


@dataclasses.dataclass(frozen=True, eq=False)
class Support:
    """The points of a run's support (float64 as given) and their hash."""

    points: np.ndarray
    sha256: str


class ProgramKey(NamedTuple):
    static: solve.SolveStatic
    n_points: int


class MaxEntropyProgram(Program):
    """The maximum-entropy distribution on a support under moment constraints."""

    def data_key(self, spec: RunSpec) -> tuple[float, ...]:
        return tuple(spec.support)

    def load_data(self, spec: RunSpec, base_dir: Path) -> Support:
        del base_dir
        points = np.asarray(spec.support, np.float64)
        return Support(points, data_sha256(points.astype(np.float32)))

    def check(self, spec: RunSpec, data: Support) -> list[str]:
        return []  # the schema checks feasibility

    def describe(self, spec: RunSpec, data: Support) -> str:
        given = ", ".join(
            f"{name} {getattr(spec.constraints, name):g}" for name in spec.constraints.active
        )
        return (
            f"max entropy on {len(data.points)} points, {given or 'no constraint'}; "
            f"{spec.train.optimizer.name}, {spec.train.steps} steps"
        )

    def program_key(self, spec: RunSpec, data: Support) -> ProgramKey:
        static = solve.SolveStatic(
            optimizer=spec.train.optimizer.name,
            steps=spec.train.steps,
            log_every=spec.train.log_every,
        )
        return ProgramKey(static, len(data.points))

    def hyperparameters(self, spec: RunSpec) -> dict[str, np.ndarray]:
        """The constraint values (neutral where not given), 1/0 for each used or not, and
        the learning rate."""
        c = spec.constraints
        values = {
            **{f"use_{name}": float(getattr(c, name) is not None) for name in CONSTRAINTS},
            "mean": c.mean if c.mean is not None else 0.0,
            "variance": c.variance if c.variance is not None else 1.0,
            "mean_abs_deviation": c.mean_abs_deviation if c.mean_abs_deviation is not None else 1.0,
            "centre": c.centre if c.centre is not None else (c.mean or 0.0),
            # Neither set: the mean absolute deviation is measured about p's own mean.
            "centre_given": float(c.centre is not None or c.mean is not None),
        }
        hyper = {name: np.float32(value) for name, value in values.items()}
        return {**hyper, **optimizer_hyperparameters(spec.train.optimizer)}

    def arrays(self, data: Support) -> tuple[np.ndarray, ...]:
        return (np.asarray(data.points, np.float32),)

    def member_fn(self, key: ProgramKey, progress: Callable | None) -> Callable[..., Any]:
        return solve.make_run_fn(dataclasses.replace(key.static, progress=progress))

    def steps(self, key: ProgramKey) -> int:
        return key.static.steps

    def member_bytes(self, key: ProgramKey, data: Support) -> int:
        n_logs = len(loop.logged_steps(key.static.steps, key.static.log_every))
        return 4 * (40 * key.n_points + len(METRICS) * n_logs + 256)

    def outcome(self, key: ProgramKey, output: Any) -> Outcome:
        return solve.to_outcome(key.static, output)

    def data_entry(self, data: Support) -> dict[str, Any]:
        return {
            "description": f"support of {len(data.points)} points",
            "sha256": data.sha256,
            "support": data.points.tolist(),
        }

    def headline(self, outcome: Outcome) -> str:
        metrics = outcome.history["train"]
        status = outcome.status
        if outcome.diverged_at is not None:
            status = f"diverged at {outcome.diverged_at}"
        return (
            f"{status}, entropy {metrics['entropy'][-1]:.6g} nats, constraint error "
            f"{metrics['constraint_error'][-1]:.2g}, mean {metrics['mean'][-1]:.6g}, "
            f"variance {metrics['variance'][-1]:.6g}"
        )


PROGRAM = MaxEntropyProgram()
