"""A persistent cache of the compiled kernels, so a new process does not compile them again.

Each search compiles its kernels for the graph's shape, ``k`` and chunk size:
about 2.5-3.5 s on 2 CPU cores for a 300-800-node model, a quarter to a third
of the default preset's 10 s.  JAX can keep compiled executables on disk; with it
enabled, a later process with the same shapes (the same model and ``k``, say)
loads them instead, and its search gets the seconds it would have spent compiling.

The setting is JAX's and holds for the whole process, so the library leaves it
to the caller: the command line enables it (``--no-compile-cache`` turns it
off), Python code calls :func:`enable_compilation_cache` once, before its first
search (JAX decides at its first compilation whether a cache is in use).

Example
-------
>>> import pjpart, tempfile
>>> folder = pjpart.enable_compilation_cache(tempfile.mkdtemp())   # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys

# cache what takes longer than this to compile: every search kernel (0.5-2 s each), not the
# many small helper functions JAX compiles along the way
MIN_COMPILE_SECONDS = 0.2
MAX_CACHE_BYTES = 2 << 30  # least recently used entries go beyond this (an entry: 70-100 kB here)


def default_cache_dir() -> str:
    """``$PJPART_CACHE_DIR``, else ``$XDG_CACHE_HOME/pjpart/jax``, else ``~/.cache/pjpart/jax``."""
    if os.environ.get("PJPART_CACHE_DIR"):
        return os.environ["PJPART_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pjpart", "jax")


def enable_compilation_cache(directory: str | None = None) -> str:
    """Keep compiled kernels on disk and load them from there in later processes.

    Call it before the first search of the process (JAX decides at its first compilation
    whether a cache is in use); the setting is JAX's and holds for the whole process.
    Kernels that take over :data:`MIN_COMPILE_SECONDS` to compile are kept, the least
    recently used going beyond :data:`MAX_CACHE_BYTES`.

    Parameters
    ----------
    directory
        The folder (created if missing; ``~`` is expanded); default :func:`default_cache_dir`.

    Returns
    -------
    str
        The directory, as an absolute path.

    Raises
    ------
    OSError
        When the directory cannot be created.

    Examples
    --------
    >>> import os, tempfile, pjpart
    >>> folder = pjpart.enable_compilation_cache(tempfile.mkdtemp())   # doctest: +SKIP
    >>> os.path.isabs(folder)   # doctest: +SKIP
    True

    (Skipped: it would change where this process keeps its kernels.)  A folder that
    cannot be created raises before anything is set:

    >>> with tempfile.NamedTemporaryFile() as file:   # a file where a folder should be
    ...     try:
    ...         pjpart.enable_compilation_cache(os.path.join(file.name, "cache"))
    ...     except OSError:
    ...         print("cannot create the folder")
    cannot create the folder
    """
    directory = os.path.abspath(os.path.expanduser(directory or default_cache_dir()))
    os.makedirs(directory, exist_ok=True)
    settings = {"jax_compilation_cache_dir": directory,
                "jax_persistent_cache_min_compile_time_secs": MIN_COMPILE_SECONDS,
                "jax_compilation_cache_max_size": MAX_CACHE_BYTES}
    if "jax" not in sys.modules:
        # JAX reads these at import: a process that has not imported it yet (the command line)
        # does not pay the import (about a second) before its run's clock starts
        for name, value in settings.items():
            os.environ[name.upper()] = str(value)
        return directory
    import jax

    for name, value in settings.items():
        try:  # evicting needs the filelock package (a dependency); older JAX versions lack the option
            jax.config.update(name, value)
        except AttributeError:
            pass
    return directory
