"""Choosing the prior scale: 5-fold CV paths and the evidence against scikit-learn's CV.

    python -m benchmarks.prior_selection [--quick] [--out DIR]

For each data set (breast_cancer; synthetic 20,000 × 200; two binary tasks cut from
scikit-learn's digits, 3 against 8, and wine, class 0 against 1), split 75/25 stratified
(seed 0) and standardised on the training split here, so that every contender sees the same
rows; all in float64, single-threaded:

- ``sklearn``: ``LogisticRegressionCV(Cs=100, cv=5)`` (lbfgs for L2; saga for L1, tol 1e-8)
  with the same ``StratifiedKFold(5, shuffle=True, random_state=0)`` folds;
- ``glum``: ``GeneralizedLinearRegressorCV`` on the same folds, where glum is installed
  (it is not in this project's environment: the row is left out, with a note);
- ``infolab cv``: :func:`experiments.run` of a config with ``data.cv_folds: 5`` and
  ``train.prior.scale: {select: cv}`` over the same 100 scales (scikit-learn's C grid as
  σ = √C for L2 and s = C for L1), a warm-started Newton path per fold;
- ``infolab evidence``: :func:`experiments.run` with ``{select: evidence}`` (L2 only), and
  one :func:`experiments.fit_map` at the σ it chose, the cost the issue compares it with.

Each row reports the wall time (the project's: a second run in the same process, its
program compiled; the first call beside it), the chosen scale and the test cross-entropy
(nats per example) of the refit at that scale on the whole training split. The project's
runs go through the public API only (a run folder written for each), so their times
include writing it. One thread each: the environment of :mod:`benchmarks.solvers`, set
before numpy and jax are imported, and ``threadpoolctl`` around the fits.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from benchmarks import _common

# First: benchmarks.solvers sets one thread for every BLAS and for XLA before numpy and jax
# are imported (when it is the first to import them, as python -m does).
from benchmarks.solvers import _IMPORTED_FIRST

NAME = "prior_selection"
FOLDS = 5
C_RANGE = (-4.0, 4.0)  # LogisticRegressionCV's default grid: 10^-4 .. 10^4
NEWTON_STEPS = 100
TOL = 1e-10


def _binary(x: np.ndarray, y: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    keep = (y == a) | (y == b)
    return x[keep], (y[keep] == b).astype(np.int64)


def data_sets(*, quick: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The data sets as (features, 0/1 labels); ``quick``: synthetic 2,000 × 20."""
    rng = np.random.default_rng(0)
    n, d = (2_000, 20) if quick else (20_000, 200)
    x = rng.standard_normal((n, d))
    w = np.zeros(d)
    w[:5] = rng.uniform(1, 2, 5) * rng.choice([-1, 1], 5)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-x @ w))).astype(np.int64)
    cancer = datasets.load_breast_cancer()
    digits, wine = datasets.load_digits(), datasets.load_wine()
    return {
        "breast_cancer": (cancer.data, cancer.target),
        f"synthetic {n}×{d}": (x, y),
        "digits 3 vs 8": _binary(digits.data, digits.target, 3, 8),
        "wine 0 vs 1": _binary(wine.data, wine.target, 0, 1),
    }


def _split(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), y_train, scaler.transform(x_test), y_test


def _test_ce(x: np.ndarray, y: np.ndarray, weights: np.ndarray, bias: float) -> float:
    z = x @ weights + bias
    return float(np.mean(np.logaddexp(0.0, z) - y * z))  # −log σ(±z), in nats


def _sklearn(split, penalty: str, cs: np.ndarray, max_iter: int) -> dict[str, Any]:
    x_train, y_train, x_test, y_test = split
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
    solver = "lbfgs" if penalty == "l2" else "saga"
    model = LogisticRegressionCV(
        Cs=cs, cv=folds, l1_ratios=(0.0 if penalty == "l2" else 1.0,), solver=solver,
        tol=1e-8, max_iter=max_iter, scoring="neg_log_loss",
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)
        begun = time.perf_counter()
        model.fit(x_train, y_train)
        seconds = time.perf_counter() - begun
    c = float(model.C_[0])
    return {
        "time_s": seconds,
        "scale": math.sqrt(c) if penalty == "l2" else c,
        "test_ce": _test_ce(x_test, y_test, model.coef_[0], float(model.intercept_[0])),
        "convergence_warnings": sum(issubclass(w.category, ConvergenceWarning) for w in caught),
    }


