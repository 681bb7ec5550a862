"""The pure run function: an optax solver on the dual of :mod:`~.dual`, from λ = 0.

:class:`SolveStatic` (optimizer, steps, log_every, progress) is closed over; the constraint
values, which constraints are used, and the learning rate are traced, so the variants of
an experiment and a sweep over values (``constraints.mean: {linspace: ...}``) are one
compiled, vmapped program. Starting from λ = 0 (the uniform distribution), the shared loop,
:func:`experiments.pipeline.loop.train`, runs ``log_every`` solver steps on the dual between
logged entries. With no constraint the gradient is 0 and λ stays 0: the uniform
distribution. There is no randomness. A step whose value or multipliers are not finite is
not applied, and ``diverged_at`` records it.

A run also diverged if its dual ends above where it started. The dual is convex and its
minimum lies at or below its value at λ = 0, log n, so a solver that ends above it has not
solved anything: a learning rate far too large (``1e30``) throws λ to a corner where p is
a point mass, finite but meeting no constraint. ``diverged_at`` is then the first logged
step from which the dual stays above its start (:func:`risen_at`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from experiments.contract import Outcome
from experiments.kinds.max_entropy import dual
from experiments.pipeline import loop

__all__ = ["SolveStatic", "make_run_fn", "to_outcome"]


@dataclasses.dataclass(frozen=True)
class SolveStatic:
    """What changes the compiled program (with the support's size). The constraints do
    not: which are used is a traced 0/1 per feature."""

    optimizer: str
    steps: int
    log_every: int
    progress: Callable[[jax.Array], None] | None = None


def make_run_fn(static: SolveStatic) -> Callable[..., loop.Output]:
    """The pure ``run(hyper, key, support) -> Output``; ``hyper`` holds the constraint
    values (``mean``, ``variance``, ``mean_abs_deviation``, ``centre``) and the learning
    rate, ``support`` [n] the points (float32). The output's ``params`` hold p
    (``probabilities``), λ (``multipliers``, unscaled, :data:`~.dual.FEATURES` order) and
    which features were used (``used``, 0/1)."""

    def run(hyper, key, support) -> loop.Output:
        del key
        phi = dual.features(support, hyper)
        objective = functools.partial(dual.dual, phi=phi)
        evaluate = functools.partial(
            dual.metrics,
            phi=phi,
            support=support,
            centre=hyper["centre"],
            centre_given=hyper["centre_given"],
        )
        optimizer = loop.OPTIMIZERS[static.optimizer](hyper)
        start = jnp.zeros((len(dual.FEATURES),), support.dtype)
        output = loop.train(
            lambda params, state, _: optimizer.step(params, state, objective),
            lambda multipliers: {"train": evaluate(multipliers)},
            start,
            optimizer.init(start),
            steps=static.steps,
            log_every=static.log_every,
            progress=static.progress,
        )
        probabilities = jax.nn.softmax(phi @ output.params)
        used = jnp.stack([hyper[f"use_{name}"] for name in dual.FEATURES])
        multipliers = dual.multipliers(output.params, support)
        params = {"probabilities": probabilities, "multipliers": multipliers, "used": used}
        return output._replace(params=params)

    return run


def risen_at(values: np.ndarray, steps: np.ndarray) -> int | None:
    """The first of ``steps`` from which the dual ``values`` (logged at those steps) stay
    above their start, beyond float32 rounding; None if the last is not above it.

    >>> steps = np.array([0, 1, 2, 3])
    >>> risen_at(np.array([2.4, 2.0, 1.9, 1.9]), steps) is None
    True
    >>> risen_at(np.array([2.4, 2.9, 1.9, 1e30]), steps)
    3
    """
    above = values > values[0] + 1e-5 * max(1.0, abs(float(values[0])))
    if not above[-1]:
        return None
    below = np.flatnonzero(~above)
    return int(steps[below[-1] + 1])


def to_outcome(static: SolveStatic, output: loop.Output) -> Outcome:
    """One member's output on the host: p, and λ of each constraint used; a dual that ends
    above its start counts as a divergence (see the module's docstring)."""
    solution = output.params
    params = {"probabilities": np.asarray(solution["probabilities"])}
    features = zip(dual.FEATURES, solution["used"], solution["multipliers"], strict=True)
    for name, used, value in features:
        if used:
            params[f"lambda_{name}"] = np.asarray(value)
    if int(output.diverged_at) < 0:
        logged = loop.logged_steps(static.steps, static.log_every)
        risen = risen_at(np.asarray(output.history["train"]["dual"], np.float64), logged)
        if risen is not None:
            output = output._replace(diverged_at=np.int32(risen))
    return loop.to_outcome(output, static.steps, static.log_every, params)
