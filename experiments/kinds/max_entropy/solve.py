"""The pure run function: an optax solver on the dual of :mod:`~.dual`, from λ = 0.

:class:`SolveStatic` (optimizer, steps, log_every, progress) is closed over; the constraint
values, which constraints are used, and the learning rate are traced, so the variants of
an experiment and a sweep over values (``constraints.mean: {linspace: ...}``) are one
compiled, vmapped program. Starting from
λ = 0 (the uniform distribution), a ``lax.scan`` over log entries runs ``log_every`` solver
steps each. With no constraint the gradient is 0 and λ stays 0: the uniform distribution.
There is no randomness. A step whose value or multipliers are not finite is not applied,
and ``diverged_at`` records it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.contract import Outcome
from experiments.kinds.max_entropy import dual

__all__ = [
    "OPTIMIZERS",
    "SolveOutput",
    "SolveStatic",
    "Solver",
    "logged_steps",
    "make_run_fn",
    "to_outcome",
]


@dataclasses.dataclass(frozen=True)
class SolveStatic:
    """What changes the compiled program (with the support's size). The constraints do
    not: which are used is a traced 0/1 per feature."""

    optimizer: str
    steps: int
    log_every: int
    progress: Callable[[jax.Array], None] | None = None


class SolveOutput(NamedTuple):
    """Metrics per logged step, p, λ (unscaled, :data:`~.dual.FEATURES` order), which
    features were used (0/1), and ``diverged_at`` (−1)."""

    history: dict[str, jax.Array]
    probabilities: jax.Array
    multipliers: jax.Array
    used: jax.Array
    diverged_at: jax.Array


def logged_steps(steps: int, log_every: int) -> np.ndarray:
    """0, log_every, 2·log_every, ..., steps."""
    logged = np.arange(0, steps + 1, log_every)
    return logged if logged[-1] == steps else np.append(logged, steps)


class Solver(NamedTuple):
    """``init(λ)``, ``value_and_grad(objective)(λ, state)`` and
    ``update(grad, state, λ, value, objective) -> (updates, state)``."""

    init: Callable[[jax.Array], Any]
    value_and_grad: Callable[[Callable], Callable]
    update: Callable[..., Any]


def _gradient_method(tx: optax.GradientTransformation) -> Solver:
    def update(grad, state, params, value, objective):
        del value, objective
        with jax.numpy_dtype_promotion("standard"):  # optax's adam: a float32 ** int32
            return tx.update(grad, state, params)

    def value_and_grad(objective):
        return lambda params, state: jax.value_and_grad(objective)(params)

    return Solver(tx.init, value_and_grad, update)


def _lbfgs(hyper) -> Solver:
    del hyper  # its step comes from the line search
    tx = optax.lbfgs()

    def update(grad, state, params, value, objective):
        return tx.update(grad, state, params, value=value, grad=grad, value_fn=objective)

    def value_and_grad(objective):
        # The line search has already evaluated the new point: reuse its value and grad.
        reuse = optax.value_and_grad_from_state(objective)
        return lambda params, state: reuse(params, state=state)

    return Solver(tx.init, value_and_grad, update)


OPTIMIZERS: dict[str, Callable[[dict[str, jax.Array]], Solver]] = {
    "lbfgs": _lbfgs,
    "sgd": lambda hyper: _gradient_method(optax.sgd(hyper["learning_rate"])),
    "adam": lambda hyper: _gradient_method(optax.adam(hyper["learning_rate"])),
}


class _Carry(NamedTuple):
    multipliers: jax.Array
    state: Any
    step: jax.Array
    diverged_at: jax.Array


def make_run_fn(static: SolveStatic) -> Callable[..., SolveOutput]:
    """The pure ``run(hyper, key, support) -> SolveOutput``; ``hyper`` holds the constraint
    values (``mean``, ``variance``, ``mean_abs_deviation``, ``centre``) and the learning
    rate, ``support`` [n] the points (float32)."""
    n_chunks = len(logged_steps(static.steps, static.log_every)) - 1

    def run(hyper, key, support) -> SolveOutput:
        del key
        phi = dual.features(support, hyper)
        objective = functools.partial(dual.dual, phi=phi)
        evaluate = functools.partial(dual.metrics, phi=phi, support=support, centre=hyper["centre"])
        solver = OPTIMIZERS[static.optimizer](hyper)
        step = functools.partial(_step, static.steps, solver, objective)

        def chunk(carry: _Carry, _):
            carry = jax.lax.scan(step, carry, length=static.log_every)[0]
            if static.progress is not None:
                jax.debug.callback(static.progress, carry.step)
            return carry, evaluate(carry.multipliers)

        start = jnp.zeros((len(dual.FEATURES),), support.dtype)
        carry = _Carry(start, solver.init(start), jnp.int32(0), jnp.int32(-1))
        first = evaluate(start)
        carry, later = jax.lax.scan(chunk, carry, length=n_chunks)
        history = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, later)
        probabilities = jax.nn.softmax(phi @ carry.multipliers)
        used = jnp.stack([hyper[f"use_{name}"] for name in dual.FEATURES])
        lambdas = dual.multipliers(carry.multipliers, support)
        return SolveOutput(history, probabilities, lambdas, used, carry.diverged_at)

    return run


def _step(total: int, solver: Solver, objective, carry: _Carry, _) -> tuple[_Carry, None]:
    """One solver step; a no-op once the run has diverged or taken ``total`` steps."""
    value, grad = solver.value_and_grad(objective)(carry.multipliers, carry.state)
    updates, state = solver.update(grad, carry.state, carry.multipliers, value, objective)
    new = optax.apply_updates(carry.multipliers, updates)
    finite = jnp.isfinite(value) & jnp.all(jnp.isfinite(new))
    active = (carry.diverged_at < 0) & (carry.step < total)
    apply = active & finite
    new, state = jax.tree.map(
        lambda a, b: jnp.where(apply, a, b), (new, state), (carry.multipliers, carry.state)
    )
    diverged_at = jnp.where(active & ~finite, carry.step, carry.diverged_at)
    return _Carry(new, state, carry.step + apply.astype(jnp.int32), diverged_at), None


def to_outcome(static: SolveStatic, output: SolveOutput) -> Outcome:
    steps = logged_steps(static.steps, static.log_every)
    diverged_at = int(output.diverged_at)
    keep = np.ones(len(steps), bool) if diverged_at < 0 else (steps <= diverged_at)
    history = {k: np.asarray(v, np.float64)[keep] for k, v in output.history.items()}
    params = {"probabilities": np.asarray(output.probabilities)}
    for name, used, value in zip(dual.FEATURES, output.used, output.multipliers, strict=True):
        if used:
            params[f"lambda_{name}"] = np.asarray(value)
    return Outcome(
        status="ok" if diverged_at < 0 else "diverged",
        diverged_at=None if diverged_at < 0 else diverged_at,
        steps=steps[keep],
        history={"train": history},
        params=params,
    )
