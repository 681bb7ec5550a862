"""The loss table as text, for the terminal: a row per prediction set, distribution and pair.

Numbers have four significant digits; an infinite divergence prints as ``inf``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["lines", "units"]

HEADERS = {
    "error": "error",
    "squared_error": "squared error Σ",
    "cross_entropy": "cross-entropy",
}


def units(base: float | None) -> str:
    """The unit of a logarithm in ``base`` (None: e): bits, nats, or ``log-b units``."""
    if base is None or abs(base - math.e) < 1e-12:
        return "nats"
    return "bits" if base == 2 else f"log-{base:g} units"


def lines(params: Mapping[str, Any]) -> list[str]:
    """The table of a loss-table outcome's (or summary entry's) ``params``."""
    unit = units(float(params["base"]))
    out: list[str] = []
    if "predictions" in params:
        out += _scored(params["predictions"], unit)
    if "distributions" in params:
        rows = [[name, _number(m["entropy"])] for name, m in params["distributions"].items()]
        out += _aligned([["distribution", f"entropy ({unit})"], *rows])
    if params.get("pairs"):
        header = [f"P||Q, in {unit}", "H(P,Q)", "H(Q,P)", "D(P‖Q)", "D(Q‖P)"]
        rows = [
            [
                label,
                *(_number(m[key]) for key in ("cross_entropy", "reverse_cross_entropy")),
                *(_number(m[key]) for key in ("kl_divergence", "reverse_kl_divergence")),
            ]
            for label, m in params["pairs"].items()
        ]
        out += _aligned([header, *rows])
    return out


def _scored(sets: Mapping[str, Any], unit: str) -> list[str]:
    header = ["set", "error", "squared error Σ_c", f"cross-entropy ({unit})"]
    rows = [
        [name, *(_number(s[loss]) for loss in ("error", "squared_error", "cross_entropy"))]
        for name, s in sets.items()
    ]
    table = _aligned([header, *rows])
    for name, s in sets.items():
        samples = " · ".join(
            f"{HEADERS[loss]} {' '.join(_number(v) for v in s['per_sample'][loss])}"
            for loss in HEADERS
        )
        table.append(f"{name} per sample: {samples}")
    return table


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _number(value: Any) -> str:
    if value is None:  # a JSON null: the value was not finite
        return "inf"
    return f"{float(value):.4g}"
