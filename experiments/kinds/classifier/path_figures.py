"""The classifier's figures of a sweep, drawn from its files only.

Reads ``summary.json`` (one entry per member, with its ``sweep`` values), ``data.json`` and
``metrics.csv`` and writes, depending on what was swept:

- a prior scale (``train.prior.scale``):
  ``regularization_path`` (each weight against the scale, one panel per variant),
  ``sparsity_path`` (fraction of exact zeros; precision and recall of the recovered support
  where the true weights are known) and ``test_path`` (test cross-entropy and accuracy, the
  best scale marked);
- a learning rate (``train.optimizer.learning_rate``): ``lr_sweep`` (final cross-entropy
  and squared error against the learning rate, and convergence bands at three rates);
- any other key (``train.steps``, ``data.n_samples``, ...): ``sweep_<key>``, the final
  metrics against it (:mod:`experiments.figures.sweep`).

A seed swept beside other keys is a spread: lines are means over it, bands span its
minimum to maximum; the regularisation path draws each seed in its own panel instead
(the weights of different splits are not averaged into one path).
"""

from __future__ import annotations

import functools
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from experiments.config import Experiment
from experiments.contract import RunRecord
from experiments.figures import style
from experiments.figures import sweep as sweep_figures
from experiments.figures.canvas import legend_below, log_y, new_figure

SCALE = "train.prior.scale"
LEARNING_RATE = "train.optimizer.learning_rate"
SEED = "seed"
UNITS = {
    "ce": "cross-entropy ({unit})",
    "mse": "squared error ½‖p − y‖²",
    "weight_norm": "‖w‖₂ (bias excluded)",
}


@dataclass(frozen=True)
class SweepPoint:
    """What the figures need of one sweep member, read from the run's files."""

    index: int
    variant: str
    values: dict[str, float]
    status: str
    final: dict[str, dict[str, float]]
    weights: np.ndarray  # flattened
    true_weights: np.ndarray | None


def read_points(record: RunRecord) -> list[SweepPoint]:
    """The members of a sweep, in the order of ``summary.json``."""
    points = []
    for run in record.runs:
        truth = record.data[run["member"]].get("true_weights")
        points.append(
            SweepPoint(
                index=run["member"],
                variant=run["variant"],
                values=run.get("sweep", {}),
                status=run["status"],
                final=run.get("final", {}),
                weights=np.array(run["params"]["weights"], dtype=float).ravel(),
                true_weights=None if truth is None else np.array(truth, dtype=float).ravel(),
            )
        )
    return points


def ce_unit(config: Experiment) -> str:
    """The unit of a classifier run's reported cross-entropy: its config's ``base``."""
    return style.log_unit(config.members[0].spec.base)


def figures(record: RunRecord) -> dict[str, Callable[[], Figure]]:
    """A sweep's figures, by what was swept (see the module docstring)."""
    members = read_points(record)
    unit = ce_unit(record.config)
    units = {metric: label.format(unit=unit) for metric, label in UNITS.items()}
    swept = record.swept_keys()
    primary = sorted(swept - {SEED}) or sorted(swept)
    drawn: dict[str, Callable[[], Figure]] = {}
    if SCALE in swept:
        drawn["regularization_path"] = lambda: regularization_path_figure(members)
        drawn["sparsity_path"] = lambda: sparsity_path_figure(members)
        drawn["test_path"] = lambda: test_path_figure(members, unit)
    if LEARNING_RATE in swept:
        histories = {i: h.get("train", {}) for i, h in record.history.items()}
        drawn["lr_sweep"] = lambda: lr_sweep_figure(members, histories, unit)
    for key in primary:
        if key not in (SCALE, LEARNING_RATE):
            drawn[sweep_figures.figure_name(key)] = functools.partial(
                sweep_figures.final_metrics_figure,
                record,
                key,
                ["ce", "accuracy", "mse", "weight_norm"],
                units=units,
            )
    return drawn


# ---------------------------------------------------------------------------
# Aggregation over the spread keys
# ---------------------------------------------------------------------------


def _by_variant(members: list[SweepPoint]) -> dict[str, list[SweepPoint]]:
    grouped: dict[str, list[SweepPoint]] = defaultdict(list)
    for member in members:
        grouped[member.variant].append(member)
    return dict(grouped)


def _looks(groups: dict[str, list[SweepPoint]]):
    """(look, name, members) per variant, in order."""
    return [(style.look(i), name, group) for i, (name, group) in enumerate(groups.items())]


