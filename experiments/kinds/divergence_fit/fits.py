"""The members of a divergence_fit run as its figures need them: one :class:`Fit` each,
with its spec, history and the style of its q."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from experiments.contract import RunRecord
from experiments.figures import style

__all__ = [
    "DIVERGENCE_SYMBOLS",
    "TARGET_GREY",
    "Fit",
    "distinct",
    "gaussian_params",
    "initial_params",
    "read_fits",
]

OKABE_ITO, LINESTYLES = style.OKABE_ITO, style.LINESTYLES  # the house style's
DIVERGENCE_SYMBOLS = {
    "forward_kl": "D(p‖q)",
    "reverse_kl": "D(q‖p)",
    "js": "JS(p, q)",
    "cross_entropy": "H(p, q)",
}
TARGET_GREY = "#BBBBBB"


@dataclass(frozen=True)
class Fit:
    """One member as the figures need it: its run entry, spec, history and q's style."""

    run: dict[str, Any]
    spec: Any
    target: dict[str, Any]
    steps: np.ndarray
    history: dict[str, np.ndarray]
    color: str
    linestyle: Any
    same_as: str | None = None
    note: str | None = None

    @property
    def label(self) -> str:
        divergence = self.spec.train.divergence
        text = f"{self.run['variant']}: min {DIVERGENCE_SYMBOLS[divergence]}"
        if self.run["status"] == "diverged":
            text += f" (diverged at step {self.run.get('diverged_at')})"
        if self.same_as is not None:
            text += f" (same q as {self.same_as})"
        if self.note is not None:
            text += f", {self.note}"
        return text

    @property
    def params(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v, np.float64) for k, v in self.run["params"].items()}


def read_fits(record: RunRecord) -> list[Fit]:
    """Every member of the run, in member order, with its resolved spec."""
    config = record.config
    variants = list(dict.fromkeys(run["variant"] for run in record.runs))
    fits: list[Fit] = []
    for run in record.runs:
        index = variants.index(run["variant"])
        history = record.history.get(run["member"], {}).get("train", {})
        steps = next(iter(history.values()))[0] if history else np.zeros(0)
        fit = Fit(
            run=run,
            spec=config.members[run["member"]].spec,
            target=record.data[run["member"]]["target"],
            steps=steps,
            history={name: values for name, (_, values) in history.items()},
            color=OKABE_ITO[index % len(OKABE_ITO)],
            linestyle=LINESTYLES[index % len(LINESTYLES)],
        )
        if not record.swept:  # equal q's of two variants: say so, so neither hides
            same = next((f.run["variant"] for f in fits if _same_q(f, fit)), None)
            fit = Fit(**{**fit.__dict__, "same_as": same})
        fits.append(fit)
    return fits


def _same_q(a: Fit, b: Fit) -> bool:
    keys = a.params.keys()
    if keys != b.params.keys():
        return False
    return all(np.allclose(a.params[k], b.params[k], rtol=1e-5, atol=1e-6) for k in keys)


def distinct(fits: list[Fit], decimals: int = 1) -> list[Fit]:
    """One member per variant and distinct final q (its parameters rounded); in a sweep,
    its label says which swept values ended there."""
    groups: dict[tuple, list[Fit]] = {}
    for fit in fits:
        rounded = tuple((np.round(v, decimals) + 0.0).tobytes() for v in fit.params.values())
        groups.setdefault((fit.run["variant"], rounded), []).append(fit)
    kept = []
    for members in groups.values():
        sweep = members[0].run.get("sweep") or {}
        if len(sweep) == 1:
            key = next(iter(sweep))
            values = sorted(float(f.run["sweep"][key]) for f in members)
            where = f"{values[0]:g}" if len(values) == 1 else f"{values[0]:g} … {values[-1]:g}"
            members[0] = Fit(**{**members[0].__dict__, "note": f"from {key} = {where}"})
        kept.append(members[0])
    return kept


def gaussian_params(params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(mean [d], covariance [d, d]) of a fitted Gaussian's ``summary.json`` parameters."""
    if "std" in params:
        return np.atleast_1d(params["mean"]), np.atleast_2d(np.square(params["std"]))
    return np.asarray(params["mean"]), np.asarray(params["covariance"])


def initial_params(spec: Any) -> dict[str, np.ndarray]:
    fit = spec.fit
    if isinstance(fit.mean, list):
        return {"mean": np.asarray(fit.mean), "covariance": np.asarray(fit.covariance)}
    return {"mean": np.asarray(fit.mean), "std": np.asarray(fit.std)}
