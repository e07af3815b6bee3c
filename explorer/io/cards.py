"""Model cards kept beside a model file: the corrections a user made, read on the next load.

A card is a plain dict (keys in :mod:`explorer.io.models`). :func:`save_card` writes it as
JSON beside the model, ``<stem>.card.json`` (``model.pt`` -> ``model.card.json``), or, when
that folder cannot be written, in the user's cache (``$EXPLORER_CACHE_DIR/cards/``, keyed by
the model file's resolved path, size and modification time, so an edited file does not
pick up an old card). :func:`read_card` finds either.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from explorer.io.cachefiles import cache_root, derived_path

__all__ = ["card_beside", "cached_card_path", "read_card", "save_card"]


def card_beside(model_path: str | Path) -> Path:
    """``<folder>/<stem>.card.json`` for a model file ``<folder>/<stem>.<ext>``."""
    path = Path(model_path)
    return path.with_name(f"{path.stem}.card.json")


def cached_card_path(model_path: str | Path) -> Path:
    """Where the card of ``model_path`` goes in the cache (path, size and mtime in the key)."""
    return derived_path("cards", model_path, ".card.json")


def read_card(model_path: str | Path) -> tuple[dict, Path | None]:
    """``(card, where)`` of the side-car card of a model file, ``({}, None)`` if there is none.

    The card beside the file wins over one in the cache.

    Raises
    ------
    ValueError
        The card file exists but is not a JSON object (named, with the parser's message).
    """
    for where in (card_beside(model_path), cached_card_path(model_path)):
        if where.is_file():
            try:
                card = json.loads(where.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise ValueError(f"the model card {where.name} could not be read: {exc}; fix or delete it") from None
            if not isinstance(card, dict):
                raise ValueError(f"the model card {where.name} holds a {type(card).__name__}, not a JSON object")
            return card, where
    return {}, None


def save_card(card: dict, model_path: str | Path) -> Path:
    """Write ``card`` as the side-car card of ``model_path``; return where it went.

    Beside the model when that folder is writable, else in the cache. Written atomically.
    """
    text = json.dumps(card, indent=2, sort_keys=True, default=str)
    for where in (card_beside(model_path), cached_card_path(model_path)):
        try:
            where.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=where.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            os.replace(tmp, where)
            return where
        except OSError:
            continue
    raise OSError(f"the model card could not be written beside {Path(model_path).name} nor in the cache "
                  f"{cache_root()}")
