"""Eight users at once: the served app under load (marker ``load``; ``make load``, not in the default run).

Serves ``app.py`` as ``make demo`` does, warms it with one session, then times each of eight
different computations (region, task, method) in a session alone, one after another, and
then eight equivalent ones (same task and method, the window moved by 500 bp so nothing is
served from the cache) in eight Chromium sessions at once. The server's RSS (psutil) is
read before, sampled through the busy phase (peak) and read again after the sessions
closed. The CPU time of each phase is read too, the server's (psutil) and the whole
machine's (the browsers run on the same cores): the machine's busy core-seconds over its
cores are the shortest wall time the phase could have taken. From them comes
``ratio_floor_for_the_last_session``: the eight computations differ, so doing them at once
needs at least the core-seconds they took one after another, and the session that finishes
last cannot finish before those core-seconds over the cores; over the longest time alone, that
is the smallest ratio any scheduling could give it. The report goes to
``test-artifacts/load.json`` and is printed.

Asserted: no session saw an error, and the RSS after closing is within 20 % of the warm
baseline. Times are measurements, reported only (the machine may be busy): the goal is every
session within 3x of the same computation alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import CHROMIUM, CHROMIUM_ARGS, served_app

pytestmark = pytest.mark.load

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = 8
#: (first base of the 2 kb window, 1-based; task; method): all different, none the default view
CONFIGS = [
    (10_001, "CTCF", "ism"), (14_001, "SPI1", "ism"), (20_001, "SPI1", "ig"), (24_001, "CTCF", "ig"),
    (34_001, "CTCF", "saliency"), (44_001, "SPI1", "saliency"), (50_001, "CTCF", "deeplift_shap"),
    (56_001, "SPI1", "deeplift_shap"),
]
LABELS = {"ig": "Integrated gradients", "ism": "ISM (in-silico mutagenesis)", "deeplift_shap": "DeepLIFT/SHAP",
          "saliency": "Saliency (gradient x input)"}
SHIFT = 500  # bp: the concurrent sessions' windows, moved from those timed alone
WINDOW = 2000
SESSION_TIMEOUT = 600  # s: a session that has no result by then counts as an error
RSS_TOLERANCE = 0.20
SESSION_LINGER = 10  # s: a session with no page connected is destroyed after this


def _region(first: int) -> str:
    return f"HUMHBB:{first:,}-{first + WINDOW - 1:,}"


def _url(base: str, first: int, task: str, method: str) -> str:
    return base + "?" + urllib.parse.urlencode({"region": _region(first), "task": task, "method": method})


class RssSampler:
    """The server's resident memory, sampled every 0.2 s in a thread (MB)."""

    def __init__(self, pid: int):
        import psutil

        self.process = psutil.Process(pid)
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> float:
        return self.process.memory_info().rss / 2 ** 20

    def _run(self):
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self.now())

    def __enter__(self):
        self.peak = self.now()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class CpuMeter:
    """CPU seconds over a phase: the server's (its threads together) and the whole machine's."""

    def __init__(self, pid: int):
        import psutil

        self.psutil, self.process = psutil, psutil.Process(pid)

    def _read(self) -> tuple[float, float]:
        times = self.psutil.cpu_times()
        idle = times.idle + getattr(times, "iowait", 0.0)
        server = self.process.cpu_times()
        return server.user + server.system, sum(times) - idle

    def __enter__(self):
        self._server0, self._machine0 = self._read()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        server, machine = self._read()
        self.report = {"wall_seconds": time.perf_counter() - self._t0,
                       "server_cpu_seconds": server - self._server0,
                       "machine_busy_core_seconds": machine - self._machine0,
                       "shortest_possible_wall_seconds": (machine - self._machine0) / (os.cpu_count() or 1)}


def settled_rss(sampler: RssSampler, seconds: float = 60) -> float:
    """RSS once the closed sessions are destroyed and it stops falling (min over a short series)."""
    time.sleep(SESSION_LINGER + 3)  # the sessions' destruction, and the memory release after it
    deadline = time.time() + seconds
    values = [sampler.now()]
    while time.time() < deadline:
        time.sleep(2)
        values.append(sampler.now())
        if len(values) >= 6 and max(values[-4:]) - min(values[-4:]) < 0.01 * values[-1]:
            break
    return min(values[-4:])


