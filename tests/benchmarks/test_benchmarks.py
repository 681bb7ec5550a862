"""The benchmarks' quick modes run, and their output has the documented shape.

Nothing here asserts a speed: timings on a shared test machine mean nothing. Each quick mode
is run once (module-scoped fixtures), in process, with its JSON written to a temporary
folder; the tests read the JSON back and check keys, rows and the printed tables.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from unittest import mock

import pytest

from benchmarks import _common, sklearn_path, startup
from benchmarks import infolib as infolib_bench
from benchmarks import sweep as sweep_bench

MACHINE_KEYS = {"time_utc", "cpu", "cpu_count", "backend", "device_kind", "devices", "versions"}
TIMING_KEYS = {"median_s", "min_s", "repeats", "first_call_s", "compile_s"}


def _run_quick(module, tmp_path_factory, name: str) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp(name)
    assert module.main(["--quick", "--out", str(out)]) == 0
    (path,) = out.glob("*-quick.json")
    return json.loads(path.read_text()), path.name


@pytest.fixture(scope="module")
def infolib_results(tmp_path_factory):
    return _run_quick(infolib_bench, tmp_path_factory, "infolib")


@pytest.fixture(scope="module")
def sweep_results(tmp_path_factory):
    return _run_quick(sweep_bench, tmp_path_factory, "sweep")


@pytest.fixture(scope="module")
def sklearn_results(tmp_path_factory):
    return _run_quick(sklearn_path, tmp_path_factory, "sklearn_path")


@pytest.fixture(scope="module")
def startup_results(tmp_path_factory):
    return _run_quick(startup, tmp_path_factory, "startup")


def _check_common(results: dict, name: str, file_name: str) -> None:
    assert results["benchmark"] == name
    assert results["quick"] is True
    assert file_name == f"{name}-quick.json"
    assert set(results["machine"]) >= MACHINE_KEYS
    assert results["machine"]["versions"]["jax"]
    for goal in results["goals"]:
        assert {"goal", "figure", "met"} <= set(goal)


# --- the harness -----------------------------------------------------------------------------


def test_measure_reports_compilation_separately_and_counts_repeats():
    calls = []

    def fn(x):
        calls.append(x)
        return x

    timing, out = _common.measure(fn, 1, repeats=4)
    assert out == 1
    assert len(calls) == 1 + 1 + 4  # first call, warm-up, repeats
    assert timing.repeats == 4
    assert timing.min_s <= timing.median_s
    assert timing.compile_s == max(timing.first_call_s - timing.median_s, 0.0)
    assert set(timing.as_dict()) == TIMING_KEYS


def test_measure_interleaved_times_every_contender_in_every_round():
    order = []
    calls = {name: (lambda name=name: order.append(name), ()) for name in ("a", "b")}
    timings, _ = _common.measure_interleaved(calls, budget_s=0.0, rounds=3)
    assert order == ["a", "b", "a", "b", *["a", "b"] * 3]
    assert {t.repeats for t in timings.values()} == {3}


def test_markdown_table_pads_columns():
    table = _common.markdown_table(["a", "long header"], [["x", 1], ["longer cell", 2.5]])
    lines = table.splitlines()
    assert len(lines) == 4
    assert len({len(line) for line in lines}) == 1
    assert lines[1].startswith("|---")


def test_json_holds_no_bare_infinities(tmp_path):
    path = _common.write_json("x", {"a": math.inf, "b": [math.nan, 1.0]}, tmp_path, quick=True)
    assert path.name == "x-quick.json"
    assert json.loads(path.read_text()) == {"a": "inf", "b": ["nan", 1.0]}


# --- infolib kernels -------------------------------------------------------------------------


def test_infolib_quick_has_a_record_per_function_shape_and_pass(infolib_results, capsys):
    results, file_name = infolib_results
    _check_common(results, "infolib", file_name)
    records = results["records"]
    expected = {
        (f, tuple(s), p)
        for f in infolib_bench.QUICK_FUNCTIONS
        for s in infolib_bench.QUICK_SHAPES
        for p in ("forward", "forward+gradient")
    }
    assert {(r["function"], tuple(r["shape"]), r["pass"]) for r in records} == expected
    copy = results["copy"]
    assert copy["limit_bytes_per_s"] >= copy["device_copy_bytes_per_s"] > 0
    for r in records:
        assert {"infolib", "jax.numpy"} <= set(r["timings"])
        assert set(r["timings"]["infolib"]) >= TIMING_KEYS
        assert ("scipy" in r["timings"]) == (r["pass"] == "forward")
        assert ("torch" in r["timings"]) == results["torch_installed"]
        assert set(r["ratio_to_infolib"]) == set(r["timings"]) - {"infolib"}
        assert r["bytes"] > 0
        assert r["fraction_of_limit"] > 0
        # The contenders compute the same thing (the sums, for a gradient pass).
        for t in r["timings"].values():
            assert t["max_abs_diff"] < 1e-2
    shared = [r for r in records if "optax" in r["timings"]]
    assert len([g for g in results["goals"] if g["goal"] == "no slower than optax"]) == len(shared)


def test_infolib_tables_print_one_row_per_record(infolib_results):
    results, _ = infolib_results
    text = "\n".join(infolib_bench.tables(results))
    rows = [line for line in text.splitlines() if line.startswith("| ") and "function" not in line]
    assert len(rows) == len(results["records"])
    assert "Copy limit" in text


def test_infolib_only_rejects_an_unknown_function():
    with pytest.raises(ValueError, match="unknown function"):
        infolib_bench.run(quick=True, only=["no_such_function"])


def test_infolib_runs_without_torch(monkeypatch):
    """torch is optional: where it is not installed, its column is left out."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    results = infolib_bench.run(quick=True, only=["entropy"])
    assert results["torch_installed"] is False
    assert all("torch" not in r["timings"] for r in results["records"])


