"""The curves kind's :class:`~experiments.contract.Program`: a curve evaluated on its grid.

The curve's numeric settings (its domain, its ``at`` points, P, x, y, ...) are the traced
hyperparameters; its kind, the grid size and the base are static. There is no data: the
"data set" is the curve's definition, which ``data.json`` records.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

from experiments.contract import Outcome, Program
from experiments.kinds.curves.functions import FACTS, SERIES
from experiments.kinds.curves.schema import CurveRun
from experiments.pipeline.hashing import data_sha256

__all__ = ["PROGRAM", "CurveDefinition", "CurveKey"]

SETTINGS = {
    "kl_against_q": ("p",),
    "sigmoid": ("flat_beyond",),
    "loss_gradients": ("x", "y"),
    "jensen": ("values", "probabilities"),
    "prior_densities": ("normal_std", "laplace_scale"),
}
"""The settings each curve's functions read, beyond its domain and ``at`` points."""


@dataclasses.dataclass(frozen=True, eq=False)
class CurveDefinition:
    """What a run draws: the curve's settings as JSON text, and their hash."""

    kind: str
    settings: dict[str, Any]
    description: str
    sha256: str


@dataclasses.dataclass(frozen=True)
class CurveKey:
    """What the compiled program depends on: the curve, the grid, the marks, the base."""

    curve: str
    points: int
    marks: int
    base: float | None


class CurveProgram(Program):
    """Evaluates one curve on its grid and at its marked points."""

    def data_key(self, spec: CurveRun) -> str:
        return spec.curve.model_dump_json()

    def load_data(self, spec: CurveRun, base_dir: Any) -> CurveDefinition:
        text = spec.curve.model_dump_json()
        low, high = spec.curve.domain()
        return CurveDefinition(
            spec.curve.kind,
            spec.curve.model_dump(mode="json"),
            f"{spec.curve.kind} on [{low:g}, {high:g}]",
            data_sha256(text),
        )

    def check(self, spec: CurveRun, data: CurveDefinition) -> list[str]:
        return []

    def describe(self, spec: CurveRun, data: CurveDefinition) -> str:
        return f"{data.description}, {spec.points} points, {len(spec.curve.at)} marked"

    def program_key(self, spec: CurveRun, data: CurveDefinition) -> CurveKey:
        return CurveKey(spec.curve.kind, spec.points, len(spec.curve.at), spec.base)

    def hyperparameters(self, spec: CurveRun) -> dict[str, np.ndarray]:
        low, high = spec.curve.domain()
        hyper = {
            "low": np.float32(low),
            "high": np.float32(high),
            "at": np.asarray(spec.curve.at, np.float32),
        }
        settings = spec.curve.model_dump()
        for name in SETTINGS.get(spec.curve.kind, ()):
            hyper[name] = np.asarray(settings[name], np.float32)
        return hyper

    def arrays(self, data: CurveDefinition) -> tuple[np.ndarray, ...]:
        return ()

    def member_fn(self, key: CurveKey, progress: Callable | None) -> Callable[..., Any]:
        series, facts = SERIES[key.curve], FACTS.get(key.curve)

        def evaluate(hyper: dict[str, Any], prng_key: Any) -> dict[str, Any]:
            del prng_key  # nothing is drawn
            x = jnp.linspace(hyper["low"], hyper["high"], key.points)
            grid = series(x, hyper, key.base)
            out = {
                "grid": {"x": x, **grid},
                "at": {"x": hyper["at"], **series(hyper["at"], hyper, key.base)},
            }
            if facts is not None:
                out["facts"] = facts(x, grid, hyper)
            return out

        return evaluate

    def member_bytes(self, key: CurveKey, data: CurveDefinition) -> int:
        return 4 * 8 * (key.points + key.marks)

    def outcome(self, key: CurveKey, output: Any) -> Outcome:
        params: dict[str, Any] = {"base": np.float64(math.e if key.base is None else key.base)}
        for part, values in output.items():
            params[part] = {name: np.asarray(v, np.float64) for name, v in values.items()}
        return Outcome("ok", None, np.arange(0), {}, params)

    def data_entry(self, data: CurveDefinition) -> dict[str, Any]:
        return {
            "description": data.description,
            "sha256": data.sha256,
            "curve": data.settings,
        }

    def headline(self, outcome: Outcome) -> str:
        at = outcome.params["at"]
        points = ", ".join(f"{x:.4g}" for x in at["x"])
        values = "; ".join(
            f"{name} {', '.join(f'{v:.4g}' for v in vs)}" for name, vs in at.items() if name != "x"
        )
        facts = ", ".join(f"{k} {float(v):.4g}" for k, v in outcome.params.get("facts", {}).items())
        line = f"at {points}: {values}" if len(at["x"]) else "no marked points"
        return f"{line}; {facts}" if facts else line


PROGRAM = CurveProgram()
