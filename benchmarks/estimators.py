"""infolib's estimators from samples and counts against the usual implementations.

    python -m benchmarks.estimators [--quick] [--out DIR]

- KSG mutual information (k = 3, max-norm) at n = 10⁴ samples, d = 1..8 dimensions for each
  of X and Y: :func:`infolib.ksg_mutual_information` (jitted, float32 and float64) against a
  SciPy ``cKDTree`` implementation of the same formula (float64, as NPEET and scikit-learn
  compute it), with the largest difference of their values;
- KSG over 100 data sets of n = 1000: one vmapped (batched) call against a Python loop of
  the jitted single-set call;
- NSB over 1,000 count vectors (K = 100, n = 200): one batched :func:`infolib.nsb_entropy`
  call against ``ndd.entropy`` in a loop, when ``ndd`` is installed (else that row says so).

Timings are medians after a warm-up call (:func:`benchmarks._common.measure`); the first
call's compilation is reported apart.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma

import infolib
from benchmarks import _common

NAME = "estimators"
K = 3


def kd_tree_ksg(x: np.ndarray, y: np.ndarray, k: int = K) -> float:
    """KSG algorithm 1 by KD-trees: ψ(k) + ψ(n) − ⟨ψ(n_x + 1) + ψ(n_y + 1)⟩, strict counts."""
    xy = np.hstack([x, y])
    eps = cKDTree(xy).query(xy, k=k + 1, p=np.inf)[0][:, k]
    radius = np.nextafter(eps, 0)
    nx = cKDTree(x).query_ball_point(x, radius, p=np.inf, return_length=True) - 1
    ny = cKDTree(y).query_ball_point(y, radius, p=np.inf, return_length=True) - 1
    return float(digamma(k) + digamma(len(x)) - np.mean(digamma(nx + 1) + digamma(ny + 1)))


def _pair(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    x = rng.standard_normal(shape)
    y = 0.6 * x + 0.8 * rng.standard_normal(shape)
    return x, y


def _ksg_rows(n: int, dims: Sequence[int]) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    ksg = jax.jit(functools.partial(infolib.ksg_mutual_information, k=K))
    rows = []
    for d in dims:
        x, y = _pair(rng, (n, d))
        tree, reference = _common.measure(kd_tree_ksg, x, y, warmup=False, repeats=1)
        row: dict[str, Any] = {"n": n, "d": d, "kd_tree": tree.as_dict()}
        for dtype in ("float32", "float64"):
            with jax.enable_x64(dtype == "float64"):
                args = (jnp.asarray(x, dtype), jnp.asarray(y, dtype))
                timing, value = _common.measure(ksg, *args, repeats=3)
                row[dtype] = {**timing.as_dict(), "difference": abs(float(value) - reference)}
        rows.append(row)
    return rows


def _vmap_row(n: int, sets: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    x, y = (jnp.asarray(a, jnp.float32) for a in _pair(rng, (sets, n, 1)))
    single = jax.jit(functools.partial(infolib.ksg_mutual_information, k=K))
    batched = jax.jit(jax.vmap(single))

    def loop(x, y):
        return [single(x[i], y[i]) for i in range(sets)]

    vmapped, out_v = _common.measure(batched, x, y, repeats=3)
    looped, out_l = _common.measure(loop, x, y, repeats=3)
    difference = float(np.max(np.abs(np.asarray(out_v) - np.asarray(out_l))))
    return {
        "n": n,
        "sets": sets,
        "vmap": vmapped.as_dict(),
        "loop": looped.as_dict(),
        "difference": difference,
    }


def _nsb_row(batch: int, bins: int, n: int) -> dict[str, Any]:
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.full(bins, 0.5), size=batch)
    counts = np.stack([rng.multinomial(n, row) for row in p]).astype(np.float64)
    with jax.enable_x64(True):
        nsb = jax.jit(lambda c: infolib.nsb_entropy(c).mean)
        timing, ours = _common.measure(nsb, jnp.asarray(counts), repeats=3)
    row: dict[str, Any] = {"batch": batch, "bins": bins, "n": n, "infolib": timing.as_dict()}
    try:
        import ndd  # the optional contender
    except ImportError:
        row["ndd"] = None
        row["note"] = "ndd is not installed (pip install ndd): no contender timed"
        return row
    start = time.perf_counter()
    theirs = [ndd.entropy(c.astype(int), k=bins) for c in counts]
    row["ndd"] = {"median_s": time.perf_counter() - start, "repeats": 1}
    row["difference"] = float(np.max(np.abs(np.asarray(ours) - np.asarray(theirs))))
    return row


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for row in results["ksg"]:
        ratio = row["kd_tree"]["median_s"] / row["float32"]["median_s"]
        out.append(
            {
                "goal": f"KSG n={row['n']} d={row['d']}: no slower than the KD-tree",
                "figure": f"{ratio:.3g}× (KD-tree time / infolib float32 time)",
                "met": ratio >= 1.0,
            }
        )
    v = results["vmap"]
    ratio = v["loop"]["median_s"] / v["vmap"]["median_s"]
    out.append(
        {
            "goal": f"KSG vmapped over {v['sets']} data sets: ≥ 10× faster than a loop",
            "figure": f"{ratio:.3g}×",
            "met": ratio >= 10,
        }
    )
    nsb = results["nsb"]
    if nsb["ndd"] is not None:
        ratio = nsb["ndd"]["median_s"] / nsb["infolib"]["median_s"]
        out.append(
            {
                "goal": f"NSB on {nsb['batch']} count vectors: ≥ 10× faster than ndd in a loop",
                "figure": f"{ratio:.3g}×",
                "met": ratio >= 10,
            }
        )
    return out


def run(*, quick: bool) -> dict[str, Any]:
    """Every measurement; ``quick``: tiny sizes, seconds, to check that it runs."""
    results: dict[str, Any] = {"benchmark": NAME, "quick": quick, "machine": _common.machine()}
    results["ksg"] = _ksg_rows(500 if quick else 10_000, (1, 2) if quick else range(1, 9))
    results["vmap"] = _vmap_row(200 if quick else 1000, 4 if quick else 100)
    results["nsb"] = _nsb_row(20 if quick else 1000, 100, 200)
    results["goals"] = goals(results)
    return results


def tables(results: dict[str, Any]) -> list[str]:
    ksg = [
        [
            row["n"],
            row["d"],
            _common.ms(row["kd_tree"]["median_s"]),
            _common.ms(row["float32"]["median_s"]),
            _common.ms(row["float64"]["median_s"]),
            _common.ratio(row["kd_tree"]["median_s"] / row["float32"]["median_s"]),
            f"{max(row['float32']['difference'], row['float64']['difference']):.1e}",
        ]
        for row in results["ksg"]
    ]
    v, nsb = results["vmap"], results["nsb"]
    lines = [
        _common.describe(results["machine"]),
        "",
        _common.markdown_table(
            [
                "n",
                "d",
                "KD-tree ms",
                "infolib f32 ms",
                "infolib f64 ms",
                "speed-up",
                "max abs diff",
            ],
            ksg,
        ),
        "",
        _common.markdown_table(
            ["data sets", "n", "vmap ms", "loop ms", "speed-up"],
            [
                [
                    v["sets"],
                    v["n"],
                    _common.ms(v["vmap"]["median_s"]),
                    _common.ms(v["loop"]["median_s"]),
                    _common.ratio(v["loop"]["median_s"] / v["vmap"]["median_s"]),
                ]
            ],
        ),
        "",
        f"NSB, {nsb['batch']} count vectors (K = {nsb['bins']}, n = {nsb['n']}), float64: "
        f"infolib {_common.ms(nsb['infolib']['median_s'])} ms; "
        + (
            nsb["note"]
            if nsb["ndd"] is None
            else f"ndd in a loop {_common.ms(nsb['ndd']['median_s'])} ms"
        ),
        "",
        *(
            f"- {g['goal']}: {g['figure']} ({'met' if g['met'] else 'not met'})"
            for g in results["goals"]
        ),
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    return _common.main(NAME, __doc__.splitlines()[0], run, tables, argv)


if __name__ == "__main__":
    raise SystemExit(main())
