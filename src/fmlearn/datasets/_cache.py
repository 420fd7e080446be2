"""The download cache: a crash or a bad network never leaves files that later look valid.

* a download goes to a hidden temporary file beside its destination; its length is checked
  against ``Content-Length`` and its digest against the pinned one *before* an atomic
  :func:`os.replace` gives it its real name, and a file that fails is deleted;
* an archive is extracted into a hidden temporary folder, a marker file listing every
  extracted file and its size is written last, and only then is the folder renamed into
  place (a rename is atomic); the archive is deleted afterwards;
* on every call the marker is read and each listed file's size compared (frappe's three
  small files are checked against their digests again), so a cache file deleted or
  truncated later is noticed.

Interrupted runs may leave hidden ``.*.part`` files or ``.*.extract-*`` folders behind; they
are never read and may be deleted.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from fmlearn._utils import is_terminal
from fmlearn.datasets._registry import _Remote

logger = logging.getLogger(__name__)

_MARKER = ".fmlearn-cache.json"  # written last into an extracted folder: its file sizes
_TIMEOUT_S = 60.0  # per socket operation, not for the whole download
_CHUNK = 1 << 20


# ----------------------------------------------------------------------------- digests
def _digests(path: Path, remote: _Remote) -> dict[str, str]:
    """The digests of ``path`` that ``remote`` pins (and SHA-256 always), in one read."""
    size = path.stat().st_size
    hashes = {"SHA-256": hashlib.sha256()}
    if remote.md5 is not None:
        hashes["MD5"] = hashlib.md5(usedforsecurity=False)
    if remote.git_blob_sha1 is not None:
        hashes["git blob SHA-1"] = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            for h in hashes.values():
                h.update(chunk)
    return {name: h.hexdigest() for name, h in hashes.items()}


def _verify(path: Path, remote: _Remote) -> str | None:
    """Raise OSError if ``path`` differs from the size or the digest that ``remote`` pins.

    The strongest pinned digest is checked: SHA-256; else the git blob SHA-1 (which also
    fixes the size); else MD5. Without a SHA-256, returns a note saying what was checked,
    for the caller to warn with.
    """
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        raise OSError(
            f"{remote.filename} downloaded from {remote.url} has {size} bytes, but "
            f"{remote.size} bytes were expected."
        )
    got = _digests(path, remote)
    pinned = [
        ("SHA-256", remote.sha256),
        ("git blob SHA-1", remote.git_blob_sha1),
        ("MD5", remote.md5),
    ]
    checked = [(name, want) for name, want in pinned if want is not None]
    for name, want in checked[:1]:
        if got[name] != want:
            raise OSError(
                f"{remote.filename} downloaded from {remote.url} has {name} {got[name]}, but "
                f"{want} was expected. The file may have been corrupted in transfer or "
                "changed on the server."
            )
    if remote.sha256 is not None:
        return None
    how = f"its {checked[0][0]} only" if checked else "nothing: no checksum is known"
    return (
        f"No SHA-256 is pinned for {remote.filename}, so it was verified against {how} "
        f"(its SHA-256 is {got['SHA-256']})."
    )


def _usable_file(path: Path, remote: _Remote) -> bool:
    """A cached file passes its check (the note about a weak check is not repeated)."""
    try:
        _verify(path, remote)
    except OSError:
        return False
    return True


def _usable_archive(archive: Path, remote: _Remote) -> bool:
    """An archive left by a run that stopped before extracting it; a bad one is removed."""
    if not archive.exists():
        return False
    if _usable_file(archive, remote):
        return True
    archive.unlink(missing_ok=True)
    return False


# ----------------------------------------------------------------------------- download
class _TruncatedError(OSError):
    pass


# worth a retry: refused, reset or timed-out connections, HTTP errors, short bodies
_NETWORK_ERRORS = (
    urllib.error.URLError,
    TimeoutError,
    ConnectionError,
    http.client.HTTPException,
    _TruncatedError,
)


def _download(remote: _Remote, dest: Path, n_retries: int, delay: float) -> str | None:
    """Download ``remote`` to ``dest`` via a temporary file, retrying network failures.

    Returns :func:`_verify`'s note on a check weaker than SHA-256, or None.
    """
    for attempt in range(n_retries + 1):
        try:
            return _download_once(remote, dest)
        except _NETWORK_ERRORS as exc:
            code = getattr(exc, "code", None)  # an HTTPError's status
            if attempt == n_retries or (code is not None and code < 500):
                retries = f" (after {attempt} retries)" if attempt else ""
                raise OSError(f"Could not download {remote.url} to {dest}: {exc}{retries}") from exc
            logger.warning("Download of %s failed (%s); retrying in %ss", remote.url, exc, delay)
            time.sleep(delay)


def _download_once(remote: _Remote, dest: Path) -> str | None:
    logger.info("Downloading %s to %s", remote.url, dest)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(remote.url, headers={"User-Agent": "fmlearn"})
            with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
                length = response.headers.get("Content-Length")
                expected = int(length) if length is not None else remote.size
                received = _copy(response, out, expected, remote.filename)
            out.flush()
            os.fsync(out.fileno())
        if expected is not None and received != expected:
            raise _TruncatedError(
                f"the server sent {received} of {expected} bytes (the connection was closed early)"
            )
        note = _verify(tmp, remote)
        os.replace(tmp, dest)
        return note
    finally:
        tmp.unlink(missing_ok=True)


def _copy(response, out, total: int | None, name: str) -> int:
    bar = None
    if is_terminal(sys.stderr):
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="B", unit_scale=True, desc=name, file=sys.stderr)
    received = 0
    try:
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            received += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    return received


# ----------------------------------------------------------------------------- extract
def _extract(archive: Path, top: str, folder: Path, required: tuple[str, ...]) -> None:
    """Unzip ``archive``'s folder ``top`` and move it to ``folder`` atomically."""
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.extract-"))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)  # zipfile drops absolute paths and '..' from names
        except (zipfile.BadZipFile, EOFError) as exc:
            archive.unlink(missing_ok=True)
            raise OSError(f"{archive} is not a valid zip archive ({exc}); it was removed.") from exc
        extracted = tmp / top
        missing = [name for name in required if not (extracted / name).is_file()]
        if missing:
            raise OSError(f"{archive} has no {top}/{missing[0]}; is it the right archive?")
        sizes = {
            p.relative_to(extracted).as_posix(): p.stat().st_size
            for p in sorted(extracted.rglob("*"))
            if p.is_file()
        }
        (extracted / _MARKER).write_text(
            json.dumps({"source": archive.name, "files": sizes}, indent=1)
        )
        _replace_folder(extracted, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _replace_folder(new: Path, folder: Path) -> None:
    """Rename ``new`` to ``folder``; a damaged ``folder`` is moved aside and deleted."""
    try:
        os.rename(new, folder)
        return
    except OSError:
        if not folder.exists():
            raise
    if _folder_problem(folder, ()) is None and (folder / _MARKER).exists():
        return  # another process finished the same extraction first
    trash = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.old-"))
    os.rename(folder, trash / folder.name)
    os.rename(new, folder)
    shutil.rmtree(trash, ignore_errors=True)


def _folder_problem(folder: Path, required: tuple[str, ...]) -> str | None:
    """Why ``folder`` is not a usable cache ("missing", a damaged file), or None."""
    if not folder.is_dir():
        return "missing"
    marker = folder / _MARKER
    if marker.exists():
        try:
            sizes = json.loads(marker.read_text())["files"]
        except (ValueError, KeyError, TypeError):
            return f"{_MARKER} is unreadable"
        for name, size in sizes.items():
            path = folder / name
            if not path.is_file():
                return f"{name} is missing"
            if path.stat().st_size != size:
                return f"{name} has {path.stat().st_size} bytes, {size} expected"
    for name in required:
        if not (folder / name).is_file():
            return f"{name} is missing"
    return None
