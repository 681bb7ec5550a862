"""The command line end to end: bad input, run folders, reproducibility, the contract."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from experiments import cli
from experiments.kinds.classifier import figures as classifier_figures
from experiments.tools import shipped

REPO = Path(__file__).resolve().parents[2]
METRICS = {
    "ce",
    "mse",
    "accuracy",
    "grad_norm",
    "weight_grad_norm",
    "weight_norm",
    "zero_weights",
    "output",
}

# Three compiled programs: binary sgd (mle, blowup), binary fista (lasso), softmax (iris).
TINY = {
    "name": "tiny",
    "description": "a tiny run for the tests",
    "data": {"source": "synthetic", "n_samples": 200, "n_features": 6, "n_informative": 2},
    "train": {"steps": 20, "log_every": 5},
    "variants": [
        {"name": "mle"},
        {
            "name": "lasso",
            "train": {"prior": {"kind": "laplace", "scale": 0.05}, "optimizer": {"name": "fista"}},
        },
        {"name": "blowup", "train": {"optimizer": {"learning_rate": 1.0e38}}},
        {"name": "iris", "data": {"source": "sklearn", "name": "iris"}, "model": {"classes": 3}},
    ],
    "output": {"formats": ["png"]},
}


def write_config(folder: Path, raw: dict, name: str = "config.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def snapshot(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


# ---------------------------------------------------------------------------
# Bad input: exit 2, a message with the dotted path, no traceback, nothing written
# ---------------------------------------------------------------------------


def edited(**changes) -> dict:
    raw = json.loads(json.dumps(TINY))
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = raw
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return raw


CSV_BASE = {"source": "csv", "path": "table.csv", "target": "label"}
BAD_INPUTS = {
    "unknown key": (edited(trian={}), [], None, "trian: unknown key"),
    "typo in a nested key": (edited(train__los="ce"), [], None, "train.los: unknown key"),
    "wrong type": (edited(train__steps="many"), [], None, "train.steps: expected an integer"),
    "negative learning rate": (
        edited(train__optimizer={"learning_rate": -0.1}),
        [],
        None,
        "train.optimizer.learning_rate: must be > 0, got -0.1",
    ),
    "negative scale": (
        edited(train__prior={"kind": "gaussian", "scale": -1.0}),
        [],
        None,
        "train.prior.scale: must be > 0",
    ),
    "unknown loss": (edited(train__loss="hinge"), [], None, "train.loss: 'hinge' is not one of"),
    "unknown prior": (
        edited(train__prior={"kind": "cauchy"}),
        [],
        None,
        "train.prior.kind: 'cauchy' is not one of none, gaussian, laplace",
    ),
    "unknown optimizer": (
        edited(train__optimizer={"name": "lbfgs"}),
        [],
        None,
        "train.optimizer.name: 'lbfgs' is not one of",
    ),
    "bad value in a variant": (
        edited(variants=[{"name": "a"}, {"name": "b", "train": {"prior": {"kind": "cauchy"}}}]),
        [],
        None,
        "variants[1].train.prior.kind: 'cauchy'",
    ),
    "--set of a missing key": (TINY, ["train.lr=0.1"], None, "train.lr: unknown key"),
    "--set of a bad value": (TINY, ["train.steps=-3"], None, "train.steps: must be > 0"),
    "--set that is not YAML": (TINY, ["train.steps=[1"], None, "--set train.steps=[1"),
    "missing CSV": (edited(data=CSV_BASE), [], None, "data.path: file not found"),
    "CSV without the target column": (
        edited(data=CSV_BASE),
        [],
        "x,y\n1,0\n2,1\n",
        "data.target: column 'label' not found",
    ),
    "non-numeric cell": (
        edited(data=CSV_BASE),
        [],
        "x,label\n1,0\nabc,1\n2,0\n3,1\n",
        "line 3, column 'x': 'abc' is not a number",
    ),
    "NaN cell": (
        edited(data=CSV_BASE),
        [],
        "x,label\n1,0\nnan,1\n2,0\n3,1\n",
        "line 3, column 'x': 'nan' is NaN",
    ),
    "single class": (
        edited(data=CSV_BASE),
        [],
        "x,label\n1,0\n2,0\n3,0\n4,0\n",
        "single class",
    ),
    "test_fraction of 1": (edited(data__test_fraction=1.0), [], None, "data.test_fraction"),
    "negative test_fraction": (edited(data__test_fraction=-0.5), [], None, "data.test_fraction"),
    "name with a slash": (edited(name="a/b"), [], None, "name: may contain only"),
    "name with ..": (edited(name=".."), [], None, "name: may contain only"),
    "classes that do not match the data": (
        edited(model={"classes": 3}),
        [],
        None,
        "model.classes: is 3, but synthetic data",
    ),
    "not a mapping": ([1, 2], [], None, "the top level must be a mapping"),
    "unknown figure width": (
        edited(output={"figure_width": "wide"}),
        [],
        None,
        "output.figure_width: 'wide' is not one of column, page",
    ),
    "dpi out of range": (edited(output={"dpi": 10}), [], None, "output.dpi: must be >= 50"),
}


@pytest.mark.parametrize(
    ("raw", "overrides", "csv_text", "expected"), BAD_INPUTS.values(), ids=BAD_INPUTS
)
@pytest.mark.parametrize("command", ["run", "validate"])
def test_bad_input_exits_2_with_the_path_and_writes_nothing(
    command, raw, overrides, csv_text, expected, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, raw)
    if csv_text is not None:
        (tmp_path / "table.csv").write_text(csv_text)
    before = snapshot(tmp_path)
    argv = [command, str(config), *(f"--set={o}" for o in overrides)]
    if command == "run":
        argv += ["--out", str(tmp_path / "out"), "--quiet"]
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert expected in err
    assert "Traceback" not in err
    assert snapshot(tmp_path) == before  # no out/, no results/, nothing else


def test_missing_config_file_and_invalid_yaml(tmp_path, capsys):
    assert cli.main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    assert cli.main(["validate", str(tmp_path / "bad.yaml")]) == 2
    assert "invalid YAML" in capsys.readouterr().err


def test_bad_input_through_the_module_entry_point(tmp_path):
    config = write_config(tmp_path, edited(train__los="ce"))
    done = subprocess.run(
        [sys.executable, "-m", "experiments", "run", str(config), "--set", "train.steps=0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "train.los: unknown key" in done.stderr
    assert "train.steps: must be > 0, got 0 (from --set train.steps=0)" in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_usage_errors_exit_2(capsys):
    assert cli.main(["frobnicate"]) == 2
    assert cli.main(["run"]) == 2
    assert "usage:" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# A real run (shared by the tests below)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny")
    config = write_config(folder, TINY)
    cwd = Path.cwd()
    os.chdir(folder)  # the default run folder is relative to the working directory
    try:
        assert cli.main(["run", str(config), "--quiet"]) == 0
    finally:
        os.chdir(cwd)
    (run_dir,) = (folder / "results" / "tiny").iterdir()
    return run_dir


def test_run_folder_is_named_by_time_and_hash_and_complete(tiny_run):
    assert tiny_run.parent.name == "tiny"
    stamp, digest = tiny_run.name.split("-")
    assert len(stamp) == len("20250101T000000Z") and stamp.endswith("Z")
    manifest = json.loads((tiny_run / "manifest.json").read_text())
    assert manifest["config_sha256"].startswith(digest) and len(digest) == 8
    names = {p.name for p in tiny_run.iterdir()}
    assert names == {"config.yaml", "manifest.json", "metrics.csv", "summary.json", "data.json"} | {
        "figures"
    }
    figures = {p.name for p in (tiny_run / "figures").iterdir()}
    assert figures == {"convergence.png", "sparsity.png", "weight_norm.png"}
    assert not [p for p in tiny_run.parent.iterdir() if p.name.startswith(".")]  # no staging


def test_manifest_records_provenance(tiny_run):
    manifest = json.loads((tiny_run / "manifest.json").read_text())
    assert set(manifest["git"]) == {"sha", "dirty"}
    assert set(manifest["versions"]) >= {"python", "jax", "jaxlib", "optax", "numpy"}
    assert set(manifest["devices"]) == {"platform", "kind", "count"}
    assert "xla_flags" in manifest
    assert manifest["seeds"] == {"config": 0, "members": [0]}
    assert manifest["kind"] == "classifier" and manifest["members"] == 4
    assert manifest["status"] == {
        "mle": {"ok": 1},
        "lasso": {"ok": 1},
        "blowup": {"diverged": 1},
        "iris": {"ok": 1},
    }
    assert set(manifest["train_time_s"]) == {"mle", "lasso", "blowup", "iris"}
    # Three variants share the synthetic data set; iris is the other.
    data = json.loads((tiny_run / "data.json").read_text())["datasets"]
    assert sorted(manifest["data_sha256"]) == sorted(entry["sha256"] for entry in data)
    assert [(entry["variants"], entry["members"]) for entry in data] == [
        (["mle", "lasso", "blowup"], [0, 1, 2]),
        (["iris"], [3]),
    ]
    assert manifest["wall_time_s"] > 0 and manifest["start"] < manifest["end"]


def test_summary_follows_the_contract(tiny_run):
    summary = json.loads((tiny_run / "summary.json").read_text())
    assert list(summary) == ["runs"]
    runs = {run["variant"]: run for run in summary["runs"]}
    assert list(runs) == ["mle", "lasso", "blowup", "iris"]
    for run in runs.values():
        required = {"variant", "status", "final", "params", "steps_taken", "converged"}
        assert set(run) == required | ({"diverged_at"} if run["status"] == "diverged" else set())
        assert run["status"] in ("ok", "diverged")
        assert set(run["final"]) == {"train", "test"}
        for metrics in run["final"].values():
            assert set(metrics) == METRICS
        assert set(run["params"]) == {"weights", "bias"}
    assert runs["mle"]["status"] == "ok"
    assert runs["mle"]["steps_taken"] == 20 and runs["mle"]["converged"] is False
    assert runs["blowup"]["status"] == "diverged" and isinstance(runs["blowup"]["diverged_at"], int)
    assert len(runs["mle"]["params"]["weights"]) == 6 and isinstance(
        runs["mle"]["params"]["bias"], float
    )
    assert runs["lasso"]["final"]["train"]["zero_weights"] == runs["lasso"]["params"][
        "weights"
    ].count(0.0)
    weights = runs["iris"]["params"]["weights"]  # multiclass: [d][C]
    assert len(weights) == 4 and all(len(row) == 3 for row in weights)
    assert len(runs["iris"]["params"]["bias"]) == 3
    assert "time" not in (tiny_run / "summary.json").read_text()


def test_metrics_csv_is_tidy_and_ordered(tiny_run):
    lines = (tiny_run / "metrics.csv").read_text().splitlines()
    assert lines[0] == "variant,step,split,metric,value"
    rows = [line.split(",") for line in lines[1:]]
    assert [r[0] for r in rows[:2]] == ["mle", "mle"]
    mle = [r for r in rows if r[0] == "mle"]
    assert {r[1] for r in mle} == {"0", "5", "10", "15", "20"}
    assert [r[3] for r in mle[:8]] == [
        "ce",
        "mse",
        "accuracy",
        "grad_norm",
        "weight_grad_norm",
        "weight_norm",
        "zero_weights",
        "output",
    ]
    assert [r[2] for r in mle[:16:8]] == ["train", "test"]
    order = list(dict.fromkeys(r[0] for r in rows))
    assert order == ["mle", "lasso", "blowup", "iris"]


@pytest.mark.slow
def test_the_same_config_gives_the_same_bytes(tiny_run, tmp_path):
    config = write_config(tmp_path, TINY)
    # Figures are not part of the contract: leave them out to save time.
    argv = ["run", str(config), "--out", "again", "--quiet", "--set", "output.formats=[]"]
    done = subprocess.run(  # -X importtime: which modules the process loaded, on stderr
        [sys.executable, "-X", "importtime", "-m", "experiments", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "again"
    assert not re.search(r"\|\s+matplotlib$", done.stderr, re.M)  # drawing nothing, never loaded
    for name in ("metrics.csv", "summary.json", "data.json"):
        assert (tmp_path / "again" / name).read_bytes() == (tiny_run / name).read_bytes(), name
    assert not (tmp_path / "again" / "figures").exists()


def test_plot_redraws_the_figures_from_the_files(tiny_run, capsys):
    for figure in (tiny_run / "figures").iterdir():
        figure.unlink()
    assert cli.main(["plot", str(tiny_run)]) == 0  # the formats of its config.yaml: png
    out, err = capsys.readouterr()
    printed = out.split()
    assert sorted(Path(p).name for p in printed) == [
        "convergence.png",
        "sparsity.png",
        "weight_norm.png",
    ]
    assert all(Path(p).is_file() for p in printed)
    assert err == f"drew 3 figures (3 files) in {tiny_run / 'figures'}\n"  # unless --quiet


def test_plot_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert cli.main(["plot", str(tmp_path)]) == 2
    assert "is not a run folder (missing config.yaml" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# The output folder
# ---------------------------------------------------------------------------


def test_non_empty_out_is_refused_without_force(tmp_path, capsys):
    config = write_config(tmp_path, TINY)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    before = snapshot(tmp_path)
    assert cli.main(["run", str(config), "--out", str(out), "--quiet"]) == 2
    assert "--out: " in capsys.readouterr().err
    # --force replaces only run folders, never an arbitrary folder.
    assert cli.main(["run", str(config), "--out", str(out), "--force", "--quiet"]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_force_replaces_a_previous_run_but_never_a_file_it_did_not_write(
    tiny_run, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    # The program compiled for tiny_run's mle is reused: these runs take a fraction of a second.
    raw = edited(variants=[{"name": "mle"}], output={"formats": ["png"]})
    config = write_config(tmp_path, raw)
    out = tmp_path / "out"
    assert cli.main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    first = json.loads((out / "manifest.json").read_text())
    assert first["tool"] == "infolab" and "figures/convergence.png" in first["files"]
    assert cli.main(["run", str(config), "--out", str(out), "--force", "--quiet"]) == 0
    assert json.loads((out / "manifest.json").read_text())["run_id"] != first["run_id"]
    (out / "thesis.tex").write_text("mine")
    assert cli.main(["run", str(config), "--out", str(out), "--force", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{out} holds files this tool did not write (thesis.tex)" in err
    assert f"the run was written to {out}-new" in err
    assert (out / "thesis.tex").read_text() == "mine" and (out / "summary.json").is_file()
    assert (tmp_path / "out-new" / "summary.json").is_file()
    # A folder with a manifest.json that this tool did not write is not a run folder.
    web = tmp_path / "web"
    web.mkdir()
    (web / "manifest.json").write_text("{}")
    (web / "index.js").write_text("src")
    assert cli.main(["run", str(config), "--out", str(web), "--force", "--quiet"]) == 2
    assert "is not a run folder written by infolab" in capsys.readouterr().err
    assert sorted(p.name for p in web.iterdir()) == ["index.js", "manifest.json"]


def test_a_failed_figure_keeps_the_results_and_plot_retries(
    tiny_run, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, edited(variants=[{"name": "mle"}], output={"formats": []}))
    draw = classifier_figures.draw

    def broken(record):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(classifier_figures, "draw", broken)
    out = tmp_path / "new"
    argv = ["run", str(config), "--out", str(out), "--set", "output.formats=[png]", "--quiet"]
    assert cli.main(argv) == 3
    err = capsys.readouterr().err
    assert "results are complete, but a figure failed: RuntimeError: figure failed" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["figures"]["status"] == "failed"
    assert (out / "summary.json").is_file() and not (out / "figures").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    monkeypatch.setattr(classifier_figures, "draw", draw)
    assert cli.main(["plot", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["figures"]["status"] == "ok" and "figures/convergence.png" in manifest["files"]


# ---------------------------------------------------------------------------
# show, list
# ---------------------------------------------------------------------------


def test_show_prints_every_default_and_reads_back(tmp_path, capsys):
    config = write_config(tmp_path, {"name": "bare"})
    assert cli.main(["show", str(config), "--set", "train.steps=7"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["train"]["steps"] == 7
    assert shown["train"]["optimizer"] == {
        "name": "sgd",
        "learning_rate": 0.5,
        "momentum": 0.9,
        "b1": 0.9,
        "b2": 0.999,
        "eps": 1e-08,
        "restart": False,
    }
    assert shown["data"]["source"] == "synthetic" and shown["output"]["dir"] == "results"


def test_list_names_the_shipped_configs(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("mse_vs_ce", "mle_vs_map", "separable_mle", "breast_cancer_map", "multiclass_ce"):
        assert f"{name}.yaml" in out
    assert "MLE vs MAP with Gaussian and Laplace priors" in out


def test_seeds_runs_every_config_of_the_readmes_source_material_table():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## The source material, reproduced", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(\w+\.yaml)`", table))
    assert named == set(shipped.SEED_CONFIGS)


def test_a_shipped_config_runs_and_shows_by_name_and_init_copies_it(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["show", "entropy_numbers"]) == 0
    assert capsys.readouterr().out.startswith("name: entropy_numbers\n")
    assert (
        cli.main(["run", "entropy_numbers.yaml", "output.formats=[]", "--out", "r", "--quiet"]) == 0
    )
    assert (tmp_path / "r" / "summary.json").is_file()
    assert cli.main(["init", "entropy_numbers"]) == 0
    copied = tmp_path / "entropy_numbers.yaml"
    assert copied.read_bytes() == (shipped.configs_folder() / "entropy_numbers.yaml").read_bytes()
    copied.write_text("# mine\n" + copied.read_text())
    capsys.readouterr()
    assert cli.main(["init", "entropy_numbers"]) == 2  # never over a file
    assert copied.read_text().startswith("# mine\n")
    assert "never overwritten" in capsys.readouterr().err
    assert cli.main(["init", "../etc/passwd"]) == 2
    assert cli.main(["init", "no_such_config"]) == 2
    assert "shipped: " in capsys.readouterr().err
    # a local file of that name wins over the shipped one
    copied.write_text(copied.read_text().replace("name: entropy_numbers", "name: mine"))
    assert cli.main(["show", "entropy_numbers.yaml"]) == 0
    assert capsys.readouterr().out.startswith("name: mine\n")


def test_hydra_style_overrides_make_axes_and_add_keys(capsys):
    assert cli.main(["show", "mse_vs_ce", "seed=0,1", "+train.steps=70", "--multirun"]) == 0
    out = capsys.readouterr().out
    assert "\nsweep:\n  seed:\n  - 0\n  - 1\n" in out
    assert "  steps: 70\n" in out
    assert cli.main(["show", "mse_vs_ce", "name='a,b'"]) == 2  # quoted: a string, not an axis
    assert "got 'a,b'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("environment", "flag"), [({"JAX_PLATFORMS": "cuda"}, []), ({}, ["--device", "tpu"])]
)
def test_an_absent_device_is_one_line_and_exit_2_before_any_work(tmp_path, environment, flag):
    command = [sys.executable, "-m", "experiments", "run", "entropy_numbers", *flag]
    command += ["--set", "output.formats=[]", "--out", str(tmp_path / "r")]
    done = subprocess.run(
        command, env={**os.environ, **environment}, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "use --device cpu" in done.stderr
    assert not (tmp_path / "r").exists()


def test_the_device_a_run_used_is_in_its_manifest(tmp_path):
    command = [sys.executable, "-m", "experiments", "run", "entropy_numbers", "--device", "cpu"]
    command += ["--set", "output.formats=[]", "--out", str(tmp_path / "r"), "--quiet"]
    subprocess.run(command, check=True, capture_output=True)
    device = json.loads((tmp_path / "r" / "manifest.json").read_text())["device"]
    assert device["platform"] == "cpu" and device["requested"] == "cpu" and device["count"] >= 1
    assert cli.main(["validate", "entropy_numbers", "--device", "fast"]) == 2
