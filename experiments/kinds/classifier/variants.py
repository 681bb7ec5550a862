"""A classifier run's variants as its figures need them, read from the run's record."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from experiments.contract import RunRecord
from experiments.figures import style
from experiments.kinds.classifier.path_figures import ce_unit

__all__ = ["Variant", "as_array", "read_variants"]


@dataclass(frozen=True)
class Variant:
    """What the figures need of one variant, read from the run's files."""

    name: str
    look: style.Look
    status: str
    diverged_at: int | None
    prior: str  # none, gaussian, laplace
    weights: np.ndarray  # [d] for two classes, [d, C] for more
    true_weights: np.ndarray | None
    feature_names: list[str]
    # history[split][metric] = (steps, values)
    history: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]
    ce_unit: str = "nats"  # of the cross-entropy: the config's base
    feature_groups: list[list[int]] = field(default_factory=list)  # correlated groups
    group_shares: list[float] = field(default_factory=list)  # largest member's |w| share

    @property
    def color(self) -> str:
        return self.look.color

    @property
    def label(self) -> str:
        if self.status == "diverged":
            return f"{self.name} (diverged at step {self.diverged_at})"
        return self.name

    @property
    def zeros(self) -> int:
        return int(np.sum(self.weights == 0))


def read_variants(record: RunRecord) -> list[Variant]:
    """The variants of a (not swept) run, in the order of ``summary.json``; their priors
    from the run's resolved config."""
    config = record.config
    priors = {m.index: m.spec.train.prior.kind for m in config.members}
    groups = {m.index: record.data[m.index].get("feature_groups") or [] for m in config.members}
    unit = ce_unit(config)
    variants = []
    for index, run in enumerate(record.runs):
        data = record.data[run["member"]]
        true = data.get("true_weights")
        variants.append(
            Variant(
                name=run["variant"],
                look=style.look(index),
                status=run["status"],
                diverged_at=run.get("diverged_at"),
                prior=priors[run["member"]],
                weights=as_array(run["params"]["weights"]),
                true_weights=None if true is None else as_array(true).ravel(),
                feature_names=list(data.get("feature_names") or []),
                history=record.history.get(run["member"], {}),
                ce_unit=unit,
                feature_groups=groups[run["member"]],
                group_shares=[  # null: the group's weights were all zero (NaN)
                    math.nan if s is None else float(s) for s in run.get("group_weight_share") or []
                ],
            )
        )
    return variants


def as_array(values) -> np.ndarray:
    """JSON numbers (null for non-finite) as a float array, null as NaN."""
    return np.array(values, dtype=float)  # None -> nan
