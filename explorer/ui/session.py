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


def last_result(function):
    """Wrap a render function so that calls with the same arguments (by identity) share one
    result: several panes bound to one figure (e.g. the overview's two plots and their
    linked streams) then show the same objects."""
    memo = {"args": None, "value": None}

    def wrapper(*args):
        old = memo["args"]
        if old is None or len(old) != len(args) or not all(a is b for a, b in zip(old, args)):
            memo["args"], memo["value"] = args, function(*args)
        return memo["value"]

    wrapper.__doc__, wrapper.__name__ = function.__doc__, function.__name__
    return wrapper
