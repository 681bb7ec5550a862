"""Faults and hostile input: every case exits as documented, with nothing lost, no
traceback and no partial run folder left.

Most cases call the command line in this process (fast); signals and races run it in
subprocesses, each bounded in time.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import pty
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
import yaml

from experiments import cli
from tests.faults.common import bad_input

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
    bad_input(["show", str(config)], capsys, expected)
    assert time.perf_counter() - begun < 5


def test_a_recursive_override_is_refused(tmp_path, capsys):
    bad_input(["show", str(_config(tmp_path)), "--set", "name=&a [*a]"], capsys, "recursive alias")


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
    bad_input(["validate", str(_config(tmp_path)), "--set", override], capsys, expected)


def test_a_huge_grid_is_refused_from_its_axis_lengths(tmp_path, capsys):
    raw = {**BASE, "sweep": {"seed": {"linspace": [0, 1, 10_000]}, "train.steps": [1] * 1000}}
    begun = time.perf_counter()
    bad_input(["show", str(_config(tmp_path, raw))], capsys, "= 10,000,000 members, more than")
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
    bad_input(["validate", str(config), "--set", "data.n_samples=1000000000"], capsys, "GiB")


def test_a_sweep_can_be_switched_off_from_the_command_line(tmp_path, capsys):
    config = _config(tmp_path, {**BASE, "sweep": {"seed": [0, 1]}})
    for value in ("{}", "null"):
        assert cli.main(["show", str(config), "--set", f"sweep={value}"]) == 0
        assert "# sweep" not in capsys.readouterr().out


def test_a_bad_memory_budget_is_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INFOLAB_SWEEP_MEMORY", "abc")
    bad_input(["validate", str(_config(tmp_path))], capsys, "INFOLAB_SWEEP_MEMORY: expected")


def test_a_device_file_as_config(capsys):
    bad_input(["show", "/dev/null"], capsys, "config file is not a regular file: /dev/null")


# ---------------------------------------------------------------------------
# The output folder
# ---------------------------------------------------------------------------


def test_an_unwritable_destination_is_found_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path)
    (tmp_path / "file").write_text("x")
    bad_input(["run", str(config), "--set", "output.dir=file/under"], capsys, "output.dir: ")
    bad_input(["run", str(config), "--set", "output.dir=file"], capsys, "output.dir: ")
    # /proc takes no new folders, whoever asks (a read-only folder does not stop root).
    bad_input(
        ["run", str(config), "--out", "/proc/infolab/run"], capsys, "cannot write a run folder"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml", "file"]


def test_out_may_not_be_the_current_folder(tmp_path, capsys, monkeypatch):
    config = _config(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    monkeypatch.chdir(run)
    bad_input(["run", str(config), "--out", ".", "--force"], capsys, "is the current folder")
    bad_input(["run", str(config), "--out", "..", "--force"], capsys, "is the current folder")
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
    bad_input(["plot", str(run)], capsys, expected)
    assert _tree(run / "figures") == figures


def test_plot_refuses_non_utf8_and_a_figures_file(finished, tmp_path, capsys):
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(finished), str(run)], check=True)
    (run / "data.json").write_bytes(b"\xff\xfe{}")
    bad_input(["plot", str(run)], capsys, "data.json: not UTF-8 text")
    subprocess.run(["cp", str(finished / "data.json"), str(run)], check=True)
    subprocess.run(["rm", "-r", str(run / "figures")], check=True)
    (run / "figures").write_text("not a folder")
    bad_input(["plot", str(run)], capsys, "is a file, not a folder")
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
# Signals, a full disk and races
# ---------------------------------------------------------------------------

LONG = {**BASE, "train": {"steps": 5_000_000, "log_every": 1000}}  # minutes, if not stopped
# Done at step 0 (tol): the program of the long sweep's calls below, one member each, which
# the later subprocesses then find compiled in the cache they share.
SHORT = {**BASE, "train": {**LONG["train"], "tol": 1e9}}


@pytest.fixture(scope="module")
def jax_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("jax-cache"))


def _env(**extra: str) -> dict[str, str]:
    """This checkout's package first (not an installed copy), on the CPU."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": path, **extra}


def _start(argv: list[str], cwd: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "experiments", *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(**env),
    )


