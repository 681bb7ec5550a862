"""Figures, shared by every kind: one style, one canvas, one way to save.

Figures are drawn on the Agg canvas without pyplot (no global figure state) inside one
``matplotlib.rc_context`` of the house style (:mod:`experiments.figures.style`), at the run's
``output.figure_width`` and ``output.dpi``. A kind's figures are drawn from a run's files
only (a :class:`~experiments.contract.RunRecord`), so ``python -m experiments plot`` redraws them
without rerunning.

Each figure is laid out once (constrained layout, at its first format) and saved in every
format from that layout. The files carry no date, so the same run gives the same bytes.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from experiments import interrupts
from experiments.contract import Kind, RunRecord
from experiments.figures import style

__all__ = ["draw_figures", "save_figures"]

# No dates in the files: the same figure gives the same bytes.
_METADATA: dict[str, dict[str, Any]] = {
    "png": {},
    "pdf": {"CreationDate": None, "ModDate": None},
    "svg": {"Date": None},
}


# fontTools warns, when a PDF embeds a font whose 'head' table dates are Unix times, that
# the "timestamp seems very low": noise on the user's terminal, about a font they did not
# choose. Only that message is dropped, and only while figures are saved.
_FONT_HEAD_LOG = "fontTools.ttLib.tables._h_e_a_d"


def _not_font_date_noise(record: logging.LogRecord) -> bool:
    return "timestamp seems very low" not in record.getMessage()


@contextlib.contextmanager
def _quiet_font_dates():
    logger = logging.getLogger(_FONT_HEAD_LOG)
    logger.addFilter(_not_font_date_noise)
    try:
        yield
    finally:
        logger.removeFilter(_not_font_date_noise)


def save_figures(
    draw: Callable[[], Mapping[str, Callable[[], Figure]]],
    out_dir: Path,
    formats: Iterable[str],
    *,
    width: str = "page",
    dpi: int = 200,
) -> list[Path]:
    """Draws each named figure in the house style and saves it in every format.

    Args:
        draw: returns the figures to draw, by name, each as a function making it.
        out_dir: the folder the files go to (made if missing).
        formats: file formats, e.g. ``["png", "pdf"]``.
        width: ``column`` (3.5 in) or ``page`` (7 in).
        dpi: the resolution of raster formats.

    Returns:
        The files written, figure by figure, in the order of ``formats``.
    """
    formats = list(formats)
    out_dir.mkdir(exist_ok=True)
    written = []
    with matplotlib.rc_context(style.rc_params(width, dpi)), _quiet_font_dates():
        for name, make in draw().items():
            interrupts.check()
            figure = make()
            for index, fmt in enumerate(formats):
                path = out_dir / f"{name}.{fmt}"
                figure.savefig(path, format=fmt, metadata=_METADATA[fmt])
                if index == 0:  # laid out once: the other formats reuse the positions
                    figure.set_layout_engine("none")
                written.append(path)
    return written


def draw_figures(
    record: RunRecord, out_dir: Path, formats: Iterable[str], *, width: str, dpi: int
) -> list[Path]:
    """Draws a run's figures from its record and saves them in ``out_dir``.

    Args:
        record: the run folder read back (:func:`experiments.api.read_record`).
        out_dir: the folder the files go to; the run folder itself is never touched here
            (:func:`experiments.rundir.write.place_figures` moves them into place).
        formats: file formats, e.g. ``["png", "pdf"]``.
        width: ``column`` or ``page``.
        dpi: raster resolution.

    Returns:
        The files written.
    """
    kind = type(record.config).KIND
    return save_figures(lambda: _makers(kind, record), out_dir, formats, width=width, dpi=dpi)


def _makers(kind: Kind, record: RunRecord) -> Mapping[str, Callable[[], Figure]]:
    """The kind's figures of a run; for a sweep the kind draws nothing of, the final
    metrics against each swept key (:mod:`experiments.figures.sweep`)."""
    makers = dict(kind.load_figures()(record))
    if record.swept and not makers:
        from experiments.figures import sweep as sweep_figures  # it draws with this module

        metrics = sweep_figures.numeric_metrics(record, kind.metrics)
        for key in sorted(record.swept_keys()):
            makers[sweep_figures.figure_name(key)] = functools.partial(
                sweep_figures.final_metrics_figure, record, key, metrics
            )
    return makers
