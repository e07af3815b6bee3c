"""Which files a served app may read: only under the folders it was configured with."""

from __future__ import annotations

import os
from pathlib import Path

from explorer.io.samples import SAMPLE_DATA

#: environment variable listing extra readable folders (separated by os.pathsep)
DATA_DIRS_ENV = "EXPLORER_DATA_DIRS"


def default_roots() -> list[Path]:
    """``sample_data/`` plus the folders named in ``$EXPLORER_DATA_DIRS``."""
    roots = [SAMPLE_DATA]
    for part in os.environ.get(DATA_DIRS_ENV, "").split(os.pathsep):
        if part.strip():
            roots.append(Path(part.strip()).expanduser())
    return [r.resolve() for r in roots]


def checked_path(path: str | os.PathLike, roots: list[Path], what: str = "file") -> Path:
    """Resolve ``path`` (relative paths against each root, then the working folder) and
    check it lies under one of ``roots``.

    Raises
    ------
    PermissionError
        The file lies outside the configured folders (the message lists them and says how
        to add one).
    FileNotFoundError
        No such file under the allowed folders.
    """
    raw = Path(str(path).strip()).expanduser()
    candidates = [raw] if raw.is_absolute() else [root / raw for root in roots] + [Path.cwd() / raw]
    for candidate in candidates:
        resolved = candidate.resolve()
        if not any(resolved.is_relative_to(root) for root in roots):
            continue
        if resolved.is_file():
            return resolved
    for candidate in candidates:
        resolved = candidate.resolve()
        if resolved.exists() and not any(resolved.is_relative_to(root) for root in roots):
            raise PermissionError(
                f"the {what} {path} lies outside the folders this app may read "
                f"({', '.join(str(r) for r in roots)}); start the app with "
                f"{DATA_DIRS_ENV}=/your/folder to allow another folder"
            )
    raise FileNotFoundError(
        f"no {what} {path!s} under the folders this app may read ({', '.join(str(r) for r in roots)})"
    )
