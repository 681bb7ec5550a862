"""The member store: a finished sweep computes nothing again, a killed one resumes to the
same bytes, and a store of other code, precision or platform is never read.

Every sweep is one group of a few members in calls of one member (``INFOLAB_SWEEP_MEMORY=1``),
so each member is a chunk of its own; the store is a folder of each test's own.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from experiments import cli
from experiments.kinds import load_config
from experiments.pipeline import launch, store

ROOT = Path(__file__).resolve().parents[2]
COMPARED = ("metrics.csv", "summary.json", "data.json")
SWEEP = {
    "name": "stored",
    "data": {"source": "synthetic", "n_samples": 120, "n_features": 4, "n_informative": 2},
    "train": {"steps": 20, "log_every": 10},
    "output": {"formats": []},
    "sweep": {"train.optimizer.learning_rate": [0.1, 0.3, 1.0]},
}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A config file in tmp_path, the store at tmp_path/members, one member per call."""
    monkeypatch.setenv("INFOLAB_MEMBER_STORE", str(tmp_path / "members"))
    monkeypatch.setenv("INFOLAB_SWEEP_MEMORY", "1")
    raw = {**SWEEP, "output": {"formats": [], "dir": str(tmp_path / "results")}}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return tmp_path


def _run(folder: Path, out: str, *extra: str) -> dict:
    assert (
        cli.main(["run", str(folder / "sweep.yaml"), "--out", str(folder / out), "--quiet", *extra])
        == 0
    )
    return json.loads((folder / out / "manifest.json").read_text())


def _chunks(root: Path) -> list[Path]:
    return sorted(root.glob("*/*.chunk"))


def _same_files(a: Path, b: Path) -> None:
    for name in COMPARED:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_a_finished_sweep_run_again_computes_no_member(folder, capsys):
    first = _run(folder, "first")
    assert (first["members_computed"], first["members_reused"]) == (3, 0)
    assert len(_chunks(folder / "members")) == 3
    again = _run(folder, "again")
    assert (again["members_computed"], again["members_reused"]) == (0, 3)
    assert again["member_store"] == str((folder / "members").resolve())
    _same_files(folder / "first", folder / "again")
    # and a run that never saw a store writes the same bytes (same chunk plan)
    off = _run(folder, "off", "--no-store")
    assert (off["members_computed"], off["members_reused"], off["member_store"]) == (3, 0, None)
    _same_files(folder / "first", folder / "off")


def test_no_store_writes_nothing_to_the_store(folder, capsys):
    _run(folder, "run", "--no-store")
    assert not (folder / "members").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["run", "sweep.yaml"]


def test_the_default_store_is_under_output_dir(folder, monkeypatch, capsys):
    monkeypatch.delenv("INFOLAB_MEMBER_STORE")
    manifest = _run(folder, "run")
    assert manifest["member_store"] == str((folder / "results" / ".members").resolve())
    assert len(_chunks(folder / "results" / ".members")) == 3


def test_another_precision_code_or_platform_is_not_reused(folder, monkeypatch, capsys):
    _run(folder, "f32")
    f64 = _run(folder, "f64", "--set", "precision=float64")
    assert (f64["members_computed"], f64["members_reused"]) == (3, 0)
    assert len(_chunks(folder / "members")) == 6
    code = store.code_version()
    monkeypatch.setattr(store, "code_version", lambda: {**code, "source_sha256": "other"})
    assert _run(folder, "code")["members_reused"] == 0
    monkeypatch.undo()
    monkeypatch.setenv("INFOLAB_MEMBER_STORE", str(folder / "members"))
    monkeypatch.setenv("INFOLAB_SWEEP_MEMORY", "1")
    monkeypatch.setattr(store, "platform_key", lambda: {"backend": "elsewhere"})
    assert _run(folder, "platform")["members_reused"] == 0


def test_a_corrupted_entry_is_recomputed(folder, capsys):
    _run(folder, "first")
    damaged = _chunks(folder / "members")[0]
    blob = bytearray(damaged.read_bytes())
    blob[-40] ^= 0xFF
    damaged.write_bytes(bytes(blob))
    truncated = _chunks(folder / "members")[1]
    truncated.write_bytes(truncated.read_bytes()[:100])
    again = _run(folder, "again")
    assert (again["members_computed"], again["members_reused"]) == (2, 1)
    _same_files(folder / "first", folder / "again")
    assert _run(folder, "third")["members_reused"] == 3  # both were rewritten, intact