# --- sweeps ----------------------------------------------------------------------------------


def test_sweep_quick_has_a_record_per_member_count(sweep_results):
    results, file_name = sweep_results
    _check_common(results, "sweep", file_name)
    records = results["records"]
    assert [r["members"] for r in records] == list(sweep_bench.QUICK.members)
    for r in records:
        assert set(r["sweep"]) >= TIMING_KEYS and set(r["matrix_products"]) >= TIMING_KEYS
        assert set(r["member_steps_per_s"]) == {"sweep", "loop", "limit"}
        assert r["loop"]["members_timed"] == min(r["members"], sweep_bench.QUICK.loop_members)
        assert r["loop"]["extrapolated"] == (r["members"] > sweep_bench.QUICK.loop_members)
        assert r["speedup_over_loop"] > 0 and r["fraction_of_limit"] > 0
        # The sweep trains the same runs as the loop.
        assert r["diverged_members"] == 0
        assert r["max_weight_difference_sweep_vs_loop"] < 1e-4
    text = "\n".join(sweep_bench.tables(results))
    assert "(2 timed)" in text


def test_sweep_goals_are_judged_at_256_members():
    record = {"members": 256, "speedup_over_loop": 25.0, "fraction_of_limit": 0.3}
    assert [g["met"] for g in sweep_bench.goals([record])] == [True, False]
    assert sweep_bench.goals([{**record, "members": 16}]) == []


# --- regularisation paths --------------------------------------------------------------------


def test_sklearn_path_quick_compares_every_solver(sklearn_results):
    results, file_name = sklearn_results
    _check_common(results, "sklearn_path", file_name)
    records = results["records"]
    assert {(r["data"], r["penalty"]) for r in records} == {
        ("breast_cancer", "l1"),
        ("breast_cancer", "l2"),
    }
    for r in records:
        expected = {"infolab", *(f"sklearn {s}" for s in sklearn_path.SOLVERS[r["penalty"]])}
        assert set(r["contenders"]) == expected
        for c in r["contenders"].values():
            assert set(c) >= TIMING_KEYS
            assert c["max_relative_gap"] >= 0
            assert 0 <= c["members_within_tolerance"] <= r["n_values_of_c"]
            assert c["max_coefficient_difference"] >= 0
    assert len(results["goals"]) == len(records)
    text = "\n".join(sklearn_path.tables(results))
    rows = [line for line in text.splitlines() if line.startswith("| breast")]
    assert len(rows) == sum(len(r["contenders"]) for r in records)


