"""Shared fixtures. Browser fixtures point Playwright at Debian's Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served_app(folder: Path, *args: str, seconds: float = 120):
    """Serve ``app.py`` as ``make demo`` does, in a subprocess with its own attribution cache
    under ``folder``; yields ``(url, process, log_path)`` once the page answers.

    ``args``: more ``panel serve`` options.
    """
    port = free_port()
    env = dict(os.environ, EXPLORER_CACHE_DIR=str(folder / "cache"))
    log_path = folder / "panel.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "panel", "serve", "app.py", "--warm", "--address", "127.0.0.1", "--port", str(port),
             f"--allow-websocket-origin=127.0.0.1:{port}", *args],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/app"
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:  # a static file: asking for the app itself would open (and pile up) sessions
                urllib.request.urlopen(f"http://127.0.0.1:{port}/static/js/bokeh.min.js", timeout=30)
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.5)
        else:
            proc.kill()
            raise RuntimeError(f"panel serve did not answer within {seconds:.0f} s")
        try:
            yield url, proc, log_path
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test writes attribution results to its own cache folder, and starts with no result
    kept by the process's shared pool (explorer.ui.jobs)."""
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path_factory.mktemp("explorer-cache")))
    from explorer.ui import jobs

    if jobs._EXECUTOR is not None:
        jobs._EXECUTOR.forget()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright: use Debian's Chromium, kept off the network."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; `apt-get install chromium` (CI does)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Expose each phase's report on the item (browser tests screenshot failures)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


_BROWSER_OUTCOMES: dict[str, tuple[str, str]] = {}  # nodeid -> (outcome, skip reason)


def pytest_runtest_logreport(report):
    """Record each browser test's outcome, for the closing line of the run."""
    if "browser" not in report.keywords:
        return
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _BROWSER_OUTCOMES[report.nodeid] = ("skipped", reason.removeprefix("Skipped: "))
    elif report.failed:
        _BROWSER_OUTCOMES[report.nodeid] = ("failed", "")
    elif report.when == "call":
        _BROWSER_OUTCOMES.setdefault(report.nodeid, ("passed", ""))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter):
    """Say plainly how many real-browser tests ran, so a partial run is not missed.

    Printed after pytest's own short summary, just above the closing counts.
    """
    yield
    if not _BROWSER_OUTCOMES:
        terminalreporter.write_line("browser tests: none in this run (`make test` runs them)")
        return
    counts: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for outcome, reason in _BROWSER_OUTCOMES.values():
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome == "skipped":
            reasons[reason] = reasons.get(reason, 0) + 1
    ran = counts.get("passed", 0) + counts.get("failed", 0)
    line = (f"browser tests: {ran} of {len(_BROWSER_OUTCOMES)} ran ({counts.get('passed', 0)} passed, "
            f"{counts.get('failed', 0)} failed), {counts.get('skipped', 0)} skipped")
    terminalreporter.write_line(line, yellow=bool(reasons), green=not reasons and not counts.get("failed"))
    for reason, n in reasons.items():
        terminalreporter.write_line(f"  {n} skipped: {reason}", yellow=True)
    if reasons:
        terminalreporter.write_line("  the suite was partial: install Debian's chromium (`apt-get install chromium`)",
                                    yellow=True)
