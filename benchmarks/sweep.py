"""A vectorised sweep against a Python loop of single runs and the matrix-product limit.

    python -m benchmarks.sweep [--quick] [--out DIR]

S members (S = 1, 16, 256, 1024) of logistic regression (cross-entropy, a Gaussian prior
whose scale differs per member, full-batch gradient descent) on synthetic data, N = 10,000
examples and D = 100 features, 500 steps, all training data (no test split), metrics
logged at steps 0 and 500 only, timed three ways in one process:

- the sweep: :func:`experiments.pipeline.execute.run_members`, one compiled, vmapped program;
- the loop: :func:`experiments.pipeline.loop.run_member` (the compiled
  one-member program) called once per member. Its cost is linear in
  S, so above ``LOOP_MEMBERS`` members only that many are timed and the time is scaled by
  S / ``LOOP_MEMBERS`` (the table says so);
- the limit: the matrix products of a step alone, X @ W and Xᵀ @ G with W and G of shapes
  D × S and N × S, timed as a compiled loop of ``MATMUL_STEPS`` steps (as the sweep's steps
  run in a compiled loop); a step of the sweep cannot be faster.

Reported: member-steps per second, the speed-up of the sweep over the loop, the speed-up
the matrix products alone would give over the loop (the ceiling for any sweep), and the
fraction of the matrix-product rate the sweep reaches.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import _common
from experiments.kinds.classifier.data import Dataset, load_dataset
from experiments.kinds.classifier.program import PROGRAM
from experiments.kinds.classifier.schema import RunSpec
from experiments.pipeline import execute
from experiments.pipeline.loop import run_member

NAME = "sweep"


@dataclasses.dataclass(frozen=True)
class Sizes:
    members: tuple[int, ...]
    n: int
    d: int
    steps: int
    loop_members: int  # the most members the loop runs; more are extrapolated
    repeats: int


FULL = Sizes(members=(1, 16, 256, 1024), n=10_000, d=100, steps=500, loop_members=16, repeats=3)
QUICK = Sizes(members=(1, 4), n=400, d=8, steps=20, loop_members=2, repeats=1)
GOAL_MEMBERS, GOAL_SPEEDUP, GOAL_FRACTION = 256, 20.0, 0.4


def member_specs(sizes: Sizes, count: int) -> list[RunSpec]:
    """``count`` runs that differ only in their prior scale (log-spaced from 0.1 to 10)."""
    scales = np.logspace(-1, 1, count) if count > 1 else np.array([1.0])
    return [
        RunSpec.model_validate(
            {
                "name": f"member{i}",
                "seed": 0,
                "data": {
                    "source": "synthetic",
                    "n_samples": sizes.n,
                    "n_features": sizes.d,
                    "n_informative": min(5, sizes.d),
                    "test_fraction": 0.0,
                },
                "train": {
                    "loss": "ce",
                    "prior": {"kind": "gaussian", "scale": float(scale)},
                    "optimizer": {"name": "sgd", "learning_rate": 0.5},
                    "steps": sizes.steps,
                    "log_every": sizes.steps,
                },
            }
        )
        for i, scale in enumerate(scales)
    ]


def _loop(specs: Sequence[RunSpec], data: Dataset) -> list:
    return [run_member(PROGRAM, spec, data) for spec in specs]


def _sweep(specs: Sequence[RunSpec], data: Dataset) -> list:
    return execute.run_members(PROGRAM, specs, [data] * len(specs)).outcomes


MATMUL_STEPS = 20


def _matrix_products(x: jax.Array, w: jax.Array) -> jax.Array:
    """``MATMUL_STEPS`` steps of the matrix products alone, in one compiled loop: the logits
    Z = X @ W and the weight gradient Xᵀ @ Z (the pullback of X @ W, as autodiff writes it in
    the training step), each step's W moved by the last gradient so that no product can be
    hoisted out of the loop. One call per step would count dispatch and the allocation of
    fresh outputs, which the sweep's compiled loop does not pay."""

    def step(_, w):
        logits, pullback = jax.vjp(lambda w: x @ w, w)
        (weight_gradient,) = pullback(logits)
        return w - 1e-12 * weight_gradient

    return jax.lax.fori_loop(0, MATMUL_STEPS, step, w)


