"""Where the UI runs: in a served/notebook session (work goes to a thread) or a plain script."""

from __future__ import annotations

import asyncio

import panel as pn


def in_session() -> bool:
    """True inside a served or notebook session with a running event loop.

    Then long work runs in a worker thread and the page is updated on the loop. Elsewhere
    (scripts, tests) the views compute synchronously.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return pn.state.curdoc is not None
