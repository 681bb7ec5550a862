"""Reports: one self-contained HTML file for one or more run folders, and its Markdown twin.

``infolab report RUN [RUN ...] [--out FILE]`` (and :meth:`experiments.Run.report`) writes
``FILE`` (default: ``RUN/report.html`` for one run, ``./report.html`` for several) and
``FILE`` with ``.md`` for ``.html``. Both hold: what was run (the resolved config; across
runs, the keys that differ), provenance (commit, uncommitted changes, versions, devices,
times), the final-metric table, for a sweep each variant's best member by each metric, and
every figure, captioned with its name.

The HTML file needs nothing else: the figures are embedded as ``data:`` URIs and its style
is inline, so it can be mailed, archived or printed as it is. The Markdown twin refers to
the figures by paths relative to itself, so that a report in its run folder (the default)
reads ``figures/NAME.png`` and stays right wherever the folder is moved, copied or
redrawn by ``plot``; nothing is copied, so the tool writes exactly two files.

A report is written atomically (a hidden temporary file beside it, then a rename), and it
replaces only a file this tool wrote: each carries a marker (a ``generator`` meta tag, an
HTML comment on the Markdown's first line), and any other file in the way is refused.

"""

from __future__ import annotations

import math
import os
import shlex
import struct
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from experiments.config import read_yaml
from experiments.rundir.folders import OutputError
from experiments.rundir.read import RunFilesError, own_file
from experiments.rundir.write import SPLITS
from experiments.tools.catalog import config_differences, value_text
from experiments.tools.render import (
    HTML_MARKER,
    MARKDOWN_MARKER,
    Block,
    Code,
    Figure,
    Heading,
    Table,
    Text,
    render_html,
    render_markdown,
)
from experiments.tools.tables import RunTables

__all__ = ["HTML_MARKER", "MARKDOWN_MARKER", "default_out", "write_report"]

_IMAGES = {".png": "image/png", ".svg": "image/svg+xml"}  # embeddable, in order of preference
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_ROWS = 500  # members shown in a final-metric table (summary.json holds them all)


# ---------------------------------------------------------------------------
# The document, written once and rendered twice
# ---------------------------------------------------------------------------


def default_out(run_dirs: Sequence[str | Path]) -> Path:
    """Where a report goes by default: ``RUN/report.html`` for one run, else
    ``./report.html``."""
    return Path(run_dirs[0]) / "report.html" if len(run_dirs) == 1 else Path("report.html")


def write_report(runs: Sequence[RunTables], out: str | Path | None = None) -> Path:
    """Writes the HTML report of runs and its Markdown twin (``.md`` beside it).

    Args:
        runs: one or more run folders, read (:func:`experiments.load_run`).
        out: the HTML file (a folder means ``report.html`` in it); default
            :func:`default_out`.

    Returns:
        The HTML file's path; the Markdown twin is ``path.with_suffix(".md")``.

    Raises:
        OutputError: ``out`` is not a ``.html`` name, or it or its twin exists and was not
            written by this tool (nothing is written then).

    Example::

        >>> run = load_run("results/mse_vs_ce/2026-01-01T00-00-00Z-8c8713ae")  # doctest: +SKIP
        >>> write_report([run])  # doctest: +SKIP
        PosixPath('results/mse_vs_ce/2026-01-01T00-00-00Z-8c8713ae/report.html')
    """
    if not runs:
        raise OutputError("report: give at least one run folder")
    target = Path(out) if out is not None else default_out([run.path for run in runs])
    if target.is_dir():
        target = target / "report.html"
    if target.suffix != ".html":
        raise OutputError(f"--out: {target} must end in .html (the Markdown twin gets .md)")
    twin = target.with_suffix(".md")
    _check_replaceable(target, HTML_MARKER)
    _check_replaceable(twin, MARKDOWN_MARKER)
    blocks = list(_document(runs))
    title = _title(runs)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"--out: cannot make {target.parent}: {error.strerror}") from None
    page, text = render_html(title, blocks), render_markdown(title, blocks, twin.parent)
    _write_atomically(twin, text)
    _write_atomically(target, page)
    return target


def _title(runs: Sequence[RunTables]) -> str:
    names = list(dict.fromkeys(run.config.name for run in runs))
    head = f"{len(runs)} runs: " if len(runs) > 1 else ""
    return f"Report: {head}{', '.join(names)}"


def _labels(runs: Sequence[RunTables]) -> list[str]:
    return [
        f"#{i} {run.config.name}" if len(runs) > 1 else run.config.name
        for i, run in enumerate(runs, 1)
    ]


