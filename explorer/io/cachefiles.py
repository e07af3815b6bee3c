"""Where the explorer keeps what it derives from a user's files: the cache folder.

Nothing is written beside a user's data (it may be read-only, shared, or reached through a
link out of the folders a served app may read). Derived files (FASTA indexes, model cards
saved for read-only folders) go under :func:`cache_root`, named by :func:`file_key`: the
file's resolved path, size and modification time, so a file edited after it was indexed
gets a new index instead of an old one that returns wrong bases.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["cache_root", "file_key", "derived_path", "atomic_write"]

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def cache_root() -> Path:
    """The explorer's cache folder: ``$EXPLORER_CACHE_DIR``, else ``~/.cache/attribution-explorer``."""
    root = os.environ.get("EXPLORER_CACHE_DIR") or str(Path.home() / ".cache" / "attribution-explorer")
    return Path(root).expanduser()


def file_key(path: str | Path) -> str:
    """24 hex digits naming ``path``'s current content: resolved path, size, mtime (ns)."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return hashlib.sha256(f"{resolved}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:24]


def derived_path(kind: str, path: str | Path, suffix: str) -> Path:
    """``<cache>/<kind>/<stem>-<file_key><suffix>``: where a file derived from ``path`` goes."""
    return cache_root() / kind / f"{Path(path).name}-{file_key(path)}{suffix}"


def atomic_write(path: str | Path, write) -> None:
    """Write ``path`` all at once: ``write(binary file)`` fills a temporary file beside it, then
    ``os.replace`` puts it in place, so a reader (or a rerun after a kill) never sees half a file.
    The temporary file is removed if ``write`` raises."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