def _aggregate(
    members: list[SweepPoint], key: str, value: Callable[[SweepPoint], float | np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, mean, min, max) of ``value`` over the members at each distinct value of ``key``."""
    groups: dict[float, list] = defaultdict(list)
    for member in members:
        groups[float(member.values[key])].append(np.asarray(value(member), dtype=float))
    xs = np.array(sorted(groups))
    stacks = [np.stack(groups[x]) for x in xs]
    # An all-NaN group (e.g. precision with no weight left) stays NaN: a gap in the line.
    with warnings.catch_warnings(action="ignore", category=RuntimeWarning):
        mean = np.array([np.nanmean(s, axis=0) for s in stacks])
        low = np.array([np.nanmin(s, axis=0) for s in stacks])
        high = np.array([np.nanmax(s, axis=0) for s in stacks])
    return xs, mean, low, high


def _band(ax: Axes, x, mean, low, high, look: style.Look, label: str | None) -> None:
    ax.plot(x, mean, color=look.color, linestyle=look.linestyle, label=label)
    if np.any(high > low):
        ax.fill_between(x, low, high, color=look.color, alpha=0.2, linewidth=0)


def _final(split: str, metric: str) -> Callable[[SweepPoint], float]:
    def get(member: SweepPoint) -> float:
        table = member.final.get(split) or member.final.get("train", {})
        value = table.get(metric)
        return np.nan if value is None else float(value)

    return get


def _spread_note(members: list[SweepPoint], key: str) -> str:
    others = sorted({k for m in members for k in m.values} - {key})
    return f"mean and min–max over {', '.join(others)}" if others else ""


# ---------------------------------------------------------------------------
# Prior-scale figures
# ---------------------------------------------------------------------------


def regularization_path_figure(members: list[SweepPoint]) -> Figure:
    """Each weight against the prior scale: a row per variant and, where seeds were swept
    (each its own split and standardisation), a panel per seed; else the mean over the
    other swept keys, the min–max band of each weight around it."""
    members = [m for m in members if SCALE in m.values]
    variants = _by_variant(members)
    seeds = sorted({m.values[SEED] for m in members if SEED in m.values})
    panels = seeds if 1 < len(seeds) <= 6 else [None]
    rows, cols = len(variants), len(panels)
    figure = new_figure(rows, cols, (7.0, (1.9 if cols > 1 else 3.0) * rows + 0.5))
    axes = np.array(figure.axes).reshape(rows, cols)
    for row, (name, group) in enumerate(variants.items()):
        for col, seed in enumerate(panels):
            ax = axes[row, col]
            chosen = group if seed is None else [m for m in group if m.values[SEED] == seed]
            xs, mean, low, high = _aggregate(chosen, SCALE, lambda m: m.weights)
            colors = matplotlib.colormaps["viridis"](np.linspace(0, 0.9, mean.shape[1]))
            for j in range(mean.shape[1]):
                ax.plot(xs, mean[:, j], color=colors[j], linewidth=0.8)
                if seed is None and np.any(high[:, j] > low[:, j]):
                    ax.fill_between(xs, low[:, j], high[:, j], color=colors[j], alpha=0.12, lw=0)
            ax.axhline(0, color="black", linewidth=0.5)
            ax.set_xscale("log")
            zeros = int(np.sum(mean[0] == 0))
            where = f"seed {seed}" if seed is not None else f"{zeros} of {mean.shape[1]} w = 0"
            ax.set_title(f"{name}, {where}" if seed is not None else f"{name}: {where}")
            if row == rows - 1:
                ax.set_xlabel("prior scale (σ or b)")
            if col == 0:
                ax.set_ylabel("weight")
    note = "a panel per seed" if panels != [None] else _spread_note(members, SCALE)
    figure.suptitle("Regularisation path: each weight against the prior scale; " + note)
    return figure


def sparsity_path_figure(members: list[SweepPoint]) -> Figure:
    """Fraction of exact zeros, and support precision/recall where the truth is known."""
    members = [m for m in members if SCALE in m.values]
    known = all(m.true_weights is not None for m in members)
    figure = new_figure(1, 2 if known else 1, (9.0 if known else 4.8, 3.6))
    axes = np.atleast_1d(figure.axes)
    for look, name, group in _looks(_by_variant(members)):
        xs, mean, low, high = _aggregate(group, SCALE, lambda m: np.mean(m.weights == 0))
        _band(axes[0], xs, mean, low, high, look, name)
        if known:
            for metric, dash in (("precision", "-"), ("recall", "--")):
                xs, mean, _, _ = _aggregate(group, SCALE, _support_score(metric))
                axes[1].plot(xs, mean, dash, color=look.color, label=f"{name} {metric}")
    axes[0].set_ylabel("fraction of weights exactly 0")
    axes[0].set_ylim(-0.02, 1.02)
    if known:
        axes[1].set_ylabel("support recovery")
        axes[1].set_ylim(-0.02, 1.02)
        axes[1].set_title("precision and recall of the nonzero weights")
        axes[1].legend()
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("prior scale")
    axes[0].legend()
    axes[0].set_title("sparsity " + _spread_note(members, SCALE))
    return figure


def _support_score(metric: str) -> Callable[[SweepPoint], float]:
    def score(member: SweepPoint) -> float:
        found = member.weights != 0
        truth = np.asarray(member.true_weights) != 0
        hits = np.sum(found & truth)
        if metric == "precision":
            return float(hits / found.sum()) if found.any() else np.nan
        return float(hits / truth.sum()) if truth.any() else np.nan

    return score


def test_path_figure(members: list[SweepPoint], unit: str = "nats") -> Figure:
    """Test cross-entropy and accuracy against the prior scale, the best scale marked."""
    members = [m for m in members if SCALE in m.values]
    split = "test" if all("test" in m.final for m in members) else "train"
    figure = new_figure(1, 2, (9.0, 3.6))
    ce_ax, acc_ax = figure.axes
    for look, name, group in _looks(_by_variant(members)):
        xs, mean, low, high = _aggregate(group, SCALE, _final(split, "ce"))
        _band(ce_ax, xs, mean, low, high, look, name)
        if np.any(np.isfinite(mean)):
            best = int(np.nanargmin(mean))
            for ax in (ce_ax, acc_ax):
                ax.axvline(xs[best], color=look.color, linestyle=":", linewidth=1.0)
            label = f"best {name}: {xs[best]:.3g}"
            ce_ax.plot(xs[best], mean[best], look.marker, color=look.color, label=label)
        xs, mean, low, high = _aggregate(group, SCALE, _final(split, "accuracy"))
        _band(acc_ax, xs, mean, low, high, look, name)
    ce_ax.set_ylabel(f"{split} cross-entropy ({unit})")
    acc_ax.set_ylabel(f"{split} accuracy")
    for ax in (ce_ax, acc_ax):
        ax.set_xscale("log")
        ax.set_xlabel("prior scale")
    ce_ax.legend()
    figure.suptitle(f"{split} metrics against the prior scale; " + _spread_note(members, SCALE))
    return figure


# ---------------------------------------------------------------------------
# Learning-rate figure
# ---------------------------------------------------------------------------


def lr_sweep_figure(
    members: list[SweepPoint],
    histories: dict[int, dict[str, tuple[np.ndarray, np.ndarray]]],
    unit: str = "nats",
) -> Figure:
    """Final losses and accuracy against the learning rate, and convergence bands at
    three rates."""
    members = [m for m in members if LEARNING_RATE in m.values]
    rates = sorted({float(m.values[LEARNING_RATE]) for m in members})
    picks = sorted({rates[0], rates[len(rates) // 2], rates[-1]})
    figure = new_figure(2, max(2, len(picks)), (4.0 * max(2, len(picks)), 7.0))
    axes = np.array(figure.axes).reshape(2, -1)
    split = "test" if all(m.final.get("test") for m in members) else "train"
    finals = (("train", "ce"), ("train", "mse"), (split, "accuracy"))
    for look, name, group in _looks(_by_variant(members)):
        for ax, (at, metric) in zip(axes[0], finals, strict=False):
            xs, mean, low, high = _aggregate(group, LEARNING_RATE, _final(at, metric))
            _band(ax, xs, mean, low, high, look, name)
        for ax, rate in zip(axes[1], picks, strict=False):
            at_rate = [m for m in group if float(m.values[LEARNING_RATE]) == rate]
            curves = [histories[m.index]["ce"] for m in at_rate if m.index in histories]
            if not curves:
                continue
            length = min(len(steps) for steps, _ in curves)  # diverged members stop early
            steps = curves[0][0][:length]
            values = np.stack([v[:length] for _, v in curves])
            _band(ax, steps, values.mean(0), values.min(0), values.max(0), look, name)
            ax.set_title(f"learning rate {rate:.3g}")
    labels = (f"cross-entropy ({unit})", "MSE (½Σ)", "accuracy")
    for ax, (at, metric), label in zip(axes[0], finals, labels, strict=False):
        ax.set_xscale("log")
        if metric != "accuracy":
            log_y(ax)
        ax.set_xlabel("learning rate")
        ax.set_ylabel(f"final {at} {label}")
    for ax in axes[0][3:]:
        ax.set_visible(False)
    for ax in axes[1]:
        log_y(ax)
        ax.set_xlabel("step")
        ax.set_ylabel(f"train cross-entropy ({unit})")
    legend_below(figure)
    figure.suptitle("Learning-rate sweep: " + _spread_note(members, LEARNING_RATE))
    return figure
