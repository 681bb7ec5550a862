"""The trainer: one pure, jitted program per static configuration.

A run is split into what changes the program and what does not:

- :class:`RunStatic` (loss, prior kind, optimizer, init kind, steps, log_every, batch size,
  number of classes, progress callback) is closed over; each distinct value compiles once.
- the hyperparameters (learning rate, momentum, adam's b1/b2/eps, prior scale, init scale and
  constants) are a dict of scalars of the run's precision, traced, together with the PRNG
  key and the data.

Every floating-point value computed has the dtype of the data (float32, or float64 with
``precision: float64``, which the pipeline runs with ``jax_enable_x64`` on).

:func:`make_run_fn` returns ``run(hyper, key, x_train, y_train, x_test, y_test) -> Output``,
a pure function that ``jax.vmap`` can batch over the members of a sweep. It is the kind's
step (a minibatch, the objective, the optimizer with its proximal step: :mod:`.optim`),
metrics (every metric on every split) and initial parameters, run by the shared trainer,
:func:`experiments.pipeline.loop.train`, with the stopping rule ``grad_norm <= tol``: it
stops early once the run has met it or diverged. ``newton`` takes its chunks of steps from
:func:`~experiments.kinds.classifier.newton.newton_solve` instead.

Divergence: a step whose loss (at the point where its gradient is taken) or new parameters
are not finite is not applied. The run keeps its last finite parameters, ``diverged_at`` is
that step (the step after, if only the new parameters overflowed), and on the host the
history keeps the entries logged before it, and the last finite parameters' entry.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.contract import Outcome
from experiments.kinds.classifier import model, newton, optim
from experiments.kinds.classifier import newton_steps as steps
from experiments.kinds.classifier.model import Hyperparameters, Params
from experiments.kinds.classifier.solvers import SECOND_ORDER, check_solver, choose_solver
from experiments.pipeline import loop
from experiments.pipeline.optimizer import optimizer_hyperparameters

if TYPE_CHECKING:
    from experiments.kinds.classifier.data import Dataset
    from experiments.kinds.classifier.schema import RunSpec


@dataclasses.dataclass(frozen=True)
class RunStatic:
    """The choices that change the compiled program (hashable: the key of the jit cache).

    ``progress`` is a host function called (through ``jax.debug.callback``) with the number
    of steps done after every chunk, or None for no callback.
    """

    loss: str
    prior: str
    optimizer: str
    init: str
    steps: int
    log_every: int
    batch_size: int | None
    n_classes: int
    has_tol: bool = False
    base: float | None = None  # of the reported ``ce`` (None: nats); applied on the host
    feature_groups: tuple[tuple[int, ...], ...] = ()  # correlated groups of synthetic data
    precision: str = "float32"  # the dtype of the data, parameters and metrics
    progress: Callable[[jax.Array], None] | None = None
    # How the steps are taken: the optimizer's name, or for the second-order solvers (whose
    # optimizer is "newton") the one chosen (auto's choice for the data's shape).
    solver: str = "sgd"


def run_static(spec: RunSpec, data: Dataset, *, progress: Callable | None = None) -> RunStatic:
    """The static part of a run's configuration.

    Raises:
        ValueError: a second-order solver that does not apply to the data (two classes only).
    """
    name = spec.train.optimizer.name
    prior = spec.train.prior.kind
    solver = name
    if name in SECOND_ORDER:
        n, d = np.shape(data.x_train)
        if name == "auto":
            solver = choose_solver(n, d, data.n_classes, prior)
        else:
            try:
                check_solver(name, prior, data.n_classes)
            except ValueError as error:
                raise ValueError(f"train.optimizer.name: {error}") from None
        name = "newton"
    return RunStatic(
        loss=spec.train.loss,
        prior=prior,
        optimizer=name,
        solver=solver,
        init=spec.model.init.kind,
        steps=spec.train.steps,
        log_every=spec.train.log_every,
        batch_size=spec.train.batch_size,
        n_classes=data.n_classes,
        has_tol=spec.train.tol is not None,
        base=spec.base,
        feature_groups=tuple(tuple(group) for group in data.feature_groups),
        precision=spec.precision,
        progress=progress,
    )


def run_hyperparameters(spec: RunSpec) -> dict[str, np.ndarray]:
    """The traced part of a run's configuration: scalars of the run's precision, the same
    keys for every run.

    Keys that a run does not use hold neutral values (prior scale 1 without a prior, ...),
    so that runs with different static choices still have hyperparameters of one structure.
    """
    prior, init = spec.train.prior, spec.model.init
    values = {
        "prior_scale": prior.scale if prior.kind != "none" else 1.0,
        "init_scale": init.scale if init.kind == "normal" else 1.0,
        "init_weights": init.weights if init.kind == "constant" else 0.0,
        "init_bias": init.bias if init.kind == "constant" else 0.0,
        "tol": spec.train.tol if spec.train.tol is not None else -1.0,  # -1: never stops
    }
    scalar = np.dtype(spec.precision).type
    optimizer = optimizer_hyperparameters(spec.train.optimizer, spec.precision)
    return {**optimizer, **{k: scalar(v) for k, v in values.items()}}


class _Problem(NamedTuple):
    """What a step needs: the smooth objective f(params, x, y), λ and the optimizer."""

    objective: Callable[..., jax.Array]
    with_metrics: Callable[..., tuple[jax.Array, dict[str, jax.Array]]]  # and ce, mse, accuracy
    l1: jax.Array | None
    optimizer: loop.Optimizer


def _problem(static: RunStatic, hyper: Hyperparameters, n: int) -> _Problem:
    settings = {"loss": static.loss, "prior": static.prior, "prior_scale": hyper["prior_scale"]}
    objective = functools.partial(model.smooth_objective, **settings, n=n)
    with_metrics = functools.partial(model.objective_and_metrics, **settings, n=n)
    l1 = model.l1_strength(hyper["prior_scale"], n) if static.prior == "laplace" else None
    if static.optimizer == "newton":  # steps taken by newton.newton_solve, see _newton_chunk
        optimizer = loop.Optimizer(lambda params: (), None)
    else:
        optimizer = optim.make_optimizer(static.optimizer, hyper, l1=l1)
    return _Problem(objective, with_metrics, l1, optimizer)


def make_run_fn(static: RunStatic) -> Callable[..., loop.Output]:
    """The pure function ``run(hyper, key, x_train, y_train, x_test, y_test) -> Output``.

    ``hyper`` is :func:`run_hyperparameters`'s dict (traced), ``key`` a typed PRNG key (from
    which the initial weights and the minibatch shuffling are drawn), the data [n, d]
    features (float32 or float64: the dtype of every result) and int32 [n] labels; an empty
    test set (n = 0) records no test metrics.

    Log entry 0 holds the initial metrics; entry i > 0 follows a chunk of ``log_every``
    steps (the last chunk stops at ``steps``). One chunk body is compiled, whatever the
    number of chunks.
    """

    def run(hyper: Hyperparameters, key, x_train, y_train, x_test, y_test, start=None):
        # start: (params, use) replaces the initial parameters where use is true (a warm
        # start along a path, see path.make_path_fn).
        problem = _problem(static, hyper, x_train.shape[0])
        init_key, shuffle_key = jax.random.split(key)
        batch = _batcher(static.batch_size, x_train, y_train, shuffle_key)
        splits = {"train": (x_train, y_train)}
        if x_test.shape[0] > 0:
            splits["test"] = (x_test, y_test)

        def update(params: Params, opt_state, step: jax.Array):
            x, y = batch(step)
            return problem.optimizer.step(
                params, opt_state, functools.partial(problem.objective, x=x, y=y)
            )

        newton_problem = None  # made once, shared by every chunk
        if static.optimizer == "newton":
            scale, solver = hyper["prior_scale"], static.solver
            newton_problem = steps.make_problem(
                x_train, y_train, static.n_classes, static.prior, scale, solver
            )

        def newton_chunk(carry: loop.Carry, last: jax.Array) -> loop.Carry:
            return _newton_chunk(static, hyper, newton_problem, carry, last)

        params = model.init_params(
            static.init,
            hyper,
            key=init_key,
            n_features=x_train.shape[1],
            n_classes=static.n_classes,
            dtype=x_train.dtype,
        )
        if start is not None:
            params = loop.select(start[1], start[0], params)
        return loop.train(
            update,
            functools.partial(_evaluate, problem, splits),
            params,
            problem.optimizer.init(params),
            steps=static.steps,
            log_every=static.log_every,
            progress=static.progress,
            stop=lambda history, index: history["train"]["grad_norm"][index] <= hyper["tol"],
            advance=newton_chunk if static.optimizer == "newton" else None,
            next_on_overflow=True,
        )

    return run


def _newton_chunk(
    static: RunStatic,
    hyper: Hyperparameters,
    problem: steps.Problem,
    carry: loop.Carry,
    last: jax.Array,
) -> loop.Carry:
    """Up to ``log_every`` Newton steps on ``problem`` from the carry's parameters (fewer once
    ``tol`` or step ``last`` is reached); a no-op for a run that has converged."""
    budget = jnp.clip(jnp.minimum(static.log_every, last - carry.step), 0)
    params0 = (carry.params.weights, carry.params.bias)
    result = newton.solve_from(problem, params0, jnp.maximum(hyper["tol"], 0.0), budget)
    active = (carry.diverged_at < 0) & ~carry.converged
    params = loop.select(active, Params(result.weights, result.bias), carry.params)
    step = carry.step + jnp.where(active, result.steps_taken, 0)
    return carry._replace(params=params, step=step)


def _evaluate(problem: _Problem, splits, params: Params) -> dict[str, dict[str, jax.Array]]:
    """Every metric on every split; ``grad_norm`` is that of the training objective with
    respect to all parameters (``weight_grad_norm``: the weights alone), with
    the split's data (the minimum-norm subgradient for a Laplace prior)."""
    weight_norm = _scaled_norm(params.weights)
    zero_weights = jnp.sum(params.weights == 0).astype(params.weights.dtype)
    metrics = {}
    for split, (x, y) in splits.items():
        grads, values = jax.grad(problem.with_metrics, has_aux=True)(params, x, y)
        subgradient = model.minimum_norm_subgradient(grads, params, problem.l1)
        metrics[split] = {
            **values,
            "grad_norm": optax.tree.norm(subgradient),
            "weight_grad_norm": _scaled_norm(subgradient.weights),
            "weight_norm": weight_norm,
            "zero_weights": zero_weights,
        }
    return metrics


