"""Shared fixtures. Browser fixtures point Playwright at Debian's Chromium."""

from __future__ import annotations

import os
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


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test writes attribution results to its own cache folder."""
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path_factory.mktemp("explorer-cache")))


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
