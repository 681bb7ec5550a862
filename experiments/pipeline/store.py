"""The member store: finished chunks of a sweep, keyed by content, so a run resumes.

Every compiled call (a *chunk* of a group's members, :mod:`experiments.pipeline.plan`
sizes them) is written to the store as soon as it returns, and a later run whose chunk has
the same key reads it back instead of computing it. A chunk's key hashes everything its
results depend on:

- each member's resolved spec (``model_dump`` as JSON, seed included) and its position in
  the chunk (the chunk's members in order, padding follows from them);
- the data set's sha256 (the kind's ``data_entry(data)["sha256"]``);
- the precision;
- the code version: the package version and a hash of every ``.py`` file of
  ``experiments/`` and ``infolib/`` (computed once per process);
- the platform: jax's backend, device kind and count, the jax, jaxlib and numpy versions,
  and ``XLA_FLAGS``;
- the chunk plan: the program key's ``repr`` and the call size.

A member's key is the chunk's key and its position. Reuse is by chunk, so the rounding of
a reused member is the one it had; the plan never depends on what is stored, and a store
written by other code, precision or platform is never read (its keys differ).

Layout: ``ROOT/<first two hex digits>/<chunk key>.chunk``, one file per chunk: a header
line (``infolab-chunk 2``), the sha256 of the body, and the body: the JSON of the chunk's
outcomes and member keys (no pickle), each array in it named by its dtype, shape and
offset into the raw bytes that follow (read back with ``numpy.frombuffer``, one file
read and no archive to parse, so 1,000 members read in well under a second). A file is written
under a temporary name in its folder, flushed (``fsync``) and linked into place, so it is
complete or absent; the first complete write of a chunk wins; a file whose checksum or
contents do not check out is ignored and rewritten when its chunk is recomputed.

The store is ``results/.members/`` under the config's ``output.dir`` unless
``INFOLAB_MEMBER_STORE`` names another folder (``off``, ``0``, ``false``, ``no`` or
``none`` turn it off, as ``--no-store`` and ``experiments.run(..., store=False)`` do).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import math
import os
import platform as _platform
import sys
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from experiments.contract import Outcome, Program
from experiments.rundir.folders import OutputError, sync_folder

__all__ = [
    "STORE_ENV",
    "ChunkEntry",
    "MemberStore",
    "code_version",
    "decode_outcomes",
    "encode_outcomes",
    "open_store",
    "platform_key",
    "store_folder",
]

STORE_ENV = "INFOLAB_MEMBER_STORE"
_OFF = frozenset({"off", "0", "false", "no", "none"})
_HEADER = b"infolab-chunk 2\n"
_FORMAT = 2


# ---------------------------------------------------------------------------
# Where
# ---------------------------------------------------------------------------


def store_folder(output_dir: str | Path, environ: Mapping[str, str] | None = None) -> Path | None:
    """The store's folder: ``INFOLAB_MEMBER_STORE``, else ``.members`` in ``output_dir``;
    None when the environment turns it off.

    >>> str(store_folder("results", {}))
    'results/.members'
    >>> str(store_folder("results", {"INFOLAB_MEMBER_STORE": "/scratch/members"}))
    '/scratch/members'
    >>> store_folder("results", {"INFOLAB_MEMBER_STORE": "off"}) is None
    True
    """
    environ = os.environ if environ is None else environ
    chosen = environ.get(STORE_ENV)
    if chosen is not None:
        chosen = chosen.strip()
        if not chosen or chosen.lower() in _OFF:
            return None
        return Path(chosen).expanduser()
    return Path(output_dir) / ".members"


def check_folder(folder: Path) -> None:
    """Raises ``OutputError`` (bad input) when the store's folder is, or is under, a file."""
    blocked = next((p for p in [folder, *folder.parents] if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        where = STORE_ENV if STORE_ENV in os.environ else "output.dir"
        raise OutputError(f"{where}: the member store {folder}: {blocked} is a file, not a folder")


# ---------------------------------------------------------------------------
# What a key holds
# ---------------------------------------------------------------------------


@functools.cache
def code_version() -> dict[str, str]:
    """The package version and the sha256 of the ``.py`` files of ``experiments/`` and
    ``infolib/`` (their paths and bytes, in sorted order), computed once per process."""
    try:
        version = importlib.metadata.version("infolab")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for package in ("experiments", "infolib"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return {"version": version, "source_sha256": digest.hexdigest()}


def platform_key() -> dict[str, Any]:
    """What the platform changes in a result: jax's backend and devices, the versions of
    jax, jaxlib and numpy, and ``XLA_FLAGS``."""
    import jax
    import jaxlib

    return {
        "backend": jax.default_backend(),
        "device_kind": jax.devices()[0].device_kind,
        "devices": jax.device_count(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpy": np.__version__,
        "machine": _platform.machine(),
        "xla_flags": os.environ.get("XLA_FLAGS"),
    }


def _sha(document: Any) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------------------
# Outcomes as JSON and arrays (no pickle)
# ---------------------------------------------------------------------------


class _Unstorable(TypeError):
    """A value the store cannot write exactly (the chunk is then computed, not stored)."""


class _Packer:
    """Arrays laid end to end (each at a multiple of 8 bytes), described in the JSON by
    ``[dtype, shape, offset]``."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, array: np.ndarray) -> list[Any]:
        if array.dtype.hasobject:
            raise _Unstorable(f"an object array {array.dtype}")
        data = np.ascontiguousarray(array).tobytes()
        where = [array.dtype.str, list(array.shape), self.size]
        padding = -len(data) % 8
        self.parts.append(data + bytes(padding))
        self.size += len(data) + padding
        return where


def _encode(value: Any, packer: _Packer) -> Any:
    if isinstance(value, np.ndarray):
        return {"$a": packer.add(value)}
    if isinstance(value, np.generic):
        return {"$s": packer.add(np.asarray(value))}
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is dict:
        if not all(type(k) is str for k in value):
            raise _Unstorable("a mapping with keys other than text")
        return {"$d": [[k, _encode(v, packer)] for k, v in value.items()]}
    if type(value) in (list, tuple):
        tag = "$l" if type(value) is list else "$t"
        return {tag: [_encode(v, packer) for v in value]}
    raise _Unstorable(f"a value of type {type(value).__name__}")


def _array(where: list[Any], data: memoryview) -> np.ndarray:
    dtype, shape, offset = np.dtype(where[0]), tuple(where[1]), where[2]
    count = math.prod(shape)
    return np.frombuffer(data, dtype, count, offset).reshape(shape).copy()


def _decode(node: Any, data: memoryview) -> Any:
    if not isinstance(node, dict):
        return node
    ((tag, body),) = node.items()
    if tag == "$a":
        return _array(body, data)
    if tag == "$s":
        return _array(body, data)[()]
    if tag == "$d":
        return {k: _decode(v, data) for k, v in body}
    items = [_decode(v, data) for v in body]
    return items if tag == "$l" else tuple(items)


def encode_outcomes(outcomes: Sequence[Outcome], meta: Mapping[str, Any]) -> bytes:
    """Outcomes as a chunk file's bytes: the header line, the sha256 of the body, and the
    body (the JSON's length in 8 bytes, the JSON, then the arrays' bytes).

    Raises:
        TypeError: an outcome holds a value that cannot be written exactly.
    """
    packer = _Packer()
    fields = [
        {f.name: _encode(getattr(o, f.name), packer) for f in dataclasses.fields(Outcome)}
        for o in outcomes
    ]
    document = {**meta, "format": _FORMAT, "outcomes": fields}
    text = json.dumps(document, allow_nan=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    body = b"".join([len(text).to_bytes(8, "little"), text, *packer.parts])
    return _HEADER + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def decode_outcomes(blob: bytes) -> tuple[list[Outcome], dict[str, Any]]:
    """A chunk file's outcomes and its JSON document.

    Raises:
        ValueError: the bytes are not a complete, intact chunk file.
    """
    if not blob.startswith(_HEADER):
        raise ValueError("not a chunk file")
    checksum, _, body = blob[len(_HEADER) :].partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != checksum:
        raise ValueError("checksum mismatch")
    length = int.from_bytes(body[:8], "little")
    document = json.loads(body[8 : 8 + length].decode())
    if document.get("format") != _FORMAT:
        raise ValueError("another format")
    data = memoryview(body)[8 + length :]
    outcomes = [
        Outcome(**{name: _decode(node, data) for name, node in fields.items()})
        for fields in document["outcomes"]
    ]
    return outcomes, document


# ---------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class ChunkEntry:
    """One chunk's place in the store: its key, its members' keys, and whether this
    process computes it (a launch task computes only its share)."""

    store: MemberStore
    key: str
    member_keys: list[str]
    mine: bool = True

    @property
    def path(self) -> Path:
        return self.store.root / self.key[:2] / f"{self.key}.chunk"

    def load(self) -> list[Outcome | None] | None:
        """The stored outcomes (counted as reused); ``[None, ...]`` for a chunk that is not
        this process's share; None when it must be computed."""
        if not self.mine:
            return [None] * len(self.member_keys)
        outcomes = self.store.read(self.path, self.member_keys)
        if outcomes is not None:
            self.store.reused += len(outcomes)
        return outcomes

    def save(self, outcomes: Sequence[Outcome]) -> None:
        """Writes the chunk's outcomes (counted as computed)."""
        self.store.computed += len(outcomes)
        self.store.write(self, outcomes)


class MemberStore:
    """The chunks of one run (or one launch task) in a store folder.

    Args:
        root: the store's folder (made on the first write).
        precision: the run's ``precision``.
        share: ``(task, tasks)``: compute only the chunks whose number (in plan order)
            is ``task`` modulo ``tasks``; None: every chunk.
    """

    def __init__(self, root: Path, precision: str, share: tuple[int, int] | None = None):
        self.root = Path(root)
        self.precision = precision
        self.share = share
        self.computed = 0
        self.reused = 0
        self.chunks = 0
        self.unstored = 0  # chunks computed but not written (a full disk, ...)
        self.keys: list[str] = []  # every chunk's key, in plan order
        self._writable = True
        self._data: dict[int, str] = {}
        self._context: dict[str, Any] | None = None

    def context(self) -> dict[str, Any]:
        if self._context is None:
            self._context = {
                "format": _FORMAT,
                "code": code_version(),
                "platform": platform_key(),
                "precision": self.precision,
            }
        return self._context

    def entry(
        self, program: Program, key: Hashable, data: Any, specs: Sequence[Any], size: int
    ) -> ChunkEntry:
        """The entry of the next chunk of the plan: ``specs`` (its members, in order) run by
        the program of ``key`` on ``data`` in calls of ``size`` members."""
        if id(data) not in self._data:
            self._data[id(data)] = str(program.data_entry(data)["sha256"])
        document = {
            **self.context(),
            "program_key": repr(key),
            "call_size": size,
            "data_sha256": self._data[id(data)],
            "members": [spec.model_dump(mode="json") for spec in specs],
        }
        chunk = _sha(document)
        members = [_sha({"chunk": chunk, "position": i}) for i in range(len(specs))]
        number, self.chunks = self.chunks, self.chunks + 1
        self.keys.append(chunk)
        mine = self.share is None or number % self.share[1] == self.share[0]
        return ChunkEntry(self, chunk, members, mine)

    def read(self, path: Path, member_keys: Sequence[str]) -> list[Outcome] | None:
        """A stored chunk's outcomes, or None if it is absent, damaged or not this chunk's."""
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        try:
            outcomes, document = decode_outcomes(blob)
        except Exception:  # damaged: computed again, and rewritten
            return None
        if document.get("member_keys") != list(member_keys):
            return None
        return outcomes

    def write(self, entry: ChunkEntry, outcomes: Sequence[Outcome]) -> None:
        """Writes a chunk atomically; the first complete write of a chunk wins. A chunk
        that cannot be written (a full disk, an unstorable value) is left out."""
        if not self._writable:
            self.unstored += 1
            return
        try:
            blob = encode_outcomes(outcomes, {"member_keys": entry.member_keys})
        except _Unstorable:
            self.unstored += 1
            return
        try:
            _place(entry.path, blob, lambda: self.read(entry.path, entry.member_keys))
        except OSError as error:
            self._writable = False
            self.unstored += 1
            print(
                f"warning: member store {self.root}: {error.strerror or error}; "
                "the run goes on without storing its chunks",
                file=sys.stderr,
            )


def _place(path: Path, blob: bytes, intact: Callable[[], Any]) -> None:
    """Writes ``blob`` to a temporary file beside ``path``, flushes it and links it into
    place; an intact file already there is kept (first complete write wins), a damaged
    one replaced."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{path.stem}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        with open(temporary, "wb") as file:
            file.write(blob)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            if intact() is None:
                os.replace(temporary, path)
        sync_folder(folder)
    finally:
        temporary.unlink(missing_ok=True)


def open_store(
    output_dir: str | Path,
    precision: str,
    *,
    enabled: bool = True,
    share: tuple[int, int] | None = None,
) -> MemberStore | None:
    """The run's store, or None when it is off (``enabled=False`` or the environment).

    Raises:
        OutputError: the store's folder is, or lies under, a file (bad input).
    """
    folder = store_folder(output_dir) if enabled else None
    if folder is None:
        return None
    check_folder(folder)
    return MemberStore(folder, precision, share)
