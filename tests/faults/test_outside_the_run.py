"""Nothing outside a run folder is deleted, read, embedded or exported through it, and no
result is lost after training (issue 26): a manifest that lists outside paths, symbolic
links in a run folder, images that do not decode, non-finite extras.

Each case calls the command line in this process; a run folder is made once per module.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import yaml

from experiments import cli

ROOT = Path(__file__).resolve().parents[2]
BASE = {
    "name": "base",
    "data": {"source": "synthetic", "n_samples": 120, "n_features": 4, "n_informative": 2},
    "train": {"steps": 20, "log_every": 10},
    "output": {"formats": []},
}


def _config(folder: Path, raw: dict = BASE) -> Path:
    path = folder / "base.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    """A finished run without figures."""
    folder = tmp_path_factory.mktemp("plain")
    assert cli.main(["run", str(_config(folder)), "--out", str(folder / "run"), "--quiet"]) == 0
    return folder / "run"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> Path:
    """A finished run with its PNG figures."""
    folder = tmp_path_factory.mktemp("drawn")
    config = _config(folder, {**BASE, "output": {"formats": ["png"]}})
    assert cli.main(["run", str(config), "--out", str(folder / "run"), "--quiet"]) == 0
    return folder / "run"


def _copy(run: Path, tmp_path: Path) -> Path:
    shutil.copytree(run, tmp_path / "out" / "run", symlinks=True)
    return tmp_path / "out" / "run"


# ---------------------------------------------------------------------------
# --force deletes only the run's own files (1, 2)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["absolute", "dot-dot"])
def test_force_never_deletes_a_listed_path_outside_the_run(plain, tmp_path, capsys, where):
    run = _copy(plain, tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    listed = str(victim) if where == "absolute" else "../../victim.txt"
    manifest = {**_manifest(run), "files": [*_manifest(run)["files"], listed]}
    (run / "manifest.json").write_text(json.dumps(manifest))
    before = _contents(run)
    config = _config(tmp_path)
    assert cli.main(["run", str(config), "--out", str(run), "--force", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"lists {listed!r}, not a file this tool writes" in err and "Traceback" not in err
    assert victim.read_text() == "keep me" and _contents(run) == before
    assert sorted(p.name for p in run.parent.iterdir()) == ["run"]


def test_replace_listed_deletes_only_regular_files_found_inside(tmp_path):
    from experiments.rundir.folders import replace_listed

    folder, outside = tmp_path / "old", tmp_path / "outside"
    (folder / "figures").mkdir(parents=True)
    outside.mkdir()
    (outside / "convergence.png").write_text("outside")
    (tmp_path / "victim.txt").write_text("outside")
    (folder / "summary.json").write_text("{}")
    (folder / "link.png").symlink_to(outside / "convergence.png")
    (folder / "figures" / "in.png").symlink_to(outside / "convergence.png")
    listed = ["summary.json", "link.png", "figures/in.png", str(tmp_path / "victim.txt")]
    listed += ["../victim.txt", "figures/../../victim.txt"]
    assert replace_listed(folder, listed) == ["figures/in.png", "link.png"]
    assert (outside / "convergence.png").read_text() == "outside"
    assert (tmp_path / "victim.txt").read_text() == "outside"
    assert not (folder / "summary.json").exists()


def test_force_never_follows_a_symlinked_figures_folder(plain, tmp_path, capsys):
    run = _copy(plain, tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "convergence.png").write_text("not the run's")
    (run / "figures").symlink_to(outside, target_is_directory=True)
    manifest = _manifest(run)
    (run / "manifest.json").write_text(
        json.dumps({**manifest, "files": [*manifest["files"], "figures/convergence.png"]})
    )
    before = _contents(run)
    config = _config(tmp_path)
    assert cli.main(["run", str(config), "--out", str(run), "--force", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "holds files this tool did not write (figures)" in err and "run-new" in err
    assert (outside / "convergence.png").read_text() == "not the run's"
    assert _contents(run) == before and (run / "figures").is_symlink()
    new = run.with_name("run-new")
    assert sorted(_contents(new)) == sorted(_manifest(new)["files"])
    assert sorted(p.name for p in run.parent.iterdir()) == ["run", "run-new"]  # no .replaced-*


def test_force_beside_a_plot_still_drawing_says_so(plain, tmp_path, capsys):
    run = _copy(plain, tmp_path)
    drawing = run / ".figures.partial-abc123"
    drawing.mkdir()
    (drawing / "losses.png").write_bytes(b"half drawn")
    config = _config(tmp_path)
    assert cli.main(["run", str(config), "--out", str(run), "--force", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "is having its figures drawn (infolab plot" in err and "run-new" in err
    assert (drawing / "losses.png").read_bytes() == b"half drawn"


def test_out_as_a_symlink_is_refused_before_any_work(plain, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "empty", target_is_directory=True)
    config = _config(tmp_path)
    assert cli.main(["run", str(config), "--out", str(tmp_path / "link"), "--quiet"]) == 2
    assert "is a symbolic link" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml", "empty", "link"]


# ---------------------------------------------------------------------------
# plot never draws into, or deletes through, a link (3)
# ---------------------------------------------------------------------------


def test_plot_refuses_a_symlinked_figures_folder(drawn, tmp_path, capsys):
    run = _copy(drawn, tmp_path)
    outside = tmp_path / "elsewhere"
    shutil.move(run / "figures", outside)
    (run / "figures").symlink_to(outside, target_is_directory=True)
    before = _contents(outside)
    assert cli.main(["plot", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "figures: " in err and "is a symbolic link" in err and "Traceback" not in err
    assert _contents(outside) == before
    assert _hidden(run) == []  # no .figures.partial-*


def test_plot_keeps_a_link_inside_figures_and_its_target(drawn, tmp_path, capsys):
    run = _copy(drawn, tmp_path)
    secret = tmp_path / "secret.png"
    secret.write_text("outside")
    (run / "figures" / "convergence.png").unlink()
    (run / "figures" / "convergence.png").symlink_to(secret)
    assert cli.main(["plot", str(run), "--quiet"]) == 0
    assert secret.read_text() == "outside" and (run / "figures" / "convergence.png").is_symlink()
    assert (run / "figures-new" / "convergence.png").is_file() and _hidden(run) == []


def test_plot_leaves_no_partial_folder_when_the_move_fails(drawn, tmp_path, monkeypatch):
    from experiments.rundir import write

    run = _copy(drawn, tmp_path)

    def broken(*args, **kwargs):
        raise NotADirectoryError(20, "Not a directory")

    monkeypatch.setattr(write, "replace_listed", broken)  # the old figures being replaced
    assert cli.main(["plot", str(run), "--quiet"]) == 1
    assert _hidden(run) == []


# ---------------------------------------------------------------------------
# Non-finite values are null, never a lost run (4)
# ---------------------------------------------------------------------------


def test_a_nan_group_share_is_null_and_the_run_is_kept(tmp_path, capsys):
    from experiments.api import read_record
    from experiments.kinds.classifier.figures import read_variants
    from experiments.kinds.classifier.weight_figures import groups_figure

    out = tmp_path / "run"
    argv = ["run", str(ROOT / "configs" / "mle_vs_map.yaml"), "--out", str(out), "--quiet"]
    argv += ["--set", "variants[2].train.prior.scale=1e-6", "--set", "train.steps=50"]
    assert cli.main([*argv, "--set", "output.formats=[]"]) == 0, capsys.readouterr().err
    runs = json.loads((out / "summary.json").read_text())["runs"]
    assert None in runs[2]["group_weight_share"]
    counted = json.loads((out / "manifest.json").read_text())["non_finite"]
    assert counted == {"summary.json": runs[2]["group_weight_share"].count(None)}
    variants = read_variants(read_record(out))  # what the groups figure draws from
    assert math.isnan(variants[2].group_shares[0])
    groups_figure(variants)


def test_record_writes_every_non_finite_value_as_null(tmp_path):
    from experiments.contract import Outcome
    from experiments.kinds import load_config
    from experiments.kinds.classifier.program import PROGRAM
    from experiments.pipeline.plan import load_members_data
    from experiments.rundir.write import Result, write_run

    config = load_config(_config(tmp_path))
    steps = np.array([0, 10])
    bad = np.array([math.nan, math.inf])
    outcome = Outcome(
        "ok",
        None,
        steps,
        {"train": {"ce": bad, "accuracy": -bad}},
        {"weights": np.array([math.nan, -math.inf, 1.5]), "bias": np.float64(math.inf)},
        {"share": [math.nan, 0.5], "nested": {"x": math.inf}, "scalar": np.float64(math.nan)},
    )
    results = [Result(m, outcome) for m in config.members]
    datasets = load_members_data(config, tmp_path)
    entry = {**PROGRAM.data_entry(datasets[0]), "scale": math.nan}
    write_run(tmp_path / "run", config, results, [entry] * len(results))
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())["runs"][0]
    assert summary["final"]["train"] == {"ce": None, "accuracy": None}
    assert summary["params"] == {"weights": [None, None, 1.5], "bias": None}
    assert (summary["share"], summary["nested"], summary["scalar"]) == (
        [None, 0.5],
        {"x": None},
        None,
    )
    assert json.loads((tmp_path / "run" / "data.json").read_text())["datasets"][0]["scale"] is None
    n = len(results)  # each: 4 in the CSV; 2 final metrics, 3 params, 3 extras; 1 data set
    counted = json.loads((tmp_path / "run" / "manifest.json").read_text())["non_finite"]
    assert counted == {"metrics.csv": 4 * n, "summary.json": 8 * n, "data.json": 1}


# ---------------------------------------------------------------------------
# report and export read only the run's own files (5, 6)
# ---------------------------------------------------------------------------


def test_report_skips_links_and_embeds_nothing_from_outside(drawn, tmp_path, capsys):
    run = _copy(drawn, tmp_path)
    secret = tmp_path / "secret.conf"
    secret.write_text("<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'>SECRET</svg>")
    (run / "figures" / "fonts.svg").symlink_to(secret)
    (run / "figures" / "passwd.txt").symlink_to(secret)
    assert cli.main(["report", str(run)]) == 0, capsys.readouterr().err
    page = (run / "report.html").read_text()
    markdown = (run / "report.md").read_text()
    assert "fonts" not in page and "passwd" not in page and "passwd" not in markdown
    assert "secret" not in markdown and "U0VDUkVU" not in page  # base64 of SECRET
    assert "convergence" in page


@pytest.mark.parametrize(
    "damage",
    [lambda d: d[:8] + b"\0" * 64, lambda d: d[: len(d) // 2], lambda d: d[:40] + b"x" + d[41:]],
    ids=["signature only", "cut in half", "a flipped byte"],
)
def test_report_refuses_a_png_that_does_not_decode(drawn, tmp_path, capsys, damage):
    run = _copy(drawn, tmp_path)
    png = run / "figures" / "convergence.png"
    png.write_bytes(damage(png.read_bytes()))
    assert cli.main(["report", str(run)]) == 2
    assert "figures/convergence.png: not a PNG image" in capsys.readouterr().err
    assert not (run / "report.html").exists()


def test_export_copies_no_link_and_nothing_from_outside(drawn, tmp_path):
    from experiments.tools import tracking

    run = _copy(drawn, tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    (run / "figures" / "passwd.png").symlink_to(secret)
    (run / "report.md").symlink_to(secret)

    class Client:
        copied: ClassVar[list[tuple[str, str | None]]] = []

        def log_artifact(self, run_id, path, artifact_path=None):
            self.copied.append((Path(path).name, artifact_path))

        def log_artifacts(self, run_id, path, artifact_path=None):
            raise AssertionError("a whole folder would follow its links")

    tracking._log_files(Client(), "id", run)
    names = [name for name, _ in Client.copied]
    assert "passwd.png" not in names and "report.md" not in names
    assert ("convergence.png", "figures") in Client.copied and "summary.json" in names
    Client.copied.clear()
    shutil.rmtree(run / "figures")
    (run / "figures").symlink_to(tmp_path, target_is_directory=True)
    tracking._log_files(Client(), "id", run)
    assert all(where is None for _, where in Client.copied)


def test_own_file_refuses_links_and_escapes(tmp_path):
    from experiments.rundir.read import own_file

    (tmp_path / "run" / "figures").mkdir(parents=True)
    (tmp_path / "run" / "figures" / "a.png").write_text("x")
    (tmp_path / "run" / "via").symlink_to(tmp_path / "run" / "figures")
    (tmp_path / "out.txt").write_text("x")
    run = tmp_path / "run"
    assert own_file(run, "figures/a.png")
    assert not any(
        own_file(run, name) for name in ["via/a.png", "../out.txt", str(tmp_path / "out.txt")]
    )
    assert not own_file(run, "figures") and not own_file(run, "missing.json")


# ---------------------------------------------------------------------------
# Ctrl-C inside a long compiled call, through both entry points (7)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jax_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("jax-cache"))


def _console_script() -> str:
    """The code of the ``infolab`` console script, as pip writes it from pyproject.toml."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["infolab"].partition(":")
    return f"import sys\nfrom {module} import {function}\nsys.exit({function}())\n"


@pytest.mark.parametrize(
    ("entry", "sig"),
    [("infolab", signal.SIGINT), ("infolab", signal.SIGTERM), ("module", signal.SIGHUP)],
)
def test_a_signal_inside_a_long_call_exits_cleanly_through_both_entry_points(
    tmp_path, jax_cache, entry, sig
):
    long = {**BASE, "train": {"steps": 5_000_000, "log_every": 1000}}  # minutes, unstopped
    config = _config(tmp_path, long)
    start = ["-c", _console_script()] if entry == "infolab" else ["-m", "experiments"]
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, *start, "run", str(config), "--out", "run"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**env, "INFOLAB_JAX_CACHE": jax_cache},
        )
    try:
        deadline = time.monotonic() + 15
        while "compiling and running" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        time.sleep(2.0)  # compiled (a program of a few ops), then inside the long call
        process.send_signal(sig)
        code = process.wait(timeout=15)
    finally:
        process.kill()
        process.wait()
    err = log.read_text()
    assert code == 128 + sig, err  # never 134 (abort) or 139 (segfault)
    assert "terminate called" not in err and "Traceback" not in err, err
    assert f"stopped by signal {sig}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml", "stderr.txt"]