def test_an_outcome_round_trips_exactly():
    import numpy as np

    from experiments.contract import Outcome

    outcome = Outcome(
        "diverged",
        7,
        np.arange(3),
        {"train": {"ce": np.array([0.1, np.nan, np.inf])}},
        {"w": np.ones((2, 2), np.float32), "nested": {"b": np.float32(0.5)}},
        {"steps_taken": 7, "converged": False, "share": [0.5, float("nan")], "t": (1, "a")},
    )
    (back,), _ = store.decode_outcomes(store.encode_outcomes([outcome], {}))
    assert back.status == "diverged" and back.diverged_at == 7
    assert type(back.params["nested"]["b"]) is np.float32
    assert back.params["w"].dtype == np.float32
    np.testing.assert_array_equal(back.history["train"]["ce"], outcome.history["train"]["ce"])
    assert back.extra["t"] == (1, "a") and back.extra["share"][0] == 0.5
    with pytest.raises(ValueError, match="checksum"):
        store.decode_outcomes(store.encode_outcomes([outcome], {})[:-1] + b"x")


# The command line, its store made to stop the process (SIGSTOP) once the chunk numbered
# sys.argv[1] is durably stored: a kill point that no timing can miss.
STOPPING = """
import os, runpy, signal, sys
from experiments.pipeline import store
after, sys.argv = int(sys.argv[1]), ["experiments", *sys.argv[2:]]
save = store.ChunkEntry.save
def stopping(self, outcomes):
    save(self, outcomes)
    if self.store.computed == after:
        os.kill(os.getpid(), signal.SIGSTOP)
store.ChunkEntry.save = stopping
runpy.run_module("experiments", run_name="__main__")
"""


def _stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "T"


