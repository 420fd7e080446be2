"""Small helpers every layer may use: atomic files, terminals, optional imports, messages.

They live here, below everything else in the import graph (numpy and the standard
library only), so that the model files, the text writers, the fetchers and the progress
bar share one implementation of each.
"""

from __future__ import annotations

import functools
import importlib
import os
import tempfile
from collections.abc import Callable
from typing import IO

import numpy as np


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file so that ``path`` holds either its old content or the complete new one.

    ``write(fh)`` fills a temporary file beside ``path`` (same folder, so the final rename
    is atomic); it is flushed to disk and renamed over ``path``. On any error, or
    KeyboardInterrupt, the temporary file is removed and ``path`` is untouched. The new
    file keeps the permissions of the one it replaces, or gets the usual ones (0666 less
    the umask), not the 0600 of a temporary file.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    except OSError as exc:  # name the file the caller asked for, not the temporary one
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _mode_for(path: str) -> int:
    if os.path.exists(path):
        return os.stat(path).st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def is_terminal(stream) -> bool:
    """True if ``stream`` is an interactive terminal (progress bars, not log lines)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def import_optional(module: str, *, extra: str, needed_by: str):
    """Import an optional dependency, or say which extra installs it.

    ``import_optional("pandas", extra="pandas", needed_by="FMEncoder")`` raises
    ``ImportError: FMEncoder needs pandas: pip install "fmlearn[pandas]"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f'{needed_by} needs {module.split(".")[0]}: pip install "fmlearn[{extra}]"'
        ) from exc


def preview(values, limit: int = 5) -> str:
    """``[a, b, c, …]``: the first few of ``values`` for an error message."""
    items = list(np.asarray(values).ravel().tolist())
    text = ", ".join(repr(v) for v in items[:limit])
    return "[" + text + (", …" if len(items) > limit else "") + "]"


def physical_memory() -> int | None:
    """Bytes of RAM on this machine (None where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


@functools.cache
def cache_bytes(level: int) -> int:
    """The size of this CPU's level-``level`` data cache (Linux's sysfs, then
    ``os.sysconf``); where neither says, 1 MiB for L2 and 32 MiB for L3."""
    try:
        for index in range(8):
            folder = f"/sys/devices/system/cpu/cpu0/cache/index{index}"
            with open(f"{folder}/level") as fh:
                if int(fh.read()) != level:
                    continue
            with open(f"{folder}/type") as fh:
                if fh.read().strip() == "Instruction":
                    continue
            with open(f"{folder}/size") as fh:
                text = fh.read().strip().upper()
            scale = {"K": 2**10, "M": 2**20}.get(text[-1:], 1)
            return int(text.rstrip("KM")) * scale
    except (OSError, ValueError):
        pass
    try:
        size = os.sysconf(f"SC_LEVEL{level}_CACHE_SIZE")
        if size > 0:
            return size
    except (AttributeError, OSError, ValueError):
        pass
    return 2**20 if level == 2 else 32 * 2**20


def format_bytes(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"
