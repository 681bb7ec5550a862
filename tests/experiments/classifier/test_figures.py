"""The classifier's figures, drawn from a run folder's files, in every requested format.

The run folders are written by experiments.record.write_run from hand-made outcomes (no
training), so these tests hold the figures to the files' real format.
"""

import shutil

import matplotlib.image
import numpy as np
import pytest

from experiments.config import validate_config
from experiments.kind import Outcome
from experiments.kinds.classifier import KIND, figures
from experiments.kinds.classifier.data import Dataset
from experiments.kinds.classifier.metrics import METRICS
from experiments.kinds.classifier.program import PROGRAM
from experiments.plotting import draw_run_figures
from experiments.reading import read_run
from experiments.record import Result, write_run

STEPS = np.arange(0, 101, 10)


def _history(steps: np.ndarray, splits=("train", "test"), seed: int = 0):
    rng = np.random.default_rng(seed)
    decay = np.exp(-steps / 30.0)
    values = {
        "ce": 0.3 + 0.4 * decay,
        "mse": 0.05 + 0.1 * decay,
        "accuracy": 0.9 - 0.4 * decay,
        "grad_norm": 1e-6 + decay,
        "weight_grad_norm": 1e-6 + 0.9 * decay,
        "weight_norm": 3.0 * (1 - decay),
        "zero_weights": np.where(steps > 0, 3.0, 10.0),
    }
    return {
        split: {m: values[m] * (1 + 0.01 * rng.random(len(steps))) for m in METRICS}
        for split in splits
    }


def _dataset(n_classes: int, d: int, *, true_weights=None, test: bool = True) -> Dataset:
    n_test = 4 if test else 0
    return Dataset(
        x_train=np.zeros((8, d), np.float32),
        y_train=np.arange(8, dtype=np.int32) % n_classes,
        x_test=np.zeros((n_test, d), np.float32),
        y_test=np.arange(n_test, dtype=np.int32) % n_classes,
        n_classes=n_classes,
        feature_names=[f"x{i}" for i in range(d)],
        true_weights=true_weights,
        sha256="0" * 64,
    )


def _outcome(name, status, diverged_at, steps, history, weights, bias):
    params = {"weights": weights, "bias": bias}
    return name, Outcome(status, diverged_at, steps, history, params)


def _write(path, outcomes: list, datasets: list[Dataset], formats: list[str]):
    config = validate_config(
        {
            "name": "figures_test",
            "variants": [{"name": name} for name, _ in outcomes],
            "output": {"formats": formats},
        }
    )
    results = [Result(m, o) for m, (_, o) in zip(config.members, outcomes, strict=True)]
    write_run(path, config, results, [PROGRAM.data_entry(data) for data in datasets])
    return path


@pytest.fixture(scope="module")
def binary_run(tmp_path_factory):
    """Three binary variants on synthetic data: dense, sparse (3 exact zeros), diverged."""
    rng = np.random.default_rng(0)
    dense = rng.normal(size=10).astype(np.float32)
    sparse = dense.copy()
    sparse[[2, 5, 7]] = 0.0
    true = np.zeros(10, np.float32)
    true[:4] = [1.5, -1.2, 1.0, -2.0]
    early = STEPS[:4]
    results = [
        _outcome("mle", "ok", None, STEPS, _history(STEPS), dense, np.float32(0.1)),
        _outcome("map_laplace", "ok", None, STEPS, _history(STEPS, seed=1), sparse, np.float32(0)),
        _outcome("sgd_big_step", "diverged", 35, early, _history(early), dense, np.float32(3)),
    ]
    datasets = [_dataset(2, 10, true_weights=true)] * 3
    return _write(tmp_path_factory.mktemp("binary"), results, datasets, ["png", "pdf"])


def test_every_figure_in_every_format_from_the_run_files_alone(binary_run, tmp_path):
    # `plot` redraws from the files: a folder with just these three is enough.
    for name in ("metrics.csv", "summary.json", "data.json"):
        shutil.copy(binary_run / name, tmp_path / name)
    written = draw_run_figures(tmp_path, ["png", "pdf"], KIND)
    names = ["convergence", "sparsity", "weight_norm"]
    expected = [tmp_path / "figures" / f"{n}.{fmt}" for n in names for fmt in ("png", "pdf")]
    assert written == expected
    for path in written:
        if path.suffix == ".pdf":
            assert path.read_bytes().startswith(b"%PDF")
        else:  # 150 dpi: 9 inches wide
            assert matplotlib.image.imread(path).shape[1] == 1350


def test_sparsity_legend_counts_exact_zeros(binary_run):
    variants = figures.read_variants(read_run(binary_run))
    assert [v.zeros for v in variants] == [0, 3, 0]
    figure = figures.sparsity_figure(variants)
    labels = [text.get_text() for legend in figure.legends for text in legend.get_texts()]
    assert "map_laplace: 3 of 10 weights exactly 0" in labels
    assert "true weights: 4 of 10 nonzero" in labels
    assert "sgd_big_step (diverged at step 35): 0 of 10 weights exactly 0" in labels


def test_convergence_reads_the_history_and_marks_divergence(binary_run):
    variants = figures.read_variants(read_run(binary_run))
    steps, _ = variants[2].history["train"]["ce"]
    np.testing.assert_array_equal(steps, STEPS[:4])
    assert variants[2].label == "sgd_big_step (diverged at step 35)"
    figure = figures.convergence_figure(variants)
    ce_axis = figure.axes[0]
    assert ce_axis.get_yscale() == "log" and ce_axis.get_xlabel() == "step"
    assert all(ax.get_ylabel() for ax in figure.axes)


def test_multiclass_run_without_test_split_and_degenerate_values(tmp_path):
    # Every weight exactly 0 and an MSE of exactly 0 leave the log axes nothing positive to
    # show: drawing must neither fail nor warn (warnings are errors here).
    history = _history(STEPS, splits=("train",))
    history["train"]["mse"] = np.zeros(len(STEPS))
    history["train"]["grad_norm"][-1] = np.nan
    weights = np.zeros((4, 3), np.float32)
    results = [_outcome("softmax", "ok", None, STEPS, history, weights, np.zeros(3, np.float32))]
    run = _write(tmp_path, results, [_dataset(3, 4, test=False)], ["png"])
    variants = figures.read_variants(read_run(run))
    assert variants[0].weights.shape == (12,) and variants[0].zeros == 12
    assert set(variants[0].history) == {"train"}
    assert len(draw_run_figures(run, ["png"], KIND)) == 3
