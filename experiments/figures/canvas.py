"""The canvas every figure is drawn on: a constrained-layout figure without pyplot, a
legend under its panels, and log axes that hide what they cannot show.

Kinds draw with these and with :mod:`experiments.figures.style`; saving is
:mod:`experiments.figures.save`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from experiments.figures import style

__all__ = ["legend_below", "log_y", "new_figure", "positive_y"]


def new_figure(rows: int, cols: int, size: tuple[float, float]) -> Figure:
    """A constrained-layout figure on its own Agg canvas, with ``rows × cols`` axes.

    ``size`` (inches) is the figure as designed; it is drawn at the house style's width
    (:func:`experiments.figures.style.fit_size`: scaled, and a row of panels stacked into a column
    at column width), so ``figure.axes`` lists the panels in the same order either way.
    """
    width = float(matplotlib.rcParams["figure.figsize"][0])
    column = width <= style.WIDTHS[style.COLUMN] + 1e-9
    rows, cols, fitted = style.fit_size(rows, cols, size, width, column=column)
    figure = Figure(figsize=fitted, layout="constrained")
    FigureCanvasAgg(figure)
    figure.subplots(rows, cols)
    return figure


def legend_below(figure: Figure, handles: Sequence[Any] | None = None, **kwargs: Any) -> Any:
    """A legend under the panels, in as many columns as the figure's width has room for."""
    if handles is None:
        handles, _ = figure.axes[0].get_legend_handles_labels()
    labels = [h.get_label() for h in handles]
    font = matplotlib.font_manager.FontProperties(size=matplotlib.rcParams["legend.fontsize"])
    columns = style.legend_columns(labels, figure.get_figwidth(), font.get_size_in_points())
    kwargs.setdefault("ncols", columns)
    return figure.legend(handles=handles, loc="outside lower center", **kwargs)


def positive_y(ax: Axes) -> np.ndarray:
    """The positive, finite y values of an axes' lines."""
    values = [np.asarray(line.get_ydata(), float) for line in ax.lines]
    values = np.concatenate([np.zeros(0), *values])
    return values[np.isfinite(values) & (values > 0)]


def log_y(ax: Axes) -> None:
    """A log y axis (values ≤ 0 hidden), unless nothing is positive."""
    if positive_y(ax).size:
        ax.set_yscale("log", nonpositive="mask")
        _plain_log_labels(ax.yaxis)


class _PlainLogFormatter(LogFormatter):
    """LogFormatter's choice of ticks to label, written as plain numbers (0.04, 0.3, 2)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:g}" if super().__call__(x, pos) else ""


def _plain_log_labels(axis) -> None:
    """Plain numbers on a log axis that spans less than two decades (else 10ⁿ labels)."""
    low, high = axis.get_view_interval()
    if low > 0 and high / low < 100:
        axis.set_major_formatter(_PlainLogFormatter())
        axis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False))
