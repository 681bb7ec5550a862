"""More cases of issue 26: inputs that took quadratic time, and damaged run folders that
crashed ``ls`` and ``compare``. Each case runs the command line in this process.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from experiments import cli
from tests.faults.common import bad_input


def test_a_header_of_a_million_columns_is_checked_in_linear_time(tmp_path, capsys):
    n = 10**6
    header = ",".join(f"c{i}" for i in range(n)) + ",c5"
    (tmp_path / "wide.csv").write_text(header + "\n" + ",".join(["1"] * (n + 1)) + "\n")
    raw = {
        "name": "wide",
        "data": {"source": "csv", "path": "wide.csv", "target": "label"},
        "output": {"formats": []},
    }
    (tmp_path / "wide.yaml").write_text(yaml.safe_dump(raw))
    begun = time.process_time()  # CPU time: the machine may be shared
    err = bad_input(["validate", str(tmp_path / "wide.yaml")], capsys, "repeats column names: c5")
    assert time.process_time() - begun < 5
    assert "column 'label' not found" in err and "(999981 more)" in err
    assert len(err) < 2000  # the names are not all printed


BASE = {
    "name": "base",
    "data": {"source": "synthetic", "n_samples": 120, "n_features": 4, "n_informative": 2},
    "train": {"steps": 20, "log_every": 10},
    "output": {"formats": []},
}


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    """A finished run without figures."""
    folder = tmp_path_factory.mktemp("plain")
    (folder / "base.yaml").write_text(yaml.safe_dump(BASE, sort_keys=False))
    assert cli.main(["run", str(folder / "base.yaml"), "--out", str(folder / "run")]) == 0
    return folder / "run"


DAMAGED = {
    "runs not a list": ("summary.json", '{"runs": 5}', "summary.json: expected {'runs'"),
    "a run not a mapping": ("summary.json", '{"runs": [5]}', "summary.json: expected {'runs'"),
    "final not a mapping": (
        "summary.json",
        '{"runs": [{"variant": "a", "final": 3}]}',
        "summary.json: expected {'runs'",
    ),
    "bad JSON": ("summary.json", '{"runs": [', "summary.json: not valid JSON"),
    "not UTF-8": ("summary.json", b"\xff\xfe", "summary.json: not UTF-8 text"),
    "bad YAML": ("config.yaml", "a: [\n", "config.yaml: invalid YAML"),
    "YAML not a mapping": ("config.yaml", "- 1\n", "config.yaml: expected a mapping"),
}


@pytest.mark.parametrize(("name", "text", "expected"), DAMAGED.values(), ids=DAMAGED)
def test_ls_and_compare_name_the_damaged_file(plain, tmp_path, capsys, name, text, expected):
    shutil.copytree(plain, tmp_path / "runs" / "good")
    damaged = tmp_path / "runs" / "damaged"
    shutil.copytree(plain, damaged)
    if isinstance(text, bytes):
        (damaged / name).write_bytes(text)
    else:
        (damaged / name).write_text(text)
    bad_input(["compare", str(damaged), str(plain)], capsys, expected)
    bad_input(["compare", str(plain), str(damaged)], capsys, expected)
    if name == "summary.json":  # ls reads no config
        err = bad_input(["ls", str(tmp_path / "runs")], capsys, expected)
        assert len(err.strip().splitlines()) == 1
        assert cli.main(["ls", str(tmp_path / "runs")]) == 2
        assert "runs/good" in capsys.readouterr().out  # the other runs are still listed


# ---------------------------------------------------------------------------
# The Python API refuses what the command line refuses, before any work
# ---------------------------------------------------------------------------

X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
Y = np.arange(20) % 2
FIT_REFUSED = {
    "a label of 2**40": (
        {"y": np.array([0] * 19 + [2**40])},
        "y: the largest label, 1099511627776",
    ),
    "a label of 1e8": ({"y": np.array([0] * 19 + [10**8])}, "more than 2 GiB"),
    "a million classes": ({"n_classes": 10**6}, "n_classes: 1000000 classes"),
    "max_steps 2**31": ({"max_steps": 2**31}, "max_steps: must be < 2147483648"),
    "scale 1e-300 in float32": ({"scale": 1e-300}, "scale: is below float32's smallest normal"),
    "scale 1e300 in float32": ({"scale": 1e300}, "scale: is beyond float32's range"),
    "tol 1e-300 in float32": ({"tol": 1e-300}, "tol: is below float32's smallest normal"),
    "a ragged X": ({"X": [[1.0, 2.0], [3.0]], "y": [0, 1]}, "X: expected a 2-D array"),
}


@pytest.mark.parametrize(("arguments", "expected"), FIT_REFUSED.values(), ids=FIT_REFUSED)
def test_fit_map_refuses_what_the_device_cannot_hold(arguments, expected):
    from experiments.fit import fit_map

    arguments = {"X": X, "y": Y, **arguments}
    with pytest.raises(ValueError, match=re.escape(expected)):
        fit_map(arguments.pop("X"), arguments.pop("y"), **arguments)


def test_fit_path_refuses_a_scale_float32_flushes_to_zero():
    from experiments.fit import fit_path

    with pytest.raises(ValueError, match=re.escape("scales[1]: is below float32's smallest")):
        fit_path(X, Y, scales=[1.0, 1e-300])
    assert fit_path(X, Y, scales=[1.0, 1e-300], precision="float64").converged.shape == (2,)


# ---------------------------------------------------------------------------
# MLflow stores: a closed port answers in seconds, an empty URI is refused
# ---------------------------------------------------------------------------


def test_export_to_a_closed_port_gives_up_within_seconds(plain, capsys, monkeypatch):
    pytest.importorskip("mlflow")
    for key in ("MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES"):
        monkeypatch.delenv(key, raising=False)
    begun = time.monotonic()
    bad_input(
        ["export", str(plain), "--mlflow", "http://127.0.0.1:9"], capsys, "--mlflow: the store"
    )
    assert time.monotonic() - begun < 30  # MLflow's defaults: about 250 s
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # put back as it was


@pytest.mark.parametrize("uri", ["", "  "])
def test_an_empty_mlflow_uri_is_refused_before_any_work(plain, tmp_path, capsys, monkeypatch, uri):
    monkeypatch.chdir(tmp_path)
    bad_input(["export", str(plain), "--mlflow", uri], capsys, "--mlflow: expected a tracking URI")
    config = plain / "config.yaml"
    bad_input(
        ["run", str(config), "--out", "run", "--mlflow", uri], capsys, "expected a tracking URI"
    )
    assert list(tmp_path.iterdir()) == []  # no mlflow.db, no run


# ---------------------------------------------------------------------------
# A JAX_PLATFORMS with no device here is bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("platforms", ["junk", "cuda"])
def test_a_jax_platforms_without_a_device_is_bad_input(tmp_path, platforms):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(BASE, sort_keys=False))
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "JAX_PLATFORMS": platforms, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-m", "experiments", "run", "base.yaml", "--out", "run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**env, "INFOLAB_JAX_CACHE": "off"},
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert f"JAX cannot use platform '{platforms}'" in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml"]


# ---------------------------------------------------------------------------
# The Python API's arguments; --out, sweep keys, a signal inside a GC callback
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (([1, 2, 3],), "config: expected a YAML file's path, a mapping"),
        (("base.yaml", "train.steps=5"), "overrides: expected a list of 'key.path=value'"),
        (("base.yaml", [5]), "overrides: expected 'key.path=value' strings, got int 5"),
    ],
    ids=["a list as config", "a string as overrides", "a number as an override"],
)
def test_the_api_names_a_wrong_argument(tmp_path, monkeypatch, args, expected):
    import experiments

    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(BASE, sort_keys=False))
    with pytest.raises(experiments.ConfigError, match=re.escape(expected)):
        experiments.run(*args)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml"]


def test_an_out_with_a_newline_is_refused(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(BASE, sort_keys=False))
    out = str(tmp_path / "a\nb")
    bad_input(
        ["run", str(tmp_path / "base.yaml"), "--out", out], capsys, "holds a control character"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml"]


@pytest.mark.parametrize("key", ["name", "output.formats", "kind"])
def test_a_run_wide_key_cannot_be_swept(tmp_path, capsys, key):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(BASE, sort_keys=False))
    values = {"name": "a,b", "output.formats": "[png],[pdf]", "kind": "classifier,curves"}[key]
    bad_input(
        ["show", str(tmp_path / "base.yaml"), "-m", f"{key}={values}"], capsys, f"sweep.{key}: "
    )


def test_a_signal_inside_jaxs_gc_callback_is_raised_at_the_next_safe_point():
    from experiments import interrupts

    def _xla_gc_callback():  # the name of JAX's callback, where a raise is lost
        interrupts.request(15, sys._getframe())

    try:
        _xla_gc_callback()  # recorded, not raised
        with pytest.raises(interrupts.Interrupted):
            interrupts.check()
        with pytest.raises(interrupts.Interrupted):
            interrupts.request(15, sys._getframe())  # elsewhere: at once
    finally:
        interrupts.clear()


@pytest.mark.parametrize(
    ("config", "override", "shown"),
    [
        ("kl_direction.yaml", "fit.std=1e-30", "[[0.0]]"),
        (
            "kl_direction_2d.yaml",
            "fit.covariance=[[1.0, 0.9999999999], [0.9999999999, 1.0]]",
            "[[1.0, 1.0], [1.0, 1.0]]",
        ),
    ],
    ids=["a tiny std", "a correlation of 0.9999999999"],
)
def test_an_initial_q_singular_in_float32_is_bad_input(tmp_path, capsys, config, override, shown):
    root = Path(__file__).resolve().parents[2]
    argv = ["run", str(root / "configs" / config), "--set", override, "--out", str(tmp_path / "r")]
    err = bad_input(
        argv, capsys, f"fit: the initial q's covariance {shown} is not positive definite"
    )
    assert "in float32" in err and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("variant", [3, 4], ids=["sigmoid", "loss_gradients"])
def test_a_logit_domain_too_wide_to_resolve_is_refused(capsys, variant):
    root = Path(__file__).resolve().parents[2]
    override = f"variants[{variant}].curve.z_max=1e38"  # its grid read a peak σ′ of 0
    argv = ["validate", str(root / "configs" / "curves.yaml"), "--set", override]
    bad_input(argv, capsys, f"variants[{variant}].curve.z_max: must be <= 1000, got 1e+38")


@pytest.mark.parametrize("support", ["[0, 1e-30]", "[-3e38, 3e38]"])
def test_a_support_whose_variances_do_not_fit_float32_is_refused(capsys, support):
    root = Path(__file__).resolve().parents[2]
    argv = ["validate", str(root / "configs" / "max_entropy.yaml"), "--set", f"support={support}"]
    argv += ["--set", "variants=[{name: none}]"]  # its figures failed: NaN axis limits
    bad_input(argv, capsys, "support: its points must lie at least 1.1e-19 apart and span at most")


def test_a_target_beyond_float32_is_named_without_numpy_warnings(capsys):
    root = Path(__file__).resolve().parents[2]
    argv = ["validate", str(root / "configs" / "kl_direction.yaml")]
    err = bad_input([*argv, "--set", "target.means=[-3e38, 3e38]"], capsys, "target: its grid")
    assert "beyond float32's range" in err and "Warning" not in err
    assert len(err.splitlines()) == 2  # one problem, no 37-digit mass


# ---------------------------------------------------------------------------
# An empty mapping set from the command line; data too small for a split
# ---------------------------------------------------------------------------


def test_an_empty_mapping_set_empties_the_key(capsys):
    root = Path(__file__).resolve().parents[2]
    argv = ["validate", str(root / "configs" / "party_losses.yaml"), "--set", "predictions={}"]
    bad_input(argv, capsys, "predictions: must name at least one set")  # merged: ignored
    argv = ["show", str(root / "configs" / "mle_vs_map.yaml"), "--set", "train.prior={}"]
    assert cli.main(argv) == 0
    assert "prior:\n    kind: none\n" in capsys.readouterr().out  # the default, not gaussian


@pytest.mark.parametrize(
    "data",
    [
        {"source": "inline", "x": [[0.5, 1.0], [1.0, 2.0], [3.0, 1.0]], "y": [0, 0, 0]},
        {"source": "synthetic", "n_samples": 4, "n_features": 2, "n_informative": 2},
    ],
    ids=["one class inline", "one training example"],
)
def test_data_that_validates_draws_its_figures(tmp_path, capsys, data):
    fraction = 0 if data["source"] == "inline" else 0.999
    raw = {**BASE, "data": {**data, "test_fraction": fraction}, "output": {"formats": ["png"]}}
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    out = tmp_path / "run"
    assert cli.main(["run", str(tmp_path / "small.yaml"), "--out", str(out), "--quiet"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert {p.name for p in (out / "figures").iterdir()} >= {"convergence.png"}
