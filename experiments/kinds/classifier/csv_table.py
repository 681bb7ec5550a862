"""CSV data sets: a header row, numeric feature columns and one target column."""

from __future__ import annotations

import collections
import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from experiments.config.fields import FLOAT32_MAX, FLOAT32_TINY
from experiments.contract import DataError
from experiments.kinds.classifier.schema import CsvData

__all__ = ["CsvTable", "read_csv_table"]

_MAX_CELL_PROBLEMS = 10


@dataclass(frozen=True)
class CsvTable:
    x: np.ndarray  # float64 [n, d]
    labels: list[Any]
    feature_names: list[str]
    description: str


def read_csv_table(data: CsvData, base_dir: Path) -> CsvTable:
    """Reads a CSV data set: numeric features and a target column, every bad cell named
    by line and column (the first ten problems).

    Raises:
        DataError: the file is missing, empty, ragged, or has cells that are not numbers.
    """
    path = Path(data.path)
    if not path.is_absolute():
        path = base_dir / path
    if not path.exists():
        raise DataError([f"data.path: file not found: {path}"])
    if not path.is_file():
        raise DataError([f"data.path: not a file: {path}"])
    rows = _read_rows(path)
    if not rows:
        raise DataError([f"data.path: {path} is empty"])
    (_, header), body = rows[0], rows[1:]
    header = [name.strip() for name in header]
    problems = _check_header(header, data.target, path)
    if problems:
        raise DataError(problems)
    if not body:
        raise DataError([f"data.path: {path} has a header but no rows"])
    target = header.index(data.target)
    features = [i for i in range(len(header)) if i != target]
    x = np.empty((len(body), len(features)))
    labels: list[Any] = []
    problems = []
    for r, (line, row) in enumerate(body):
        if len(row) != len(header):
            problems.append(f"line {line}: {len(row)} cells, but the header has {len(header)}")
            continue
        label = row[target].strip()
        if not label:
            problems.append(f"line {line}, column {data.target!r}: empty target cell")
        labels.append(label)
        for c, i in enumerate(features):
            value, problem = _parse_cell(row[i])
            if problem:
                problems.append(f"line {line}, column {header[i]!r}: {problem}")
            x[r, c] = value
    if problems:
        shown = [f"data.path: {path}, {p}" for p in problems[:_MAX_CELL_PROBLEMS]]
        if len(problems) > _MAX_CELL_PROBLEMS:
            shown.append(f"data.path: ... and {len(problems) - _MAX_CELL_PROBLEMS} more problems")
        raise DataError(shown)
    return CsvTable(
        x=x,
        labels=_numeric_labels(labels),
        feature_names=[header[i] for i in features],
        description=f"{path.name} ({x.shape[0]} × {x.shape[1]})",
    )


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """The non-blank rows of a CSV file, each with its line number."""
    rows = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append((reader.line_num, row))
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError([f"data.path: {path} is not a readable CSV file: {error}"]) from None
    return rows


def _names(names: list[str], most: int = 20) -> str:
    """Names for a message: the first ``most``, then how many more."""
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown}, ... ({len(names) - most} more)"


def _check_header(header: list[str], target: str, path: Path) -> list[str]:
    """The header's problems, in time linear in its columns (a header may have millions)."""
    problems = []
    if target not in header:
        columns = _names(header)
        problems.append(f"data.target: column {target!r} not found in {path} (columns: {columns})")
    counts = collections.Counter(header)
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        problems.append(f"data.path: {path} repeats column names: {_names(repeated)}")
    if any(not name for name in header):
        problems.append(f"data.path: {path} has a column without a name in its header")
    if target in header and len(header) < 2:
        problems.append(f"data.path: {path} has no feature columns besides {target!r}")
    return problems


def _parse_cell(cell: str) -> tuple[float, str | None]:
    text = cell.strip()
    if not text:
        return math.nan, "empty cell (missing values are not supported)"
    try:
        value = float(text)
    except ValueError:
        return math.nan, f"{text!r} is not a number"
    if math.isnan(value):
        return value, f"{text!r} is NaN (missing values are not supported)"
    if math.isinf(value):
        return value, f"{text!r} is infinite"
    if abs(value) > FLOAT32_MAX or 0 < abs(value) < FLOAT32_TINY:
        return value, f"{text!r} is outside float32's normal range (1.2e-38 to 3.4e38)"
    return value, None


def _numeric_labels(labels: list[str]) -> list[str] | list[float]:
    """Labels that all read as numbers sort as numbers (``2 < 10``); others as text."""
    try:
        values = [float(label) for label in labels]
    except ValueError:
        return labels
    if not all(math.isfinite(v) for v in values):
        return labels
    return values