class _Terminal:
    """A run whose stderr is a terminal, so that it draws its progress bar there."""

    def __init__(self, argv: list[str], cwd: Path, **env: str) -> None:
        main, side = pty.openpty()
        # tqdm draws nothing on a terminal of width 0, a new pty's size.
        fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "experiments", *argv],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=side,
            env=_env(**env),
        )
        os.close(side)
        self._seen = bytearray()
        self._reader = threading.Thread(target=self._read, args=(main,), daemon=True)
        self._reader.start()

    def _read(self, main: int) -> None:
        with contextlib.suppress(OSError):  # EIO once the run has exited
            while chunk := os.read(main, 65536):
                self._seen.extend(chunk)
        os.close(main)

    def seen(self, pattern: str) -> bool:
        assert self.process.poll() is None, self.text()[-500:]
        return re.search(pattern.encode(), bytes(self._seen)) is not None

    def stop(self, sig: int) -> None:
        self._stopped_at = time.monotonic()
        self.process.send_signal(sig)

    def seconds_to_exit(self, within: float = 20) -> float:
        """How long the run took to exit after :meth:`stop` (killed after ``within``)."""
        try:
            self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return time.monotonic() - self._stopped_at

    def text(self) -> str:
        self._reader.join(timeout=2 if self.process.poll() is not None else 0)
        return self._seen.decode(errors="replace")


@pytest.mark.slow
def test_a_signal_inside_a_long_compiled_call_stops_the_run_at_once(tmp_path, jax_cache):
    # SIGINT: one member, whose program reports its steps to the bar through a host
    # callback (such a call is dispatched synchronously). SIGTERM: a sweep of two members,
    # one per call (INFOLAB_SWEEP_MEMORY=1): the first stops at step 0 (tol), so the bar
    # at half way means the second, long call is running. Both runs go at once.
    one, sweep = tmp_path / "one", tmp_path / "sweep"
    one.mkdir()
    sweep.mkdir()
    swept = {**LONG, "sweep": {"train.tol": [1e9, 1e-30]}}
    argv = lambda folder, raw: ["run", str(_config(folder, raw)), "--out", "run"]  # noqa: E731
    runs = {  # signal: (folder, run, what its bar shows once inside the long call)
        signal.SIGINT: (
            one,
            _Terminal(argv(one, LONG), one, INFOLAB_JAX_CACHE=jax_cache),
            r"\| *[1-9][0-9.]*k?/5\.00M",  # steps reported from within the call
        ),
        signal.SIGTERM: (
            sweep,
            _Terminal(
                argv(sweep, swept), sweep, INFOLAB_JAX_CACHE=jax_cache, INFOLAB_SWEEP_MEMORY="1"
            ),
            r"5\.00M/10\.0M",  # the first call returned
        ),
    }
    try:
        waiting, deadline = dict(runs), time.monotonic() + 120
        while waiting:  # each is stopped as soon as it is inside its long call
            for sig, (_, run, pattern) in list(waiting.items()):
                if run.seen(pattern):
                    run.stop(sig)
                    del waiting[sig]
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for sig, (folder, run, _) in runs.items():
            seconds = run.seconds_to_exit()
            err = run.text()[-500:]
            assert run.process.returncode == 128 + sig, err
            assert seconds < 5, f"took {seconds:.1f} s to stop"
            assert "no partial run folder was left" in err and "Traceback" not in err
            assert sorted(p.name for p in folder.iterdir()) == ["base.yaml"]
    finally:
        for _, run, _ in runs.values():
            run.process.kill()  # a no-op once it has exited
            run.process.wait()


@pytest.fixture(scope="module")
def earlier(tmp_path_factory) -> Path:
    """A finished run, copied where a test needs "the user's earlier run"."""
    folder = tmp_path_factory.mktemp("earlier")
    assert cli.main(["run", str(_config(folder)), "--out", str(folder / "run"), "--quiet"]) == 0
    return folder / "run"


def _contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _complete(run: Path) -> str:
    """Checks that ``run`` is a complete run folder (the files its manifest lists and no
    other); returns its run id."""
    manifest = json.loads((run / "manifest.json").read_text())
    assert sorted(_contents(run)) == sorted(manifest["files"])
    return manifest["run_id"]


def _signal_at(sig: int):
    def send(*args, **kwargs):
        os.kill(os.getpid(), sig)  # the command line's handler runs at once, in this thread

    return send


def _around(original, before=None, after=None):
    def call(*args, **kwargs):
        if before is not None:
            before()
        result = original(*args, **kwargs)
        if after is not None:
            after()
        return result

    return call