def bench_members(count: int, sizes: Sizes, data: Dataset) -> dict[str, Any]:
    """Times the sweep, the loop and the matrix products for one number of members."""
    specs = member_specs(sizes, count)
    sweep_timing, results = _common.measure(
        lambda: _sweep(specs, data), repeats=sizes.repeats, warmup=False
    )
    looped = specs[: min(count, sizes.loop_members)]
    loop_timing, loop_results = _common.measure(
        lambda: _loop(looped, data), repeats=sizes.repeats, warmup=False
    )
    # The same answer: the sweep's members against the loop's, member by member.
    weight_diff = max(
        float(np.max(np.abs(a.params["weights"] - b.params["weights"])))
        for a, b in zip(results, loop_results, strict=False)
    )
    loop_s = loop_timing.median_s * count / len(looped)
    diverged = sum(r.status != "ok" for r in results)

    rng = np.random.default_rng(0)
    x = jnp.asarray(data.x_train)
    w = jnp.asarray(rng.standard_normal((sizes.d, count), dtype=np.float32))
    matmul_timing, _ = _common.measure(jax.jit(_matrix_products), x, w)
    step_s = matmul_timing.median_s / MATMUL_STEPS

    member_steps = count * sizes.steps
    sweep_rate = member_steps / sweep_timing.median_s
    loop_rate = member_steps / loop_s
    limit_rate = count / step_s
    return {
        "members": count,
        "sweep": sweep_timing.as_dict(),
        "loop": {
            **loop_timing.as_dict(),
            "members_timed": len(looped),
            "extrapolated": len(looped) < count,
            "seconds_for_all": loop_s,
        },
        "matrix_products": {**matmul_timing.as_dict(), "steps": MATMUL_STEPS, "step_s": step_s},
        "member_steps_per_s": {"sweep": sweep_rate, "loop": loop_rate, "limit": limit_rate},
        "speedup_over_loop": sweep_rate / loop_rate,
        "limit_over_loop": limit_rate / loop_rate,
        "fraction_of_limit": sweep_rate / limit_rate,
        "max_weight_difference_sweep_vs_loop": weight_diff,
        "diverged_members": diverged,
    }


def run(*, quick: bool) -> dict[str, Any]:
    """Runs the benchmark and returns its results (see the module docstring)."""
    sizes = QUICK if quick else FULL
    probe = member_specs(sizes, 1)[0]
    data = load_dataset(probe.data, probe.seed)
    records = [bench_members(count, sizes, data) for count in sizes.members]
    return {
        "benchmark": NAME,
        "quick": quick,
        "machine": _common.machine(),
        "sizes": dataclasses.asdict(sizes),
        "records": records,
        "goals": goals(records),
    }


def goals(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """At S = 256: at least 20 times the loop, and 40% of the matrix-product rate."""
    at = [r for r in records if r["members"] == GOAL_MEMBERS]
    if not at:
        return []
    r = at[0]
    return [
        {
            "goal": f"at S = {GOAL_MEMBERS}, ≥ {GOAL_SPEEDUP:.0f}× the loop",
            "figure": r["speedup_over_loop"],
            "met": r["speedup_over_loop"] >= GOAL_SPEEDUP,
        },
        {
            "goal": f"at S = {GOAL_MEMBERS}, ≥ {GOAL_FRACTION:.0%} of the matrix-product rate",
            "figure": r["fraction_of_limit"],
            "met": r["fraction_of_limit"] >= GOAL_FRACTION,
        },
    ]


def _rate(value: float) -> str:
    return f"{value:.3g}"


def tables(results: dict[str, Any]) -> list[str]:
    """The printed report: the machine, the table, the goals."""
    s = results["sizes"]
    headers = [
        "S",
        "sweep s",
        "compile s",
        "sweep member-steps/s",
        "loop s",
        "loop member-steps/s",
        "speed-up",
        "limit / loop",
        "matmul ms/step",
        "limit member-steps/s",
        "of limit",
    ]
    rows = []
    for r in results["records"]:
        loop = r["loop"]
        loop_s = f"{loop['seconds_for_all']:.3g}"
        if loop["extrapolated"]:
            loop_s += f" ({loop['members_timed']} timed)"
        rates = r["member_steps_per_s"]
        rows.append(
            [
                r["members"],
                f"{r['sweep']['median_s']:.3g}",
                f"{r['sweep']['compile_s']:.3g}",
                _rate(rates["sweep"]),
                loop_s,
                _rate(rates["loop"]),
                _common.ratio(r["speedup_over_loop"]),
                _common.ratio(r["limit_over_loop"]),
                _common.ms(r["matrix_products"]["step_s"]),
                _rate(rates["limit"]),
                _common.percent(r["fraction_of_limit"]),
            ]
        )
    lines = [
        f"# Sweeps: {_common.describe(results['machine'])}",
        "",
        f"Logistic regression, N = {s['n']}, D = {s['d']}, {s['steps']} full-batch steps; "
        f"median of {s['repeats']} timed call(s) after the first (compile s = first call − "
        f"median). The loop above {s['loop_members']} members is timed on "
        f"{s['loop_members']} and scaled by S/{s['loop_members']}.",
        "",
        _common.markdown_table(headers, rows),
        "",
    ]
    for g in results["goals"]:
        figure = g["figure"]
        shown = _common.percent(figure) if "rate" in g["goal"] else _common.ratio(figure)
        lines.append(f"Goal {g['goal']}: {'met' if g['met'] else 'missed'} ({shown})")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    return _common.main(NAME, __doc__.splitlines()[0], run, tables, argv)


if __name__ == "__main__":
    sys.exit(main())
