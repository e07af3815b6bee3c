"""Where the shards run: in this process, on a local Dask cluster, or on a remote scheduler.

:func:`executor` yields a ``map_unordered(fn, tasks, shared)`` function that calls
``fn(*task, shared)`` for every task and yields the results as they finish; ``shared``
(e.g. a motif database) is sent to every worker once.
"""

from __future__ import annotations

import contextlib
import os
import sys


def default_workers() -> int:
    """The machine's cores (what this process may use)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def executor(workers: int | None = None, scheduler: str | None = None, processes: bool = True,
             announce=print):
    """A context yielding ``map_unordered`` (see the module docstring).

    Parameters
    ----------
    workers : int, optional
        Workers of a local Dask cluster (default :func:`default_workers`); ``1`` runs in
        this process without Dask.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); ``workers`` is then ignored.
    processes : bool
        Local cluster of processes (default) or of threads in this process.
    announce : callable
        Called with the dashboard link (a line of text).

    Raises
    ------
    ValueError
        ``workers < 1``, or no scheduler answers at ``scheduler``.
    """
    if scheduler is None:
        workers = default_workers() if workers is None else int(workers)
        if workers < 1:
            raise ValueError(f"--workers must be at least 1; got {workers}")
        if workers == 1:
            yield lambda fn, tasks, shared: (fn(*task, shared) for task in tasks)
            return
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if scheduler is not None:
            try:
                client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise ValueError(f"no Dask scheduler answered at {scheduler!r} ({exc}); start one (`dask scheduler`) "
                                 f"or leave out --scheduler to run on this machine") from None
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                                   dashboard_address=":0", silence_logs=40)
            client = Client(cluster)
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise ValueError(f"Dask is not installed ({exc}); install it (pip install 'dask[distributed]')") from None
    try:
        if client.dashboard_link:
            announce(f"Dask dashboard: {client.dashboard_link}")

        def map_unordered(fn, tasks, shared):
            shared_future = client.scatter(shared, broadcast=True) if shared is not None else None
            futures = [client.submit(fn, *task, shared_future, pure=False) for task in tasks]
            for future in as_completed(futures):
                yield future.result()
                future.release()

        yield map_unordered
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        sys.stdout.flush()