def _document(runs: Sequence[RunTables]) -> Iterator[Block]:
    labels = _labels(runs)
    if len(runs) > 1:
        yield Table(
            "runs",
            ["run", "folder", "kind"],
            [
                [label, str(run.path), run.config.kind]
                for label, run in zip(labels, runs, strict=True)
            ],
        )
    yield Heading(2, "What was run")
    configs = [read_yaml(run.path / "config.yaml") for run in runs]
    if len(runs) > 1:
        differences = config_differences(configs)
        yield Text(f"The resolved configs differ in {len(differences)} key(s):")
        if differences:
            rows = [[key, *(value_text(v) for v in values)] for key, *values in differences]
            yield Table("config-diff", ["key", *labels], rows)
    for label, run in zip(labels, runs, strict=True):
        if run.config.description:
            yield Text(f"{label}: {run.config.description}")
        text = (run.path / "config.yaml").read_text(encoding="utf-8")
        yield Code(text, f"{label}: the resolved config" if len(runs) > 1 else None)
    yield Heading(2, "Provenance")
    yield _provenance(runs, labels)
    yield Heading(2, "Final metrics")
    for label, run in zip(labels, runs, strict=True):
        if len(runs) > 1:
            yield Heading(3, label)
        yield from _final_metrics(run)
        if run.config.sweep:
            yield _best_members(run)
    yield Heading(2, "Figures")
    for label, run in zip(labels, runs, strict=True):
        if len(runs) > 1:
            yield Heading(3, label)
        figures = list(_figures(run.path, run.figures()))
        if not figures:
            formats = ", ".join(run.config.output.formats) or "none"
            yield Text(f"No figures to show (output.formats: {formats}).")
        yield from figures


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "non-finite"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _provenance(runs: Sequence[RunTables], labels: list[str]) -> Table:
    manifests = [run.manifest for run in runs]

    def row(name: str, get: Any) -> list[str]:
        return [name, *(_text_or_unknown(get(m)) for m in manifests)]

    versions = list(dict.fromkeys(k for m in manifests for k in m.get("versions") or {}))
    rows = [
        ["folder", *(str(run.path) for run in runs)],
        row("run id", lambda m: m.get("run_id")),
        row("kind", lambda m: m.get("kind")),
        row("commit", lambda m: (m.get("git") or {}).get("sha")),
        row("uncommitted changes", lambda m: _yes_no((m.get("git") or {}).get("dirty"))),
        row("started (UTC)", lambda m: m.get("start")),
        row("ended (UTC)", lambda m: m.get("end")),
        row("wall time (s)", lambda m: m.get("wall_time_s")),
        row("devices", lambda m: _devices(m.get("devices"))),
        row("platform", lambda m: m.get("platform")),
        *(row(name, lambda m, n=name: (m.get("versions") or {}).get(n)) for name in versions),
        row("command", lambda m: shlex.join(m["command"]) if m.get("command") else None),
        row("overrides", lambda m: " ".join(m["overrides"]) if m.get("overrides") else None),
        row("figures", lambda m: (m.get("figures") or {}).get("status")),
    ]
    return Table("provenance", ["", *labels], rows)


def _text_or_unknown(value: Any) -> str:
    return "not recorded" if value is None else str(value)


def _yes_no(flag: Any) -> str | None:
    return None if flag is None else "yes" if flag else "no"


def _devices(devices: Any) -> str | None:
    if not isinstance(devices, dict):
        return None
    return f"{devices.get('count')} × {devices.get('kind')} ({devices.get('platform')})"


def _metric_columns(run: RunTables, split: str) -> list[str]:
    """The run's ``split/metric`` columns, in its kind's order of metrics."""
    order = list(type(run.config).KIND.metrics)
    columns = [str(c) for c in run.summary.columns if str(c).startswith(f"{split}/")]
    return sorted(
        columns,
        key=lambda c: (order.index(m) if (m := c[len(split) + 1 :]) in order else len(order), c),
    )


def _member_columns(run: RunTables) -> list[str]:
    """Variant, member (for a sweep), status, the swept keys and the kind's scalar extras
    (a nested or long extra, such as an evidence curve, stays in ``summary.json`` only)."""
    first = [
        str(c)
        for c in run.summary.columns
        if "/" not in str(c) and not any(map(_bulky, run.summary[c]))
    ]
    return first if run.config.sweep else [c for c in first if c != "member"]


MAX_CELL_ENTRIES = 10


def _bulky(value: Any) -> bool:
    """A mapping, or a list of more than :data:`MAX_CELL_ENTRIES` entries: not a cell."""
    if isinstance(value, dict):
        return True
    return isinstance(value, list | tuple) and len(value) > MAX_CELL_ENTRIES


