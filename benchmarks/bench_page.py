"""How fast the served page answers a biologist: first view and view updates (Playwright).

Serves ``app.py`` (as ``make demo`` does: with ``--warm`` where that checkout's Makefile says so)
on a cache folder that already holds the default window's result, in Debian's Chromium
(``/usr/bin/chromium``), and measures

- **first view**: a fresh server, then the time from navigation to the attribution track
  drawn (its letters, ``MultiPolygons``/``Patches``, or its per-base bars, ``Segment``, with
  data); one fresh server per run;
- **later load**: a second page load on the same server;
- **update**: a click on a row of the motif table, until the tracks show that seqlet's
  range (the new range drawn), alternating between two rows; with the server's CPU seconds
  for it (psutil: the server process's user + system time from the click to the range drawn).

``--before REV`` also serves the app of a git worktree checked out at ``REV`` (made with
``git worktree add --detach``, or reused if it is there), each run alternating before and
after, so both columns come from one run on the same machine state; each app has its own
cache folder, warmed first.

Each number is the median of ``--runs`` (5). The machine is shared: read the numbers with its
load (printed) in mind; they are not pass/fail.

Usage::

    python benchmarks/bench_page.py [--runs 5] [--before 493e642] [--before-dir /work/wt-before]
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


def demo_options(root: Path) -> list[str]:
    """The ``panel serve`` options of that checkout's ``make demo`` that change speed (``--warm``)."""
    makefile = root / "Makefile"
    text = makefile.read_text() if makefile.is_file() else ""
    demo = text[text.find("\ndemo:"):] if "\ndemo:" in text else ""
    demo = demo[:demo.find("\n\n")] if "\n\n" in demo else demo
    return ["--warm"] if "--warm" in demo else []


def serve(cache: Path, root: Path = ROOT):
    """Start ``panel serve app.py`` of the checkout ``root``; return (process, url) once it answers."""
    port = _free_port()
    # the checkout's own package first (python -m puts the working folder first on sys.path)
    env = dict(os.environ, EXPLORER_CACHE_DIR=str(cache), PYTHONPATH=str(root))
    proc = subprocess.Popen([sys.executable, "-m", "panel", "serve", "app.py", *demo_options(root),
                             "--address", "127.0.0.1", "--port", str(port),
                             f"--allow-websocket-origin=127.0.0.1:{port}"],
                            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def cpu_seconds(proc) -> float | None:
    """User + system CPU seconds of the server process so far (None without psutil)."""
    try:
        import psutil

        times = psutil.Process(proc.pid).cpu_times()
        return times.user + times.system
    except Exception:  # noqa: BLE001 - psutil missing or the process gone
        return None


def click_seconds(page, row: int, proc=None) -> tuple[float, float | None]:
    """Seconds from a click on motif-table row ``row`` to the tracks showing its seqlet, and
    the server's CPU seconds meanwhile (None when not measurable)."""
    rows = page.locator(".tabulator-row")
    text = rows.nth(row).inner_text()
    import re

    first, last = (int(v.replace(",", "")) for v in re.search(r"(\d[\d,]*)-(\d[\d,]*)", text).groups())
    cpu0 = cpu_seconds(proc) if proc is not None else None
    t0 = time.perf_counter()
    rows.nth(row).click()
    page.wait_for_function(
        f"() => {{ const r = ({RANGE_JS})(); return r && r[0] <= {first} - 0.5 && r[1] >= {last} + 0.5 "
        f"&& r[1] - r[0] < 80; }}", timeout=60_000, polling=20)
    seconds = time.perf_counter() - t0
    cpu1 = cpu_seconds(proc) if proc is not None else None
    return seconds, (cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None)


def before_checkout(rev: str, folder: Path) -> Path:
    """A git worktree of this repository at ``rev`` in ``folder`` (made if it is not there)."""
    if not (folder / "app.py").is_file():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), rev], check=True)
    return folder


VIEWPORT = {"width": 1500, "height": 1900}


def warm_cache(browser, cache: Path, root: Path) -> None:
    """Compute the default window's result once into ``cache`` (a first page, until 'Done:')."""
    proc, url = serve(cache, root)
    try:
        page = browser.new_page(viewport=VIEWPORT)
        load_seconds(page, url)
        page.get_by_text("Done:", exact=False).first.wait_for(timeout=600_000)
        page.close()
    finally:
        stop(proc)


def one_run(browser, cache: Path, root: Path, row: int) -> dict:
    """A fresh server: first view, a later load, one click on a motif row."""
    proc, url = serve(cache, root)
    try:
        page = browser.new_page(viewport=VIEWPORT)
        first = load_seconds(page, url)
        page.close()
        page = browser.new_page(viewport=VIEWPORT)
        later = load_seconds(page, url)
        page.locator(".tabulator-row").first.wait_for(timeout=300_000)
        page.wait_for_timeout(1000)
        rows = page.locator(".tabulator-row").count()
        update, cpu = click_seconds(page, row % rows, proc)
        page.close()
    finally:
        stop(proc)
    return {"first": first, "later": later, "update": update, "cpu": cpu}


def _median(values) -> str:
    values = [v for v in values if v is not None]
    return f"{statistics.median(values):.2f} s" if values else "n/a"


def main(argv=None) -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--before", metavar="REV", help="also serve the app at this git revision, alternating")
    ap.add_argument("--before-dir", type=Path, default=Path(tempfile.gettempdir()) / "explorer-before",
                    help="where the worktree of --before is (made there if missing)")
    args = ap.parse_args(argv)
    apps = {"after": ROOT}
    if args.before:
        apps = {"before": before_checkout(args.before, args.before_dir), "after": ROOT}
    caches = {name: Path(tempfile.mkdtemp(prefix=f"bench-page-{name}-")) for name in apps}
    results: dict[str, list[dict]] = {name: [] for name in apps}
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; apps: "
          + ", ".join(f"{n}={r} {' '.join(demo_options(r))}".rstrip() for n, r in apps.items()), flush=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for name, root in apps.items():  # the default window's result computed once per app
            warm_cache(browser, caches[name], root)
        for run in range(args.runs):
            order = list(apps) if run % 2 == 0 else list(apps)[::-1]  # alternate who goes first
            for name in order:
                r = one_run(browser, caches[name], apps[name], run)
                results[name].append(r)
                cpu = f", server CPU {r['cpu']:.2f} s" if r["cpu"] is not None else ""
                print(f"run {run + 1} {name}: first view {r['first']:.2f} s, later load {r['later']:.2f} s, "
                      f"update {r['update']:.2f} s{cpu} (load average {os.getloadavg()[0]:.1f})", flush=True)
        browser.close()
    print(f"\nmedian of {args.runs} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
    names = list(apps)
    print(f"  {'':34s}" + "".join(f"{n:>12s}" for n in names))
    for label, key in (("first view of a fresh server", "first"), ("later page load", "later"),
                       ("view update (click -> range)", "update"), ("server CPU per update", "cpu")):
        print(f"  {label:34s}" + "".join(f"{_median(r[key] for r in results[n]):>12s}" for n in names))


if __name__ == "__main__":
    main()
