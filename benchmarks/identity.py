"""Byte identity: every shipped config's result files, hashed, before and after a change.

    python -m benchmarks.identity record FILE    # run every config, write the hashes
    python -m benchmarks.identity check FILE     # run again, compare with FILE

Not a timing. Each config under ``configs/`` runs in a fresh process without figures
(``--set output.formats=[]``) into a temporary folder, and the sha256 of its ``metrics.csv``,
``summary.json`` and ``data.json`` are recorded. A refactoring that claims to change no
behaviour must leave every hash as it was on the same machine; ``check`` exits 1 and names
each config and file that differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import _common

FILES = ("metrics.csv", "summary.json", "data.json")
CONFIGS = _common.REPO / "configs"


def run_hashes(config: Path, scratch: Path) -> dict[str, str]:
    """Runs one config into ``scratch`` and returns the sha256 of each result file."""
    out = scratch / config.stem
    command = [sys.executable, "-m", "experiments", "run", str(config), "--quiet"]
    command += ["--set", "output.formats=[]", "--out", str(out)]
    subprocess.run(command, check=True, cwd=_common.REPO)
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in FILES}


def all_hashes() -> dict[str, dict[str, str]]:
    """The hashes of every shipped config, by config name."""
    with tempfile.TemporaryDirectory() as scratch:
        return {
            config.stem: run_hashes(config, Path(scratch))
            for config in sorted(CONFIGS.glob("*.yaml"))
        }


def differences(before: dict, after: dict) -> list[str]:
    """One line per config or file whose hash is not the same in both."""
    lines = []
    for name in sorted(set(before) | set(after)):
        if name not in before or name not in after:
            lines.append(f"{name}: only in {'after' if name in after else 'before'}")
            continue
        lines += [f"{name}/{f}: differs" for f in FILES if before[name][f] != after[name][f]]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.identity")
    parser.add_argument("action", choices=("record", "check"))
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    hashes = all_hashes()
    if args.action == "record":
        args.file.write_text(json.dumps(hashes, indent=2, sort_keys=True) + "\n")
        print(f"{len(hashes)} configs recorded in {args.file}")
        return 0
    lines = differences(json.loads(args.file.read_text()), hashes)
    print("\n".join(lines) or f"all {len(hashes)} configs byte-identical")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
