"""The served app's computations: one bounded pool for all sessions, identical jobs shared.

A server process holds one :class:`SharedExecutor` (:func:`shared_executor`) with a fixed
number of worker threads (``$EXPLORER_WORKERS``, default 2), used by every session. A job
is ``work(progress, on_chunk) -> result``, run in a worker thread, under a *key*: when a
job with the same key is queued or running, a new request joins it instead of starting
another (the computation runs once; every waiter gets the result, the progress and the ISM
chunks, those already made included). The keys of the app's attribution and motif jobs
(:func:`attribution_key`, :func:`motif_key`) hold what the on-disk result cache of
:mod:`explorer.attribution.cache` keys on: the model's content hash, the sequence, the
window, the method, the target and the options.

A session that no longer wants a job (a newer request, Cancel, the page closed) *detaches*
its :class:`Ticket`; the job is cancelled only when no waiter is left (removed from the
queue if it has not started, else stopped at its next progress report, which then returns
False).

The executor also *keeps* the results of the last :data:`KEPT_RESULTS` finished jobs by key
(and results offered with :meth:`SharedExecutor.keep`, e.g. those a ``panel serve --warm``
start computed): a request for a kept key is answered at once, with no job, and a page
whose result is kept opens already drawn (:meth:`SharedExecutor.kept`). Results are shared,
never copied: nobody may change them (the app replaces, it does not mutate).

:class:`Debouncer` starts a session's computation after its inputs stopped changing for a
short delay, so a run of widget events starts one job, not one per event.

Queued jobs run in the order of their *priority*, the smallest first: by default the time
they were submitted (first come, first served), and in the app the time the session asked
for its result, which the session's second job (seqlets and motif matches) keeps. So with
eight pages asking at once, the first page gets its map *and* its motifs before the later
pages' maps are computed, instead of every page waiting until every map is done.

Nothing here imports panel: the module is usable and tested without a server.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import hashlib
import heapq
import itertools
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from typing import Any, Callable, Hashable

__all__ = ["SharedExecutor", "Ticket", "Debouncer", "shared_executor", "attribution_key", "motif_key",
           "release_memory", "release_memory_soon", "DEFAULT_WORKERS", "DEBOUNCE_SECONDS", "KEPT_RESULTS",
           "RELEASE_DELAY_SECONDS"]

#: worker threads of the served app when ``$EXPLORER_WORKERS`` is not set
DEFAULT_WORKERS = 2
#: quiet time after the last input change before a computation starts on its own, in seconds
DEBOUNCE_SECONDS = 0.6
#: quiet time after the last page closed before the server collects garbage, in seconds
RELEASE_DELAY_SECONDS = 2.0
#: finished results the server keeps by key (the newest; a few MB at most for 5 kb windows)
KEPT_RESULTS = 16


class Ticket:
    """One waiter's handle on a shared job.

    Attributes
    ----------
    future : concurrent.futures.Future
        Resolves with the job's result (or its exception) for this waiter; cancelled when
        the waiter detaches first.
    joined : bool
        True when the request joined a job already queued or running (nothing new started).
    """

    def __init__(self, job: "_SharedJob", progress: Callable | None, on_chunk: Callable | None, joined: bool):
        self._job = job
        self._progress = progress
        self._on_chunk = on_chunk
        self.joined = joined
        self.future: Future = Future()

    @property
    def fraction(self) -> float:
        """Progress of the job, 0 to 1."""
        return self._job.fraction

    @property
    def attached(self) -> bool:
        return self in self._job.waiters

    def detach(self) -> None:
        """Stop waiting for the job; it is cancelled when no other waiter is left."""
        self._job.executor._detach(self)


class _SharedJob:
    """One computation in the pool and the tickets waiting for it (guarded by the executor's lock)."""

    def __init__(self, executor: "SharedExecutor", key: Hashable):
        self.executor = executor
        self.key = key
        self.waiters: list[Ticket] = []
        self.chunks: list[tuple] = []
        self.fraction = 0.0
        self.cancelled = False
        self.started = False
        #: the job's own outcome (set by the worker that runs it; cancelled while queued)
        self.outcome: Future = Future()
        #: queue order: the smallest runs first (see :meth:`SharedExecutor.submit`)
        self.priority = 0.0
        self.work: Callable | None = None
        #: submitted under a key (None: a private job, never kept)
        self.shared = True

    # -- called in the worker thread -------------------------------------------------------
    def progress(self, fraction: float) -> bool:
        """Record ``fraction`` and pass it on; False (stop) once no waiter is left."""
        with self.executor._lock:
            self.fraction = float(fraction)
            waiters = list(self.waiters)
        for ticket in waiters:
            if ticket._progress is not None and ticket._progress(fraction) is False:
                ticket.detach()  # that waiter moved on; the others still want the job
        return not self.cancelled

    def on_chunk(self, *chunk) -> None:
        """Keep an ISM chunk (for late joiners) and pass it on."""
        with self.executor._lock:
            self.chunks.append(chunk)
            waiters = list(self.waiters)
        for ticket in waiters:
            if ticket._on_chunk is not None:
                ticket._on_chunk(*chunk)

    def run(self) -> Any:
        return self.work(self.progress, self.on_chunk)

    def finished(self, outcome: Future) -> None:
        with self.executor._lock:
            if self.executor._jobs.get(self.key) is self:
                del self.executor._jobs[self.key]
            # a job that ran to its end made the right result, even if its waiters left meanwhile
            if self.shared and not outcome.cancelled() and outcome.exception() is None:
                self.executor._keep(self.key, outcome.result())
            waiters, self.waiters = list(self.waiters), []
        for ticket in waiters:
            try:
                if outcome.cancelled():
                    ticket.future.cancel()
                elif outcome.exception() is not None:
                    ticket.future.set_exception(outcome.exception())
                else:
                    ticket.future.set_result(outcome.result())
            except InvalidStateError:  # the waiter cancelled its future meanwhile
                pass


class SharedExecutor:
    """A bounded pool of worker threads whose jobs are shared by key.

    Parameters
    ----------
    max_workers : int
        Jobs run at once; the rest wait in the queue, the smallest priority first.
    keep : int
        Finished results kept by key (the newest ``keep``; 0 keeps none).
    """

    def __init__(self, max_workers: int = DEFAULT_WORKERS, keep: int = KEPT_RESULTS):
        if int(max_workers) < 1:
            raise ValueError(f"max_workers must be at least 1; got {max_workers}")
        if int(keep) < 0:
            raise ValueError(f"keep must be 0 or more results; got {keep}")
        self.max_workers = int(max_workers)
        self.keep_at_most = int(keep)
        self._kept: OrderedDict[Hashable, Any] = OrderedDict()
        self.pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="explorer-job")
        self._lock = threading.RLock()
        self._jobs: dict[Hashable, _SharedJob] = {}
        #: queued jobs as (priority, order of arrival, job); an entry whose priority is no
        #: longer its job's (a joiner moved the job up) is stale and skipped
        self._queue: list[tuple[float, int, _SharedJob]] = []
        self._arrivals = itertools.count()
        #: jobs started (not joined) since the executor was made
        self.started = 0

    def submit(self, key: Hashable | None, work: Callable[[Callable, Callable], Any], *,
               progress: Callable[[float], Any] | None = None, on_chunk: Callable | None = None,
               priority: float | None = None) -> Ticket:
        """Run ``work(progress, on_chunk)`` in the pool, or join the job queued or running under ``key``.

        Parameters
        ----------
        key : hashable or None
            Jobs with equal keys compute the same thing; None: never shared.
        work : callable
            ``work(progress, on_chunk) -> result``, called in a worker thread. It should
            call ``progress(fraction)`` now and then and stop (e.g. raise
            :class:`explorer.Cancelled`) when it returns False.
        progress : callable, optional
            This waiter's ``progress(fraction)``; returning False detaches it.
        on_chunk : callable, optional
            This waiter's ``on_chunk(*chunk)``; on joining, it first receives the chunks
            already made.
        priority : float, optional
            Queue order, the smallest first (a :func:`time.monotonic` reading, e.g. when the
            user asked); default: now. Joining a queued job with a smaller priority moves
            the job up.

        Returns
        -------
        Ticket
            Already resolved (``joined`` True, nothing started) when the result of ``key`` is
            kept.
        """
        with self._lock:
            if key is not None and key in self._kept:
                done = _SharedJob(self, key)
                done.fraction, done.shared = 1.0, False
                ticket = Ticket(done, progress, on_chunk, joined=True)
                ticket.future.set_result(self.kept(key))
                return ticket
            job = self._jobs.get(key) if key is not None else None
            joined = job is not None
            if job is None:
                job = _SharedJob(self, key if key is not None else object())
                job.shared = key is not None
                self._jobs[job.key] = job
            ticket = Ticket(job, progress, on_chunk, joined)
            job.waiters.append(ticket)
            if on_chunk is not None:
                for chunk in job.chunks:
                    on_chunk(*chunk)
            priority = time.monotonic() if priority is None else float(priority)
            if not joined:
                self.started += 1
                job.work, job.priority = work, priority
                job.outcome.add_done_callback(job.finished)
                heapq.heappush(self._queue, (priority, next(self._arrivals), job))
                self.pool.submit(self._run_next)  # one turn of a worker for each job queued
            elif not job.started and priority < job.priority:
                job.priority = priority
                heapq.heappush(self._queue, (priority, next(self._arrivals), job))
        return ticket

    def _run_next(self) -> None:
        """A worker's turn: run the queued job of the smallest priority (none left: return)."""
        with self._lock:
            while self._queue:
                priority, _, job = heapq.heappop(self._queue)
                if not (job.started or job.cancelled or priority != job.priority):
                    job.started = True
                    break
            else:
                return
        if not job.outcome.set_running_or_notify_cancel():
            return
        try:
            result = job.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiters
            job.outcome.set_exception(exc)
        else:
            job.outcome.set_result(result)
        finally:
            job.work = None

    def _detach(self, ticket: Ticket) -> None:
        job = ticket._job
        with self._lock:
            if ticket in job.waiters:
                job.waiters.remove(ticket)
            ticket.future.cancel()
            if job.waiters or job.cancelled:
                return
            job.cancelled = True
            if self._jobs.get(job.key) is job:  # a new request for the key starts afresh
                del self._jobs[job.key]
        job.outcome.cancel()  # only takes effect while the job is still queued

    def kept(self, key: Hashable) -> Any | None:
        """The kept result of ``key`` (made the newest), or None."""
        with self._lock:
            if key is None or key not in self._kept:
                return None
            self._kept.move_to_end(key)
            return self._kept[key]

    def keep(self, key: Hashable, result: Any) -> None:
        """Keep ``result`` under ``key`` as if a job had made it (a result computed outside
        the pool, e.g. by the blocking run of a ``panel serve --warm`` start)."""
        if key is None or result is None:
            return
        with self._lock:
            self._keep(key, result)

    def _keep(self, key: Hashable, result: Any) -> None:  # called with the lock held
        if self.keep_at_most == 0:
            return
        self._kept[key] = result
        self._kept.move_to_end(key)
        while len(self._kept) > self.keep_at_most:
            self._kept.popitem(last=False)

    def forget(self) -> None:
        """Drop every kept result (jobs in flight go on)."""
        with self._lock:
            self._kept.clear()

    def in_flight(self) -> int:
        """Jobs queued or running that someone waits for."""
        with self._lock:
            return len(self._jobs)

    def waiters(self, key: Hashable) -> int:
        """How many tickets wait for the job under ``key`` (0: none in flight)."""
        with self._lock:
            job = self._jobs.get(key)
            return len(job.waiters) if job is not None else 0

    def shutdown(self, wait: bool = True) -> None:
        """Stop the workers; queued jobs are cancelled (their waiters' futures too)."""
        with self._lock:
            queued, self._queue = [job for _, _, job in self._queue], []
        for job in queued:
            job.outcome.cancel()
        self.pool.shutdown(wait=wait, cancel_futures=True)


