"""The sha256 of a run's data set, as ``data.json`` records it (``sha256``).

Light (numpy only): a kind's data loading and its figures import it without jax.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["data_sha256"]


def data_sha256(*parts: str | bytes | np.ndarray | np.generic) -> str:
    """The hex sha256 of ``parts``, one after another.

    Args:
        parts: text (hashed as its UTF-8 bytes), bytes, or arrays and scalars (hashed as
            their raw bytes in C order: their dtype and shape are not, so give them as
            text where two data sets could differ only in those).

    Returns:
        The 64 hex digits of the digest.

    >>> data_sha256("abc")
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    >>> data_sha256(np.zeros(2, np.float32)) == data_sha256(bytes(8)) == data_sha256(b"", bytes(8))
    True
    """
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, str):
            part = part.encode()
        elif not isinstance(part, bytes):
            part = np.asarray(part).tobytes()
        digest.update(part)
    return digest.hexdigest()
