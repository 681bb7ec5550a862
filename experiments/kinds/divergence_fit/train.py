"""The pure run function: gradient descent (optax) on a divergence, on a fixed grid.

A run is split into what changes the compiled program and what does not:

- :class:`RunStatic` (divergence, family, optimizer, steps, log_every, progress callback)
  is closed over; each distinct value compiles once (with the grid's shape);
- the hyperparameters (learning rate, momentum, b1, b2, eps, and q's initial parameters)
  are float32 arrays, traced, so a sweep over them is one compiled, vmapped program.

:func:`make_run_fn` returns ``run(hyper, key, points, log_target, log_cell) -> Output``:
the divergence as the loss, its metrics and q's initial parameters, trained by the shared
loop, :func:`experiments.pipeline.loop.train`, which logs every entry. There is no
randomness: the key is unused and reruns are byte-identical. A step whose value or new
parameters are not finite is not applied: the run keeps its last finite parameters and
``diverged_at`` is that step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import numpy as np

from experiments.contract import Outcome
from experiments.kinds.divergence_fit.families import FAMILIES
from experiments.kinds.divergence_fit.objective import (
    DIVERGENCES,
    logged_divergences,
    target_entropy,
)
from experiments.pipeline import loop

__all__ = ["RunStatic", "make_run_fn", "to_outcome"]


@dataclasses.dataclass(frozen=True)
class RunStatic:
    """The choices that change the compiled program (hashable)."""

    divergence: str
    family: str
    optimizer: str
    steps: int
    log_every: int
    progress: Callable[[jax.Array], None] | None = None


def make_run_fn(static: RunStatic) -> Callable[..., loop.Output]:
    """The pure ``run(hyper, key, points, log_target, log_cell) -> Output``.

    ``points`` [n, d] and ``log_target`` [n] are the grid and log p on it (float32),
    ``log_cell`` [1] log Δ. Log entry 0 holds the initial metrics, entry i > 0 those after
    i·log_every steps (the last at ``steps``); the output's ``params`` are q's raw ones.
    """
    family = FAMILIES[static.family]
    divergence = DIVERGENCES[static.divergence]

    def run(hyper, key, points, log_target, log_cell) -> loop.Output:
        del key  # deterministic: quadrature, not sampling
        cell = log_cell[0]
        entropy = target_entropy(log_target, cell)

        def loss(params):
            return divergence(log_target, family.log_density(params, points), cell)

        def evaluate(params):
            log_q = family.log_density(params, points)
            metrics = logged_divergences(log_target, log_q, entropy)
            divergences = {"divergence": metrics[static.divergence], **metrics}
            return {"train": {**divergences, **family.metrics(params)}}

        optimizer = loop.OPTIMIZERS[static.optimizer](hyper)
        params = family.init(hyper)
        return loop.train(
            lambda params, state, _: optimizer.step(params, state, loss),
            evaluate,
            params,
            optimizer.init(params),
            steps=static.steps,
            log_every=static.log_every,
            progress=static.progress,
        )

    return run


def to_outcome(static: RunStatic, output: loop.Output) -> Outcome:
    """One member's output on the host; a diverged run keeps the entries logged before."""
    raw = {name: np.asarray(value) for name, value in output.params.items()}
    params = FAMILIES[static.family].readable(raw)
    return loop.to_outcome(output, static.steps, static.log_every, params)
