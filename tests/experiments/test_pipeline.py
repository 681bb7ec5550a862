"""The pipeline's shape: modules that import alone, light commands, and a second kind that
plugs in without touching anything outside its folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments import config as config_layer
from experiments.config import ConfigError
from experiments.kinds import KINDS
from experiments.pipeline import execute
from experiments.pipeline import run as runner
from tests.experiments import gaussian_mean
from tests.experiments.gaussian_mean.program import PROGRAM as MEAN

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for path in (ROOT / "experiments").rglob("*.py")
    if path.name != "__main__.py"
)


@pytest.mark.slow
def test_every_module_imports_alone():
    # Each module is imported with no other module of the package loaded before it: an
    # import cycle or a module that leans on another's side effects fails here.
    script = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "experiments" or m.startswith("experiments.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as error:
        failed.append(f"{name}: {error!r}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""
    # Two interpreters, half the modules each: one per core.
    halves = [MODULES[0::2], MODULES[1::2]]
    running = [
        subprocess.Popen(
            [sys.executable, "-c", script, *half],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for half in halves
    ]
    for process in running:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, out + err
    assert len(MODULES) > 20 and "experiments.pipeline.run" in MODULES


def test_the_config_commands_load_neither_jax_nor_matplotlib():
    script = (
        "import sys, experiments, experiments.cli, experiments.config, experiments.kinds\n"
        "experiments.cli.main(['show', 'configs/mle_vs_map.yaml'])\n"
        "heavy = [m for m in ('jax', 'matplotlib') if m in sys.modules]\n"
        "sys.exit(f'loaded: {heavy}' if heavy else 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------------------
# A second kind
# ---------------------------------------------------------------------------

MEAN_CONFIG = {
    "name": "mean_fit",
    "kind": "gaussian_mean",
    "data": {"n": 64, "mean": 3.0},
    "train": {"steps": 60},
    "variants": [{"name": "slow"}, {"name": "fast", "train": {"learning_rate": 0.5}}],
    "output": {"formats": ["png"]},
}


# The registry with the new kind: in the project, this is one more line in kinds/__init__.py.
REGISTRY = {**KINDS, gaussian_mean.KIND.name: gaussian_mean.KIND}


def validate_mean(raw):
    return config_layer.validate_config(raw, kinds=REGISTRY)


def test_a_new_kind_validates_with_its_own_schema():
    config = validate_mean(MEAN_CONFIG)
    assert [m.spec.train.learning_rate for m in config.members] == [0.1, 0.5]
    with pytest.raises(ConfigError) as error:
        validate_mean({**MEAN_CONFIG, "train": {"learning_rate": -1.0}})
    assert error.value.problems == ["train.learning_rate: must be > 0, got -1.0"]
    with pytest.raises(ConfigError) as error:
        validate_mean({**MEAN_CONFIG, "sweep": {"train.lerning_rate": [0.1]}})
    assert error.value.problems[0].startswith(
        "sweep.train.lerning_rate = 0.1: unknown key (allowed: learning_rate, steps)"
    )


def test_a_new_kind_runs_sweeps_writes_its_folder_and_redraws(tmp_path):
    traces = []
    make = MEAN.member_fn

    def counting(key, progress):
        member = make(key, progress)
        return lambda *args: (traces.append(key), member(*args))[1]

    raw = {**MEAN_CONFIG, "sweep": {"seed": [0, 1, 2], "train.learning_rate": [0.2, 0.4]}}
    execute._compiled.cache_clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MEAN, "member_fn", counting)
        run_dir = runner.run(validate_mean(raw), out=tmp_path / "run")
    execute._compiled.cache_clear()
    assert len(traces) == 1  # 12 members, one program (the variants differ only in numbers)
    summary = json.loads((run_dir / "summary.json").read_text())
    data = json.loads((run_dir / "data.json").read_text())["datasets"]
    assert len(summary["runs"]) == 12 and len(data) == 3  # a sample per seed
    sample_means = {m: entry["sample_mean"] for entry in data for m in entry["members"]}
    for run in summary["runs"]:
        assert run["status"] == "ok" and set(run["sweep"]) == {"seed", "train.learning_rate"}
        np.testing.assert_allclose(run["params"]["mu"], sample_means[run["member"]], rtol=1e-4)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["kind"] == "gaussian_mean" and manifest["seeds"]["members"] == [0, 1, 2]
    assert (run_dir / "figures" / "loss.png").is_file()
    (run_dir / "figures" / "loss.png").unlink()
    config = config_layer.load_config(run_dir / "config.yaml", kinds=REGISTRY)
    assert runner.draw_run_figures(run_dir, config) == [run_dir / "figures" / "loss.png"]
