"""The curves: every claim of configs/curves.yaml read back from its run's files, the
curves against closed forms, the figures, reruns, and bad configs."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments.api import read_record
from experiments.config import ConfigError
from experiments.figures import save as plotting
from experiments.kinds import resolve, validate_config
from experiments.pipeline import run as runner

ROOT = Path(__file__).resolve().parents[3]
CURVES = ROOT / "configs" / "curves.yaml"
FIGURES = (
    "self_information",
    "binary_entropy",
    "kl_terms",
    "sigmoid",
    "loss_gradients",
    "jensen",
    "expected_value",
    "prior_densities",
)


def arrays(params: dict) -> dict:
    return {
        part: {k: np.array(v, float) for k, v in params[part].items()} for part in ("grid", "at")
    } | {"facts": params.get("facts", {}), "base": params["base"]}


@pytest.fixture(scope="module")
def curves(tmp_path_factory):
    """configs/curves.yaml run as shipped (png only): each variant's params, and the folder."""
    run_dir = runner.run(
        *resolve(CURVES, ["output.formats=[png]"]), out=tmp_path_factory.mktemp("c") / "r"
    )
    runs = json.loads((run_dir / "summary.json").read_text())["runs"]
    return run_dir, {run["variant"]: arrays(run["params"]) for run in runs}


def sigma(z):
    return 1 / (1 + np.exp(-z))


def test_self_information_in_bits(curves):
    _, by = curves
    at = by["self_information"]["at"]
    np.testing.assert_allclose(at["x"], [1, 0.5, 0.25, 0.125])
    np.testing.assert_allclose(at["self_information"], [0, 1, 2, 3], atol=1e-6)
    grid = by["self_information"]["grid"]
    np.testing.assert_allclose(grid["self_information"], -np.log2(grid["x"]), rtol=1e-5, atol=1e-6)
    assert grid["x"][0] == pytest.approx(0.01) and grid["x"][-1] == 1


def test_binary_entropy_peaks_at_one_bit_at_a_half(curves):
    _, by = curves
    curve = by["binary_entropy"]
    np.testing.assert_allclose(curve["at"]["entropy"][0], 1.0, atol=1e-6)  # H(½) = 1 bit
    assert round(curve["at"]["entropy"][1], 3) == round(curve["at"]["entropy"][2], 3) == 0.469
    assert curve["facts"]["maximum"] == pytest.approx(1.0, abs=1e-6)
    assert curve["facts"]["maximum_at"] == pytest.approx(0.5, abs=1e-6)
    p = curve["grid"]["x"]
    inner = (p > 0) & (p < 1)
    reference = -(p[inner] * np.log2(p[inner]) + (1 - p[inner]) * np.log2(1 - p[inner]))
    np.testing.assert_allclose(curve["grid"]["entropy"][inner], reference, rtol=1e-5, atol=1e-6)
    assert curve["grid"]["entropy"][0] == curve["grid"]["entropy"][-1] == 0  # 0·log 0 = 0