def _csv(folder: Path, x: np.ndarray, y: np.ndarray) -> Path:
    path = folder / "train.csv"
    header = ",".join([*(f"x{j}" for j in range(x.shape[1])), "label"])
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header=header, comments="",
               fmt="%.17g")  # fmt: skip
    return path


def _config(path: Path, prior: dict[str, Any], cv: bool) -> dict[str, Any]:
    data = {"source": "csv", "path": str(path), "target": "label", "test_fraction": 0,
            "standardize": False, "seed": 0}  # fmt: skip
    if cv:
        data["cv_folds"] = FOLDS
    return {
        "name": "prior_selection",
        "precision": "float64",
        "data": data,
        "train": {
            "loss": "ce",
            "prior": prior,
            "optimizer": {"name": "newton"},
            "steps": NEWTON_STEPS,
            "log_every": NEWTON_STEPS,
            "tol": TOL,
        },
        "output": {"formats": []},
    }


def _project(config: dict[str, Any], split) -> tuple[dict[str, Any], dict[str, Any]]:
    """Runs a config twice (the second run's program compiled), reads its summary."""
    import experiments

    times = []
    for _ in range(2):
        begun = time.perf_counter()
        run = experiments.run(config)
        times.append(time.perf_counter() - begun)
        (entry,) = json.loads((Path(run.path) / "summary.json").read_text())["runs"]
    _, _, x_test, y_test = split
    params = entry["params"]
    result = {
        "time_s": times[1],
        "first_call_s": times[0],
        "scale": float(entry["prior_scale"]),
        "test_ce": _test_ce(x_test, y_test, np.asarray(params["weights"]), params["bias"]),
    }
    return result, entry


def _one_fit(split, scale: float) -> float:
    """The median time of :func:`experiments.fit_map` at ``scale`` (after a first call)."""
    import experiments

    x_train, y_train, _, _ = split
    experiments.fit_map(x_train, y_train, scale=scale, tol=TOL, max_steps=NEWTON_STEPS)
    times = []
    for _ in range(3):
        begun = time.perf_counter()
        experiments.fit_map(x_train, y_train, scale=scale, tol=TOL, max_steps=NEWTON_STEPS)
        times.append(time.perf_counter() - begun)
    return float(np.median(times))


def run(
    *,
    quick: bool,
    data: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    penalties: Sequence[str] = ("l2", "l1"),
) -> dict[str, Any]:
    """Every contender on every data set and penalty.

    Args:
        quick: 20 values of C (not 100), scikit-learn stopped at 200 iterations, synthetic
            2,000 × 20.
        data: the data sets, ``{name: (x, 0/1 labels)}``; default :func:`data_sets`.
        penalties: ``l2`` (the evidence too) and ``l1``.
    """
    n_cs, max_iter = (20, 200) if quick else (100, 10_000)
    cs = np.logspace(*C_RANGE, n_cs)
    records = []
    with threadpool_limits(1), tempfile.TemporaryDirectory() as tmp:
        for name, (x, y) in (data or data_sets(quick=quick)).items():
            split = _split(x, y)
            path = _csv(Path(tmp), split[0], split[1])
            for penalty in penalties:
                kind = "gaussian" if penalty == "l2" else "laplace"
                grid = np.sqrt(cs) if penalty == "l2" else cs
                select = {"select": "cv", "scales": grid.tolist(), "rule": "min"}
                contenders = {"sklearn": _sklearn(split, penalty, cs, max_iter)}
                config = _config(path, {"kind": kind, "scale": select}, cv=True)
                contenders["infolab cv"], _ = _project(config, split)
                if penalty == "l2":
                    config = _config(path, {"kind": "gaussian", "scale": {"select": "evidence"}},
                                     cv=False)  # fmt: skip
                    evidence, entry = _project(config, split)
                    evidence["solves"] = entry.get("evidence_solves")
                    evidence["one_fit_s"] = _one_fit(split, evidence["scale"])
                    contenders["infolab evidence"] = evidence
                records.append({"data": name, "shape": list(split[0].shape), "penalty": penalty,
                                "n_values": n_cs, "contenders": contenders})  # fmt: skip
    return {
        "benchmark": NAME,
        "quick": quick,
        "machine": _common.machine(),
        "folds": FOLDS,
        "single_threaded_xla": _IMPORTED_FIRST,
        "glum": importlib.util.find_spec("glum") is not None,
        "records": records,
        "goals": goals(records),
    }