@pytest.mark.parametrize(
    ("stage", "sig"),
    [
        ("loading", signal.SIGTERM),
        ("compiling", signal.SIGINT),
        ("writing", signal.SIGHUP),
        ("moving into place", signal.SIGINT),
    ],
)
def test_a_signal_at_each_stage_leaves_the_earlier_run_or_the_new_one(
    earlier, tmp_path, monkeypatch, capsys, stage, sig
):
    from experiments.kinds.classifier.program import PROGRAM
    from experiments.pipeline import execute
    from experiments.pipeline import plan as planner
    from experiments.pipeline import run as runner
    from experiments.rundir import folders

    out = tmp_path / "run"
    shutil.copytree(earlier, out)
    before = _contents(out)
    send = _signal_at(sig)
    if stage == "loading":
        monkeypatch.setattr(planner, "load_members_data", _around(planner.load_members_data, send))
    elif stage == "compiling":  # the signal comes while the program is traced
        make = PROGRAM.member_fn
        traced = lambda key, progress: _around(make(key, progress), send)  # noqa: E731
        monkeypatch.setattr(PROGRAM, "member_fn", traced)
        monkeypatch.setattr(execute, "_compiled", functools.cache(execute._compiled.__wrapped__))
    elif stage == "writing":  # every file written into the stage, not yet moved
        monkeypatch.setattr(runner, "write_run", _around(runner.write_run, after=send))
    else:  # the earlier run moved aside, the new one in place, the old files not yet deleted
        monkeypatch.setattr(folders, "replace_listed", _around(folders.replace_listed, send))
    config = _config(tmp_path)
    assert cli.main(["run", str(config), "--out", str(out), "--force", "--quiet"]) == 128 + sig
    err = capsys.readouterr().err
    assert "no partial run folder was left" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml", "run"]  # nothing hidden
    if stage == "moving into place":  # held until the move was done: the new run, complete
        assert _complete(out) != json.loads(before["manifest.json"])["run_id"]
    else:
        assert _contents(out) == before


@pytest.mark.parametrize("force", [False, True], ids=["new folder", "forced"])
def test_a_run_that_finds_another_landed_meanwhile_goes_beside(tmp_path, force):
    from experiments.kinds import load_config
    from experiments.rundir import folders

    config, target = load_config(_config(tmp_path)), tmp_path / "run"
    if force:  # the earlier run that both may replace
        _fake_run(target, "earlier")
    chosen = folders.choose_run_folder(config, target, force=force)
    first, second = folders.open_stage(chosen), folders.open_stage(chosen)
    _fake_run(first.path, "first")
    _fake_run(second.path, "second")
    assert first.commit() == target
    with pytest.raises(folders.KeptBeside, match=r"another run \(first\) was written") as kept:
        second.commit()
    assert kept.value.path == tmp_path / "run-new"
    assert (_complete(target), _complete(tmp_path / "run-new")) == ("first", "second")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml", "run", "run-new"]


def _fake_run(folder: Path, run_id: str) -> None:
    folder.mkdir(exist_ok=True)
    manifest = {"tool": "infolab", "run_id": run_id, "files": ["manifest.json", "summary.json"]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "summary.json").write_text("{}")


def test_a_move_into_place_waits_for_another_runs_lock_and_clears_a_dead_ones(tmp_path):
    from experiments.rundir import folders

    host = os.uname().nodename
    for holder, waits in ((os.getpid(), True), (2**22 + 12345, False)):  # alive, then dead
        target = tmp_path / f"run-{waits}"
        lock = tmp_path / f".{target.name}.infolab-lock"
        lock.write_text(json.dumps({"tool": "infolab", "pid": holder, "host": host}))
        stage = folders.open_stage(folders.RunFolder(target, chosen=True))
        (stage.path / "summary.json").write_text("{}")
        if waits:
            threading.Timer(0.3, lock.unlink).start()
        begun = time.monotonic()
        assert stage.commit() == target
        assert (time.monotonic() - begun >= 0.3) is waits
        assert not lock.exists() and (target / "summary.json").is_file()


@contextlib.contextmanager
def _held_once_staged(processes: list[subprocess.Popen], folder: Path):
    """Stops each run (SIGSTOP) as its staging folder for ``folder`` appears (it has checked
    the folder and begun its work), enters once all are stopped, and resumes them after."""
    waiting = {p.pid: p for p in processes}
    try:
        deadline = time.monotonic() + 120
        while waiting:
            for marker in folder.parent.glob(f".{folder.name}.partial-*/.infolab-stage.json"):
                with contextlib.suppress(OSError, ValueError, KeyError):  # not written yet
                    pid = json.loads(marker.read_text())["pid"]
                    if waiting.pop(pid, None) is not None:
                        os.kill(pid, signal.SIGSTOP)
            assert all(p.poll() is None for p in waiting.values()), "a run ended unseen"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGCONT)


