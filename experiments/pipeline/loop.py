"""THE trainer: the loop every kind that trains plugs its step, its metrics and its start into.

A kind's member function (:meth:`~experiments.contract.Program.member_fn`) builds three things
inside its jitted, vmappable run, and hands them to :func:`train`:

- an *update* ``(params, opt_state, step) -> (params, opt_state, loss)``: one step of its
  optimizer on its loss (usually ``OPTIMIZERS[name](hyper).step`` on its loss, see
  :class:`Optimizer`);
- an *evaluation* ``params -> {split: {metric: value}}``, run at every logged step;
- its initial parameters and optimizer state.

:func:`train` runs ``log_every`` guarded steps at a time in a ``lax.scan`` (the carry,
:class:`Carry`, holds ``diverged_at``) and evaluates the metrics after each chunk, at
:func:`logged_steps`. A step whose loss or new parameters are not finite is not applied:
the parameters and optimizer state stay at their last finite values, ``diverged_at``
records the step, and every later step is a no-op. The progress callback is called through
``jax.debug.callback`` with the steps done after every chunk. With a stopping rule (the
classifier's ``tol``), the loop also ends once the run has met it or diverged.

The chunks run in a ``lax.while_loop`` (:func:`experiments.pipeline.cancel.chunks`), which
a long call breaks into blocks, asking the host between two whether to go on: a stop
request ends the call within about 0.1 s, its output incomplete and discarded.

On the host, :func:`to_outcome` turns a member's :class:`Output` into an
:class:`~experiments.contract.Outcome`, and :func:`run_member` runs one spec through the
pipeline's executor (for scripts and tests). The optimizers are :data:`OPTIMIZERS`, optax's
by name, their names those of :data:`~experiments.pipeline.optimizer.OptimizerName`; their
settings come from a kind's optimizer config by
:func:`~experiments.pipeline.optimizer.optimizer_hyperparameters`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.contract import DataError, Outcome, Program
from experiments.pipeline import cancel, execute
from experiments.pipeline.optimizer import OptimizerName

__all__ = [
    "OPTIMIZERS",
    "Carry",
    "Optimizer",
    "Output",
    "logged_steps",
    "run_member",
    "select",
    "to_outcome",
    "train",
]

Params = Any  # a pytree of arrays
Hyperparameters = Mapping[str, jax.Array]
Loss = Callable[[Params], jax.Array]
Update = Callable[[Params, Any, jax.Array], tuple[Params, Any, jax.Array]]
Metrics = dict[str, dict[str, jax.Array]]  # split -> metric -> value


def logged_steps(steps: int, log_every: int) -> np.ndarray:
    """The steps at which metrics are recorded: 0, log_every, 2·log_every, ..., steps.

    >>> logged_steps(25, 10)
    array([ 0, 10, 20, 25])
    """
    logged = np.arange(0, steps + 1, log_every)
    return logged if logged[-1] == steps else np.append(logged, steps)


# ---------------------------------------------------------------------------
# Optimizers
# ---------------------------------------------------------------------------


class Optimizer(NamedTuple):
    """``init(params) -> state``; ``step(params, state, loss) -> (params, state, value)``.

    ``step`` receives the loss function rather than a gradient, because an optimizer may
    evaluate it elsewhere (FISTA at an extrapolated point, L-BFGS along a line search); it
    returns the loss's value where it took the gradient.
    """

    init: Callable[[Params], Any]
    step: Callable[[Params, Any, Loss], tuple[Params, Any, jax.Array]]


def _standard_promotion(tx: optax.GradientTransformation) -> optax.GradientTransformation:
    def update(grads, state, params=None):
        # optax's adam raises a traced decay rate to an int32 power for the bias
        # correction, which strict dtype promotion rejects; the promotion is harmless.
        with jax.numpy_dtype_promotion("standard"):
            return tx.update(grads, state, params)

    return optax.GradientTransformation(tx.init, update)


def _gradient_method(tx: optax.GradientTransformation) -> Optimizer:
    tx = _standard_promotion(tx)

    def step(params: Params, state: Any, loss: Loss):
        value, grads = jax.value_and_grad(loss)(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    return Optimizer(tx.init, step)


def _line_search(tx: optax.GradientTransformationExtraArgs) -> Optimizer:
    def step(params: Params, state: Any, loss: Loss):
        # The line search has already evaluated the new point: reuse its value and grad.
        value, grad = optax.value_and_grad_from_state(loss)(params, state=state)
        updates, state = tx.update(grad, state, params, value=value, grad=grad, value_fn=loss)
        return optax.apply_updates(params, updates), state, value

    return Optimizer(tx.init, step)


def _adam(hyper: Hyperparameters) -> Optimizer:
    # b1, b2 and eps where the kind's optimizer config has them, optax's defaults where not.
    settings = {name: hyper[name] for name in ("b1", "b2", "eps") if name in hyper}
    return _gradient_method(optax.adam(hyper["learning_rate"], **settings))


# optax's optimizers, from optimizer_hyperparameters' settings (possibly traced).
OPTIMIZERS: dict[OptimizerName, Callable[[Hyperparameters], Optimizer]] = {
    "sgd": lambda hyper: _gradient_method(optax.sgd(hyper["learning_rate"])),
    "momentum": lambda hyper: _gradient_method(
        optax.sgd(hyper["learning_rate"], momentum=hyper["momentum"])
    ),
    "adam": _adam,
    "lbfgs": lambda hyper: _line_search(optax.lbfgs()),  # no learning rate: a line search
}


# ---------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------


class Carry(NamedTuple):
    """The state of a run between steps."""

    params: Params
    opt_state: Any
    step: jax.Array  # steps applied, int32
    diverged_at: jax.Array  # int32; -1 while the run is finite
    converged: jax.Array | None = None  # bool, with a stopping rule: it held (None: no rule)


class Output(NamedTuple):
    """What a member's run returns, on the device (with a leading member axis under vmap).

    ``history`` has one entry per logged step (NaN where a run that stopped early did not
    reach it); ``params`` are the last finite parameters, or what the kind reports of them;
    ``diverged_at`` is −1 for a finite run; ``logged`` counts the entries recorded.
    """

    history: Metrics
    params: Any
    diverged_at: jax.Array
    steps_taken: jax.Array
    converged: jax.Array  # the kind's stopping rule held at a logged step
    logged: jax.Array


def select(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
    """``on_true`` where ``pred`` holds, else ``on_false``, leaf by leaf (two pytrees of one
    structure).

    >>> select(jnp.bool_(False), {"w": jnp.ones(2)}, {"w": jnp.zeros(2)})
    {'w': Array([0., 0.], dtype=float32)}
    """
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def _all_finite(tree: Any) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]
    return functools.reduce(jnp.logical_and, leaves)


def _guarded_step(
    update: Update, last: jax.Array | int, next_on_overflow: bool, carry: Carry, _: Any
) -> tuple[Carry, None]:
    """One step; a no-op once the run has diverged or has taken ``last`` steps.

    A step whose loss (where its gradient is taken) or new parameters are not finite is
    not applied; ``diverged_at`` is the step (the step after, with ``next_on_overflow``, if
    only the new parameters overflowed).
    """
    params, opt_state, value = update(carry.params, carry.opt_state, carry.step)
    active = (carry.diverged_at < 0) & (carry.step < last)
    if carry.converged is not None:  # a run that met its stopping rule takes no step
        active = active & ~carry.converged
    finite = jnp.isfinite(value) & _all_finite(params)
    failed_at = carry.step
    if next_on_overflow:
        failed_at = jnp.where(jnp.isfinite(value), carry.step + 1, carry.step)
    diverged_at = jnp.where(active & ~finite, failed_at, carry.diverged_at)
    params, opt_state = select(
        active & finite, (params, opt_state), (carry.params, carry.opt_state)
    )
    step = carry.step + (active & finite).astype(jnp.int32)
    return Carry(params, opt_state, step, diverged_at, carry.converged), None


def _steps(
    update: Update, log_every: int, next_on_overflow: bool, carry: Carry, last: jax.Array | int
) -> Carry:
    """A chunk: ``log_every`` guarded steps in a ``lax.scan`` (no-ops past step ``last``)."""
    step = functools.partial(_guarded_step, update, last, next_on_overflow)
    return jax.lax.scan(step, carry, length=log_every)[0]


def _report(progress: Callable[[jax.Array], None] | None, step: jax.Array) -> None:
    if progress is not None:
        jax.debug.callback(progress, step)


def train(
    update: Update | None,
    evaluate: Callable[[Params], Metrics],
    params: Params,
    opt_state: Any,
    *,
    steps: int,
    log_every: int,
    progress: Callable[[jax.Array], None] | None = None,
    stop: Callable[[Metrics, jax.Array], jax.Array] | None = None,
    advance: Callable[[Carry, jax.Array], Carry] | None = None,
    next_on_overflow: bool = False,
) -> Output:
    """Trains from ``params``, logging ``evaluate`` at :func:`logged_steps`; traceable.

    Args:
        update: one step, ``(params, opt_state, step) -> (params, opt_state, loss)``;
            ``step`` counts the steps applied (a minibatch's index).
        evaluate: the metrics of parameters, ``{split: {metric: scalar}}``.
        params: the initial parameters.
        opt_state: the optimizer's initial state.
        steps: how many steps to take.
        log_every: steps between logged entries (the last chunk stops at ``steps``).
        progress: a host function called with the steps done after every chunk.
        stop: a stopping rule, ``stop(history, index)``, on the entry just recorded. With
            one, the loop ends once the run has diverged or met it, and entry 0 is
            evaluated inside the loop (the metrics are compiled once); without, the loop
            runs every chunk.
        advance: ``advance(carry, last)`` in place of the chunk of guarded ``update``
            steps, for steps that are not first-order (at most ``log_every`` of them, none
            past step ``last``); then ``update`` is not used.
        next_on_overflow: count a step whose loss was finite but whose new parameters are
            not as diverging at the step after (the classifier's convention).

    Returns:
        The run's :class:`Output`, its ``params`` the last finite parameters.

    >>> sgd = OPTIMIZERS["sgd"]({"learning_rate": jnp.float32(0.25)})
    >>> def update(params, state, step):
    ...     return sgd.step(params, state, lambda p: jnp.sum(p**2))
    >>> def evaluate(params):
    ...     return {"train": {"loss": jnp.sum(params**2)}}
    >>> start = jnp.ones(2)
    >>> out = train(update, evaluate, start, sgd.init(start), steps=3, log_every=2)
    >>> out.history["train"]["loss"], int(out.steps_taken)
    (Array([2.     , 0.125  , 0.03125], dtype=float32), 3)
    """
    if advance is None:
        if update is None:
            raise ValueError("train needs an update, or an advance in its place")
        advance = functools.partial(_steps, update, log_every, next_on_overflow)
    n_logs = len(logged_steps(steps, log_every))
    carry = Carry(params, opt_state, jnp.int32(0), jnp.int32(-1))
    if stop is None:

        def chunk(state: tuple[Carry, Metrics, jax.Array]) -> tuple[Carry, Metrics, jax.Array]:
            carry, later, index = state
            carry = advance(carry, steps)
            _report(progress, carry.step)
            later = jax.tree.map(lambda h, v: h.at[index].set(v), later, evaluate(carry.params))
            return carry, later, index + 1

        first = evaluate(params)
        later = jax.tree.map(lambda v: jnp.zeros((n_logs - 1, *v.shape), v.dtype), first)
        carry, later, _ = cancel.chunks(
            chunk, lambda state: state[2] < n_logs - 1, (carry, later, jnp.int32(0))
        )
        history = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, later)
        logged, converged = jnp.int32(n_logs), jnp.bool_(False)
    else:
        carry, history, logged = _until(
            advance, evaluate, stop, carry, steps=steps, n_logs=n_logs, progress=progress
        )
        converged = carry.converged
    return Output(history, carry.params, carry.diverged_at, carry.step, converged, logged)


def _until(
    advance: Callable[[Carry, jax.Array], Carry],
    evaluate: Callable[[Params], Metrics],
    stop: Callable[[Metrics, jax.Array], jax.Array],
    carry: Carry,
    *,
    steps: int,
    n_logs: int,
    progress: Callable[[jax.Array], None] | None,
) -> tuple[Carry, Metrics, jax.Array]:
    """The chunks in a ``lax.while_loop`` that stops once the run diverged or met ``stop``.

    Entry 0 records the initial parameters: its chunk takes no step, so that the metrics
    are traced (and compiled) once, here, not also before the loop.
    """

    def log(state):
        carry, history, index = state
        carry = advance(carry, jnp.where(index > 0, steps, 0))
        metrics = evaluate(carry.params)
        _report(progress, carry.step)
        history = jax.tree.map(lambda h, v: h.at[index].set(v), history, metrics)
        return carry._replace(converged=stop(history, index)), history, index + 1

    def running(state) -> jax.Array:
        carry, _, index = state
        return (index < n_logs) & (carry.diverged_at < 0) & ~carry.converged

    shapes = jax.eval_shape(evaluate, carry.params)
    history = jax.tree.map(lambda s: jnp.full((n_logs, *s.shape), jnp.nan, s.dtype), shapes)
    # No lax.cond in the loop: under vmap its predicate is batched, which would broadcast
    # the (shared) data to every member on every chunk.
    start = (carry._replace(converged=jnp.bool_(False)), history, jnp.int32(0))
    return cancel.chunks(log, running, start)


# ---------------------------------------------------------------------------
# On the host
# ---------------------------------------------------------------------------


def to_outcome(
    output: Output,
    steps: int,
    log_every: int,
    params: dict[str, Any],
    *,
    extra: dict[str, Any] | None = None,
    keep_last_finite: bool = False,
) -> Outcome:
    """One member's output on the host (member axis removed) as an :class:`Outcome`.

    Args:
        output: the member's :class:`Output`, as host arrays.
        steps: the run's steps.
        log_every: the run's steps between logged entries.
        params: the final parameters as the kind reports them.
        extra: more fields of the member's ``summary.json`` entry.
        keep_last_finite: how a diverged run's history ends. False: with the entries
            logged at or before ``diverged_at``. True (the classifier, whose loop stops
            there): with those before it (step 0 always) and the entry made at the end of
            the chunk in which it diverged, labelled ``diverged_at``: it holds the metrics
            of the last finite parameters, the ones returned.

    Returns:
        The outcome, its history in float64.
    """
    logged = logged_steps(steps, log_every)
    diverged_at = int(output.diverged_at)
    keep = np.arange(len(logged)) < int(output.logged)  # a run that stopped early
    if diverged_at >= 0 and not keep_last_finite:
        keep = logged <= diverged_at
    elif diverged_at >= 0:
        keep = (logged < diverged_at) | (logged == 0)
        last = int(np.argmax(logged >= diverged_at))
        if diverged_at > 0:
            keep[last] = True
            logged = logged.copy()
            logged[last] = diverged_at
    history = {
        split: {metric: np.asarray(values, np.float64)[keep] for metric, values in metrics.items()}
        for split, metrics in output.history.items()
    }
    return Outcome(
        status="diverged" if diverged_at >= 0 else "ok",
        diverged_at=diverged_at if diverged_at >= 0 else None,
        steps=logged[keep],
        history=history,
        params=params,
        extra=dict(extra or {}),
    )


def run_member(
    program: Program, spec: Any, data: Any = None, *, progress: Callable | None = None
) -> Outcome:
    """Runs one spec through the pipeline's executor: the one-member case, for scripts
    and tests.

    Args:
        program: the kind's program.
        spec: the resolved run.
        data: its data set (None: loaded by the program, paths relative to the current
            folder).
        progress: a host function called with the steps done.

    Returns:
        The run's outcome.

    Raises:
        DataError: the run's settings do not fit its data (:meth:`Program.check`).
    """
    if data is None:
        data = program.load_data(spec, Path("."))
    problems = program.check(spec, data)
    if problems:
        raise DataError(problems)
    with jax.enable_x64(spec.precision == "float64"):
        return execute.run_members(program, [spec], [data], progress=progress).outcomes[0]
