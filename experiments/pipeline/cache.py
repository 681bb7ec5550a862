"""JAX's persistent compilation cache, for the command line.

Compiled programs are written to a folder on disk and read back by any later process that
compiles the same program with the same jax, jaxlib and device, so a second
``python -m experiments run`` skips XLA's compilation (tracing still happens).

The folder is ``$INFOLAB_JAX_CACHE`` if that is set, else ``infolab/jax`` under the user's
cache directory (``$XDG_CACHE_HOME``, by default ``~/.cache``). ``INFOLAB_JAX_CACHE=off``
(or ``0``, ``false``, ``no``, ``none``) turns the cache off. Deleting the folder is always
safe.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["CACHE_ENV", "cache_folder", "enable_compilation_cache"]

CACHE_ENV = "INFOLAB_JAX_CACHE"
_OFF = frozenset({"off", "0", "false", "no", "none"})


def cache_folder(environ: Mapping[str, str] | None = None) -> Path | None:
    """The cache folder the environment asks for, or None when the cache is off.

    Example:
        >>> str(cache_folder({"XDG_CACHE_HOME": "/tmp/cache"}))
        '/tmp/cache/infolab/jax'
        >>> str(cache_folder({"INFOLAB_JAX_CACHE": "/data/jax"}))
        '/data/jax'
        >>> cache_folder({"INFOLAB_JAX_CACHE": "off"}) is None
        True
    """
    environ = os.environ if environ is None else environ
    chosen = environ.get(CACHE_ENV)
    if chosen is not None:
        chosen = chosen.strip()
        return None if chosen.lower() in _OFF or not chosen else Path(chosen).expanduser()
    base = environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(base) / "infolab" / "jax"


def enable_compilation_cache(environ: Mapping[str, str] | None = None) -> Path | None:
    """Turns on JAX's persistent compilation cache in :func:`cache_folder`.

    Call it before the first compilation of the process (jax reads the setting once). Every
    program is cached, however quickly it compiled: the experiments compile a few small
    programs per run, each well under jax's default threshold of one second. A folder that
    cannot be created leaves the cache off: it is an optimisation, never a reason to fail.

    Returns:
        The folder in use, or None when the cache is off.
    """
    folder = cache_folder(environ)
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    import jax  # here, so that importing this module does not load jax

    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