_EXECUTOR: SharedExecutor | None = None
_EXECUTOR_LOCK = threading.Lock()


def workers_setting() -> int:
    """Worker threads from ``$EXPLORER_WORKERS`` (default :data:`DEFAULT_WORKERS`)."""
    text = os.environ.get("EXPLORER_WORKERS", "").strip()
    if not text:
        return DEFAULT_WORKERS
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"EXPLORER_WORKERS must be a whole number of worker threads, like 2; got {text!r}") from None
    if value < 1:
        raise ValueError(f"EXPLORER_WORKERS must be at least 1; got {value}")
    return value


def shared_executor() -> SharedExecutor:
    """The process's executor (made on first use, with :func:`workers_setting` workers)."""
    global _EXECUTOR
    with _EXECUTOR_LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = SharedExecutor(workers_setting())
        return _EXECUTOR


def _model_id(model) -> Hashable:
    """The model's content hash; a model without one is shared only with itself."""
    content_hash = getattr(model, "content_hash", None)
    return content_hash() if callable(content_hash) else ("object", id(model))


def _sequence_id(locus) -> tuple:
    return (str(locus.region), hashlib.sha256(locus.sequence.encode()).hexdigest())


def attribution_key(model, window, method: str, task, options: dict) -> tuple:
    """Key of an attribution job: model content, window and its sequence, method, target, options."""
    return ("attribution", _model_id(model), _sequence_id(window), method, task,
            tuple(sorted((k, repr(v)) for k, v in options.items())))


