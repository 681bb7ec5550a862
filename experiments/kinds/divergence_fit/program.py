"""The divergence_fit kind's :class:`~experiments.contract.Program`: a target on its grid, and
q fitted by the pure run function of :mod:`experiments.kinds.divergence_fit.train`."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from experiments.contract import Outcome, Program
from experiments.kinds.divergence_fit import grid, train
from experiments.kinds.divergence_fit.families import init_hyperparameters
from experiments.kinds.divergence_fit.metrics import METRICS
from experiments.kinds.divergence_fit.schema import GaussianFit, RunSpec
from experiments.pipeline import loop
from experiments.pipeline.optimizer import optimizer_hyperparameters

__all__ = ["MASS_TOLERANCE", "PROGRAM", "ProgramKey"]

MASS_TOLERANCE = 1e-6  # the grid must hold all but this much of p's and the initial q's mass


class ProgramKey(NamedTuple):
    """What changes the compiled program: the static choices and the grid's shape."""

    static: train.RunStatic
    grid_shape: tuple[int, ...]


class DivergenceFitProgram(Program):
    """q fitted to p by gradient descent on a divergence summed over a fixed grid."""

    def data_key(self, spec: RunSpec) -> tuple[str, str]:
        return spec.target.model_dump_json(), spec.quadrature.model_dump_json()

    def load_data(self, spec: RunSpec, base_dir: Path) -> grid.Quadrature:
        del base_dir
        return grid.quadrature(spec.target, spec.quadrature)

    def check(self, spec: RunSpec, data: grid.Quadrature) -> list[str]:
        """The grid must hold (nearly) all of p's mass and of the initial q's."""
        if spec.target.family == "discrete":
            return []
        with np.errstate(over="ignore", invalid="ignore"):
            reach = float(np.max(np.abs(data.points)))
            stored = np.all(np.isfinite(data.points.astype(np.float32)))
        if not (stored and math.isfinite(data.log_cell)):
            return [
                f"target: its grid (the mixture's mean ± quadrature.width standard deviations) "
                f"reaches {reach:g}, beyond float32's range (±3.4e38); bring target.means "
                "and the spreads closer to 0"
            ]
        problems = []
        mass = grid.grid_mass(data.log_target, data.log_cell)
        if abs(mass - 1.0) > MASS_TOLERANCE:
            problems.append(
                f"quadrature: the grid sums the target's density to {mass:.8g}, not 1; "
                "raise quadrature.points (finer) or quadrature.width (wider)"
            )
        if isinstance(spec.fit, GaussianFit):
            hyper = init_hyperparameters(spec.fit, len(data.points))
            mean = np.asarray(hyper["init_mean"], np.float64)
            covariance = np.asarray(hyper["init_covariance"], np.float64)
            try:
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    log_q = grid.gaussian_log_density(data.points, mean, covariance)
            except np.linalg.LinAlgError:  # positive definite as written, not once stored
                return [
                    *problems,
                    f"fit: the initial q's covariance {covariance.tolist()} is not positive "
                    "definite in float32, as the device holds it (a tiny fit.std, "
                    "or a correlation too close to ±1); widen it",
                ]
            mass = grid.grid_mass(log_q, data.log_cell)
            if abs(mass - 1.0) > MASS_TOLERANCE:
                problems.append(
                    f"fit: the initial q has {mass:.6g} of its mass on the grid, not 1; move "
                    "fit.mean inside it, or widen it (quadrature.width)"
                )
        return problems

    def describe(self, spec: RunSpec, data: grid.Quadrature) -> str:
        opt = spec.train.optimizer
        return (
            f"{spec.train.divergence} by {opt.name} (lr {opt.learning_rate}), "
            f"{spec.train.steps} steps, {spec.fit.family} q, {data.description}"
        )

    def program_key(self, spec: RunSpec, data: grid.Quadrature) -> ProgramKey:
        static = train.RunStatic(
            divergence=spec.train.divergence,
            family=spec.fit.family,
            optimizer=spec.train.optimizer.name,
            steps=spec.train.steps,
            log_every=spec.train.log_every,
        )
        return ProgramKey(static, data.points.shape)

    def hyperparameters(self, spec: RunSpec) -> dict[str, np.ndarray]:
        hyper = optimizer_hyperparameters(spec.train.optimizer)
        n_points = len(getattr(spec.target, "probabilities", ()))
        return {**hyper, **init_hyperparameters(spec.fit, n_points)}

    def arrays(self, data: grid.Quadrature) -> tuple[np.ndarray, ...]:
        return (
            np.asarray(data.points, np.float32),
            np.asarray(data.log_target, np.float32),
            np.asarray([data.log_cell], np.float32),
        )

    def member_fn(self, key: ProgramKey, progress: Callable | None) -> Callable[..., Any]:
        return train.make_run_fn(dataclasses.replace(key.static, progress=progress))

    def steps(self, key: ProgramKey) -> int:
        return key.static.steps

    def member_bytes(self, key: ProgramKey, data: grid.Quadrature) -> int:
        """About a dozen float32 values per grid point (q's logits, its softmax and their
        gradients, the divergence's terms) and the metric history."""
        n_points = key.grid_shape[0]
        n_logs = len(loop.logged_steps(key.static.steps, key.static.log_every))
        return 4 * (12 * n_points + len(METRICS) * n_logs + 64)

    def outcome(self, key: ProgramKey, output: Any) -> Outcome:
        return train.to_outcome(key.static, output)

    def data_entry(self, data: grid.Quadrature) -> dict[str, Any]:
        return {
            "description": data.description,
            "sha256": data.sha256,
            "target": data.target,
            "grid": {
                "lower": [float(axis[0]) for axis in data.axes],
                "upper": [float(axis[-1]) for axis in data.axes],
                "points_per_axis": [len(axis) for axis in data.axes],
                "log_cell": data.log_cell,
            },
        }

    def headline(self, outcome: Outcome) -> str:
        metrics = outcome.history["train"]
        status = outcome.status
        if outcome.diverged_at is not None:
            status = f"diverged at {outcome.diverged_at}"
        shown = [f"divergence {metrics['divergence'][-1]:.6g} nats"]
        for name in ("mean", "std", "mean_x", "mean_y", "std_x", "std_y", "correlation"):
            if name in metrics:
                shown.append(f"{name} {metrics[name][-1]:.6g}")
        return f"{status}, " + ", ".join(shown)


PROGRAM = DivergenceFitProgram()
