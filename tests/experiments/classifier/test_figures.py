"""The classifier's figures, drawn from a run folder's files, in every requested format.

The run folders are written by experiments.rundir.write.write_run from hand-made outcomes (no
training), so these tests hold the figures to the files' real format.
"""

import functools
import shutil

import matplotlib.image
import numpy as np
import pytest

from experiments.api import read_record
from experiments.contract import Outcome
from experiments.figures import style
from experiments.figures.save import save_figures
from experiments.kinds import validate_config
from experiments.kinds.classifier import figures
from experiments.kinds.classifier.data import Dataset
from experiments.kinds.classifier.metrics import METRICS
from experiments.kinds.classifier.program import PROGRAM
from experiments.pipeline.run import draw_run_figures
from experiments.rundir.write import Result, write_run

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
        "output": 0.1 + 0.8 * decay,
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


LAPLACE = {"prior": {"kind": "laplace", "scale": 0.05}, "optimizer": {"name": "fista"}}


def _write(path, outcomes: list, datasets: list[Dataset], formats: list[str], train=None):
    train = train or {}
    config = validate_config(
        {
            "name": "figures_test",
            "variants": [{"name": name, "train": train.get(name, {})} for name, _ in outcomes],
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
    folder = tmp_path_factory.mktemp("binary")
    return _write(folder, results, datasets, ["png", "pdf"], train={"map_laplace": LAPLACE})


def test_every_figure_in_every_format_from_the_run_files_alone(binary_run, tmp_path):
    # `plot` redraws from the files: a folder with just these four is enough.
    for name in ("config.yaml", "metrics.csv", "summary.json", "data.json"):
        shutil.copy(binary_run / name, tmp_path / name)
    written = draw_run_figures(tmp_path, read_record(tmp_path).config, ["png", "pdf"])
    names = ["convergence", "sparsity", "weight_norm"]
    expected = [tmp_path / "figures" / f"{n}.{fmt}" for n in names for fmt in ("png", "pdf")]
    assert written == expected
    for path in written:
        if path.suffix == ".pdf":
            assert path.read_bytes().startswith(b"%PDF")
            assert b"CreationDate" not in path.read_bytes()  # no date: the same bytes again
        else:  # the defaults: a page (7 in) at 200 dpi
            assert matplotlib.image.imread(path).shape[1] == 7 * 200


def test_column_width_and_dpi_set_the_pixel_width_and_redraws_are_identical(binary_run, tmp_path):
    variants = figures.read_variants(read_record(binary_run))

    def draw(folder):
        make = {"sparsity": functools.partial(figures.sparsity_figure, variants)}
        paths = save_figures(lambda: make, folder, ["png", "pdf"], width="column", dpi=100)
        return {p.name: p.read_bytes() for p in paths}

    first, second = draw(tmp_path / "a"), draw(tmp_path / "b")
    assert first == second  # no dates, fixed ids: the same figure gives the same bytes
    assert matplotlib.image.imread(tmp_path / "a" / "sparsity.png").shape[1] == 350  # 3.5 × 100
    # A row of two panels is stacked into a column at column width.
    with matplotlib.rc_context(style.rc_params("column", 100)):
        panels = figures.sparsity_figure(variants).axes
    assert panels[0].get_position().y0 > panels[1].get_position().y1


def test_panels_only_where_they_mean_something(tmp_path):
    # No prior: no sparsity figure, and no zero-count panel; an L1 prior: both.
    results = [
        _outcome("mle", "ok", None, STEPS, _history(STEPS), np.ones(4, np.float32), 0.0),
        _outcome("map_gaussian", "ok", None, STEPS, _history(STEPS), np.ones(4, np.float32), 0.0),
    ]
    gaussian = {"map_gaussian": {"prior": {"kind": "gaussian", "scale": 1.0}}}
    plain = read_record(_write(tmp_path / "plain", results, [_dataset(2, 4)] * 2, ["png"]))
    assert list(figures.draw(plain)) == ["convergence", "weight_norm"]
    assert len(figures.weight_norm_figure(figures.read_variants(plain)).axes) == 1
    l2 = read_record(_write(tmp_path / "l2", results, [_dataset(2, 4)] * 2, ["png"], gaussian))
    assert list(figures.draw(l2)) == ["convergence", "sparsity", "weight_norm"]
    assert len(figures.weight_norm_figure(figures.read_variants(l2)).axes) == 1
    l1 = read_record(
        _write(tmp_path / "l1", results, [_dataset(2, 4)] * 2, ["png"], {"mle": LAPLACE})
    )
    assert len(figures.weight_norm_figure(figures.read_variants(l1)).axes) == 2


def test_coincident_variants_are_named_in_the_legend(tmp_path):
    weights = np.array([0.5, -1.0, 0.0], np.float32)
    other = np.array([0.5, -2.0, 0.0], np.float32)
    history = _history(STEPS)
    results = [
        _outcome("ista", "ok", None, STEPS, history, weights, 0.0),
        _outcome("fista", "ok", None, STEPS, history, weights.copy(), 0.0),
        _outcome("other", "ok", None, STEPS, _history(STEPS, seed=3), other, 0.0),
    ]
    train = {name: LAPLACE for name in ("ista", "fista", "other")}
    run = read_record(_write(tmp_path, results, [_dataset(2, 3)] * 3, ["png"], train))
    variants = figures.read_variants(run)
    labels = {
        name: [t.get_text() for legend in make(variants).legends for t in legend.get_texts()]
        for name, make in [("convergence", figures.convergence_figure),
                           ("sparsity", figures.sparsity_figure)]
    }  # fmt: skip
    assert "fista (= ista)" in labels["convergence"] and "ista" in labels["convergence"]
    assert "other" in labels["convergence"]  # a different history: no annotation
    assert not [label for label in labels["convergence"] if "other (" in label]
    assert "fista (= ista): 1 of 3 weights exactly 0" in labels["sparsity"]
    assert "other: 1 of 3 weights exactly 0" in labels["sparsity"]


def test_image_data_gets_weight_images_and_named_features_label_the_axis(tmp_path):
    pixels = [f"pixel_{r}_{c}" for r in range(2) for c in range(3)]
    assert figures.image_shape(pixels) == (2, 3) and figures.image_shape(["a", "b"]) is None
    assert not figures.meaningful_names(pixels) and figures.meaningful_names(["mean radius"])
    data = _dataset(3, 6)
    data = Dataset(**{**data.__dict__, "feature_names": pixels})
    results = [_outcome("softmax", "ok", None, STEPS, _history(STEPS), np.ones((6, 3)), 0.0)]
    run = read_record(_write(tmp_path, results, [data], ["png"]))
    drawn = figures.draw(run)
    assert "weights" in drawn
    assert sum(ax.get_images() != [] for ax in drawn["weights"]().axes) == 3  # one per class


def test_correlated_groups_get_a_panel_each_with_the_shares_and_units_follow_the_base(tmp_path):
    data = _dataset(2, 6)
    data = Dataset(**{**data.__dict__, "feature_groups": [[0, 1, 2], [3, 4, 5]]})
    weights = np.array([0.9, 0.05, 0.05, 0.3, 0.3, 0.3], np.float32)
    name, outcome = _outcome("l1", "ok", None, STEPS, _history(STEPS), weights, 0.0)
    outcome = Outcome(**{**outcome.__dict__, "extra": {"group_weight_share": [0.9, 1 / 3]}})
    run = read_record(_write(tmp_path, [(name, outcome)], [data], ["png"]))
    drawn = figures.draw(run)
    figure = drawn["groups"]()
    panels = [ax for ax in figure.axes if ax.get_title().startswith("group")]
    assert [ax.get_title() for ax in panels] == ["group 1", "group 2"]
    assert [len(ax.patches) for ax in panels] == [3, 3]  # a bar per member
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["l1 (share 0.33–0.90)"]
    convergence = drawn["convergence"]()
    assert convergence.axes[0].get_ylabel() == "cross-entropy (nats)"
    bits = validate_config({"name": "b", "base": 2})
    assert figures.path_figures.ce_unit(bits) == "bits"


def test_a_sweep_of_any_key_draws_final_metrics_against_it(tmp_path):
    config = validate_config(
        {
            "name": "steps_sweep",
            "sweep": {"train.steps": [50, 100], "seed": [0, 1]},
            "output": {"formats": ["png"]},
        }
    )
    results = [
        Result(
            m, _outcome("default", "ok", None, STEPS, _history(STEPS, seed=i), np.ones(3), 0.0)[1]
        )
        for i, m in enumerate(config.members)
    ]
    write_run(tmp_path, config, results, [PROGRAM.data_entry(_dataset(2, 3))] * len(results))
    written = draw_run_figures(tmp_path, read_record(tmp_path).config, ["png"])
    assert [p.name for p in written] == ["sweep_train_steps.png"]


def test_sparsity_legend_counts_exact_zeros(binary_run):
    variants = figures.read_variants(read_record(binary_run))
    assert [v.zeros for v in variants] == [0, 3, 0]
    figure = figures.sparsity_figure(variants)
    labels = [text.get_text() for legend in figure.legends for text in legend.get_texts()]
    assert "map_laplace: 3 of 10 weights exactly 0" in labels
    assert "true weights: 4 of 10 nonzero" in labels
    # Its weights are mle's (the fixture gives both `dense`): the legend says so.
    assert "sgd_big_step (diverged at step 35) (= mle): 0 of 10 weights exactly 0" in labels


def test_convergence_reads_the_history_and_marks_divergence(binary_run):
    variants = figures.read_variants(read_record(binary_run))
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
    train = {"softmax": LAPLACE}  # a prior: the sparsity figure is drawn too
    run = _write(tmp_path, results, [_dataset(3, 4, test=False)], ["png"], train)
    variants = figures.read_variants(read_record(run))
    assert variants[0].weights.shape == (4, 3) and variants[0].zeros == 12
    assert set(variants[0].history) == {"train"}
    assert len(draw_run_figures(run, read_record(run).config, ["png"])) == 3
