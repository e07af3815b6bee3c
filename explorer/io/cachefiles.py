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
from pathlib import Path

__all__ = ["cache_root", "file_key", "derived_path"]


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
