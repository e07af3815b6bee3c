"""Which files a served app may read: only under the folders it was configured with."""

from __future__ import annotations

import os
import re
from pathlib import Path

from explorer.io.samples import SAMPLE_DATA

#: environment variable listing extra readable folders (separated by os.pathsep)
DATA_DIRS_ENV = "EXPLORER_DATA_DIRS"


#: set to 1/true/yes by the server's operator to let visitors open full pickles they trust
PICKLES_ENV = "EXPLORER_ALLOW_PICKLES"


def pickles_allowed() -> bool:
    """Whether the operator allowed full pickles (``$EXPLORER_ALLOW_PICKLES``; off by default).

    A full pickle can run code on the server when it is read, so in a served app only the
    operator (who starts the server) can allow it, never a visitor.
    """
    return os.environ.get(PICKLES_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def default_roots() -> list[Path]:
    """``sample_data/`` plus the folders named in ``$EXPLORER_DATA_DIRS``."""
    roots = [SAMPLE_DATA]
    for part in os.environ.get(DATA_DIRS_ENV, "").split(os.pathsep):
        if part.strip():
            roots.append(Path(part.strip()).expanduser())
    return [r.resolve() for r in roots]


#: the most files a model folder may hold for :func:`checked_path` to check each of them
MAX_FOLDER_FILES = 2000


def checked_path(path: str | os.PathLike, roots: list[Path], what: str = "file", *, folders: bool = False) -> Path:
    """Resolve ``path`` (relative paths against each root, then the working folder) and
    check it lies under one of ``roots``.

    ``folders=True`` also accepts a folder (an Enformer/Borzoi or Hugging Face model folder):
    the folder and every file in it (its sub-folders too) must resolve under the roots, so a
    link inside the folder to a file elsewhere on the server is refused like a link to it;
    files there with other hard links are refused too. A file is still accepted.

    Links are followed before the check (a symbolic link out of the folders is outside), a
    file with other hard links is refused (one could be a link to any file on the server),
    and the message is the same whether or not a path outside exists, so a visitor learns
    nothing about the server's other files.

    Raises
    ------
    PermissionError
        The path is outside the configured folders, or is hard-linked (the message lists the
        folders and says how to add one).
    FileNotFoundError
        No such file under the allowed folders.
    IsADirectoryError
        The path is a folder under the allowed folders (unless ``folders=True``).
    """
    raw = Path(str(path).strip()).expanduser()
    candidates = [raw] if raw.is_absolute() else [root / raw for root in roots] + [Path.cwd() / raw]
    inside = [c.resolve() for c in candidates if any(c.resolve().is_relative_to(root) for root in roots)]
    for resolved in inside:
        if resolved.is_file():
            if resolved.stat().st_nlink > 1:
                raise PermissionError(
                    f"the {what} {path} has other hard links, so this app does not read it (a hard link can "
                    f"point at any file on the server); copy the file instead, or upload it in the sidebar")
            return resolved
    folder = next((r for r in inside if r.is_dir()), None) if str(path).strip() else None
    if folder is not None and folders:
        return _checked_folder(folder, path, roots, what)
    if folder is not None:
        raise IsADirectoryError(f"the {what} {path} is a folder, not a file; choose a file inside it")
    folders = ", ".join(str(r) for r in roots)
    if not inside:
        raise PermissionError(
            f"the {what} {path} is not under the folders this app may read ({folders}); start the app "
            f"with {DATA_DIRS_ENV}=/your/folder to allow another folder, or upload the file in the sidebar")
    raise FileNotFoundError(f"no {what} {path!s} under the folders this app may read ({folders}); upload it "
                            f"in the sidebar")


def _checked_folder(folder: Path, path, roots: list[Path], what: str) -> Path:
    """``folder`` (resolved, under a root) when every file in it resolves under the roots too."""
    seen = 0
    for entry in sorted(folder.rglob("*")):
        seen += 1
        if seen > MAX_FOLDER_FILES:
            raise PermissionError(f"the {what} {path} holds more than {MAX_FOLDER_FILES:,} files; this app opens "
                                  f"model folders with fewer (the weights, config.json and a targets table)")
        real = entry.resolve()
        if not any(real.is_relative_to(root) for root in roots):
            raise PermissionError(
                f"the {what} {path} holds {entry.relative_to(folder)}, a link out of the folders this app may read, "
                f"so this app does not open the folder; copy the linked file into it instead")
        if real.is_file() and real.stat().st_nlink > 1:
            raise PermissionError(
                f"the {what} {path} holds {entry.relative_to(folder)}, which has other hard links, so this app does "
                f"not open the folder (a hard link can point at any file on the server); copy the file instead")
    return folder


#: the largest file accepted per kind of upload, in bytes (an ExplorerState's
#: ``upload_limits`` overrides them; $EXPLORER_UPLOAD_LIMITS_MB, e.g. ``model=500,locus=200``,
#: overrides them for a server)
UPLOAD_LIMITS = {"model": 200 * 2**20, "locus": 100 * 2**20, "meme": 20 * 2**20, "measured": 50 * 2**20}
UPLOAD_LIMITS_ENV = "EXPLORER_UPLOAD_LIMITS_MB"
#: what each kind of upload is called in messages
UPLOAD_WHAT = {"model": "model file", "locus": "locus file", "meme": "MEME motif file",
               "measured": "measured-effects table"}


def upload_limits() -> dict[str, int]:
    """:data:`UPLOAD_LIMITS`, with the megabytes given in ``$EXPLORER_UPLOAD_LIMITS_MB``."""
    limits = dict(UPLOAD_LIMITS)
    for part in os.environ.get(UPLOAD_LIMITS_ENV, "").split(","):
        kind, _, mb = part.partition("=")
        if kind.strip() in limits and mb.strip():
            try:
                limits[kind.strip()] = int(float(mb) * 2**20)
            except ValueError:
                pass
    return limits


def safe_name(name: str) -> str:
    """A file name safe to write: no folders, only letters, digits, ``.``, ``-`` and ``_``
    (others become ``_``), no leading dot, at most 120 characters; ``upload`` if nothing is left."""
    base = str(name or "").replace("\\", "/").split("/")[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip("._")
    cleaned = re.sub(r"\.{2,}", ".", cleaned)
    if len(cleaned) > 120:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (stem[: 110] + dot + ext[:9]) if dot and len(ext) <= 9 else cleaned[:120]
    return cleaned or "upload"


def size_words(n: int) -> str:
    """``n`` bytes in words (``"12.3 MB"``)."""
    if n >= 2**20:
        return f"{n / 2**20:.1f} MB"
    if n >= 2**10:
        return f"{n / 2**10:.0f} kB"
    return f"{n} bytes"


def write_upload(folder: Path, name: str, data: bytes, limit: int, what: str = "file") -> Path:
    """Write an uploaded file into ``folder`` under a safe name, after checking its size.

    Raises
    ------
    ValueError
        Empty, or larger than ``limit`` bytes (nothing is written then).
    """
    size = len(data or b"")
    if size == 0:
        raise ValueError(f"the {what} {safe_name(name)} is empty")
    if size > limit:
        raise ValueError(f"the {what} {safe_name(name)} is {size_words(size)}; this app accepts {what}s of "
                         f"at most {size_words(limit)}. Ask whoever runs the app to raise the limit "
                         f"({UPLOAD_LIMITS_ENV}), or put the file in a data folder of the server")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / safe_name(name)
    path.write_bytes(data)
    return path
