"""Figures, shared by every kind: one style, one canvas, one way to save.

Figures are drawn on the Agg canvas without pyplot (no global figure state) inside one
``matplotlib.rc_context`` style; raster formats at 150 dpi, pdf and svg as vectors. A kind's
figures are drawn from a run's files only (:func:`experiments.record.read_run`), so
``python -m experiments plot`` redraws them without rerunning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from experiments.config import load_config
from experiments.kind import Kind
from experiments.record import read_run

__all__ = ["PALETTE", "STYLE", "draw_run_figures", "new_figure", "save_figures"]

STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "lines.markersize": 4,
    "legend.frameon": False,
    "savefig.dpi": 150,
    "pdf.fonttype": 42,  # embed TrueType, so text stays text in the pdf
    "svg.fonttype": "none",
}
PALETTE = "tab10"


def new_figure(rows: int, cols: int, size: tuple[float, float]) -> Figure:
    """A constrained-layout figure on its own Agg canvas, with ``rows × cols`` axes."""
    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    figure.subplots(rows, cols)
    return figure


def save_figures(
    draw: Callable[[], Mapping[str, Callable[[], Figure]]],
    out_dir: Path,
    formats: Iterable[str],
) -> list[Path]:
    """Draws each named figure in the shared style and saves it in every format.

    Args:
        draw: returns the figures to draw, by name, each as a function making it.
        out_dir: the folder the files go to (made if missing).
        formats: file formats, e.g. ``["png", "pdf"]``.

    Returns:
        The files written, figure by figure, in the order of ``formats``.
    """
    formats = list(formats)
    out_dir.mkdir(exist_ok=True)
    written = []
    with matplotlib.rc_context(STYLE):
        for name, make in draw().items():
            figure = make()
            for fmt in formats:
                path = out_dir / f"{name}.{fmt}"
                figure.savefig(path, format=fmt)
                written.append(path)
    return written


def draw_run_figures(
    run_dir: str | Path, formats: Iterable[str], kind: Kind | None = None
) -> list[Path]:
    """Draws a run folder's figures from its files into ``run_dir/figures``.

    Args:
        run_dir: a run folder.
        formats: file formats, e.g. ``["png", "pdf"]``.
        kind: the run's kind (default: the one its ``config.yaml`` names).

    Returns:
        The files written.
    """
    run_dir = Path(run_dir)
    if kind is None:
        kind = type(load_config(run_dir / "config.yaml")).KIND
    draw = kind.figures()
    return save_figures(lambda: draw(read_run(run_dir)), run_dir / "figures", formats)
