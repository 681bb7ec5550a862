"""The house style of every figure: colours, line styles, markers, sizes and fonts.

- **Colours**: Okabe and Ito's colourblind-safe palette (without its yellow, too light on
  white), in one order for every kind, so that the n-th variant has one colour everywhere.
- **Greyscale**: each variant also gets a line style and a marker (:func:`look`), so
  curves stay distinguishable printed in grey.
- **Sizes**: a figure is as wide as one column of a two-column paper (3.5 in) or a page
  (7 in), ``output.figure_width``; fonts are sized for that width, so that text prints at
  7 to 8 pt. A kind designs each figure at some size; :func:`fit_size` scales it to the
  width and stacks a row of panels at column width.
- **Coincident curves**: :func:`coincident` finds series equal to an earlier one (within
  a relative 1e-6), so that legends say ``b (= a)`` rather than hide b under a
  (``b (≈ a)`` within 1e-3: :func:`twin_labels`).

Importing this module does not import matplotlib.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "COLUMN",
    "GREY",
    "LINESTYLES",
    "MARKERS",
    "NAMED",
    "OKABE_ITO",
    "WIDTHS",
    "Look",
    "coincident",
    "fit_size",
    "legend_columns",
    "look",
    "rc_params",
    "same_series",
    "twin_labels",
    "variant_labels",
]

# Okabe & Ito (2008), "Color Universal Design": blue, vermillion, bluish green, reddish
# purple, orange, sky blue, black. The yellow (#F0E442) is left out: too light on white.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
NAMED = dict(
    zip(("blue", "red", "green", "purple", "orange", "sky", "black"), OKABE_ITO, strict=True)
)
GREY = "#BBBBBB"  # a target, a reference: drawn behind the variants
LINESTYLES: tuple[Any, ...] = ("-", "--", "-.", (0, (1, 1)), (0, (5, 1, 1, 1, 1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X")

WIDTHS = {"column": 3.5, "page": 7.0}  # inches
COLUMN = "column"
_FONT = {"column": 7.0, "page": 8.0}  # points, the body text of a figure at that width


@dataclasses.dataclass(frozen=True)
class Look:
    """How one variant is drawn: its colour, line style and marker."""

    color: str
    linestyle: Any
    marker: str

    def line(self, *, markers: bool = True, index: int = 0, count: int = 1) -> dict[str, Any]:
        """Keyword arguments for ``Axes.plot``: colour and line style, and markers spaced
        evenly along the line (staggered by ``index`` of ``count`` lines, so that equal
        curves show both marker sets)."""
        style: dict[str, Any] = {"color": self.color, "linestyle": self.linestyle}
        if markers:
            style.update(marker=self.marker, markevery=marks(index, count), markersize=3.5)
        return style


def look(index: int) -> Look:
    """The look of the ``index``-th variant (0-based): a colour, a line style and a marker
    each distinct from the other variants' up to 7, 5 and 7 variants.

    Example:
        >>> look(0).color, look(1).linestyle, look(2).marker
        ('#0072B2', '--', '^')
    """
    return Look(
        color=OKABE_ITO[index % len(OKABE_ITO)],
        linestyle=LINESTYLES[index % len(LINESTYLES)],
        marker=MARKERS[index % len(MARKERS)],
    )


def marks(index: int, count: int, spacing: float = 0.12) -> tuple[float, float]:
    """``markevery`` for the ``index``-th of ``count`` lines: a marker every ``spacing``
    of the axes' diagonal, the lines' markers offset from one another."""
    return (spacing * (index % max(count, 1)) / max(count, 1), spacing)


def rc_params(width: str = "page", dpi: int = 200) -> dict[str, Any]:
    """matplotlib settings of the house style for figures ``width`` wide (``column`` or
    ``page``), raster formats at ``dpi``.

    ``figure.figsize`` holds the width that :func:`fit_size` scales figures to. Metadata
    that would change from run to run (the SVG's random ids) is fixed.
    """
    if width not in WIDTHS:
        raise ValueError(f"width: {width!r} is not one of {', '.join(WIDTHS)}")
    size = _FONT[width]
    return {
        "figure.figsize": (WIDTHS[width], 0.62 * WIDTHS[width]),
        "font.size": size,
        "axes.titlesize": size + 0.5,
        "axes.labelsize": size,
        "legend.fontsize": size - 1,
        "xtick.labelsize": size - 1,
        "ytick.labelsize": size - 1,
        "figure.titlesize": size + 1.5,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "grid.linewidth": 0.5,
        "axes.linewidth": 0.7,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": _cycler(),
        "lines.linewidth": 1.4 if width == "page" else 1.1,
        "lines.markersize": 3.5,
        "legend.frameon": False,
        "legend.handlelength": 2.6,  # long enough to show a dash-dot
        "savefig.dpi": dpi,
        "pdf.fonttype": 42,  # embed TrueType, so text stays text in the pdf
        "svg.fonttype": "none",
        "svg.hashsalt": "infolab",  # fixed ids: the same figure gives the same bytes
    }


def _cycler() -> Any:
    from cycler import cycler  # matplotlib's dependency

    return cycler(color=OKABE_ITO)


def fit_size(
    rows: int, cols: int, size: tuple[float, float], width: float, *, column: bool
) -> tuple[int, int, tuple[float, float]]:
    """The grid and size of a figure designed as ``rows × cols`` panels at ``size``
    (inches), drawn ``width`` inches wide.

    The height scales with the width; at column width a single row of panels is stacked
    into a column (each panel then 0.8 of its height as designed at a page's width, and at
    least 1.9 in), since two or three panels side by side in 3.5 in leave each too narrow
    to read.

    Example:
        >>> fit_size(1, 2, (9.0, 4.0), 3.5, column=True)  # 2 × 0.8 × 4.0 × 7/9
        (2, 1, (3.5, 4.978))
    """
    design_width, design_height = size
    if column and rows == 1 and cols > 1:
        panel_height = design_height * WIDTHS["page"] / design_width
        height = max(panel_height * 0.8, 1.9) * cols
        return cols, 1, (width, round(height, 3))
    height = design_height * width / design_width
    floor = 1.9 * rows if column else 0.0  # a panel's title, labels and ticks need room
    return rows, cols, (width, round(max(height, floor), 3))


def legend_columns(labels: Sequence[str], width: float, font: float) -> int:
    """How many columns a legend of ``labels`` below a figure ``width`` inches wide can
    have, for text of ``font`` points (at least 1)."""
    if not labels:
        return 1
    longest = max(len(label) for label in labels)
    entry = (longest * 0.5 + 4.6) * font / 72  # inches: text, the handle and the gaps
    return max(1, min(len(labels), math.floor(width / entry)))


def same_series(a: ArrayLike, b: ArrayLike, rtol: float = 1e-6) -> bool:
    """Whether two series are equal to a relative ``rtol`` of their largest magnitude
    (NaN where NaN, equal lengths).

    Example:
        >>> same_series([1.0, 2.0], [1.0, 2.0 + 1e-9]), same_series([1.0, 2.0], [1.0, 2.1])
        (True, False)
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return False
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    finite = np.isfinite(a) & np.isfinite(b)
    if not np.array_equal(a[~finite & ~np.isnan(a)], b[~finite & ~np.isnan(b)]):
        return False  # infinities must agree in place and sign
    if not finite.any():
        return True
    scale = max(np.max(np.abs(a[finite])), np.max(np.abs(b[finite])), 1e-300)
    return bool(np.max(np.abs(a[finite] - b[finite])) <= rtol * scale)


def coincident(series: Mapping[str, Sequence[ArrayLike]], rtol: float = 1e-6) -> dict[str, str]:
    """For each name whose every series equals those of an earlier name, that earlier name.

    Args:
        series: by name (in drawing order), the series a figure draws for it, in one order
            (e.g. one per panel).
        rtol: the relative tolerance of :func:`same_series`.

    Returns:
        ``{later: earlier}`` for each name drawn exactly over an earlier one (the first
        such, itself not a copy).

    Example:
        >>> coincident({"a": [[1.0, 2.0]], "b": [[1.0, 2.0]], "c": [[1.0, 3.0]]})
        {'b': 'a'}
    """
    twins: dict[str, str] = {}
    names = list(series)
    for i, name in enumerate(names):
        for earlier in names[:i]:
            if earlier in twins or len(series[earlier]) != len(series[name]):
                continue
            pairs = zip(series[earlier], series[name], strict=True)
            if all(same_series(a, b, rtol) for a, b in pairs):
                twins[name] = earlier
                break
    return twins


def twin_labels(
    labels: Mapping[str, str], series: Mapping[str, Sequence[ArrayLike]]
) -> dict[str, str]:
    """Legend labels, by name, that say which curve each is drawn over: ``b (= a)`` where
    b's series equal a's (:func:`coincident`, relative 1e-6), ``b (≈ a)`` where they agree
    to a relative 1e-3 (no difference a figure can show).

    Example:
        >>> twin_labels({"a": "a", "b": "b"}, {"a": [[1.0, 2.0]], "b": [[1.0, 2.0005]]})
        {'a': 'a', 'b': 'b (≈ a)'}
    """
    equal = coincident(series, 1e-6)
    close = coincident({k: v for k, v in series.items() if k not in equal}, 1e-3)
    out = {}
    for name, label in labels.items():
        if name in equal:
            label = f"{label} (= {equal[name]})"
        elif name in close:
            label = f"{label} (≈ {close[name]})"
        out[name] = label
    return out


def log_unit(base: float | None) -> str:
    """The unit of an information quantity in logarithms of ``base``: ``nats`` for None
    (natural logarithms), ``bits`` for 2, else ``log-b units``.

    Example:
        >>> log_unit(None), log_unit(2), log_unit(10)
        ('nats', 'bits', 'log-10 units')
    """
    if base is None:
        return "nats"
    return "bits" if base == 2 else f"log-{base:g} units"


def variant_labels(variants: Sequence[Any], series: Any) -> list[str]:
    """The legend label of each variant (an object with ``name`` and ``label``), with
    :func:`twin_labels`' ``(= a)`` or ``(≈ a)`` where ``series(variant)``, the series a
    figure draws for it, equal an earlier variant's."""
    labels = twin_labels({v.name: v.label for v in variants}, {v.name: series(v) for v in variants})
    return [labels[v.name] for v in variants]
