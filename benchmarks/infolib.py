"""infolib's kernels against optax, plain jax.numpy, scipy and torch, and the copy limit.

    python -m benchmarks.infolib [--quick] [--out DIR] [--only FUNCTION] [--against REF]

For each function (cross-entropy with logits from soft targets and from integer labels, KL
from probabilities and from logits, entropy, Jensen–Shannon, binary cross-entropy with
logits), at 1024 × 32768 and 65536 × 10 float32, it times the forward pass and the forward
pass with the gradient (``jax.value_and_grad`` of the sum, with respect to the model's input:
the logits or q; p for the entropy) of every contender in this one process:

- infolib;
- optax's function where one exists;
- a plain jax.numpy / jax.scipy.special formulation;
- scipy, forward only, on float64 copies of the inputs (as users call it);
- torch on the CPU (float32, forward under ``inference_mode``, gradient by ``backward``),
  when torch is installed; otherwise the column is empty.

The limit of a pass is the bytes it must read and write once (every input, and the output:
the per-row values, or the gradient) over the copy bandwidth measured in the same run
(:func:`benchmarks._common.copy_bandwidth`); the table gives the fraction of it reached.

A second harness, for the functions that optax has, times infolib and optax the plain way,
right after the first harness in the same process: ``jax.jit(f)`` forward and
``jax.jit(jax.value_and_grad(lambda l, t: jnp.sum(f(t, l))))`` with the gradient, the
median of ``PLAIN_CALLS`` calls of each, infolib and optax alternating, after two untimed
calls each; it also counts the minor page faults of each call (``getrusage``): a gradient
pass writes a fresh buffer the size of the logits, and the cost of faulting it in varies
with the state of the machine (see BENCHMARKS.md).

``--against REF`` adds infolib as of the git commit REF as one more contender of the first
harness (imported from a temporary copy under another name): the cost of a change.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.spatial.distance
import scipy.special

import infolib
from benchmarks import _common

NAME = "infolib"
SHAPES = ((1024, 32768), (65536, 10))
QUICK_SHAPES = ((8, 512), (256, 10))
QUICK_FUNCTIONS = (
    "cross_entropy_with_logits",
    "entropy",
)  # one with an optax contender, one without
NOISE = 0.05  # ratios within 5% of 1 are read as a tie (the goal itself is a ratio <= 1.0)
CONTENDERS = ("infolib", "optax", "jax.numpy", "scipy", "torch")
PLAIN_CALLS = 7  # the second harness: calls of each contender (2 when quick)


# ---------------------------------------------------------------------------
# The kernels and their contenders
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Kernel:
    """A function and its contenders, each called as ``f(*inputs)``.

    ``inputs`` are drawn by ``draw(rng, batch, classes)``; the last one is the model's input,
    the one the gradient is taken with respect to. ``scipy`` takes float64 numpy copies of
    the inputs; ``torch`` takes torch tensors (labels as int64).
    """

    name: str
    draw: Callable[[np.random.Generator, int, int], tuple[np.ndarray, ...]]
    jax: dict[str, Callable[..., jax.Array]]
    scipy: Callable[..., np.ndarray] | None
    torch: Callable[..., Any] | None


def _normal(rng: np.random.Generator, b: int, k: int) -> np.ndarray:
    return rng.standard_normal((b, k), dtype=np.float32)


def _probabilities(rng: np.random.Generator, b: int, k: int) -> np.ndarray:
    z = _normal(rng, b, k)
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def _logits_and_soft_targets(rng, b, k):
    return _probabilities(rng, b, k), _normal(rng, b, k)


def _labels_and_logits(rng, b, k):
    return rng.integers(0, k, size=b, dtype=np.int32), _normal(rng, b, k)


def _two_distributions(rng, b, k):
    return _probabilities(rng, b, k), _probabilities(rng, b, k)


def _two_logits(rng, b, k):
    return _normal(rng, b, k), _normal(rng, b, k)


def _one_distribution(rng, b, k):
    return (_probabilities(rng, b, k),)


def _binary_targets_and_logits(rng, b, k):
    return rng.uniform(size=(b, k)).astype(np.float32), _normal(rng, b, k)


def _rel_entr_sum(p, q):
    return jnp.sum(jax.scipy.special.rel_entr(p, q), axis=-1)


def _plain_js(p, q):
    m = (p + q) / 2
    rel_entr = jax.scipy.special.rel_entr
    return 0.5 * jnp.sum(rel_entr(p, m) + rel_entr(q, m), axis=-1)


def _plain_kl_with_logits(a, b):
    log_p = jax.nn.log_softmax(a, axis=-1)
    return jnp.sum(jnp.exp(log_p) * (log_p - jax.nn.log_softmax(b, axis=-1)), axis=-1)


def _plain_sparse(labels, z):
    label_logit = jnp.take_along_axis(z, labels[:, None], axis=-1)[:, 0]
    return jax.nn.logsumexp(z, axis=-1) - label_logit


def _plain_bce(y, z):
    return -(y * jax.nn.log_sigmoid(z) + (1 - y) * jax.nn.log_sigmoid(-z))


def _scipy_kl_with_logits(a, b):
    log_p = scipy.special.log_softmax(a, axis=-1)
    log_q = scipy.special.log_softmax(b, axis=-1)
    return np.sum(np.exp(log_p) * (log_p - log_q), axis=-1)


def _scipy_sparse(labels, z):
    label_logit = np.take_along_axis(z, labels[:, None].astype(np.intp), axis=-1)[:, 0]
    return scipy.special.logsumexp(z, axis=-1) - label_logit


def _scipy_bce(y, z):
    log_expit = scipy.special.log_expit
    return -(y * log_expit(z) + (1 - y) * log_expit(-z))


def _torch_functions() -> dict[str, Callable[..., Any]]:
    # Idle OpenMP threads sleep rather than spin, so that they leave the cores to XLA's
    # threads between torch calls (read when torch's OpenMP runtime starts).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    import torch.nn.functional as F

    def kl_with_logits(a, b):
        log_p, log_q = F.log_softmax(a, dim=-1), F.log_softmax(b, dim=-1)
        return F.kl_div(log_q, log_p, reduction="none", log_target=True).sum(-1)

    def js(p, q):
        log_m = ((p + q) / 2).log()
        kl = F.kl_div(log_m, p, reduction="none") + F.kl_div(log_m, q, reduction="none")
        return 0.5 * kl.sum(-1)

    return {
        "cross_entropy_with_logits": lambda p, z: F.cross_entropy(z, p, reduction="none"),
        "sparse_cross_entropy_with_logits": lambda y, z: F.cross_entropy(z, y, reduction="none"),
        "kl_divergence": lambda p, q: F.kl_div(q.log(), p, reduction="none").sum(-1),
        "kl_divergence_with_logits": kl_with_logits,
        "entropy": lambda p: torch.special.entr(p).sum(-1),
        "js_divergence": js,
        "binary_cross_entropy_with_logits": lambda y, z: F.binary_cross_entropy_with_logits(
            z, y, reduction="none"
        ),
    }


def kernels(*, with_torch: bool) -> list[Kernel]:
    """The benchmarked functions and their contenders."""
    torch_fns = _torch_functions() if with_torch else {}
    specs = [
        (
            "cross_entropy_with_logits",
            _logits_and_soft_targets,
            {
                "infolib": infolib.cross_entropy_with_logits,
                "optax": lambda p, z: optax.losses.softmax_cross_entropy(z, p),
                "jax.numpy": lambda p, z: -jnp.sum(p * jax.nn.log_softmax(z, axis=-1), axis=-1),
            },
            lambda p, z: -np.sum(p * scipy.special.log_softmax(z, axis=-1), axis=-1),
        ),
        (
            "sparse_cross_entropy_with_logits",
            _labels_and_logits,
            {
                "infolib": infolib.sparse_cross_entropy_with_logits,
                "optax": lambda y, z: optax.losses.softmax_cross_entropy_with_integer_labels(z, y),
                "jax.numpy": _plain_sparse,
            },
            _scipy_sparse,
        ),
        (
            "kl_divergence",
            _two_distributions,
            {
                "infolib": infolib.kl_divergence,
                "optax": lambda p, q: optax.losses.kl_divergence(jnp.log(q), p),
                "jax.numpy": _rel_entr_sum,
            },
            lambda p, q: np.sum(scipy.special.rel_entr(p, q), axis=-1),
        ),
        (
            "kl_divergence_with_logits",
            _two_logits,
            {
                "infolib": infolib.kl_divergence_with_logits,
                "optax": lambda a, b: optax.losses.kl_divergence_with_log_targets(
                    jax.nn.log_softmax(b, axis=-1), jax.nn.log_softmax(a, axis=-1)
                ),
                "jax.numpy": _plain_kl_with_logits,
            },
            _scipy_kl_with_logits,
        ),
        (
            "entropy",
            _one_distribution,
            {
                "infolib": infolib.entropy,
                "jax.numpy": lambda p: jnp.sum(jax.scipy.special.entr(p), axis=-1),
            },
            lambda p: np.sum(scipy.special.entr(p), axis=-1),
        ),
        (
            "js_divergence",
            _two_distributions,
            {"infolib": infolib.js_divergence, "jax.numpy": _plain_js},
            lambda p, q: scipy.spatial.distance.jensenshannon(p, q, axis=-1) ** 2,
        ),
        (
            "binary_cross_entropy_with_logits",
            _binary_targets_and_logits,
            {
                "infolib": infolib.binary_cross_entropy_with_logits,
                "optax": lambda y, z: optax.losses.sigmoid_binary_cross_entropy(z, y),
                "jax.numpy": _plain_bce,
            },
            _scipy_bce,
        ),
    ]
    return [
        Kernel(name, draw, fns, scipy_fn, torch_fns.get(name))
        for name, draw, fns, scipy_fn in specs
    ]


# ---------------------------------------------------------------------------
# Passes
# ---------------------------------------------------------------------------


def _forward(fn: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    return jax.jit(fn)


def _with_gradient(fn: Callable[..., jax.Array]) -> Callable[..., Any]:
    """``(sum of fn, gradient of the sum with respect to the last input)``, jitted."""

    def total(*inputs):
        return jnp.sum(fn(*inputs))

    return jax.jit(lambda *inputs: jax.value_and_grad(total, argnums=len(inputs) - 1)(*inputs))


def _torch_forward(fn: Callable[..., Any]) -> Callable[..., Any]:
    import torch

    def run(*inputs):
        with torch.inference_mode():
            return fn(*inputs)

    return run


def _torch_with_gradient(fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*inputs):
        model = inputs[-1].detach().requires_grad_()
        value = fn(*inputs[:-1], model).sum()
        value.backward()
        return value.detach(), model.grad

    return run


def _torch_inputs(inputs: Sequence[np.ndarray]) -> tuple[Any, ...]:
    import torch

    return tuple(
        torch.from_numpy(np.array(x, np.int64 if x.dtype.kind == "i" else np.float32))
        for x in inputs
    )


def _to_numpy(out: Any) -> np.ndarray:
    if hasattr(out, "detach"):
        out = out.detach().numpy()
    return np.asarray(out, np.float64)


# ---------------------------------------------------------------------------
# infolib at another commit (--against)
# ---------------------------------------------------------------------------


def library_at(ref: str) -> tuple[str, ModuleType]:
    """infolib as of git ``ref``: its name as a contender and the module.

    The package is copied out of git into a temporary folder and imported as
    ``infolib_<sha>``, its imports of itself rewritten, so that both versions run in this
    process side by side.
    """
    sha = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=_common.REPO, capture_output=True, text=True
    )
    if sha.returncode != 0:
        raise ValueError(f"--against: not a git commit: {ref!r}")
    sha_text = sha.stdout.strip()
    package = f"infolib_{sha_text}"
    root = Path(tempfile.mkdtemp(prefix="infolib-at-"))
    archive = subprocess.run(
        ["git", "archive", sha_text, "infolib"], cwd=_common.REPO, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    (root / "infolib").rename(root / package)
    for path in (root / package).glob("*.py"):
        text = re.sub(r"\binfolib\b", package, path.read_text())
        path.write_text(text)
    sys.path.insert(0, str(root))
    return f"infolib@{sha_text}", importlib.import_module(package)


# ---------------------------------------------------------------------------
# The second harness: plain timing
# ---------------------------------------------------------------------------


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def plain_timing(
    kernel: Kernel, shape: tuple[int, int], *, calls: int, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """infolib and optax timed the plain way (see the module docstring), both passes.

    Returns ``{pass: {contender: {"median_s", "min_s", "calls", "minor_faults_per_call"},
    "infolib/optax": ratio of the medians}}``.
    """
    inputs = [jnp.asarray(x) for x in kernel.draw(np.random.default_rng(seed), *shape)]
    model, targets = inputs[-1], inputs[:-1]
    out: dict[str, dict[str, Any]] = {}
    for grad in (False, True):
        programs = {}
        for name in ("infolib", "optax"):
            fn = kernel.jax[name]
            if grad:
                programs[name] = jax.jit(
                    jax.value_and_grad(lambda l, *t, fn=fn: jnp.sum(fn(*t, l)))  # noqa: E741
                )
            else:
                programs[name] = jax.jit(lambda l, *t, fn=fn: fn(*t, l))  # noqa: E741
        for program in programs.values():
            for _ in range(2):
                jax.block_until_ready(program(model, *targets))
        times: dict[str, list[float]] = {name: [] for name in programs}
        faults: dict[str, list[int]] = {name: [] for name in programs}
        for _ in range(calls):
            for name, program in programs.items():
                before = _minor_faults()
                start = time.perf_counter()
                jax.block_until_ready(program(model, *targets))
                times[name].append(time.perf_counter() - start)
                faults[name].append(_minor_faults() - before)
        result: dict[str, Any] = {
            name: {
                "median_s": statistics.median(times[name]),
                "min_s": min(times[name]),
                "calls": calls,
                "minor_faults_per_call": statistics.median(faults[name]),
            }
            for name in programs
        }
        result["infolib/optax"] = result["infolib"]["median_s"] / result["optax"]["median_s"]
        out["forward+gradient" if grad else "forward"] = result
    return out


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def _limit_bytes(inputs: Sequence[np.ndarray], out_shape: tuple[int, ...], grad: bool) -> int:
    """Bytes a pass must move: every input read once, its output written once."""
    read = sum(x.nbytes for x in inputs)
    written = inputs[-1].nbytes + 4 if grad else 4 * math.prod(out_shape)
    return read + written


def bench_kernel(
    kernel: Kernel,
    shape: tuple[int, int],
    bandwidth: float,
    *,
    budget_s: float,
    rounds: int,
    seed: int = 0,
    plain_calls: int = 0,
    extra: dict[str, Callable[..., jax.Array]] | None = None,
) -> list[dict[str, Any]]:
    """Times every contender of one function at one shape; one record per pass.

    The JAX contenders (and ``extra``, more JAX contenders by name) are timed in
    interleaved rounds (:func:`benchmarks._common.measure_interleaved`); torch and scipy
    after them, each on its own (torch's OpenMP threads, interleaved with XLA's on few
    cores, slow both down). With ``plain_calls`` and an optax contender, the second harness
    (:func:`plain_timing`) runs right after, and its figures go into the records as
    ``"plain"``.
    """
    inputs = kernel.draw(np.random.default_rng(seed), *shape)
    on_device = [jnp.asarray(x) for x in inputs]
    contenders = {**kernel.jax, **(extra or {})}
    records = []
    for grad in (False, True):
        wrap = _with_gradient if grad else _forward
        calls = {name: (wrap(fn), on_device) for name, fn in contenders.items()}
        measured, outputs = _common.measure_interleaved(calls, budget_s=budget_s, rounds=rounds)
        if kernel.torch is not None:
            run = (_torch_with_gradient if grad else _torch_forward)(kernel.torch)
            measured["torch"], outputs["torch"] = _common.measure(
                run, *_torch_inputs(inputs), budget_s=budget_s
            )
        reference = _to_numpy(outputs["infolib"][0] if grad else outputs["infolib"])
        timings: dict[str, Any] = {}
        for name, timing in measured.items():
            value = _to_numpy(outputs[name][0] if grad else outputs[name])
            timings[name] = {**timing.as_dict(), "max_abs_diff": _diff(value, reference)}
        if kernel.scipy is not None and not grad:
            as_float64 = [x if x.dtype.kind == "i" else x.astype(np.float64) for x in inputs]
            timing, out = _common.measure(kernel.scipy, *as_float64, budget_s=budget_s)
            diff = _diff(_to_numpy(out), reference)
            timings["scipy"] = {**timing.as_dict(), "max_abs_diff": diff}
        out_shape = jax.eval_shape(contenders["infolib"], *on_device).shape
        n_bytes = _limit_bytes(inputs, out_shape, grad)
        limit_s = n_bytes / bandwidth
        ours = timings["infolib"]["median_s"]
        records.append(
            {
                "function": kernel.name,
                "shape": list(shape),
                "pass": "forward+gradient" if grad else "forward",
                "bytes": n_bytes,
                "limit_s": limit_s,
                "fraction_of_limit": limit_s / ours,
                "timings": timings,
                "ratio_to_infolib": {
                    name: t["median_s"] / ours for name, t in timings.items() if name != "infolib"
                },
            }
        )
    if plain_calls and "optax" in kernel.jax:
        plain = plain_timing(kernel, shape, calls=plain_calls, seed=seed)
        for record in records:
            record["plain"] = plain[record["pass"]]
    return records


def _diff(value: np.ndarray, reference: np.ndarray) -> float:
    """Largest absolute difference from infolib's output (the sums, for a gradient pass)."""
    return float(np.max(np.abs(value - reference)))