def motif_key(attribution_job_key: tuple, database: tuple, null: str, threshold: float) -> tuple:
    """Key of a motif job: the attribution's key, the motif database chosen, the seqlet settings."""
    return ("motifs", attribution_job_key, tuple(database), null, float(threshold))


class Debouncer:
    """Call ``action()`` on the event loop once requests stopped coming for ``delay`` seconds.

    Each :meth:`request` restarts the delay, so a burst of input changes gives one call, with
    the inputs as they are at the end of the burst.
    """

    def __init__(self, action: Callable[[], Any], delay: float = DEBOUNCE_SECONDS):
        self.action = action
        self.delay = float(delay)
        self._handle: asyncio.TimerHandle | None = None

    @property
    def pending(self) -> bool:
        return self._handle is not None

    def request(self) -> None:
        """(Re)start the delay; must be called on a running event loop."""
        self.cancel()
        self._handle = asyncio.get_running_loop().call_later(self.delay, self._fire)

    def cancel(self) -> None:
        """Forget a pending call."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self.action()


def release_memory() -> None:
    """Collect garbage and give freed heap pages back to the system (glibc ``malloc_trim``),
    so the server's RSS falls after sessions close; a no-op where glibc is absent."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


_RELEASE: Debouncer | None = None


def release_memory_soon(delay: float = RELEASE_DELAY_SECONDS) -> None:
    """:func:`release_memory` once pages stopped closing for ``delay`` seconds (at once when no
    event loop runs: a script, a test).

    A full collection takes the server's event loop for up to a second while many sessions
    are open; eight pages closing together then pay it once, not eight times over.
    """
    global _RELEASE
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        release_memory()
        return
    if _RELEASE is None:
        _RELEASE = Debouncer(lambda: release_memory())  # looked up when called
    _RELEASE.delay = float(delay)
    _RELEASE.request()
