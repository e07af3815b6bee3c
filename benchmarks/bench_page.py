"""How fast the served page answers a biologist: first view and view updates (Playwright).

Serves ``app.py`` (as ``make demo`` does) on a cache folder that already holds the default
window's result, in Debian's Chromium (``/usr/bin/chromium``), and measures

- **first view**: a fresh server, then the time from navigation to the attribution track
  drawn (its letters, ``MultiPolygons``/``Patches``, or its per-base bars, ``Segment``, with
  data); one fresh server per run;
- **later load**: a second page load on the same server;
- **update**: a click on a row of the motif table, until the tracks show that seqlet's
  range (the new range drawn), alternating between two rows.

Each number is the median of ``--runs`` (5). The machine is shared: read the numbers with its
load (printed) in mind; they are not pass/fail.

Usage::

    python benchmarks/bench_page.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]

#: the attribution track drawn: its letters (a narrow view) or its per-base bars (the whole window)
LOGO_JS = """() => {
  if (typeof Bokeh === 'undefined') return false;
  for (const doc of Bokeh.documents) for (const m of doc.all_models) {
    const name = m.constructor.__name__;
    if ((name === 'Figure' || name === 'Plot') && m.title && /for CTCF/.test(m.title.text || '')) {
      for (const r of m.renderers) {
        const g = r.glyph ? r.glyph.constructor.__name__ : '';
        if (['MultiPolygons', 'Patches', 'Segment'].includes(g) && r.visible && r.data_source.get_length() > 0)
          return true;
      }
    }
  }
  return false;
}"""

#: the x range of the newest tracks figure (the one carrying letters or bars)
RANGE_JS = """() => {
  let found = null;
  for (const doc of Bokeh.documents) for (const m of doc.all_models) {
    const name = m.constructor.__name__;
    if ((name === 'Figure' || name === 'Plot') && m.title && /for CTCF/.test(m.title.text || '')
        && !/^ISM: change/.test(m.title.text || '')) found = [m.x_range.start, m.x_range.end];
  }
  return found;
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(cache: Path):
    """Start ``panel serve app.py``; return (process, url) once it answers."""
    port = _free_port()
    env = dict(os.environ, EXPLORER_CACHE_DIR=str(cache))
    proc = subprocess.Popen([sys.executable, "-m", "panel", "serve", "app.py", "--address", "127.0.0.1",
                             "--port", str(port), f"--allow-websocket-origin=127.0.0.1:{port}"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/app"
    deadline = time.time() + 300  # a loaded machine takes long to start a server
    while time.time() < deadline:
        try:  # a static file: asking for /app would open a session, and the first view would not be fresh
            urllib.request.urlopen(f"http://127.0.0.1:{port}/static/js/bokeh.min.js", timeout=60)
            return proc, url
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("panel serve did not answer within 300 s")


def stop(proc) -> None:
    """Stop a server started by :func:`serve` (killed if it does not end within 30 s)."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


def load_seconds(page, url: str) -> float:
    """Seconds from navigation to the logo's letters in the page."""
    t0 = time.perf_counter()
    page.goto(url, timeout=240_000)
    page.wait_for_function(LOGO_JS, timeout=240_000, polling=50)
    return time.perf_counter() - t0


def click_seconds(page, row: int) -> float:
    """Seconds from a click on motif-table row ``row`` to the tracks showing its seqlet."""
    rows = page.locator(".tabulator-row")
    text = rows.nth(row).inner_text()
    import re

    first, last = (int(v.replace(",", "")) for v in re.search(r"(\d[\d,]*)-(\d[\d,]*)", text).groups())
    t0 = time.perf_counter()
    rows.nth(row).click()
    page.wait_for_function(
        f"() => {{ const r = ({RANGE_JS})(); return r && r[0] <= {first} - 0.5 && r[1] >= {last} + 0.5 "
        f"&& r[1] - r[0] < 80; }}", timeout=60_000, polling=20)
    return time.perf_counter() - t0


def main(argv=None) -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    cache = Path(tempfile.mkdtemp(prefix="bench-page-"))
    first, later, updates = [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        # warm the cache: the default window's result computed once
        proc, url = serve(cache)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1900})
            load_seconds(page, url)
            page.get_by_text("Done:", exact=False).first.wait_for(timeout=600_000)
            page.close()
        finally:
            stop(proc)
        for run in range(args.runs):
            proc, url = serve(cache)
            try:
                page = browser.new_page(viewport={"width": 1500, "height": 1900})
                first.append(load_seconds(page, url))
                page.close()
                page = browser.new_page(viewport={"width": 1500, "height": 1900})
                later.append(load_seconds(page, url))
                page.locator(".tabulator-row").first.wait_for(timeout=300_000)
                page.wait_for_timeout(1000)
                rows = page.locator(".tabulator-row").count()
                updates.append(click_seconds(page, run % rows))
                print(f"run {run + 1}: first view {first[-1]:.2f} s, later load {later[-1]:.2f} s, "
                      f"update {updates[-1]:.2f} s (load average {os.getloadavg()[0]:.1f})", flush=True)
                page.close()
            finally:
                stop(proc)
        browser.close()
    load = os.getloadavg()[0]
    print(f"\nmedian of {args.runs} (load average {load:.1f} on {os.cpu_count()} cores):")
    print(f"  first view of a fresh server: {statistics.median(first):.2f} s")
    print(f"  later page load:              {statistics.median(later):.2f} s")
    print(f"  view update (click -> range): {statistics.median(updates):.2f} s")


if __name__ == "__main__":
    main()