def _final_metrics(run: RunTables) -> Iterator[Block]:
    """A table per split: a row per member, a column per final metric."""
    for split in SPLITS:
        metrics = _metric_columns(run, split)
        if not metrics:
            continue
        columns = [*_member_columns(run), *metrics]
        rows = [
            [_number(_plain(value)) for value in record]
            for record in run.summary[columns].head(MAX_ROWS).itertuples(index=False)
        ]
        header = [c.removeprefix(f"{split}/") for c in columns]
        shown = f" (the first {MAX_ROWS} of {len(run.summary)} members)"
        shown = shown if len(run.summary) > MAX_ROWS else ""
        yield Table("metrics", header, rows, f"Final values on the {split} split{shown}")


def _best_members(run: RunTables) -> Table:
    """A row per final metric and variant: the best member, its swept values and value."""
    kind = type(run.config).KIND
    split = "test" if _metric_columns(run, "test") else "train"
    swept = [c for c in _member_columns(run) if c not in ("variant", "member", "status")]
    variants = list(dict.fromkeys(run.summary["variant"]))
    rows = []
    for column in _metric_columns(run, split):
        metric = column.split("/", 1)[1]
        better = "highest" if metric in kind.higher_is_better else "lowest"
        name = f"{column} (headline)" if metric == kind.headline_metric else column
        best = run.best(metric, split).to_dict("records")
        for record in sorted(best, key=lambda r: variants.index(r["variant"])):
            values = ", ".join(f"{key}={_number(_plain(record[key]))}" for key in swept)
            value = _number(_plain(record[column]))
            rows.append([name, better, record["variant"], str(record["member"]), values, value])
    header = ["metric", "best is", "variant", "member", "swept values", "value"]
    return Table("best", header, rows, "Each variant's best member by each final metric")


def _plain(value: Any) -> Any:
    """A pandas cell as a plain Python value (numpy scalars unwrapped, NaN kept)."""
    return value.item() if hasattr(value, "item") else value


def _figures(run_dir: Path, files: Sequence[Path]) -> Iterator[Figure]:
    by_name: dict[str, list[Path]] = {}
    for path in files:
        if own_file(run_dir, f"figures/{path.name}"):  # a link, or outside the run: skipped
            by_name.setdefault(path.stem, []).append(path)
    for name, paths in sorted(by_name.items()):
        shown = next((p for s in _IMAGES for p in paths if p.suffix == s), None)
        others = sorted(p.name for p in paths if p is not shown)
        if shown is None:
            yield Figure(name, paths[0], "", others)
            continue
        _check_image(run_dir, shown)
        yield Figure(name, shown, _IMAGES[shown.suffix], others)


def _check_image(run_dir: Path, path: Path) -> None:
    """Refuses a figure that does not decode as its format says (not its signature alone:
    a PNG's chunks, their checksums and its compressed pixels; an SVG's XML root)."""
    data = path.read_bytes()
    valid = _png_decodes(data) if path.suffix == ".png" else _svg_parses(data)
    if not valid:
        raise RunFilesError(f"{run_dir}/figures/{path.name}: not a {path.suffix[1:].upper()} image")


def _png_decodes(data: bytes) -> bool:
    """Whether ``data`` is a whole PNG: the signature, an ``IHDR`` of a non-empty image
    first, every chunk's CRC right, ``IDAT`` that inflates, ``IEND`` last."""
    if not data.startswith(_PNG_SIGNATURE):
        return False
    at, kinds, pixels = len(_PNG_SIGNATURE), [], zlib.decompressobj()
    try:
        while at + 12 <= len(data):
            length, kind = struct.unpack(">I4s", data[at : at + 8])
            body = data[at + 8 : at + 8 + length]
            (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length] or b"????")
            if len(body) != length or zlib.crc32(kind + body) != crc:
                return False
            if kind == b"IHDR" and (length != 13 or 0 in struct.unpack(">II", body[:8])):
                return False
            if kind == b"IDAT":
                pixels.decompress(pixels.unconsumed_tail + body, 1 << 16)  # bounded
            kinds.append(kind)
            at += 12 + length
            if kind == b"IEND":
                break
    except (struct.error, zlib.error):
        return False
    return bool(kinds) and kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds


def _svg_parses(data: bytes) -> bool:
    """Whether ``data`` is XML whose root is an SVG element (no entity declarations)."""
    if b"<!ENTITY" in data:
        return False
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        return False
    return root.tag in ("svg", "{http://www.w3.org/2000/svg}svg")


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _check_replaceable(path: Path, marker: str) -> None:
    """Refuses a path that holds something this tool did not write."""
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_file():
        raise OutputError(f"--out: {path} exists and is not a file; choose another --out")
    with path.open("rb") as file:
        head = file.read(4096).decode("utf-8", errors="replace")
    if marker not in head:
        raise OutputError(
            f"--out: {path} exists and was not written by infolab report; "
            "it is kept: choose another --out or move it away"
        )


def _write_atomically(path: Path, text: str) -> None:
    staging = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        staging.write_text(text, encoding="utf-8", newline="\n")
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
