"""Every dotted name the docs point at is a real object: Sphinx roles in the docstrings of
``experiments`` and ``infolib`` (``:func:`experiments.fit.fit_map```, ``:mod:``, ...), and
every ``experiments/...py`` or ``infolib/...py`` path the README names."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROLE = re.compile(r":(?:func|mod|class|meth|data|attr|exc):`~?((?:experiments|infolib)(?:\.\w+)+)`")
PATH = re.compile(r"`((?:experiments|infolib|benchmarks)/[\w/]+\.py)`")


def _sources() -> list[Path]:
    return sorted([*(ROOT / "experiments").rglob("*.py"), *(ROOT / "infolib").rglob("*.py")])


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                target = getattr(target, name)
        except AttributeError:
            return False
        return True
    return False


def _references() -> list[tuple[str, str]]:
    found = []
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        found += [(str(path.relative_to(ROOT)), m) for m in ROLE.findall(text)]
    return sorted(set(found))


@pytest.mark.parametrize(("source", "dotted"), _references())
def test_a_docstring_reference_resolves(source, dotted):
    assert _resolves(dotted), f"{source} names {dotted}, which does not exist"


def test_every_path_the_readme_names_exists():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = sorted({p for p in PATH.findall(readme) if not (ROOT / p).is_file()})
    assert not missing, missing