async def _session(browser, url: str, label: str, task: str) -> dict:
    """Open ``url`` in a fresh context and wait for its result; the seconds and any errors."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1200})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    t0 = time.perf_counter()
    seconds = None
    try:
        await page.goto(url, timeout=SESSION_TIMEOUT * 1000)
        done = page.get_by_text(f"Done: {label} for {task}", exact=False).first
        failed = page.get_by_text("Could not", exact=False).first
        deadline = time.perf_counter() + SESSION_TIMEOUT
        while time.perf_counter() < deadline:
            if await done.count() and await done.is_visible():
                seconds = time.perf_counter() - t0
                break
            if await failed.count() and await failed.is_visible():
                errors.append("message: " + (await failed.inner_text())[:300])
                break
            await asyncio.sleep(0.25)
        else:
            errors.append(f"no result within {SESSION_TIMEOUT} s")
    except Exception as exc:  # noqa: BLE001 - reported as the session's error
        errors.append(f"{type(exc).__name__}: {exc}"[:300])
    finally:
        await context.close()
    return {"url": url, "seconds": seconds, "errors": errors}


async def _run_sessions(urls_labels: list[tuple[str, str, str]], at_once: bool) -> list[dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            if at_once:
                return list(await asyncio.gather(*(_session(browser, *u) for u in urls_labels)))
            return [await _session(browser, *u) for u in urls_labels]
        finally:
            await browser.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; `apt-get install chromium`")
    # sessions whose page closed are destroyed within SESSION_LINGER + 1 s (Bokeh's default: 15-17 s).
    # Not much less: a session counts as unused from the page's request until its websocket
    # connects, which takes seconds when eight pages open at once (with 1 s, Bokeh destroyed
    # sessions whose pages were still loading)
    with served_app(tmp_path_factory.mktemp("load-server"), "--check-unused-sessions", "1000",
                    "--unused-session-lifetime", str(int(SESSION_LINGER * 1000)), seconds=180) as served:
        yield served


def _server_errors(log_path: Path) -> list[str]:
    lines = log_path.read_text(errors="replace").splitlines()
    return [line[:300] for line in lines if "Traceback" in line or " ERROR" in line or line.startswith("ERROR")]


def test_eight_sessions_at_once(served, artifacts_dir):
    url, proc, log_path = served
    sampler = RssSampler(proc.pid)
    report: dict = {"sessions": SESSIONS, "window_bp": WINDOW, "cpu_count": os.cpu_count(),
                    "load_average_at_start": list(os.getloadavg()),
                    "workers": os.environ.get("EXPLORER_WORKERS", "default")}
    t0 = time.perf_counter()
    warm = asyncio.run(_run_sessions([(url, "Integrated gradients", "CTCF")], at_once=False))
    report["warm_session"] = warm[0]
    if warm[0]["errors"]:  # the app does not work at all: no point in loading it
        pytest.fail(f"one session alone failed: {warm[0]['errors']}; server: {_server_errors(log_path)}")
    with CpuMeter(proc.pid) as cpu_alone:
        alone = asyncio.run(_run_sessions(
            [(_url(url, first, task, method), LABELS[method], task) for first, task, method in CONFIGS],
            at_once=False))
    report["cpu_one_after_another"] = cpu_alone.report
    report["rss_mb_warm_baseline"] = baseline = settled_rss(sampler)
    with sampler, CpuMeter(proc.pid) as cpu_together:
        together = asyncio.run(_run_sessions(
            [(_url(url, first + SHIFT, task, method), LABELS[method], task) for first, task, method in CONFIGS],
            at_once=True))
        report["rss_mb_peak"] = sampler.peak
    report["cpu_8_at_once"] = cpu_together.report
    report["wall_seconds_8_at_once"] = cpu_together.report["wall_seconds"]
    report["rss_mb_after_closing"] = after = settled_rss(sampler)
    report["rss_after_over_baseline"] = after / baseline
    rows = []
    for (first, task, method), one, many in zip(CONFIGS, alone, together):
        ratio = many["seconds"] / one["seconds"] if many["seconds"] and one["seconds"] else None
        rows.append({"task": task, "method": method, "region_alone": _region(first),
                     "region_at_once": _region(first + SHIFT), "seconds_alone": one["seconds"],
                     "seconds_at_once": many["seconds"], "ratio": ratio,
                     "errors": one["errors"] + many["errors"]})
    report["per_session"] = rows
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    report["ratio_max"] = max(ratios) if ratios else None
    report["ratio_median"] = sorted(ratios)[len(ratios) // 2] if ratios else None
    report["sessions_within_3x"] = sum(r <= 3 for r in ratios)
    longest_alone = max((r["seconds_alone"] for r in rows if r["seconds_alone"]), default=None)
    report["ratio_floor_for_the_last_session"] = (
        cpu_alone.report["shortest_possible_wall_seconds"] / longest_alone if longest_alone else None)
    session_errors = warm[0]["errors"] + [e for r in rows for e in r["errors"]]
    report["errors"] = session_errors
    report["server_log_errors"] = _server_errors(log_path)
    report["total_seconds"] = time.perf_counter() - t0
    report["load_average_at_end"] = list(os.getloadavg())
    (artifacts_dir / "load.json").write_text(json.dumps(report, indent=2))
    print("\n" + json.dumps(report, indent=2))

    assert not session_errors, session_errors
    assert not report["server_log_errors"], report["server_log_errors"]
    assert after <= (1 + RSS_TOLERANCE) * baseline, (
        f"server RSS {after:.0f} MB after the sessions closed, over {1 + RSS_TOLERANCE:.2f} x the warm "
        f"baseline {baseline:.0f} MB")
