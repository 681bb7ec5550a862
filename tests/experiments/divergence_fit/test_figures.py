"""The divergence_fit figures, drawn from run folders written from hand-made outcomes (no
training): a 2-D fit, a sweep over the initial mean, and a discrete target."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.api import read_record
from experiments.contract import Outcome
from experiments.kinds import load_config, validate_config
from experiments.kinds.divergence_fit import figures, grid
from experiments.kinds.divergence_fit.fits import distinct, read_fits
from experiments.kinds.divergence_fit.optima import local_optima
from experiments.kinds.divergence_fit.program import PROGRAM
from experiments.pipeline.run import draw_run_figures
from experiments.rundir.write import Result, write_run

ROOT = Path(__file__).resolve().parents[3]
STEPS = np.arange(0, 101, 10)


def _outcome(params: dict, **final: float) -> Outcome:
    decay = np.exp(-STEPS / 20.0) - np.exp(-STEPS[-1] / 20.0)  # ends at the value
    history = {name: value + decay for name, value in {"divergence": 0.5, **final}.items()}
    return Outcome("ok", None, STEPS, {"train": history}, params)


def _write(path: Path, config, outcomes: list[Outcome]) -> Path:
    spec = config.members[0].spec
    entry = PROGRAM.data_entry(grid.quadrature(spec.target, spec.quadrature))
    results = [Result(m, o) for m, o in zip(config.members, outcomes, strict=True)]
    write_run(path, config, results, [entry] * len(results))
    return path


def test_the_2d_fit_has_a_panel_per_variant(tmp_path):
    config = load_config(ROOT / "configs" / "kl_direction_2d.yaml", ["output.formats=[png]"])
    moments = {"mean_x": 0.0, "mean_y": 0.0, "std_x": 3.16, "std_y": 1.41, "correlation": 0.67}
    mode = {"mean_x": 3.0, "mean_y": 1.0, "std_x": 1.0, "std_y": 1.0, "correlation": -0.6}
    wide = {"mean": np.zeros(2), "covariance": np.array([[10.0, 3.0], [3.0, 2.0]])}
    narrow = {"mean": np.array([3.0, 1.0]), "covariance": np.array([[1.0, -0.6], [-0.6, 1.0]])}
    outcomes = [_outcome(wide, **moments), _outcome(narrow, **mode)]
    run = _write(tmp_path, config, outcomes)
    written = draw_run_figures(run, read_record(run).config, ["png"])
    assert [p.name for p in written] == ["fit.png", "divergence.png"]
    fit = figures.fit_figure(read_fits(read_record(run)), swept=False)
    titles = [ax.get_title().splitlines() for ax in fit.axes]
    assert [t[0] for t in titles] == ["forward: min D(p‖q)", "reverse: min D(q‖p)"]
    assert titles[1][1] == "μ = (3.00, 1.00), σ = (1.00, 1.00), ρ = -0.60"
    assert all(ax.get_xlabel() == "x₁" and ax.get_ylabel() == "x₂" for ax in fit.axes)


def test_the_sweep_figure_counts_the_local_optima(tmp_path):
    config = load_config(ROOT / "configs" / "kl_local_optima.yaml", ["output.formats=[png]"])
    outcomes = []
    for member in config.members:
        start = member.values["fit.mean"]
        if member.variant == "forward":
            mean, std, value = 0.0, np.sqrt(10.0), 0.462
        elif abs(start) <= 1.0:
            mean, std, value = 0.0, 2.744, 0.841
        else:
            mean, std, value = np.sign(start) * 2.984, 1.023, 0.689
        history = {"divergence": value, "mean": mean, "std": std}
        history = {name: np.full(len(STEPS), v) for name, v in history.items()}
        outcomes.append(Outcome("ok", None, STEPS, {"train": history}, {"mean": mean, "std": std}))
    run = _write(tmp_path, config, outcomes)
    written = draw_run_figures(run, read_record(run).config, ["png"])
    assert [p.name for p in written] == ["fit.png", "divergence.png", "optima.png"]
    fits = read_fits(read_record(run))
    optima = local_optima(fits)
    assert [mean for mean, _ in optima["reverse"]] == [-3.0, 0.0, 3.0]
    assert [mean for mean, _ in optima["forward"]] == [0.0]
    labels = [f.label for f in distinct(fits)]
    assert "reverse: min D(q‖p), from fit.mean = -6 … -1.5" in labels
    assert "reverse: min D(q‖p), from fit.mean = -1 … 1" in labels


def test_a_discrete_target_and_equal_fits_are_labelled(tmp_path):
    config = validate_config(
        {
            "name": "discrete",
            "kind": "divergence_fit",
            "target": {"family": "discrete", "probabilities": [0.2, 0.5, 0.3]},
            "fit": {"family": "discrete"},
            "variants": [
                {"name": "forward"},
                {"name": "cross_entropy", "train": {"divergence": "cross_entropy"}},
            ],
            "output": {"formats": ["png"]},
        }
    )
    q = {"probabilities": np.array([0.2, 0.5, 0.3]), "logits": np.log([0.2, 0.5, 0.3])}
    run = _write(tmp_path, config, [_outcome(q, entropy=1.0), _outcome(q, entropy=1.0)])
    fits = read_fits(read_record(run))
    assert [f.label for f in fits] == [
        "forward: min D(p‖q)",
        "cross_entropy: min H(p, q) (same q as forward)",
    ]
    assert [p.name for p in draw_run_figures(run, read_record(run).config, ["png"])] == [
        "fit.png",
        "divergence.png",
    ]


def test_the_divergence_figure_keeps_step_0(tmp_path):
    # A log step axis would drop step 0 (where forward KL starts at 4.31 nats in
    # kl_direction); the symmetric-log axis keeps it.
    config = load_config(ROOT / "configs" / "kl_direction_2d.yaml", ["output.formats=[png]"])
    wide = {"mean": np.zeros(2), "covariance": np.array([[10.0, 3.0], [3.0, 2.0]])}
    run = _write(tmp_path, config, [_outcome(wide), _outcome(wide)])
    figure = figures.divergence_figure(read_fits(read_record(run)), swept=False)
    (ax,) = figure.axes
    assert ax.get_xscale() == "symlog" and ax.get_xlim()[0] == 0
    for line in ax.get_lines():
        assert line.get_xdata()[0] == 0 and abs(line.get_ydata()[0] - (1.5 - np.exp(-5))) < 1e-6
