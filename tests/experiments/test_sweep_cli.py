"""Sweeps end to end: the CLI, the run folder, and the same sweep over 4 devices and over
two processes (subprocesses with simulated CPU devices)."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from experiments import cli

ROOT = Path(__file__).resolve().parents[2]

CONFIG = {
    "name": "tiny_sweep",
    "description": "a sweep small enough for a test",
    "seed": 0,
    "data": {
        "source": "synthetic",
        "n_samples": 160,
        "n_features": 5,
        "n_informative": 2,
        "seed": 0,
    },
    "train": {
        "loss": "ce",
        "prior": {"kind": "laplace", "scale": 0.1},
        "optimizer": {"name": "fista", "learning_rate": 0.5},
        "steps": 30,
        "log_every": 10,
    },
    "variants": [{"name": "laplace"}],
    "sweep": {"train.prior.scale": {"logspace": [-2, 0, 3]}, "seed": [0, 1]},
    "output": {"formats": ["png"]},
}


def _write_config(folder: Path, config: dict = CONFIG) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("sweep")
    config = _write_config(folder)
    out = folder / "run"
    assert cli.main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    return config, out


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))


def test_summary_has_one_entry_per_member_with_its_swept_values(swept):
    _, out = swept
    runs = _summary(out)["runs"]
    assert len(runs) == 6
    scales = [0.01, 0.1, 1.0]
    expected = [(s, seed) for s in scales for seed in (0, 1)]
    got = [(run["sweep"]["train.prior.scale"], run["sweep"]["seed"]) for run in runs]
    assert [seed for _, seed in got] == [seed for _, seed in expected]
    np.testing.assert_allclose([s for s, _ in got], [s for s, _ in expected], rtol=1e-12)
    assert [run["member"] for run in runs] == list(range(6))
    for run in runs:
        assert run["variant"] == "laplace" and run["status"] == "ok"
        assert set(run["final"]) == {"train", "test"}
        assert len(run["params"]["weights"]) == 5
    # A smaller Laplace scale is a stronger L1 penalty: at least as many exact zeros.
    zeros = [run["final"]["train"]["zero_weights"] for run in runs[::2]]
    assert zeros == sorted(zeros, reverse=True) and zeros[0] > zeros[-1]


def test_metrics_have_a_member_column_and_figures_are_drawn(swept):
    _, out = swept
    with (out / "metrics.csv").open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert rows[0].keys() == {"variant", "member", "step", "split", "metric", "value"}
    assert {int(row["member"]) for row in rows} == set(range(6))
    names = {path.name for path in (out / "figures").iterdir()}
    assert {"regularization_path.png", "sparsity_path.png", "test_path.png"} <= names
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["members"] == 6 and manifest["status"] == {"laplace": {"ok": 6}}


def test_show_lists_the_grid_and_validate_the_plan(swept, capsys):
    config, _ = swept
    assert cli.main(["show", str(config)]) == 0
    shown = capsys.readouterr().out
    assert "# sweep: 6 members = 1 variant(s) × 6 grid point(s)" in shown
    assert "#   [5] laplace: train.prior.scale=1.0, seed=1" in shown
    assert cli.main(["validate", str(config)]) == 0
    assert "sweep: 6 members in 1 compiled program(s)" in capsys.readouterr().out


def test_the_sweep_shorthand_builds_the_grid_from_the_command_line(tmp_path, capsys):
    config = _write_config(tmp_path, CONFIG)
    lr = "train.optimizer.learning_rate"
    scale = "train.prior.scale=logspace(-1, 1, 3)"
    args = ["show", str(config), "-m", f"{lr}=0.1,0.5", "--sweep", scale]
    assert cli.main(args) == 0
    shown = capsys.readouterr().out
    # -m replaces the config's scale axis and adds a learning-rate axis to its seed axis.
    assert "# sweep: 12 members = 1 variant(s) × 12 grid point(s)" in shown
    assert f"[11] laplace: train.prior.scale=10.0, seed=1, {lr}=0.5" in shown
    assert cli.main(["show", str(config), "-m", f"{lr}=linspace(0.1, 0.3, 3)"]) == 0
    assert f"{lr}=0.3" in capsys.readouterr().out
    assert cli.main(["show", str(config), "-m", f"{lr}="]) == 2
    assert "expected KEY=v1,v2,..." in capsys.readouterr().err
    assert cli.main(["show", str(config), "-m", f"{lr}=0.1,-1"]) == 2
    assert f"sweep.{lr} = -1" in capsys.readouterr().err


def test_a_bad_swept_value_exits_2_and_writes_nothing(tmp_path, capsys):
    config = _write_config(
        tmp_path, {**CONFIG, "sweep": {"train.optimizer.learning_rate": [0.1, -0.5]}}
    )
    out = tmp_path / "run"
    assert cli.main(["run", str(config), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "sweep.train.optimizer.learning_rate = -0.5" in error
    assert "Traceback" not in error and not out.exists()


def _cli(args: list[str], devices: int, **env: str) -> subprocess.Popen:
    environment = {
        **os.environ,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "JAX_PLATFORMS": "cpu",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "experiments", *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen) -> None:
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, err + out


def _largest_difference(a: dict, b: dict) -> float:
    largest = 0.0
    for run_a, run_b in zip(a["runs"], b["runs"], strict=True):
        assert run_a["sweep"] == run_b["sweep"] and run_a["status"] == run_b["status"]
        pairs = [(run_a["params"]["weights"], run_b["params"]["weights"])]
        for split, metrics in run_a["final"].items():
            pairs += [(v, run_b["final"][split][k]) for k, v in metrics.items()]
        for x, y in pairs:
            largest = max(largest, float(np.max(np.abs(np.subtract(x, y)))))
    return largest


def test_the_sweep_over_four_devices_matches_one_device(swept, tmp_path):
    config, single = swept
    out = tmp_path / "run"
    _finish(_cli(["run", str(config), "--out", str(out), "--quiet"], devices=4))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["devices"]["count"] == 4
    # Measured: 0 (identical) on this machine; float32 rounding is the allowed difference.
    assert _largest_difference(_summary(single), _summary(out)) <= 1e-5


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_two_processes_of_two_devices_match_one_process(swept, tmp_path):
    config, single = swept
    out = tmp_path / "run"
    address = f"127.0.0.1:{_free_port()}"
    processes = [
        _cli(
            [
                "run",
                str(config),
                "--out",
                str(out),
                "--quiet",
                "--coordinator",
                address,
                "--num-processes",
                "2",
                "--process-id",
                str(rank),
            ],
            devices=2,
        )
        for rank in (0, 1)
    ]
    for process in processes:
        _finish(process)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["devices"]["count"] == 4 and manifest["processes"] == 2
    assert _largest_difference(_summary(single), _summary(out)) <= 1e-5