# A disk that holds the earlier run and a filler with two pages (8 KiB) free: the staging
# folder's marker fits, the run's files do not.
FULL_DISK = """set -e
mount -t tmpfs -o size=256k tmpfs "$DISK"
cp -r "$EARLIER" "$DISK/run"
dd if=/dev/zero of="$DISK/filler" bs=4096 2>/dev/null || true
truncate -s -8192 "$DISK/filler"
set +e
"$PYTHON" -m experiments run "$CONFIG" --out "$DISK/run" --force --quiet
echo "exit $?"
ls -A "$DISK"
diff -r "$EARLIER" "$DISK/run" && echo intact
"""


def test_a_full_disk_is_one_line_and_leaves_the_earlier_run(earlier, tmp_path, jax_cache):
    # On a tmpfs of its own (FULL_DISK). Where none can be mounted, a file-size limit of
    # 1 KiB fails the same writes instead (manifest.json is larger).
    config = _config(tmp_path, SHORT)
    disk = tmp_path / "disk"
    disk.mkdir()
    namespace = ["unshare", "--user", "--map-root-user", "--mount"]
    mount = [*namespace, "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {disk}"]
    can_mount = bool(shutil.which("unshare")) and subprocess.run(mount).returncode == 0
    env = {"DISK": str(disk), "EARLIER": str(earlier), "CONFIG": str(config)}
    if can_mount:
        command, reason = [*namespace, "bash", "-c", FULL_DISK], "No space left on device"
    else:
        shutil.copytree(earlier, disk / "run")
        run = ["-m", "experiments", "run", str(config), "--out", str(disk / "run"), "--force"]
        limit = 'ulimit -f 1; trap "" XFSZ; exec "$PYTHON" "$@"'  # EFBIG, not SIGXFSZ
        command, reason = ["bash", "-c", limit, "-", *run, "--quiet"], "File too large"
        jax_cache = "off"  # its files would pass the limit
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(PYTHON=sys.executable, INFOLAB_JAX_CACHE=jax_cache, **env),
    )
    assert f"cannot write the run folder {disk / 'run'}: {reason}" in done.stderr, done.stderr
    assert "nothing was left half-written" in done.stderr and "Traceback" not in done.stderr
    if can_mount:  # what the disk held, seen from inside its namespace
        assert done.stdout.split("\n")[:4] == ["exit 1", "filler", "run", "intact"], done.stdout
    else:
        assert done.returncode == 1
        assert sorted(p.name for p in disk.iterdir()) == ["run"]
        assert _contents(disk / "run") == _contents(earlier)


def test_two_forced_runs_racing_into_one_folder_never_mix(earlier, tmp_path, jax_cache):
    # Both start from the earlier run (each is held once it has checked the folder, until
    # both have); the first to move into place replaces it, the other finds a run it did
    # not start from and goes beside.
    config = _config(tmp_path, SHORT)
    shutil.copytree(earlier, tmp_path / "run")
    argv = ["run", str(config), "--out", "run", "--force", "--quiet"]
    processes = [_start(argv, tmp_path, INFOLAB_JAX_CACHE=jax_cache) for _ in range(2)]
    with _held_once_staged(processes, tmp_path / "run"):
        pass
    finished = [(p.communicate(timeout=120), p.returncode) for p in processes]
    (won, out, _), (lost, _, err) = sorted((code, out, err) for (out, err), code in finished)
    assert (won, lost) == (0, 2), finished
    assert out.strip() == "run"
    assert "another run (" in err and "run-new" in err and "Traceback" not in err
    ids = {_complete(tmp_path / "run"), _complete(tmp_path / "run-new")}
    assert len(ids) == 2 and _complete(earlier) not in ids
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml", "run", "run-new"]


def test_a_file_written_into_the_folder_during_a_forced_run_is_kept(earlier, tmp_path, jax_cache):
    shutil.copytree(earlier, tmp_path / "run")
    config = _config(tmp_path, SHORT)
    argv = ["run", str(config), "--out", "run", "--force", "--quiet"]
    process = _start(argv, tmp_path, INFOLAB_JAX_CACHE=jax_cache)
    with _held_once_staged([process], tmp_path / "run"):  # the folder was checked
        (tmp_path / "run" / "thesis.tex").write_text("my thesis")
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2, err
    assert _contents(tmp_path / "run") == {**_contents(earlier), "thesis.tex": b"my thesis"}
    assert "run-new" in err and _complete(tmp_path / "run-new") != _complete(earlier)