@pytest.mark.slow
def test_the_solvers_fista_contender_reaches_the_float64_optimum():
    """benchmarks.solvers times FISTA on the synthetic paths only (not in --quick): its
    contender must be the MAP path it claims to be, each member stopped at its tol."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    with mock.patch.dict(os.environ):  # the module sets thread counts for its own process
        from benchmarks import solvers
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 4))
    y = (x @ np.array([1.5, -1.0, 0.5, 0.0]) + rng.logistic(size=400) > 0).astype(np.int64)
    data = solvers.Data(solvers._standardize(x), y)
    for penalty in ("l1", "l2"):
        problem = solvers.Problem("synthetic", penalty, np.logspace(-2, 0, 3))
        call, compile_s = solvers.fista_call(problem, data, np.float64)
        weights, bias, extra = call()
        assert compile_s > 0
        assert extra["converged"] == 3 and extra["grad_norm_max"] <= solvers.FISTA_TOL["float64"]
        with jax.enable_x64(True):
            reference, args, _ = solvers.newton_program(
                problem, data, jnp.float64, cold=True, tol=solvers.REFERENCE_TOL
            )
            w_ref, b_ref, _ = solvers.newton_result(reference(*args))
        for i, c in enumerate(problem.cs):
            ours = solvers.objective(weights[i], bias[i], data, c, penalty)
            best = solvers.objective(w_ref[i], b_ref[i], data, c, penalty)
            assert (ours - best) / best <= 1e-10, (penalty, c)
        if penalty == "l1":  # exact zeros where the optimum has them
            np.testing.assert_array_equal(weights == 0, w_ref == 0)


def test_infolib_only_takes_a_comma_list_and_refuses_unknown_names_at_once(tmp_path, capsys):
    assert infolib_bench.main(["--only", "entropy,nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--only: unknown function(s) nope; known: " in err and "entropy" in err
    assert not list(tmp_path.iterdir())  # refused before any timing or writing


def test_the_objective_is_sklearns_over_c_n():
    import numpy as np

    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([0.0, 1.0, 1.0])
    w, b, c = np.array([0.5, -0.25]), 0.1, 2.0
    z = x @ w + b
    loss = np.sum(np.log1p(np.exp(z)) - y * z)
    expected_l2 = (c * loss + 0.5 * w @ w) / (c * len(y))
    expected_l1 = (c * loss + np.abs(w).sum()) / (c * len(y))
    assert math.isclose(sklearn_path.objective(w, b, x, y, c, "l2"), expected_l2)
    assert math.isclose(sklearn_path.objective(w, b, x, y, c, "l1"), expected_l1)


# --- start-up and the compilation cache ------------------------------------------------------


def test_startup_quick_times_cold_and_warm(startup_results):
    results, file_name = startup_results
    _check_common(results, "startup", file_name)
    assert results["imports_s"] > 0
    (record,) = results["records"].values()
    assert set(record["median_s"]) == {"cold", "warm"}
    assert record["cache_entries"] > 0 and record["cache_bytes"] > 0
    assert record["warm_over_cold"] == record["median_s"]["warm"] / record["median_s"]["cold"]
    assert record["command"].startswith("python -m experiments run configs/mle_vs_map.yaml")
    text = "\n".join(startup.tables(results))
    assert any(line.startswith("| one variant") for line in text.splitlines())


def test_cache_folder_follows_the_environment(tmp_path):
    from experiments.pipeline.cache import cache_folder

    assert cache_folder({"INFOLAB_JAX_CACHE": str(tmp_path)}) == tmp_path
    assert cache_folder({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "infolab" / "jax"
    for off in ("off", "OFF", "0", "false", "none", ""):
        assert cache_folder({"INFOLAB_JAX_CACHE": off}) is None


def test_enable_compilation_cache_writes_compiled_programs(tmp_path):
    """In a fresh process (jax reads the setting once per process)."""
    folder = tmp_path / "cache"
    program = (
        "import jax, jax.numpy as jnp\n"
        "from experiments.pipeline.cache import enable_compilation_cache\n"
        "print(enable_compilation_cache())\n"
        "jax.jit(lambda x: jnp.sin(x) * 2)(jnp.ones(3)).block_until_ready()\n"
    )
    env = {**os.environ, "INFOLAB_JAX_CACHE": str(folder)}
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == str(folder)
    assert any(p.is_file() for p in folder.rglob("*"))


def test_an_unusable_cache_folder_leaves_the_cache_off(tmp_path):
    from experiments.pipeline.cache import enable_compilation_cache

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert enable_compilation_cache({"INFOLAB_JAX_CACHE": str(blocker / "jax")}) is None