def _scaled_norm(x: jax.Array) -> jax.Array:
    """‖x‖₂ computed as m·‖x/m‖₂, m = max |x|, so it does not overflow before ‖x‖₂ does
    (weights near a divergence reach 1e19 and more, whose squares are inf in float32)."""
    m = jnp.max(jnp.abs(x), initial=0.0)
    safe = jnp.where(m > 0, m, 1.0)
    return safe * jnp.sqrt(jnp.sum(jnp.square(x / safe)))


def _batcher(batch_size: int | None, x: jax.Array, y: jax.Array, key: jax.Array):
    """``batch(step) -> (x, y)``: the full batch, or minibatches without replacement.

    Each epoch draws a permutation from ``fold_in(key, epoch)``; the examples left over
    after the last full batch of an epoch are skipped in that epoch.
    """
    n = x.shape[0]
    if batch_size is None or batch_size >= n:
        return lambda step: (x, y)
    per_epoch = n // batch_size

    def batch(step: jax.Array):
        epoch, position = jnp.divmod(step, per_epoch)
        order = jax.random.permutation(jax.random.fold_in(key, epoch), n)
        index = jax.lax.dynamic_slice_in_dim(order, position * batch_size, batch_size)
        return x[index], y[index]

    return batch


def to_outcome(static: RunStatic, output: loop.Output) -> Outcome:
    """One member's output on the host as an :class:`~experiments.contract.Outcome`; ``ce`` in
    the run's ``base``."""
    weights = np.asarray(output.params.weights)
    outcome = loop.to_outcome(
        output,
        static.steps,
        static.log_every,
        {"weights": weights, "bias": np.asarray(output.params.bias)},
        extra={
            **({"solver": static.solver} if static.optimizer == "newton" else {}),
            "steps_taken": int(output.steps_taken),
            "converged": bool(output.converged) and static.has_tol,
            **_group_shares(static.feature_groups, weights),
        },
        keep_last_finite=True,
    )
    if static.base is not None:
        for metrics in outcome.history.values():
            metrics["ce"] = metrics["ce"] / math.log(static.base)
    return outcome


def _group_shares(groups: tuple[tuple[int, ...], ...], weights: np.ndarray) -> dict[str, list]:
    """``group_weight_share``: for each correlated group, the share of the group's total
    |w| that its largest member carries: 1/size when the weight is spread evenly, 1 when
    one member has it all (NaN for an all-zero group). Absent without groups."""
    if not groups:
        return {}
    shares = []
    for group in groups:
        magnitudes = np.abs(weights[list(group)].astype(np.float64))
        total = magnitudes.sum()
        shares.append(float(magnitudes.max() / total) if total > 0 else float("nan"))
    return {"group_weight_share": shares}