def test_a_sweep_killed_mid_run_resumes_to_the_same_bytes(folder, capsys):
    # python -m experiments run in a subprocess, stopped after its second chunk and killed
    # (SIGKILL); the same command again reuses both and writes an uninterrupted run's bytes.
    raw = {**SWEEP, "output": {"formats": [], "dir": str(folder / "results")}}
    raw["sweep"] = {"train.optimizer.learning_rate": [0.05, 0.1, 0.3, 0.5, 1.0]}
    (folder / "sweep.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    members = folder / "members"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = ["run", str(folder / "sweep.yaml"), "--out", str(folder / "killed"), "--quiet"]
    process = subprocess.Popen(
        [sys.executable, "-c", STOPPING, "2", *argv],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and not _stopped(process.pid):
            assert time.monotonic() < deadline, "the run never stored its second chunk"
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode()
        process.kill()
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    assert len(_chunks(members)) == 2
    assert not (folder / "killed").exists()
    resumed = _run(folder, "resumed")  # the same command, in this process
    assert (resumed["members_computed"], resumed["members_reused"]) == (3, 2)
    _run(folder, "uninterrupted", "--no-store")
    _same_files(folder / "uninterrupted", folder / "resumed")
    for chunk in _chunks(members):  # every entry intact
        store.decode_outcomes(chunk.read_bytes())


def test_launch_tasks_share_the_chunks_and_the_gather_computes_none(folder, capsys):
    config = folder / "sweep.yaml"
    loaded = load_config(config)
    shares = [launch.compute_share(loaded, folder, folder / "members", t, 2) for t in range(2)]
    assert [s["computed"] for s in shares] == [2, 1]  # chunks 0, 2 and chunk 1
    assert launch.compute_share(loaded, folder, folder / "members", 0, 2)["computed"] == 0
    assert cli.main(["launch", str(config), "--gather", "--out", str(folder / "run")]) == 0
    manifest = json.loads((folder / "run" / "manifest.json").read_text())
    assert (manifest["members_computed"], manifest["members_reused"]) == (0, 3)
    _run(folder, "plain", "--no-store")
    _same_files(folder / "plain", folder / "run")


def test_launch_without_submitit_or_store_is_bad_input(folder, monkeypatch, capsys):
    argv = ["launch", str(folder / "sweep.yaml"), "--executor", "local", "--tasks", "2"]
    monkeypatch.setitem(sys.modules, "submitit", None)  # import submitit fails
    assert cli.main(argv) == 2
    assert "pip install 'infolab[cluster]'" in capsys.readouterr().err
    monkeypatch.setenv("INFOLAB_MEMBER_STORE", "off")
    assert cli.main(argv) == 2
    assert "launch needs the member store" in capsys.readouterr().err
    assert not (folder / "members").exists()


def test_a_store_under_a_file_is_bad_input(folder, monkeypatch, capsys):
    (folder / "blocker").write_text("")
    monkeypatch.setenv("INFOLAB_MEMBER_STORE", str(folder / "blocker" / "members"))
    argv = ["run", str(folder / "sweep.yaml"), "--out", str(folder / "run")]
    assert cli.main(argv) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert not (folder / "run").exists()


def test_status_counts_stored_and_missing_members(folder, capsys):
    config = folder / "sweep.yaml"
    assert cli.main(["status", str(config)]) == 0
    assert "3 member(s) in 3 chunk(s): 0 stored" in capsys.readouterr().out
    _run(folder, "run")
    _chunks(folder / "members")[0].write_bytes(b"damaged")
    assert cli.main(["status", str(folder / "run")]) == 0
    out = capsys.readouterr().out
    assert "2 stored (2 chunk(s)), 1 damaged (1 chunk(s)), 0 missing" in out, out


def test_store_gc_removes_only_entries_no_run_refers_to(folder, monkeypatch, capsys):
    results = folder / "results"
    monkeypatch.delenv("INFOLAB_MEMBER_STORE")  # results/.members
    kept = _run(folder, "results/stored/kept")
    _run(folder, "results/stored/gone", "--set", "precision=float64")
    root = results / ".members"
    (root / "ab").mkdir(exist_ok=True)  # a real entry's folder may have that name
    (root / "ab" / ".ab12.999.tmp").write_bytes(b"half")  # a killed write's
    (results / "notes.txt").write_text("mine")
    (root / "README").write_text("not an entry")
    shutil.rmtree(results / "stored" / "gone")
    assert cli.main(["store", "gc", str(results), "--dry-run"]) == 0
    assert "0 store entries" in capsys.readouterr().out  # all written in the last hour
    old = time.time() - 7200
    for path in root.rglob("*"):
        os.utime(path, (old, old))
    before = sorted(root.rglob("*"))
    assert cli.main(["store", "gc", str(results), "--dry-run"]) == 0
    listed = capsys.readouterr().out
    assert "4 store entries, would free" in listed, listed
    assert sorted(root.rglob("*")) == before
    assert cli.main(["store", "gc", str(results)]) == 0
    assert "4 store entries, freed" in capsys.readouterr().out
    left = {p.name.removesuffix(".chunk") for p in _chunks(root)}
    assert left == set(kept["member_chunks"])
    assert (root / "README").exists() and (results / "notes.txt").exists()
    assert not (root / "ab" / ".ab12.999.tmp").exists()


def test_two_writes_of_one_chunk_keep_the_first_complete_one(folder, capsys):
    _run(folder, "run")
    path = _chunks(folder / "members")[0]
    first = path.read_bytes()
    outcomes, document = store.decode_outcomes(first)
    members = store.MemberStore(folder / "members", "float32")
    entry = store.ChunkEntry(members, path.stem, document["member_keys"])
    other = dataclasses.replace(outcomes[0], extra={"other": True})
    members.write(entry, [other])  # a racing task's write of the same chunk
    assert path.read_bytes() == first
    path.write_bytes(first[:50])  # a damaged one is replaced
    members.write(entry, [other])
    assert store.decode_outcomes(path.read_bytes())[0][0].extra == {"other": True}
    assert not list(path.parent.glob(".*.tmp"))


def test_a_full_disk_stops_the_storing_not_the_run(folder, monkeypatch, capsys):
    fsync, members = os.fsync, str(folder / "members")

    def full(descriptor: int) -> None:  # the store's disk is full, not the run folder's
        if os.readlink(f"/proc/self/fd/{descriptor}").startswith(members):
            raise OSError(errno.ENOSPC, "No space left on device")
        fsync(descriptor)

    monkeypatch.setattr(os, "fsync", full)
    manifest = _run(folder, "full")
    assert "No space left on device; the run goes on without storing" in capsys.readouterr().err
    assert manifest["members_computed"] == 3 and not _chunks(folder / "members")
    assert not list((folder / "members").rglob("*.tmp"))
    monkeypatch.undo()
    monkeypatch.setenv("INFOLAB_MEMBER_STORE", str(folder / "members"))
    monkeypatch.setenv("INFOLAB_SWEEP_MEMORY", "1")
    _run(folder, "roomy")
    _same_files(folder / "full", folder / "roomy")


@pytest.mark.skipif(
    not os.environ.get("INFOLAB_SLOW_TESTS"), reason="slow (~20 s): set INFOLAB_SLOW_TESTS=1"
)
def test_launch_with_the_local_executor_end_to_end(folder, capsys):
    pytest.importorskip("submitit")
    argv = ["launch", str(folder / "sweep.yaml"), "--executor", "local", "--tasks", "2"]
    assert cli.main([*argv, "--out", str(folder / "launched"), "--quiet"]) == 0
    manifest = json.loads((folder / "launched" / "manifest.json").read_text())
    assert (manifest["members_computed"], manifest["members_reused"]) == (0, 3)
    _run(folder, "plain", "--no-store")
    _same_files(folder / "plain", folder / "launched")