def run(*, quick: bool, only: Sequence[str] = (), against: str | None = None) -> dict[str, Any]:
    """Runs the benchmark and returns its results (see the module docstring).

    Args:
        quick: tiny shapes and the functions of ``QUICK_FUNCTIONS`` only (seconds).
        only: the functions to run (default: all, or ``QUICK_FUNCTIONS`` when quick).
        against: a git commit whose infolib is timed as one more contender.
    """
    with_torch = importlib.util.find_spec("torch") is not None
    shapes = QUICK_SHAPES if quick else SHAPES
    chosen = set(only or (QUICK_FUNCTIONS if quick else ()))
    selected = [k for k in kernels(with_torch=with_torch) if not chosen or k.name in chosen]
    unknown = chosen - {k.name for k in selected}
    if unknown:
        raise ValueError(f"unknown function(s): {', '.join(sorted(unknown))}")
    largest = max(math.prod(s) for s in shapes) * 4
    copy_bytes = 16 * 2**20 if quick else max(256 * 2**20, 2 * largest)
    budget_s, rounds = (0.01, 2) if quick else (0.5, 5)
    copy = _common.copy_bandwidth(copy_bytes, budget_s=budget_s)
    bandwidth = copy["limit_bytes_per_s"]
    reference = library_at(against) if against else None
    records = [
        record
        for shape in shapes
        for kernel in selected
        for record in bench_kernel(
            kernel,
            shape,
            bandwidth,
            budget_s=budget_s,
            rounds=rounds,
            plain_calls=2 if quick else PLAIN_CALLS,
            extra={reference[0]: getattr(reference[1], kernel.name)} if reference else None,
        )
    ]
    return {
        "benchmark": NAME,
        "quick": quick,
        "machine": _common.machine(),
        "torch_installed": with_torch,
        "against": reference[0] if reference else None,
        "shapes": [list(s) for s in shapes],
        "copy": copy,
        "records": records,
        "goals": goals(records),
    }


