"""Faults and hostile input: every case exits as documented, with nothing lost, no
traceback and no partial run folder left.

Most cases call the command line in this process (fast); signals and races run it in
subprocesses, each bounded in time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def _config(folder: Path, raw: dict | str = BASE, name: str = "base.yaml") -> Path:
    path = folder / name
    text = raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def _tree(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def _bad(argv: list[str], capsys, expected: str, code: int = 2) -> str:
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert expected in err, err
    assert "Traceback" not in err
    return err


# ---------------------------------------------------------------------------
# Hostile YAML and values
# ---------------------------------------------------------------------------

BOMB = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\ndescription:\n  " + BOMB.replace("\n", "\n  "), "more than 100,000 values"),
        ("name: x\ndescription: &d [*d]\n", "a recursive alias"),
        ("name: x\ndescription: " + "[" * 3000 + "]" * 3000 + "\n", "nested more than 100"),
        ("name: x\n? [a, b]\n: 1\n", "a key must be a plain value"),
    ],
    ids=["alias bomb", "recursive alias", "deep nesting", "list as key"],
)
def test_hostile_yaml_is_refused_at_once(text, expected, tmp_path, capsys):
    config = _config(tmp_path, text)
    begun = time.perf_counter()
    _bad(["show", str(config)], capsys, expected)
    assert time.perf_counter() - begun < 5


def test_a_recursive_override_is_refused(tmp_path, capsys):
    _bad(["show", str(_config(tmp_path)), "--set", "name=&a [*a]"], capsys, "recursive alias")


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.optimizer.learning_rate=1e39", "beyond float32's range"),
        ("train.optimizer.learning_rate=1e-50", "flushed to 0"),
        ("train.prior={kind: gaussian, scale: 1e-46}", "flushed to 0"),
        ("train.steps=3000000000", "train.steps: must be < 2147483648"),
        ("train.steps=1000000000000", "train.steps: must be < 2147483648"),
        ("train.optimizer.learning_rate='0.5'", "expected a number"),
    ],
)
def test_values_that_do_not_fit_the_device_are_refused(override, expected, tmp_path, capsys):
    _bad(["validate", str(_config(tmp_path)), "--set", override], capsys, expected)


def test_a_huge_grid_is_refused_from_its_axis_lengths(tmp_path, capsys):
    raw = {**BASE, "sweep": {"seed": {"linspace": [0, 1, 10_000]}, "train.steps": [1] * 1000}}
    begun = time.perf_counter()
    _bad(["show", str(_config(tmp_path, raw))], capsys, "= 10,000,000 members, more than")
    assert time.perf_counter() - begun < 5


def test_a_large_grid_is_summarised_by_show(tmp_path, capsys):
    raw = {
        **BASE,
        "sweep": {"seed": list(range(300)), "train.optimizer.learning_rate": [0.1] * 100},
    }
    assert cli.main(["show", str(_config(tmp_path, raw))]) == 0
    out = capsys.readouterr().out
    assert "# sweep: 30000 members" in out and "... 29980 more ..." in out


def test_huge_data_is_refused_before_it_is_allocated(tmp_path, capsys):
    config = _config(tmp_path)
    _bad(["validate", str(config), "--set", "data.n_samples=1000000000"], capsys, "GiB")


def test_a_sweep_can_be_switched_off_from_the_command_line(tmp_path, capsys):
    config = _config(tmp_path, {**BASE, "sweep": {"seed": [0, 1]}})
    for value in ("{}", "null"):
        assert cli.main(["show", str(config), "--set", f"sweep={value}"]) == 0
        assert "# sweep" not in capsys.readouterr().out


def test_a_bad_memory_budget_is_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INFOLAB_SWEEP_MEMORY", "abc")
    _bad(["validate", str(_config(tmp_path))], capsys, "INFOLAB_SWEEP_MEMORY: expected")


def test_a_device_file_as_config(capsys):
    _bad(["show", "/dev/null"], capsys, "config file is not a regular file: /dev/null")


# ---------------------------------------------------------------------------
# The output folder
# ---------------------------------------------------------------------------


def test_an_unwritable_destination_is_found_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path)
    (tmp_path / "file").write_text("x")
    _bad(["run", str(config), "--set", "output.dir=file/under"], capsys, "output.dir: ")
    _bad(["run", str(config), "--set", "output.dir=file"], capsys, "output.dir: ")
    # /proc takes no new folders, whoever asks (a read-only folder does not stop root).
    _bad(["run", str(config), "--out", "/proc/infolab/run"], capsys, "cannot write a run folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml", "file"]


def test_out_may_not_be_the_current_folder(tmp_path, capsys, monkeypatch):
    config = _config(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    monkeypatch.chdir(run)
    _bad(["run", str(config), "--out", ".", "--force"], capsys, "is the current folder")
    _bad(["run", str(config), "--out", "..", "--force"], capsys, "is the current folder")
    assert list(run.iterdir()) == []


def test_run_folders_honour_the_umask(tmp_path):
    config = _config(tmp_path)
    previous = os.umask(0o022)
    try:
        assert cli.main(["run", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    finally:
        os.umask(previous)
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o755


def test_a_stale_staging_folder_of_a_dead_process_is_removed(tmp_path):
    config = _config(tmp_path)
    stale = tmp_path / ".run.partial-dead"
    stale.mkdir()
    (stale / ".infolab-stage.json").write_text(
        json.dumps({"tool": "infolab", "pid": 2**22 + 12345, "host": os.uname().nodename})
    )
    (stale / "summary.json").write_text("{}")
    foreign = tmp_path / ".notes.partial-x"
    foreign.mkdir()  # no marker: not ours, never touched
    assert cli.main(["run", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert not stale.exists() and foreign.is_dir()


def test_a_csv_runs_config_reruns_from_its_run_folder(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    rows = "".join(f"{i % 7},{(i * 3) % 5},{i % 2}\n" for i in range(40))
    (tmp_path / "data" / "t.csv").write_text("a,b,label\n" + rows)
    raw = {**BASE, "data": {"source": "csv", "path": "data/t.csv", "target": "label"}}
    config = _config(tmp_path, raw)
    first = tmp_path / "first"
    assert cli.main(["run", str(config), "--out", str(first), "--quiet"]) == 0
    monkeypatch.chdir(first)
    again = tmp_path / "again"
    assert cli.main(["run", "config.yaml", "--out", str(again), "--quiet"]) == 0
    assert (again / "summary.json").read_bytes() == (first / "summary.json").read_bytes()


# ---------------------------------------------------------------------------
# Damaged run folders for plot
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("finished")
    config = _config(folder, {**BASE, "output": {"formats": ["png"]}})
    assert cli.main(["run", str(config), "--out", str(folder / "run"), "--quiet"]) == 0
    return folder / "run"


def _damage_csv_row(text: str) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[:-1]) + lines[-1][:5]


DAMAGE = {
    "metrics emptied": ("metrics.csv", lambda t: "", "metrics.csv: unexpected header"),
    "metrics cut at a line": (
        "metrics.csv",
        lambda t: "".join(t.splitlines(keepends=True)[:-6]),
        "does not agree with summary.json",
    ),
    "metrics cut mid-row": ("metrics.csv", _damage_csv_row, "metrics.csv: line"),
    "bad JSON": ("summary.json", lambda t: t[:-10], "summary.json: not valid JSON"),
    "empty object": ("summary.json", lambda t: "{}", "summary.json: expected {'runs'"),
    "runs not a list": ("summary.json", lambda t: '{"runs": 3}', "expected {'runs'"),
    "wrong header": ("metrics.csv", lambda t: "a,b\n1,2\n", "unexpected header"),
    "data.json damaged": ("data.json", lambda t: '{"datasets": []}', "no data set lists"),
}


@pytest.mark.parametrize(("name", "damage", "expected"), DAMAGE.values(), ids=DAMAGE)
def test_plot_refuses_damaged_files_and_keeps_the_figures(
    finished, tmp_path, capsys, name, damage, expected
):
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(finished), str(run)], check=True)
    path = run / name
    path.write_text(damage(path.read_text(encoding="utf-8")), encoding="utf-8")
    figures = _tree(run / "figures")
    _bad(["plot", str(run)], capsys, expected)
    assert _tree(run / "figures") == figures


def test_plot_refuses_non_utf8_and_a_figures_file(finished, tmp_path, capsys):
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(finished), str(run)], check=True)
    (run / "data.json").write_bytes(b"\xff\xfe{}")
    _bad(["plot", str(run)], capsys, "data.json: not UTF-8 text")
    subprocess.run(["cp", str(finished / "data.json"), str(run)], check=True)
    subprocess.run(["rm", "-r", str(run / "figures")], check=True)
    (run / "figures").write_text("not a folder")
    _bad(["plot", str(run)], capsys, "is a file, not a folder")
    (run / "figures").unlink()
    assert cli.main(["plot", str(run), "--format", "png"]) == 0


def test_an_all_diverged_sweep_still_writes_its_figures(tmp_path, capsys):
    raw = {
        **BASE,
        "sweep": {"train.optimizer.learning_rate": [3e38, 1e38], "seed": [0, 1]},
        "output": {"formats": ["png"]},
    }
    out = tmp_path / "run"
    assert cli.main(["run", str(_config(tmp_path, raw)), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert {run["status"] for run in summary["runs"]} == {"diverged"}
    assert (out / "figures" / "lr_sweep.png").is_file()


# ---------------------------------------------------------------------------
# Signals and races (subprocesses)
# ---------------------------------------------------------------------------


def _start(argv: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "experiments", *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_training_exits_cleanly_and_leaves_nothing(tmp_path, sig, code):
    # One compiled call of a few seconds: a signal during it is honoured when it returns.
    config = _config(tmp_path, {**BASE, "train": {"steps": 300_000, "log_every": 1000}})
    process = _start(["run", str(config), "--out", "run"], tmp_path)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".run.partial-*")):  # the stage exists: training is next
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    time.sleep(1.0)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "no partial run folder was left" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml"]


def test_a_file_written_into_the_folder_during_a_forced_run_is_kept(tmp_path):
    config = _config(tmp_path)
    assert cli.main(["run", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    slow = _config(tmp_path, {**BASE, "train": {"steps": 400_000, "log_every": 1000}}, "slow.yaml")
    process = _start(["run", str(slow), "--out", "run", "--force", "--quiet"], tmp_path)
    time.sleep(3)
    (tmp_path / "run" / "thesis.tex").write_text("my thesis")
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2, err
    assert (tmp_path / "run" / "thesis.tex").read_text() == "my thesis"
    assert "run-new" in err and (tmp_path / "run-new" / "summary.json").is_file()
