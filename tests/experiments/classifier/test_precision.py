"""``precision: float64``: the classifier's data, parameters and metrics are float64 end to
end, the float32 programs compute nothing in float64, and the config says where precision
may be set and which ranges its numbers may take."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments.config import ConfigError
from experiments.kinds import load_config, validate_config
from experiments.kinds.classifier.program import PROGRAM
from experiments.kinds.classifier.schema import RunSpec
from experiments.pipeline import run as runner

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
INLINE = {
    "source": "inline",
    "x": [[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 3.0], [1.0, 2.0], [0.0, 0.5]],
    "y": [0, 1, 2, 1, 0, 1],
    "test_fraction": 0,
}


def _spec(precision: str, optimizer: str, prior: str, classes: int, **train) -> RunSpec:
    y = INLINE["y"] if classes == 3 else [label % 2 for label in INLINE["y"]]
    return RunSpec.model_validate(
        {
            "name": "run",
            "precision": precision,
            "data": {**INLINE, "y": y},
            "model": {"classes": classes, "init": {"kind": "normal"}},
            "train": {
                "steps": 4,
                "log_every": 2,
                "tol": 1e-3,
                "optimizer": {"name": optimizer},
                "prior": {"kind": prior, "scale": 1.0} if prior != "none" else {"kind": "none"},
                **train,
            },
        }
    )


def _trace(spec: RunSpec):
    """The member function's jaxpr, traced with x64 on (so that a default dtype would be
    float64)."""
    data = PROGRAM.load_data(spec, ".")
    member = PROGRAM.member_fn(PROGRAM.program_key(spec, data), None)
    with jax.enable_x64(True):
        return jax.make_jaxpr(member)(
            PROGRAM.hyperparameters(spec), jax.random.key(0), *PROGRAM.arrays(data)
        )


def _float64_results(jaxpr) -> list[str]:
    """The equations whose results are float64. Literals (weak-typed Python numbers) are
    not results: they take the dtype of what they meet."""
    lines = [line for line in str(jaxpr).splitlines() if " = " in line]
    return [line.strip() for line in lines if ":f64[" in line.split(" = ", 1)[0]]


@pytest.mark.parametrize(
    ("optimizer", "prior", "classes", "batch_size"),
    [("newton", "laplace", 2, None), ("adam", "laplace", 3, 4)],
)
def test_a_float32_program_computes_nothing_in_float64(optimizer, prior, classes, batch_size):
    spec = _spec("float32", optimizer, prior, classes, batch_size=batch_size)
    assert _float64_results(_trace(spec)) == []


def test_a_float64_run_is_float64_end_to_end(tmp_path):
    spec = _spec("float64", "newton", "laplace", 2)
    data = PROGRAM.load_data(spec, ".")
    assert data.x_train.dtype == np.float64
    assert {v.dtype for v in PROGRAM.hyperparameters(spec).values()} == {np.dtype(np.float64)}
    jaxpr = _trace(spec)
    floats = {aval.dtype for aval in jaxpr.out_avals if aval.dtype.kind == "f"}
    assert floats == {np.dtype(np.float64)}  # history, params
    assert _float64_results(jaxpr)  # the check of the float32 programs sees float64

    raw = {
        "name": "float64",
        "precision": "float64",
        "data": {**INLINE, "y": [label % 2 for label in INLINE["y"]]},
        "train": {"steps": 2, "log_every": 1},
        "output": {"formats": []},
    }
    run = runner.run(validate_config(raw), out=tmp_path / "run")
    assert json.loads((run / "manifest.json").read_text())["precision"] == "float64"
    entry = json.loads((run / "summary.json").read_text())["runs"][0]
    numbers = [entry["final"]["train"]["ce"], *entry["params"]["weights"], entry["params"]["bias"]]
    # Written in full: none of them is a float32 value (as float32 results would be).
    assert all(float(np.float32(value)) != value for value in numbers)


def test_precision_is_set_once_at_the_top_level():
    base = {"name": "p", "data": INLINE, "model": {"classes": 3}}
    found = ConfigError
    with pytest.raises(found, match=r"variants\[0\]\.precision: is set once, at the top level"):
        validate_config({**base, "variants": [{"name": "a", "precision": "float64"}]})
    with pytest.raises(found, match=r"sweep\.precision: cannot be swept"):
        validate_config({**base, "sweep": {"precision": ["float32", "float64"]}})
    with pytest.raises(found, match=r"precision: kind max_entropy computes in float32 only"):
        load_config(CONFIGS / "max_entropy.yaml", ["precision=float64"])
    with pytest.raises(found, match=r"precision: 'float16' is not one of float32, float64"):
        validate_config({**base, "precision": "float16"})


def test_the_range_of_a_number_follows_the_precision():
    raw = {"name": "p", "data": INLINE, "model": {"classes": 3}, "train": {"tol": 1e-300}}
    with pytest.raises(ConfigError, match=r"train\.tol: is below float32's smallest normal"):
        validate_config(raw)
    with pytest.raises(ConfigError, match=r"variants\[0\]\.train\.tol: is beyond float32's"):
        validate_config({**raw, "train": {}, "variants": [{"name": "a", "train": {"tol": 1e39}}]})
    config = validate_config({**raw, "precision": "float64"}, ["train.steps=3"])
    assert config.members[0].spec.train.tol == 1e-300
    gaussian = {"prior": {"kind": "gaussian", "scale": 1.0}}
    swept = {**raw, "precision": "float64", "train": gaussian}
    swept["sweep"] = {"train.prior.scale": [1e-200, 1e200]}
    assert len(validate_config(swept).members) == 2
    with pytest.raises(ConfigError, match=r"below float64's smallest normal"):
        validate_config({**raw, "precision": "float64", "train": {"tol": 1e-310}})
