"""The estimators kind's :class:`~experiments.contract.Program`: a study drawn and estimated.

The study's kind, sizes and repeats are static; the Zipf exponent and the correlations are
traced. There is no data file: the "data set" is the study's definition, which ``data.json``
records; the samples are drawn from the run's PRNG key.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from experiments.contract import Outcome, Program
from experiments.kinds.estimators import studies
from experiments.kinds.estimators.schema import EstimatorRun
from experiments.pipeline.hashing import data_sha256

__all__ = ["PROGRAM", "StudyDefinition", "StudyKey"]


@dataclasses.dataclass(frozen=True, eq=False)
class StudyDefinition:
    """What a run estimates: the study's settings, and their hash."""

    settings: dict[str, Any]
    description: str
    sha256: str


@dataclasses.dataclass(frozen=True)
class StudyKey:
    """What the compiled program depends on: the study's static settings and the base."""

    study: str
    static: tuple[tuple[str, Any], ...]
    base: float | None


def _describe(settings: dict[str, Any]) -> str:
    if settings["kind"] == "discrete":
        return (
            f"entropy estimators on {settings['bins']} bins (Zipf s = "
            f"{settings['zipf_exponent']:g}, uniform), n = {settings['sizes']}, "
            f"{settings['repeats']} repeats"
        )
    return (
        f"KSG (k = {settings['k']}) on bivariate Gaussians, ρ = {settings['rhos']}, "
        f"n = {settings['n']}, {settings['repeats']} repeats"
    )


class EstimatorProgram(Program):
    """Draws a study's samples and runs its estimators on them."""

    def data_key(self, spec: EstimatorRun) -> str:
        return spec.study.model_dump_json()

    def load_data(self, spec: EstimatorRun, base_dir: Any) -> StudyDefinition:
        settings = spec.study.model_dump(mode="json")
        return StudyDefinition(
            settings, _describe(settings), data_sha256(spec.study.model_dump_json())
        )

    def describe(self, spec: EstimatorRun, data: StudyDefinition) -> str:
        return data.description

    def program_key(self, spec: EstimatorRun, data: StudyDefinition) -> StudyKey:
        s = spec.study
        if s.kind == "discrete":
            static = (
                ("bins", s.bins),
                ("sizes", tuple(s.sizes)),
                ("repeats", s.repeats),
                ("estimators", tuple(s.estimators)),
            )
        else:
            static = (("n", s.n), ("k", s.k), ("repeats", s.repeats), ("rhos", len(s.rhos)))
        return StudyKey(s.kind, static, spec.base)

    def hyperparameters(self, spec: EstimatorRun) -> dict[str, np.ndarray]:
        if spec.study.kind == "discrete":
            return {"exponent": np.float32(spec.study.zipf_exponent)}
        return {"rhos": np.asarray(spec.study.rhos, np.float32)}

    def member_fn(self, key: StudyKey, progress: Callable | None) -> Callable[..., Any]:
        static = dict(key.static)

        if key.study == "discrete":

            def run(hyper: dict[str, Any], prng_key: jax.Array) -> dict[str, Any]:
                return studies.discrete(prng_key, hyper["exponent"], base=key.base, **static)

        else:
            static.pop("rhos")

            def run(hyper: dict[str, Any], prng_key: jax.Array) -> dict[str, Any]:
                return studies.ksg(prng_key, hyper["rhos"], base=key.base, **static)

        return run

    def member_bytes(self, key: StudyKey, data: StudyDefinition) -> int:
        static = dict(key.static)
        if key.study == "discrete":
            return 4 * static["repeats"] * (max(static["sizes"]) + 4 * static["bins"]) * 4
        return 4 * static["rhos"] * static["repeats"] * static["n"] * 8

    def outcome(self, key: StudyKey, output: Any) -> Outcome:
        params = jax.tree.map(lambda v: np.asarray(v, np.float64), output)
        params["base"] = np.float64(math.e if key.base is None else key.base)
        return Outcome("ok", None, np.arange(0), {}, params)

    def data_entry(self, data: StudyDefinition) -> dict[str, Any]:
        return {"description": data.description, "sha256": data.sha256, "study": data.settings}

    def headline(self, outcome: Outcome) -> str:
        params = outcome.params
        if "ksg" in params:
            gap = np.max(np.abs(params["ksg"]["mean"] - params["true"]))
            return f"KSG mean within {gap:.3g} of −½ log(1 − ρ²)"
        worst = {
            name: max(
                float(np.max(np.abs(v["mean"] - entry["true"])))
                for k, v in entry.items()
                if k != "true"
            )
            for name, entry in params.items()
            if name != "base"
        }
        return "largest |bias|: " + ", ".join(f"{k} {v:.3g}" for k, v in worst.items())


PROGRAM = EstimatorProgram()
