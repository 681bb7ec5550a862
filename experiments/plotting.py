"""Figures, shared by every kind: one style, one canvas, one way to save.

Figures are drawn on the Agg canvas without pyplot (no global figure state) inside one
``matplotlib.rc_context`` style; raster formats at 150 dpi, pdf and svg as vectors. A kind's
figures are drawn from a run's files only (:func:`experiments.record.read_run`), so
``python -m experiments plot`` redraws them without rerunning.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from experiments import interrupts
from experiments.config import load_config
from experiments.folders import listed_files, replace_listed
from experiments.kind import Kind
from experiments.reading import RunFilesError, read_run
from experiments.record import FigureError, update_manifest

__all__ = [
    "PALETTE",
    "STYLE",
    "draw_run_figures",
    "log_y",
    "new_figure",
    "positive_y",
    "save_figures",
]

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
            interrupts.check()
            figure = make()
            for fmt in formats:
                path = out_dir / f"{name}.{fmt}"
                figure.savefig(path, format=fmt)
                written.append(path)
    return written


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


def draw_run_figures(
    run_dir: str | Path, formats: Iterable[str], kind: Kind | None = None
) -> list[Path]:
    """Draws a run folder's figures from its checked files into ``run_dir/figures``.

    The figures are drawn into a staging folder first and replace the old ones only when
    all are drawn; the manifest then lists them (or records the failure).

    Args:
        run_dir: a run folder.
        formats: file formats, e.g. ``["png", "pdf"]``.
        kind: the run's kind (default: the one its ``config.yaml`` names).

    Returns:
        The files written.

    Raises:
        RunFilesError: a file of the run is damaged (nothing is drawn).
        FigureError: a figure could not be drawn (the old figures are kept).
    """
    run_dir = Path(run_dir)
    if kind is None:
        kind = type(load_config(run_dir / "config.yaml")).KIND
    record = read_run(run_dir)
    target = run_dir / "figures"
    if target.exists() and not target.is_dir():
        raise RunFilesError(f"figures: {target} is a file, not a folder")
    draw = kind.figures()
    stage = Path(tempfile.mkdtemp(prefix=".figures.partial-", dir=run_dir))
    try:
        written = save_figures(lambda: draw(record), stage, formats)
    except Exception as error:
        shutil.rmtree(stage, ignore_errors=True)
        update_manifest(run_dir, figures={"status": "failed", "error": _brief(error)})
        raise FigureError(f"{type(error).__name__}: {error}") from error
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    stage.chmod(0o755)
    listed = listed_files(run_dir) or []
    previous = [f.removeprefix("figures/") for f in listed if f.startswith("figures/")]
    if target.exists():
        leftover = replace_listed(target, previous) if previous else _files(target)
        if leftover:  # files this tool did not write: never overwrite or delete them
            if {p.name for p in written} & set(leftover):
                target = _free_name(run_dir / "figures-new")
                stage.rename(target)
                return _record_figures(run_dir, listed, [target / p.name for p in written])
            for path in written:
                os.replace(path, target / path.name)
            stage.rmdir()
            return _record_figures(run_dir, listed, [target / p.name for p in written])
    stage.rename(target)
    return _record_figures(run_dir, listed, [target / p.name for p in written])


def _free_name(path: Path) -> Path:
    n = 2
    while path.exists():
        path, n = path.with_name(f"{path.name.rsplit('-', 1)[0]}-{n}"), n + 1
    return path


def _record_figures(run_dir: Path, listed: list[str], written: list[Path]) -> list[Path]:
    kept = [f for f in listed if not f.startswith("figures/")]
    figures = [str(p.relative_to(run_dir)) for p in written]
    update_manifest(run_dir, files=kept + figures, figures={"status": "ok"})
    return written


def _files(folder: Path) -> list[str]:
    return [str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir()]


def _brief(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 300 else text[:297] + "..."