def goals(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's goals, each with its figure: infolib no slower than optax (the time
    ratio infolib/optax at most 1.0) in each harness, and on a GPU at least 80% of the copy
    limit at 1024 × 32768. ``within_noise`` marks ratios within ``NOISE`` of 1."""
    out = []
    for r in records:
        where = f"{r['function']} {r['pass']} {r['shape'][0]}×{r['shape'][1]}"
        figures = []
        if "optax" in r["timings"]:
            figures.append(("no slower than optax", 1 / r["ratio_to_infolib"]["optax"]))
        if "plain" in r:
            figures.append(("no slower than optax, plain timing", r["plain"]["infolib/optax"]))
        for goal, figure in figures:
            out.append(
                {
                    "goal": goal,
                    "where": where,
                    "figure": figure,
                    "met": figure <= 1.0,
                    "within_noise": figure <= 1.0 + NOISE,
                }
            )
    gpu = jax.default_backend() == "gpu"
    for r in records:
        if tuple(r["shape"]) == SHAPES[0]:
            out.append(
                {
                    "goal": "≥ 80% of the copy limit (GPU)",
                    "where": f"{r['function']} {r['pass']}",
                    "figure": r["fraction_of_limit"],
                    "met": r["fraction_of_limit"] >= 0.8 if gpu else None,
                }
            )
    return out


# ---------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------


def tables(results: dict[str, Any]) -> list[str]:
    """The printed report: the machine, the copy limit, one table per shape, the goals."""
    copy = results["copy"]
    host = copy["host_copy_bytes_per_s"]
    lines = [
        f"# infolib kernels: {_common.describe(results['machine'])}",
        "",
        f"Copy limit: {copy['limit_bytes_per_s'] / 1e9:.2f} GB/s (read + write) "
        f"= max(device copy {copy['device_copy_bytes_per_s'] / 1e9:.2f} GB/s"
        + (f", host memcpy {host / 1e9:.2f} GB/s" if host else "")
        + f") over {copy['bytes'] / 2**20:.0f} MiB.",
        "Cells: median ms (contender time / infolib time; above 1 means infolib is faster). "
        "Plain: the second harness, infolib ms / optax ms (infolib/optax; at most 1 meets the "
        "goal), and the minor page faults of one infolib call.",
        "",
    ]
    contenders = [*CONTENDERS[1:], *([results["against"]] if results.get("against") else [])]
    headers = [
        "function",
        "pass",
        "infolib ms",
        "compile ms",
        *contenders,
        "plain: infolib / optax",
        "faults/call",
        "limit ms",
        "of limit",
    ]
    for shape in results["shapes"]:
        rows = []
        for r in (r for r in results["records"] if r["shape"] == shape):
            t, ratios = r["timings"], r["ratio_to_infolib"]
            cells = [
                f"{_common.ms(t[c]['median_s'])} ({_common.ratio(ratios[c])})" if c in t else "—"
                for c in contenders
            ]
            plain = r.get("plain")
            plain_cells = (
                [
                    f"{_common.ms(plain['infolib']['median_s'])} / "
                    f"{_common.ms(plain['optax']['median_s'])} "
                    f"({_common.ratio(plain['infolib/optax'])})",
                    f"{plain['infolib']['minor_faults_per_call']:.0f}",
                ]
                if plain
                else ["—", "—"]
            )
            rows.append(
                [
                    r["function"],
                    "fwd+grad" if r["pass"] == "forward+gradient" else "fwd",
                    _common.ms(t["infolib"]["median_s"]),
                    _common.ms(t["infolib"]["compile_s"]),
                    *cells,
                    *plain_cells,
                    _common.ms(r["limit_s"]),
                    _common.percent(r["fraction_of_limit"]),
                ]
            )
        lines += [
            f"## {shape[0]} × {shape[1]} float32",
            "",
            _common.markdown_table(headers, rows),
            "",
        ]
    for goal in ("no slower than optax", "no slower than optax, plain timing"):
        chosen = [g for g in results["goals"] if g["goal"] == goal]
        missed = [g for g in chosen if not g["met"]]
        lines.append(
            f"Goal, {goal} (infolib/optax <= 1): {len(chosen) - len(missed)} of "
            f"{len(chosen)} met"
            + (
                ""
                if not missed
                else "; missed: "
                + ", ".join(
                    f"{g['where']} ({_common.ratio(g['figure'])}"
                    + (", within noise)" if g["within_noise"] else ")")
                    for g in missed
                )
            )
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    def options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--only",
            action="append",
            default=[],
            metavar="FUNCTION",
            help="run this infolib function only (repeatable, or comma-separated), "
            "e.g. --only entropy,kl_divergence",
        )
        parser.add_argument(
            "--against",
            metavar="REF",
            help="also time infolib as of this git commit (the cost of a change)",
        )

    args = _common.arguments(__doc__.splitlines()[0], argv, extra=options)
    only = [name for value in args.only for name in value.split(",") if name]
    known = {k.name for k in kernels(with_torch=importlib.util.find_spec("torch") is not None)}
    if unknown := sorted(set(only) - known):
        print(
            f"--only: unknown function(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            file=sys.stderr,
        )
        return 2
    results = run(quick=args.quick, only=only, against=args.against)
    path = _common.write_json(NAME, results, args.out, quick=args.quick)
    _common.report([*tables(results), "", f"Written: {path}"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
