"""The Python API and the run catalog: what a newcomer does from a script or a notebook."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import experiments
from experiments import cli

SMALL = {
    "name": "api",
    "data": {"n_samples": 120, "n_features": 4, "n_informative": 2},
    "train": {"steps": 20, "log_every": 10},
    "variants": [
        {"name": "mle"},
        {"name": "ridge", "train": {"prior": {"kind": "gaussian", "scale": 0.3}}},
    ],
    "output": {"formats": []},
}
SWEPT = {**SMALL, "sweep": {"seed": [0, 1], "train.optimizer.learning_rate": [0.1, 1.0]}}


@pytest.fixture(scope="module")
def swept_run(tmp_path_factory) -> experiments.Run:
    return experiments.run(SWEPT, out=tmp_path_factory.mktemp("api") / "run")


def test_run_from_python_gives_dataframes(swept_run):
    summary = swept_run.summary
    assert isinstance(summary, pd.DataFrame) and len(summary) == 8
    assert {"variant", "member", "status", "seed", "train.optimizer.learning_rate"} <= set(summary)
    assert {"train/ce", "test/ce", "test/accuracy"} <= set(summary)
    metrics = swept_run.metrics
    assert list(metrics.columns[:6]) == ["variant", "member", "step", "split", "metric", "value"]
    assert {"seed", "train.optimizer.learning_rate"} <= set(metrics)
    # The tidy table's last values are the summary's finals.
    last = metrics[(metrics.step == 20) & (metrics.split == "test") & (metrics.metric == "ce")]
    np.testing.assert_allclose(last.value.to_numpy(), summary["test/ce"].to_numpy(), rtol=1e-6)


def test_best_finds_each_variants_best_member(swept_run):
    best = swept_run.best("ce", split="test")
    assert list(best.variant) == ["mle", "ridge"]
    for _, row in best.iterrows():
        same = swept_run.summary[swept_run.summary.variant == row.variant]
        assert row["test/ce"] == same["test/ce"].min()
    top = swept_run.best("accuracy")  # more is better for accuracy
    for _, row in top.iterrows():
        same = swept_run.summary[swept_run.summary.variant == row.variant]
        assert row["test/accuracy"] == same["test/accuracy"].max()
    with pytest.raises(KeyError, match="no final metric 'test/nope'"):
        swept_run.best("nope")


def test_params_and_load_run_read_the_same_folder(swept_run):
    again = experiments.load_run(swept_run.path)
    pd.testing.assert_frame_equal(again.summary, swept_run.summary)
    assert len(again.params(3)["weights"]) == 4
    assert again.manifest["members"] == 8


def test_a_run_without_out_leaves_nothing_behind():
    run = experiments.run(SMALL, ["train.steps=10"])
    assert list(run.summary.variant) == ["mle", "ridge"]
    assert isinstance(run.params("ridge")["bias"], float)
    folder = run.path
    assert folder.is_dir()
    del run
    gc.collect()
    assert not folder.exists()


def test_ls_and_compare(tmp_path, capsys):
    a = experiments.run(SMALL, out=tmp_path / "a").path
    b = experiments.run(SMALL, ["train.steps=10"], out=tmp_path / "b").path
    c = experiments.run(SMALL, ["variants=[{name: other}]"], out=tmp_path / "c").path
    assert cli.main(["ls", str(tmp_path)]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["run", "name", "start", "(UTC)", "members", "best"]
    assert len(rows) == 3 and all("ok" in row and "test ce" in row for row in rows)
    assert all(row.endswith(" nats") for row in rows)  # the config's base: none
    assert cli.main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "config: 1 difference(s)" in out and "train.steps: 20 -> 10" in out
    line = next(line for line in out.splitlines() if line.startswith("  mle test/ce [nats]: "))
    left, right = (float(v) for v in line.split(": ")[1].split(" (")[0].split(" -> "))
    assert f"({right - left:+.3g}, {(right - left) / abs(left):+.1%})" in line
    assert cli.main(["compare", str(a), str(c)]) == 0
    out = capsys.readouterr().out
    assert "final metrics: 0 difference(s) no member in common" in out
    assert "only in A: " in out and "only in B: other" in out


def test_bare_overrides_and_dotted_swept_keys(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps(SMALL))
    assert cli.main(["show", str(config), "train.steps=70", "--set", "seed=3"]) == 0
    shown = capsys.readouterr().out
    assert "steps: 70" in shown and "seed: 3" in shown
    argv = ["show", str(config), "--set", "sweep.train.optimizer.learning_rate=[0.1, 0.2]"]
    assert cli.main(argv) == 0
    assert "# sweep: 4 members" in capsys.readouterr().out
    assert cli.main(["show", str(config), "steps"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_version_and_help_show_examples(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--version"])
    assert capsys.readouterr().out.startswith("infolab ")
    help_text = cli.build_parser().format_help()
    assert "infolab run configs/mle_vs_map.yaml train.steps=500" in help_text


def test_the_console_script_is_installed():
    script = Path(sys.executable).with_name("infolab")
    done = subprocess.run([str(script), "list"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "mle_vs_map.yaml" in done.stdout


def test_python_m_infolib_prints_the_materials_numbers_and_has_help():
    done = subprocess.run(
        [sys.executable, "-m", "infolib"], capture_output=True, text=True, check=True
    )
    assert "KL([.75, .25] ‖ [.5, .5]) in bits         0.1887" in done.stdout
    assert "0.2075" in done.stdout and "0.4690" in done.stdout
    helped = subprocess.run(
        [sys.executable, "-m", "infolib", "--help"], capture_output=True, text=True, check=True
    )
    assert helped.stdout.startswith("usage: python -m infolib")


def test_a_sweeps_summary_records_each_variants_best_member(swept_run):
    best = json.loads((swept_run.path / "summary.json").read_text())["best"]
    from_table = swept_run.best("ce", split="test").set_index("variant")
    assert set(best) == {"mle", "ridge"}
    for variant, entry in best.items():
        assert entry["member"] == from_table.loc[variant, "member"]
        assert entry["metric"] == "ce" and entry["split"] == "test"
        assert entry["value"] == from_table.loc[variant, "test/ce"]