def goals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's goals, met or missed, with the figures that decide them."""
    l2 = [r for r in records if r["penalty"] == "l2"]
    within = []
    for r in l2:
        evidence, cv = r["contenders"]["infolab evidence"], r["contenders"]["infolab cv"]
        within.append(abs(evidence["test_ce"] / cv["test_ce"] - 1) <= 0.01)
    speedups = [r["contenders"]["sklearn"]["time_s"] / r["contenders"]["infolab evidence"]["time_s"]
                for r in l2]  # fmt: skip
    cost = [r["contenders"]["infolab evidence"]["time_s"]
            / r["contenders"]["infolab evidence"]["one_fit_s"] for r in l2]  # fmt: skip
    cv_speedups = [r["contenders"]["sklearn"]["time_s"] / r["contenders"]["infolab cv"]["time_s"]
                   for r in records]  # fmt: skip
    return [
        {"goal": "evidence test ce within 1% of the 5-fold CV choice on >= 4 of 5 data sets",
         "met": sum(within) >= min(4, len(within)), "figure": f"{sum(within)} of {len(within)}"},
        {"goal": "evidence >= 20x faster than LogisticRegressionCV", "met": min(speedups) >= 20,
         "figure": f"{min(speedups):.3g}x to {max(speedups):.3g}x"},
        {"goal": "evidence costs <= 3x one Newton fit at the chosen σ", "met": max(cost) <= 3,
         "figure": f"{min(cost):.3g}x to {max(cost):.3g}x (the run, files included)"},
        {"goal": "CV path faster than LogisticRegressionCV on every data set",
         "met": min(cv_speedups) > 1,
         "figure": f"{min(cv_speedups):.3g}x to {max(cv_speedups):.3g}x"},
    ]  # fmt: skip


def tables(results: dict[str, Any]) -> list[str]:
    """The Markdown table of every contender, and the goals."""
    headers = ["data", "penalty", "contender", "time s", "first call s", "scale", "test ce"]
    rows = []
    for r in results["records"]:
        for name, c in r["contenders"].items():
            rows.append([
                f"{r['data']} ({r['shape'][0]} train)", r["penalty"], name,
                f"{c['time_s']:.3g}", f"{c['first_call_s']:.3g}" if "first_call_s" in c else "—",
                f"{c['scale']:.4g}", f"{c['test_ce']:.5f}",
            ])  # fmt: skip
    lines = [
        f"# Choosing the prior scale: {_common.describe(results['machine'])}",
        "",
        f"{results['records'][0]['n_values']} scales × {results['folds']} folds; scale: σ "
        "(L2, C = σ²) or s (L1, C = s); test ce: nats per example of the refit at that scale.",
        "",
        _common.markdown_table(headers, rows),
        "",
    ]
    if not results["glum"]:
        lines += [
            "glum is not installed here: its GeneralizedLinearRegressorCV row is left out.",
            "",
        ]
    for g in results["goals"]:
        lines.append(f"Goal: {g['goal']}: {'met' if g['met'] else 'missed'} ({g['figure']})")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    return _common.main(NAME, __doc__.splitlines()[0], run, tables, argv)


if __name__ == "__main__":
    sys.exit(main())
