"""Figures, shared by every kind: one style, one canvas, one way to save.

Figures are drawn on the Agg canvas without pyplot (no global figure state) inside one
``matplotlib.rc_context`` of the house style (:mod:`experiments.figures.style`), at the run's
``output.figure_width`` and ``output.dpi``. A kind's figures are drawn from a run's files
only (:func:`experiments.rundir.write.read_run`), so ``python -m experiments plot`` redraws them
without rerunning.

Each figure is laid out once (constrained layout, at its first format) and saved in every
format from that layout. The files carry no date, so the same run gives the same bytes.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from experiments import interrupts
from experiments.config import load_config
from experiments.contract import Kind
from experiments.figures import style
from experiments.rundir.folders import listed_files, replace_listed
from experiments.rundir.read import RunFilesError, read_run
from experiments.rundir.write import FigureError, update_manifest

__all__ = ["draw_run_figures", "drawn_line", "save_figures"]

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


def draw_run_figures(
    run_dir: str | Path,
    formats: Iterable[str],
    kind: Kind | None = None,
    *,
    width: str | None = None,
    dpi: int | None = None,
) -> list[Path]:
    """Draws a run folder's figures from its checked files into ``run_dir/figures``.

    The figures are drawn into a staging folder first and replace the old ones only when
    all are drawn; the manifest then lists them (or records the failure).

    Args:
        run_dir: a run folder.
        formats: file formats, e.g. ``["png", "pdf"]``.
        kind: the run's kind (default: the one its ``config.yaml`` names).
        width: ``column`` or ``page`` (default: the run's ``output.figure_width``).
        dpi: raster resolution (default: the run's ``output.dpi``).

    Returns:
        The files written.

    Raises:
        RunFilesError: a file of the run is damaged (nothing is drawn).
        FigureError: a figure could not be drawn (the old figures are kept).
    """
    run_dir = Path(run_dir)
    if kind is None or width is None or dpi is None:
        config = load_config(run_dir / "config.yaml")
        kind = kind or type(config).KIND
        width = width or config.output.figure_width
        dpi = dpi or config.output.dpi
    formats = list(formats)
    record = read_run(run_dir)
    target = run_dir / "figures"
    if target.exists() and not target.is_dir():
        raise RunFilesError(f"figures: {target} is a file, not a folder")
    stage = Path(tempfile.mkdtemp(prefix=".figures.partial-", dir=run_dir))
    try:
        makers = _makers(kind, record)
        written = save_figures(lambda: makers, stage, formats, width=width, dpi=dpi)
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


def _makers(kind: Kind, record: Any) -> Mapping[str, Callable[[], Figure]]:
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


def drawn_line(written: Sequence[Path], folder: Path) -> str:
    """The status line after drawing: ``drew 3 figures (6 files) in FOLDER``."""
    names = {path.stem for path in written}
    where = written[0].parent if written else folder
    figures = "1 figure" if len(names) == 1 else f"{len(names)} figures"
    files = "1 file" if len(written) == 1 else f"{len(written)} files"
    return f"drew {figures} ({files}) in {where}"


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
