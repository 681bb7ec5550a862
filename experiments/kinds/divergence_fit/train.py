"""The pure run function: gradient descent (optax) on a divergence, on a fixed grid.

A run is split into what changes the compiled program and what does not:

- :class:`RunStatic` (divergence, family, optimizer, steps, log_every, progress callback)
  is closed over; each distinct value compiles once (with the grid's shape);
- the hyperparameters (learning rate, momentum, b1, b2, eps, and q's initial parameters)
  are float32 arrays, traced, so a sweep over them is one compiled, vmapped program.

:func:`make_run_fn` returns ``run(hyper, key, points, log_target, log_cell) -> RunOutput``.
Inside, a ``lax.scan`` over log entries runs a ``lax.scan`` of ``log_every`` steps and
evaluates every metric. There is no randomness: the key is unused and reruns are
byte-identical. A step whose value or new parameters are not finite is not applied: the
run keeps its last finite parameters and ``diverged_at`` is that step.
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
from experiments.kinds.divergence_fit.families import FAMILIES
from experiments.kinds.divergence_fit.objective import (
    DIVERGENCES,
    logged_divergences,
    target_entropy,
)

__all__ = ["OPTIMIZERS", "RunOutput", "RunStatic", "logged_steps", "make_run_fn", "to_outcome"]


@dataclasses.dataclass(frozen=True)
class RunStatic:
    """The choices that change the compiled program (hashable)."""

    divergence: str
    family: str
    optimizer: str
    steps: int
    log_every: int
    progress: Callable[[jax.Array], None] | None = None


class RunOutput(NamedTuple):
    """``history[metric]`` per logged step, the final raw ``params``, ``diverged_at`` (−1)."""

    history: dict[str, jax.Array]
    params: dict[str, jax.Array]
    diverged_at: jax.Array


def logged_steps(steps: int, log_every: int) -> np.ndarray:
    """The steps at which metrics are recorded: 0, log_every, 2·log_every, ..., steps."""
    logged = np.arange(0, steps + 1, log_every)
    return logged if logged[-1] == steps else np.append(logged, steps)


def _adam(hyper: dict[str, jax.Array]) -> optax.GradientTransformation:
    tx = optax.adam(hyper["learning_rate"], b1=hyper["b1"], b2=hyper["b2"], eps=hyper["eps"])

    def update(grads, state, params=None):
        # optax raises a traced float32 decay rate to an int32 power for the bias
        # correction, which strict dtype promotion rejects; the promotion is harmless.
        with jax.numpy_dtype_promotion("standard"):
            return tx.update(grads, state, params)

    return optax.GradientTransformation(tx.init, update)


OPTIMIZERS: dict[str, Callable[[dict[str, jax.Array]], optax.GradientTransformation]] = {
    "sgd": lambda hyper: optax.sgd(hyper["learning_rate"]),
    "momentum": lambda hyper: optax.sgd(hyper["learning_rate"], momentum=hyper["momentum"]),
    "adam": _adam,
}


class _Carry(NamedTuple):
    params: dict[str, jax.Array]
    opt_state: Any
    step: jax.Array  # steps applied, int32
    diverged_at: jax.Array  # int32, −1 while finite


def make_run_fn(static: RunStatic) -> Callable[..., RunOutput]:
    """The pure ``run(hyper, key, points, log_target, log_cell) -> RunOutput``.

    ``points`` [n, d] and ``log_target`` [n] are the grid and log p on it (float32),
    ``log_cell`` [1] log Δ. Log entry 0 holds the initial metrics, entry i > 0 those after
    i·log_every steps (the last at ``steps``).
    """
    family = FAMILIES[static.family]
    divergence = DIVERGENCES[static.divergence]
    n_chunks = len(logged_steps(static.steps, static.log_every)) - 1

    def run(hyper, key, points, log_target, log_cell) -> RunOutput:
        del key  # deterministic: quadrature, not sampling
        cell = log_cell[0]
        entropy = target_entropy(log_target, cell)

        def loss(params):
            return divergence(log_target, family.log_density(params, points), cell)

        def evaluate(params):
            log_q = family.log_density(params, points)
            metrics = logged_divergences(log_target, log_q, entropy)
            return {"divergence": metrics[static.divergence], **metrics, **family.metrics(params)}

        tx = OPTIMIZERS[static.optimizer](hyper)
        step = functools.partial(_step, static.steps, tx, jax.value_and_grad(loss))

        def chunk(carry: _Carry, _):
            carry = jax.lax.scan(step, carry, length=static.log_every)[0]
            if static.progress is not None:
                jax.debug.callback(static.progress, carry.step)
            return carry, evaluate(carry.params)

        params = family.init(hyper)
        carry = _Carry(params, tx.init(params), jnp.int32(0), jnp.int32(-1))
        first = evaluate(params)
        carry, later = jax.lax.scan(chunk, carry, length=n_chunks)
        history = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, later)
        return RunOutput(history, carry.params, carry.diverged_at)

    return run


def _step(total: int, tx, value_and_grad, carry: _Carry, _) -> tuple[_Carry, None]:
    """One optimizer step; a no-op once the run has diverged or taken ``total`` steps."""
    value, grads = value_and_grad(carry.params)
    updates, opt_state = tx.update(grads, carry.opt_state, carry.params)
    params = optax.apply_updates(carry.params, updates)
    finite = jnp.isfinite(value) & jnp.all(
        jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(params)])
    )
    active = (carry.diverged_at < 0) & (carry.step < total)
    apply = active & finite
    params, opt_state = jax.tree.map(
        lambda new, old: jnp.where(apply, new, old),
        (params, opt_state),
        (carry.params, carry.opt_state),
    )
    diverged_at = jnp.where(active & ~finite, carry.step, carry.diverged_at)
    return _Carry(params, opt_state, carry.step + apply.astype(jnp.int32), diverged_at), None


def to_outcome(static: RunStatic, output: RunOutput) -> Outcome:
    """One member's output on the host; a diverged run keeps the entries logged before."""
    steps = logged_steps(static.steps, static.log_every)
    diverged_at = int(output.diverged_at)
    keep = np.ones(len(steps), bool) if diverged_at < 0 else (steps <= diverged_at)
    history = {
        name: np.asarray(values, np.float64)[keep] for name, values in output.history.items()
    }
    raw = {name: np.asarray(value) for name, value in output.params.items()}
    return Outcome(
        status="ok" if diverged_at < 0 else "diverged",
        diverged_at=None if diverged_at < 0 else diverged_at,
        steps=steps[keep],
        history={"train": history},
        params=FAMILIES[static.family].readable(raw),
    )