def test_kl_terms_and_their_sum_against_q(curves):
    _, by = curves
    curve = by["kl_terms"]
    q, grid = curve["grid"]["x"], curve["grid"]
    np.testing.assert_allclose(grid["term_1"], 0.5 * np.log2(0.5 / q), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grid["term_2"], 0.5 * np.log2(0.5 / (1 - q)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grid["kl_divergence"], grid["term_1"] + grid["term_2"], atol=1e-5)
    assert np.all(grid["kl_divergence"] >= 0) and np.any(grid["term_1"] < 0)
    assert curve["at"]["kl_divergence"][0] == pytest.approx(0, abs=1e-7)  # Q = P
    assert round(curve["at"]["kl_divergence"][1], 4) == 0.2075  # D((½, ½) ‖ (¼, ¾))
    assert curve["facts"]["minimum"] == pytest.approx(0, abs=1e-7)
    assert curve["facts"]["minimum_at"] == pytest.approx(0.5, abs=1e-6)


def test_sigmoid_derivative_is_flat_beyond_four(curves):
    _, by = curves
    curve = by["sigmoid"]
    z, grid = curve["grid"]["x"], curve["grid"]
    np.testing.assert_allclose(grid["sigmoid"], sigma(z), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grid["derivative"], sigma(z) * (1 - sigma(z)), rtol=1e-4, atol=1e-7)
    assert curve["facts"]["largest_derivative_beyond"] < 0.018
    assert curve["facts"]["largest_derivative_beyond"] == pytest.approx(0.017663, abs=1e-6)
    assert curve["facts"]["peak_derivative"] == pytest.approx(0.25, abs=1e-6)
    np.testing.assert_allclose(curve["at"]["derivative"], [0.25, 0.017663], atol=1e-6)


def test_the_gradients_at_z_4_are_the_materials(curves):
    _, by = curves
    curve = by["loss_gradients"]
    assert curve["at"]["x"].tolist() == [4.0]
    assert round(curve["at"]["mse_gradient"][0], 3) == 0.035  # (σ − y)σ′x
    assert round(curve["at"]["ce_gradient"][0], 3) == 1.964  # (σ − y)x
    z, x, y = curve["grid"]["x"], 2.0, 0.0
    s = sigma(z)
    np.testing.assert_allclose(
        curve["grid"]["mse_gradient"], np.abs((s - y) * s * (1 - s) * x), rtol=1e-4, atol=1e-7
    )
    np.testing.assert_allclose(curve["grid"]["ce_gradient"], np.abs((s - y) * x), rtol=1e-5)


def test_one_figure_per_variant_and_byte_identical_reruns(curves, tmp_path):
    run_dir, _ = curves
    assert sorted(p.stem for p in (run_dir / "figures").iterdir()) == sorted(FIGURES)
    again = runner.run(*resolve(CURVES, ["output.formats=[]"]), out=tmp_path / "again")
    for name in ("summary.json", "metrics.csv", "data.json"):
        assert (run_dir / name).read_bytes() == (again / name).read_bytes(), name


def test_pdfs_are_drawn_without_font_warnings_on_the_terminal(curves, tmp_path, caplog):
    # The curves' PDFs embed a font whose dates make fontTools log a warning, which reached
    # the terminal (through logging's last-resort handler) in the middle of `infolab seeds`.
    run_dir, _ = curves
    shutil.copytree(run_dir, tmp_path / "r")
    caplog.set_level(logging.DEBUG)
    written = runner.draw_run_figures(tmp_path / "r", read_record(tmp_path / "r").config, ["pdf"])
    assert sorted(p.stem for p in written) == sorted(FIGURES)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert not logging.getLogger(plotting._FONT_HEAD_LOG).filters  # removed again


def test_the_figures_are_drawn_from_the_files(curves):
    from experiments.api import read_record
    from experiments.kinds.curves.figures import draw

    run_dir, by = curves
    figures = draw(read_record(run_dir))
    figure = figures["loss_gradients"]()
    (ce, mse, *_) = figure.axes[1].get_lines()
    np.testing.assert_allclose(ce.get_ydata(), by["loss_gradients"]["grid"]["ce_gradient"])
    np.testing.assert_allclose(mse.get_ydata(), by["loss_gradients"]["grid"]["mse_gradient"])
    assert figure.axes[1].get_yscale() == "log" and "nats" in figure.axes[0].get_ylabel()
    assert "bits" in figures["binary_entropy"]().axes[0].get_ylabel()


# ---------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------

BASE = {"name": "c", "kind": "curves"}


def problems(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as error:
        validate_config(raw)
    return error.value.problems


@pytest.mark.parametrize(
    ("curve", "expected"),
    [
        (
            {"kind": "binary_entropy", "at": [0.5, 1.5]},
            "curve.at[1]: 1.5 is outside the curve's domain [0, 1]",
        ),
        (
            {"kind": "self_information", "p_min": 0.1, "at": [0.05]},
            "curve.at[0]: 0.05 is outside the curve's domain [0.1, 1]",
        ),
        (
            {"kind": "kl_against_q", "p": [0.5, 0.6]},
            "curve.p: must sum to 1 (within 1e-06), got 1.1",
        ),
        (
            {"kind": "sigmoid", "z_max": 4.0, "flat_beyond": 4.0, "at": []},
            "curve.flat_beyond: must be < z_max (4), got 4",
        ),
        (
            {"kind": "loss_gradients", "x": 0.0},
            "curve.x: must not be 0 (z = θx would not depend on θ)",
        ),
        ({"kind": "loss_gradients", "y": 2.0}, "curve.y: must be <= 1, got 2.0"),
        (
            {"kind": "parabola"},
            "curve.kind: 'parabola' is not one of self_information, binary_entropy, "
            "kl_against_q, sigmoid, loss_gradients, jensen, prior_densities",
        ),
        (
            {"kind": "jensen", "probabilities": [0.5, 0.4]},
            "curve.probabilities: must sum to 1 (within 1e-06), got 0.9",
        ),
        (
            {"kind": "jensen", "values": [0.5, 4.0]},
            "curve.values[1]: 4 is outside [x_min, x_max] = [0.1, 3]",
        ),
        ({"kind": "prior_densities", "normal_std": 0.0}, "curve.normal_std: must be > 0, got 0.0"),
    ],
)
def test_bad_curves_name_their_field(curve, expected):
    assert problems({**BASE, "curve": curve}) == [expected]


def test_bad_grid_and_base():
    assert problems({**BASE, "points": 2, "base": 1}) == [
        "base: must be > 1, got 1",
        "points: must be >= 3, got 2",
    ]


def test_a_variant_changing_the_curve_drops_the_old_settings():
    raw = {
        **BASE,
        "curve": {"kind": "sigmoid", "z_max": 6.0},
        "variants": [{"name": "s"}, {"name": "h", "curve": {"kind": "binary_entropy"}}],
    }
    sigmoid, entropy = (m.spec.curve for m in validate_config(raw).members)
    assert (
        sigmoid.z_max == 6.0 and entropy.kind == "binary_entropy" and entropy.at == [0.5, 0.1, 0.9]
    )


def test_shipped_configs_show_without_jax_or_matplotlib():
    names = ["curves.yaml", "party_losses.yaml", "party_losses_binary.yaml", "entropy_numbers.yaml"]
    for name in names:
        text = (ROOT / "configs" / name).read_text()
        assert text.startswith(f"# python -m experiments run configs/{name}\n")
        assert validate_config(__import__("yaml").safe_load(text)).description
    script = (
        "import sys, experiments.cli\n"
        f"codes = [experiments.cli.main(['show', 'configs/' + n]) for n in {names!r}]\n"
        "heavy = [m for m in ('jax', 'matplotlib') if m in sys.modules]\n"
        "sys.exit(f'{codes} loaded: {heavy}' if heavy or any(codes) else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr + done.stdout[-500:]
