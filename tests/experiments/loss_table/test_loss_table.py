"""The loss table: the material's numbers from the shipped configs, the table on the
terminal, the figures, byte-identical reruns, and the pure losses against references."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jax
import numpy as np
import pytest
import scipy.special
import scipy.stats

from experiments import cli
from experiments.api import read_record
from experiments.kinds import resolve, validate_config
from experiments.kinds.loss_table import losses
from experiments.kinds.loss_table.figures import draw
from experiments.pipeline import run as runner

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
NO_FIGURES = ["output.formats=[]"]


def run_config(name: str, out: Path, overrides=NO_FIGURES, log=None) -> dict:
    run_dir = runner.run(*resolve(CONFIGS / name, overrides), out=out, log=log)
    return json.loads((run_dir / "summary.json").read_text())["runs"][0]["params"]


@pytest.fixture(scope="module")
def party(tmp_path_factory):
    """The 3-class config run as shipped, figures included, with its terminal lines."""
    lines: list[str] = []
    out = tmp_path_factory.mktemp("party") / "run"
    params = run_config("party_losses.yaml", out, ["output.formats=[png]"], lines.append)
    return out, params, lines


def test_three_classes_equal_error_unequal_losses(party):
    _, params, _ = party
    model_1, model_2 = params["predictions"]["model_1"], params["predictions"]["model_2"]
    assert params["base"] == 2
    assert model_1["error"] == pytest.approx(1 / 3, abs=1e-7)
    assert model_2["error"] == pytest.approx(1 / 3, abs=1e-7)
    assert round(model_1["squared_error"], 3) == 0.807  # Σ over classes, mean over samples
    assert round(model_2["squared_error"], 2) == 0.34
    assert round(model_1["cross_entropy"], 3) == 1.989  # bits
    assert round(model_2["cross_entropy"], 3) == 0.922


def test_per_sample_values_match_a_float64_reference(party):
    _, params, _ = party
    targets = np.eye(3)[[2, 1, 0]]
    predictions = {
        "model_1": np.array([[0.3, 0.3, 0.4], [0.3, 0.4, 0.3], [0.1, 0.2, 0.7]]),
        "model_2": np.array([[0.1, 0.2, 0.7], [0.1, 0.7, 0.2], [0.3, 0.4, 0.3]]),
    }
    for name, p in predictions.items():
        samples = params["predictions"][name]["per_sample"]
        np.testing.assert_allclose(samples["squared_error"], ((p - targets) ** 2).sum(1), 1e-6)
        np.testing.assert_allclose(samples["cross_entropy"], -np.log2(p[targets == 1]), 1e-6)
        np.testing.assert_array_equal(samples["error"], [0, 0, 1])
        for loss in ("error", "squared_error", "cross_entropy"):
            mean = np.mean(samples[loss])
            assert params["predictions"][name][loss] == pytest.approx(mean, rel=1e-6)


def test_the_terminal_shows_the_table(party):
    _, _, lines = party
    assert lines[0].startswith("default: in bits: model_1 ce 1.989, model_2 ce 0.922 (")
    assert lines[1].split() == [
        "set",
        "error",
        "squared",
        "error",
        "Σ_c",
        "cross-entropy",
        "(bits)",
    ]
    assert lines[2].split() == ["model_1", "0.3333", "0.8067", "1.989"]
    assert lines[3].split() == ["model_2", "0.3333", "0.34", "0.922"]
    assert "squared error Σ 0.54 0.54 1.34" in lines[4]


def test_the_figure_draws_each_mean_and_sample_from_the_files(party):
    run_dir, params, _ = party
    assert (run_dir / "figures" / "losses.png").is_file()
    figure = draw(read_record(run_dir))["losses"]()
    for ax, loss in zip(figure.axes, ("error", "squared_error", "cross_entropy"), strict=True):
        heights = [bar.get_height() for bar in ax.patches]
        expected = [params["predictions"][name][loss] for name in ("model_1", "model_2")]
        np.testing.assert_allclose(heights, expected, rtol=1e-6)
        markers = sorted(float(line.get_ydata()[0]) for line in ax.lines)
        per_sample = [params["predictions"][n]["per_sample"][loss] for n in ("model_1", "model_2")]
        np.testing.assert_allclose(markers, sorted(np.concatenate(per_sample)), rtol=1e-6)
    assert "bits" in figure.axes[2].get_ylabel()


def test_the_binary_pair(tmp_path):
    params = run_config("party_losses_binary.yaml", tmp_path / "run")
    sets = params["predictions"]
    assert round(sets["model_1"]["cross_entropy"], 3) == 0.737  # −log₂ 0.6
    assert round(sets["model_2"]["cross_entropy"], 3) == 0.322  # −log₂ 0.8
    assert sets["model_1"]["error"] == sets["model_2"]["error"] == 0
    # Material 004's two samples, each with the same loss.
    per_sample = [[round(v, 3) for v in sets[m]["per_sample"]["cross_entropy"]] for m in sets]
    assert per_sample == [[0.737, 0.737], [0.322, 0.322]]


def test_the_entropies_and_both_kl_directions(tmp_path):
    params = run_config("entropy_numbers.yaml", tmp_path / "run")
    entropy = {name: d["entropy"] for name, d in params["distributions"].items()}
    assert (entropy["certain"], entropy["fair_coin"], entropy["fair_die_4"]) == (0, 1, 2)
    assert round(entropy["pass_rate_9_to_1"], 3) == 0.469
    pq = params["pairs"]["P||Q"]
    assert round(pq["kl_divergence"], 4) == 0.1887  # D(P‖Q)
    assert round(pq["reverse_kl_divergence"], 4) == 0.2075  # D(Q‖P)
    label = params["pairs"]["label||prediction"]
    assert round(label["cross_entropy"], 3) == 0.515
    assert label["kl_divergence"] == pytest.approx(label["cross_entropy"], rel=1e-6)
    assert label["reverse_kl_divergence"] is None  # +inf: the label is 0 where q is not


def test_reruns_are_byte_identical(tmp_path):
    first = runner.run(*resolve(CONFIGS / "entropy_numbers.yaml", NO_FIGURES), out=tmp_path / "a")
    second = runner.run(*resolve(CONFIGS / "entropy_numbers.yaml", NO_FIGURES), out=tmp_path / "b")
    for name in ("summary.json", "metrics.csv", "data.json", "config.yaml"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_plot_redraws_the_measures_figure(tmp_path, capsys):
    config = resolve(CONFIGS / "entropy_numbers.yaml", ["output.formats=[png]"])
    run_dir = runner.run(*config, out=tmp_path / "r")
    (run_dir / "figures" / "measures.png").unlink()
    assert cli.main(["plot", str(run_dir)]) == 0
    assert capsys.readouterr().out.split() == [str(run_dir / "figures" / "measures.png")]


# ---------------------------------------------------------------------------
# The pure losses
# ---------------------------------------------------------------------------


def test_scores_under_jit_match_numpy():
    rng = np.random.default_rng(0)
    predictions = rng.dirichlet(np.ones(4), size=(3, 5)).astype(np.float32)
    targets = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 5)]
    scores = jax.jit(lambda t, p: losses.score_predictions(t, p, base=2))(targets, predictions)
    np.testing.assert_allclose(
        scores["squared_error"], ((predictions - targets) ** 2).sum(-1), rtol=1e-5
    )
    true = predictions[:, targets.astype(bool)]
    np.testing.assert_allclose(scores["cross_entropy"], -np.log2(true), rtol=1e-5)
    wrong = predictions.argmax(-1) != targets.argmax(-1)
    np.testing.assert_array_equal(scores["error"], wrong.astype(np.float32))


def test_measures_ignore_the_zero_padding_and_match_scipy():
    p, q = np.array([0.2, 0.5, 0.3]), np.array([0.4, 0.4, 0.2])
    padded = np.stack([np.append(p, 0.0), np.append(q, 0.0), [0.5, 0.5, 0.0, 0.0]])
    measure = jax.jit(lambda d: losses.measure_distributions(d, [(0, 1)], base=2))
    measures = measure(padded)
    np.testing.assert_allclose(
        measures["entropy"],
        [scipy.stats.entropy(p, base=2), scipy.stats.entropy(q, base=2), 1],
        rtol=1e-6,
    )
    kl = scipy.special.rel_entr(p, q).sum() / math.log(2)
    reverse = scipy.special.rel_entr(q, p).sum() / math.log(2)
    np.testing.assert_allclose(measures["kl_divergence"], [kl], rtol=1e-5)
    np.testing.assert_allclose(measures["reverse_kl_divergence"], [reverse], rtol=1e-5)
    np.testing.assert_allclose(
        measures["cross_entropy"], [kl + scipy.stats.entropy(p, base=2)], rtol=1e-5
    )


def test_a_sweep_over_the_base_changes_only_the_unit(tmp_path):
    raw = {
        "name": "bases",
        "kind": "loss_table",
        "distributions": {"P": [0.75, 0.25], "Q": [0.5, 0.5]},
        "pairs": [["P", "Q"]],
        "sweep": {"base": [2, 4]},
        "output": {"formats": []},
    }
    run_dir = runner.run(validate_config(raw), out=tmp_path / "run")
    bits, quarts = (r["params"] for r in json.loads((run_dir / "summary.json").read_text())["runs"])
    assert (bits["base"], quarts["base"]) == (2, 4)
    kl = bits["pairs"]["P||Q"]["kl_divergence"]
    assert quarts["pairs"]["P||Q"]["kl_divergence"] == pytest.approx(kl / 2, rel=1e-6)
    assert sorted(draw(read_record(run_dir))) == ["measures_default_0", "measures_default_1"]
