"""The shared executor of the served app (explorer.ui.jobs): bounded, shared, cancellable, debounced."""

import asyncio
import threading
import time

import pytest
import torch

import explorer as ex
from explorer.ui import jobs
from explorer.ui.jobs import Debouncer, SharedExecutor, attribution_key, motif_key

WAIT = 10  # seconds: a generous bound for events that take milliseconds


class Gate:
    """A job that waits until released, reporting progress while it waits; records its calls."""

    def __init__(self, result="done"):
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self.stopped = False
        self.result = result

    def __call__(self, progress, on_chunk):
        self.calls += 1
        self.started.set()
        on_chunk(0, 10, "first chunk")
        while not self.release.wait(0.01):
            if progress(0.5) is False:
                self.stopped = True
                raise ex.Cancelled("stopped")
        on_chunk(10, 20, "second chunk")
        return self.result


@pytest.fixture
def executor():
    pool = SharedExecutor(max_workers=2)
    yield pool
    pool.shutdown(wait=False)


def run_coroutine(coroutine):
    """``asyncio.run(coroutine)`` in a thread of its own: the browser tests (Playwright's sync
    API) leave an event loop running in the main thread, where ``asyncio.run`` refuses to start."""
    out = {}

    def target():
        try:
            out["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


def test_identical_jobs_run_once_and_every_waiter_gets_progress_chunks_and_result(executor):
    work = Gate()
    seen_a, seen_b, fractions_b = [], [], []
    a = executor.submit("k", work, on_chunk=lambda *c: seen_a.append(c))
    assert work.started.wait(WAIT)
    b = executor.submit("k", Gate(), on_chunk=lambda *c: seen_b.append(c), progress=fractions_b.append)
    assert b.joined and not a.joined and executor.waiters("k") == 2
    deadline = time.time() + WAIT
    while not fractions_b and time.time() < deadline:  # the joiner hears the job's progress
        time.sleep(0.01)
    work.release.set()
    assert a.future.result(WAIT) == "done" and b.future.result(WAIT) == "done"
    assert work.calls == 1 and executor.started == 1
    # the late joiner received the chunk made before it came, then the later one
    assert seen_a == seen_b == [(0, 10, "first chunk"), (10, 20, "second chunk")]
    assert fractions_b and all(f == 0.5 for f in fractions_b) and b.fraction == 0.5
    assert executor.in_flight() == 0
    # once finished, the same key is answered by the kept result; forgotten, it starts a new job
    again = Gate()
    again.release.set()
    assert executor.submit("k", again).future.result(WAIT) == "done" and again.calls == 0
    executor.forget()
    assert executor.submit("k", again).future.result(WAIT) == "done" and again.calls == 1


def test_a_detached_waiter_leaves_the_job_running_for_the_others(executor):
    work = Gate()
    a = executor.submit("k", work)
    b = executor.submit("k", work)
    assert work.started.wait(WAIT)
    a.detach()
    assert a.future.cancelled() and not b.future.done() and executor.waiters("k") == 1
    work.release.set()
    assert b.future.result(WAIT) == "done" and not work.stopped


def test_the_job_stops_when_its_last_waiter_detaches(executor):
    work = Gate()
    a = executor.submit("k", work)
    assert work.started.wait(WAIT)
    a.detach()
    deadline = time.time() + WAIT
    while not work.stopped and time.time() < deadline:
        time.sleep(0.01)
    assert work.stopped and executor.in_flight() == 0
    # a new request for that key does not join the dying job: it starts another
    fresh = Gate()
    fresh.release.set()
    assert not executor.submit("k", fresh).joined


def test_a_waiter_whose_progress_says_stop_is_detached(executor):
    work = Gate()
    a = executor.submit("k", work, progress=lambda f: False)
    assert work.started.wait(WAIT)
    deadline = time.time() + WAIT
    while not work.stopped and time.time() < deadline:
        time.sleep(0.01)
    assert work.stopped and a.future.cancelled()


def test_the_pool_is_bounded_and_a_queued_job_nobody_wants_never_runs(executor):
    running = [Gate(), Gate()]
    tickets = [executor.submit(f"busy {i}", g) for i, g in enumerate(running)]
    assert all(g.started.wait(WAIT) for g in running)
    queued = Gate()
    ticket = executor.submit("queued", queued)
    time.sleep(0.1)
    assert not queued.started.is_set()  # both workers are busy: it waits in the queue
    ticket.detach()
    for g in running:
        g.release.set()
    assert [t.future.result(WAIT) for t in tickets] == ["done", "done"]
    executor.pool.submit(lambda: None).result(WAIT)  # the queue has drained
    assert queued.calls == 0 and executor.in_flight() == 0


def test_errors_reach_every_waiter_and_keys_none_are_never_shared(executor):
    def fail(progress, on_chunk):
        raise ValueError("the model returned NaN")

    gate = Gate()
    a = executor.submit(None, gate)
    b = executor.submit(None, fail)
    assert not b.joined
    with pytest.raises(ValueError, match="NaN"):
        b.future.result(WAIT)
    gate.release.set()
    assert a.future.result(WAIT) == "done"


def test_workers_setting(monkeypatch):
    monkeypatch.delenv("EXPLORER_WORKERS", raising=False)
    assert jobs.workers_setting() == jobs.DEFAULT_WORKERS
    monkeypatch.setenv("EXPLORER_WORKERS", "3")
    assert jobs.workers_setting() == 3
    for bad, words in (("two", "whole number"), ("0", "at least 1")):
        monkeypatch.setenv("EXPLORER_WORKERS", bad)
        with pytest.raises(ValueError, match=words):
            jobs.workers_setting()
    with pytest.raises(ValueError, match="at least 1"):
        SharedExecutor(0)


def test_keys_follow_model_content_sequence_method_target_and_options():
    model = ex.load_sample_model()
    locus = ex.load_sample_locus()
    w1, w2 = locus.subregion(locus.start + 100, locus.start + 600), locus.subregion(locus.start + 101, locus.start + 601)
    key = attribution_key(model, w1, "ig", "CTCF", {"n_steps": 32, "baseline": "shuffle"})
    # the same content loaded again (another session) gives the same key; option order does not matter
    assert key == attribution_key(ex.load_sample_model(), w1, "ig", "CTCF", {"baseline": "shuffle", "n_steps": 32})
    others = [attribution_key(model, w2, "ig", "CTCF", {"n_steps": 32, "baseline": "shuffle"}),
              attribution_key(model, w1, "ism", "CTCF", {"n_steps": 32, "baseline": "shuffle"}),
              attribution_key(model, w1, "ig", "SPI1", {"n_steps": 32, "baseline": "shuffle"}),
              attribution_key(model, w1, "ig", "CTCF", {"n_steps": 64, "baseline": "shuffle"})]
    assert len({key, *others}) == 5
    plain = torch.nn.Conv1d(4, 1, 3)  # no content hash: shared with itself only
    assert attribution_key(plain, w1, "ig", None, {}) != attribution_key(torch.nn.Conv1d(4, 1, 3), w1, "ig", None, {})
    db = ("JASPAR2024", "CORE", "vertebrates", "")
    assert motif_key(key, db, "map", 0.01) != motif_key(key, db, "map", 0.05)
    assert motif_key(key, db, "map", 0.01) == motif_key(key, list(db), "map", 0.01)


def test_debouncer_calls_once_after_the_changes_stop():
    calls = []

    async def scenario():
        debounce = Debouncer(lambda: calls.append(time.perf_counter()), delay=0.3)
        for _ in range(10):  # a burst of widget events (the loop runs between them)
            debounce.request()
            await asyncio.sleep(0)
        last = time.perf_counter()
        assert debounce.pending and not calls
        await asyncio.sleep(1.0)
        debounce.request()
        debounce.cancel()  # e.g. Compute was pressed: the pending call is dropped
        await asyncio.sleep(0.6)
        return last

    last = run_coroutine(scenario())
    assert len(calls) == 1 and calls[0] - last >= 0.25  # one call, a delay after the last of the burst


# -- the app's hook: sessions share jobs, input changes are debounced, a closed page lets go ------------

@pytest.fixture
def app_pool(monkeypatch):
    pool = SharedExecutor(max_workers=2)
    monkeypatch.setattr(jobs, "_EXECUTOR", pool)
    yield pool
    pool.shutdown(wait=False)


def test_two_sessions_asking_the_same_share_one_computation(app_pool, monkeypatch):
    from explorer.ui.app import Explorer

    calls = []
    attribute = ex.attribute
    monkeypatch.setattr(ex, "attribute", lambda *a, **k: calls.append(a[2:3]) or attribute(*a, **k))
    sessions = [Explorer(autorun=False), Explorer(autorun=False)]
    for e in sessions:
        e.state.method = "saliency"

    async def both():
        await asyncio.gather(*(e._run_async() for e in sessions))

    run_coroutine(both())
    a, b = (e.state for e in sessions)
    assert len(calls) == 1 and app_pool.started == 2  # one attribution job and one motif job, not two each
    assert a.attribution is b.attribution and a.attribution is not None
    assert a.motifs is b.motifs and a.motifs is not None
    assert a.message.startswith("Done:") and b.message.startswith("Done:"), (a.message, b.message)
    # each session holds the result under its own key (its own model object), so it restores it
    assert a.cached("saliency") and b.cached("saliency")

    sessions[0].release()  # the page closed: the session lets go of everything it held
    assert a.attribution is None and a.model is None and not a._results and not sessions[0]._tickets


def test_input_changes_start_one_computation_after_they_stop(monkeypatch):
    import explorer.ui.app as app_module

    explorer = app_module.Explorer(autorun=False)
    explorer._autorun = True  # (autorun=True would compute at once outside a server)
    runs = []
    monkeypatch.setattr(explorer, "run", lambda method=None: runs.append(explorer.state.method))
    explorer._debounce.delay = 0.3
    monkeypatch.setattr(app_module, "in_session", lambda: True)

    async def burst():
        for method in ("saliency", "ism", "ig", "saliency"):  # four widget events in a row
            explorer.state.method = method
            await asyncio.sleep(0)
        assert not runs
        await asyncio.sleep(1.0)

    run_coroutine(burst())
    assert runs == ["saliency"]


# -- kept results: a page whose result the server holds opens drawn -------------------------------

def test_finished_results_are_kept_by_key_and_answer_at_once(executor):
    gate = Gate(result="map")
    gate.release.set()
    assert executor.submit(("k", 1), gate).future.result(timeout=WAIT) == "map"
    again = executor.submit(("k", 1), gate)
    assert again.future.done() and again.future.result() == "map" and again.joined
    assert gate.calls == 1 and executor.started == 1 and executor.in_flight() == 0
    again.detach()  # harmless on a kept answer
    assert executor.kept(("k", 1)) == "map"


def test_failed_and_private_jobs_are_not_kept_and_the_oldest_goes_first():
    pool = SharedExecutor(max_workers=1, keep=2)
    try:
        def boom(progress, on_chunk):
            raise ValueError("bad input")

        with pytest.raises(ValueError):
            pool.submit("bad", boom).future.result(timeout=WAIT)
        assert pool.kept("bad") is None
        pool.submit(None, lambda p, c: "private").future.result(timeout=WAIT)
        assert not pool._kept
        for key in ("a", "b", "c"):
            pool.submit(key, lambda p, c, key=key: key.upper()).future.result(timeout=WAIT)
        assert pool.kept("a") is None and pool.kept("b") == "B" and pool.kept("c") == "C"
        pool.keep("d", "D")  # offered from outside the pool (a --warm start's blocking run)
        assert pool.kept("b") is None and pool.kept("d") == "D"
        pool.forget()
        assert pool.kept("d") is None
    finally:
        pool.shutdown(wait=False)
    with pytest.raises(ValueError, match="keep must be 0 or more"):
        SharedExecutor(1, keep=-1)


def test_a_new_session_opens_on_the_kept_result_without_a_job(app_pool, monkeypatch):
    from explorer.ui.app import Explorer

    first = Explorer(autorun=False)
    first.state.method = "saliency"
    run_coroutine(first._run_async())
    assert first.state.attribution is not None and app_pool.started == 2
    calls = []
    monkeypatch.setattr(ex, "attribute", lambda *a, **k: calls.append(a) or pytest.fail("computed again"))
    second = Explorer(autorun=False)
    second.state.method = "saliency"
    assert second.show_kept() is True  # what autorun does at construction
    s = second.state
    assert s.attribution is first.state.attribution and s.motifs is first.state.motifs
    assert s.message.startswith("Done:") and "computed earlier on this server" in s.message
    assert not s.busy and not calls and app_pool.started == 2
    assert s.cached("saliency") and "Saliency" in s.diagnostics
    # a window nothing was computed on: not kept, the normal run goes on
    s.region = "HUMHBB:40,001-41,000"
    assert s.attribution is None and second.show_kept() is False


def test_a_blocking_run_offers_its_results_to_the_pool(app_pool):
    from explorer.ui.app import Explorer

    first = Explorer(autorun=False)
    first.state.method = "saliency"
    first.run()  # no session: computed here (as the app run of `panel serve --warm` does)
    assert first.state.motifs is not None and app_pool.started == 0
    att_key, mot_key = first._shared_keys()
    assert app_pool.kept(att_key).attribution is first.state.attribution
    assert app_pool.kept(mot_key).motifs is first.state.motifs


def test_queued_jobs_run_smallest_priority_first_and_a_joiner_moves_a_job_up():
    """Eight pages at once: a page's second job (its motifs, queued with the time the page
    asked) runs before maps that later pages asked for, not after all of them."""
    pool = SharedExecutor(max_workers=1)
    try:
        blocker = Gate()
        first = pool.submit("blocker", blocker)
        assert blocker.started.wait(WAIT)
        order: list[str] = []

        def job(name):
            def work(progress, on_chunk):
                order.append(name)
                return name
            return work

        # a later page's map, then an earlier page's motifs, then a job joined from earlier still
        tickets = [pool.submit("page 2 map", job("page 2 map"), priority=20.0),
                   pool.submit("page 1 motifs", job("page 1 motifs"), priority=10.0),
                   pool.submit("page 3 map", job("page 3 map"), priority=30.0),
                   pool.submit(None, job("default: now"))]
        joined = pool.submit("page 3 map", job("never run"), priority=5.0)
        assert joined.joined
        blocker.release.set()
        assert first.future.result(WAIT) == "done"
        assert [t.future.result(WAIT) for t in tickets] == ["page 2 map", "page 1 motifs", "page 3 map",
                                                            "default: now"]
        assert joined.future.result(WAIT) == "page 3 map"
        # priorities 5 (moved up), 10, 20; the default (the monotonic clock now) comes last
        assert order == ["page 3 map", "page 1 motifs", "page 2 map", "default: now"]
        assert pool.in_flight() == 0
    finally:
        pool.shutdown(wait=False)


def test_shutdown_cancels_what_is_still_queued():
    pool = SharedExecutor(max_workers=1)
    blocker = Gate()
    running = pool.submit("blocker", blocker)
    assert blocker.started.wait(WAIT)
    queued = pool.submit("queued", Gate())
    pool.shutdown(wait=False)
    assert queued.future.cancelled()
    blocker.release.set()
    assert running.future.result(WAIT) == "done"


def test_pages_closing_together_release_memory_once(monkeypatch):
    calls = []
    monkeypatch.setattr(jobs, "release_memory", lambda: calls.append(time.perf_counter()))

    async def eight_pages_close():
        for _ in range(8):
            jobs.release_memory_soon(delay=0.5)
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.5)

    run_coroutine(eight_pages_close())
    assert len(calls) == 1
    # no event loop (a thread of its own: the browser tests leave one running in this one): at once
    thread = threading.Thread(target=jobs.release_memory_soon)
    thread.start()
    thread.join()
    assert len(calls) == 2


@pytest.mark.parametrize("motif_seconds, draws", [(0.0, [True]), (1.6, [False, True])])
def test_the_map_is_drawn_with_its_motifs_in_one_update_unless_they_are_slow(app_pool, monkeypatch,
                                                                             motif_seconds, draws):
    """Each update of the attribution redraws the tracks (server and browser): a map whose
    motifs follow within MOTIFS_WAIT_SECONDS is drawn once, with them; slower motifs come after."""
    import explorer.ui.app as app_module
    from explorer.ui.state import ExplorerState

    monkeypatch.setattr(app_module, "MOTIFS_WAIT_SECONDS", 0.8)
    run_motifs = ExplorerState.run_motifs
    monkeypatch.setattr(ExplorerState, "run_motifs",
                        lambda self, job: time.sleep(motif_seconds) or run_motifs(self, job))
    explorer = app_module.Explorer(autorun=False)
    s = explorer.state
    s.method = "saliency"
    updates = []  # for each update of the shown map: did its motifs come with it?
    s.param.watch(lambda event: updates.append(s.motifs is not None) if event.new is not None else None,
                  "attribution")
    run_coroutine(explorer._run_async())
    assert s.attribution is not None and s.motifs is not None and s.message.startswith("Done:")
    assert updates == draws
