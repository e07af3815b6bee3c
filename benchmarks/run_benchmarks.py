"""Run every benchmark script (``benchmarks/bench_*.py``) in turn: ``make bench``.

Each script runs in its own process with its own defaults (one process per benchmark, so
ratios within a script are taken in the same process). Benchmarks are not tests: they
print tables of seconds and ratios; read ``benchmarks/README.md`` for the recorded ones.

Usage::

    python benchmarks/run_benchmarks.py                 # all of them (tens of minutes on 2 cores)
    python benchmarks/run_benchmarks.py ism motifs      # only bench_ism.py and bench_motifs.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        wanted = {n.removeprefix("bench_").removesuffix(".py") for n in names}
        unknown = wanted - {s.stem.removeprefix("bench_") for s in scripts}
        if unknown:
            print(f"unknown benchmark(s) {sorted(unknown)}; available: "
                  f"{[s.stem.removeprefix('bench_') for s in scripts]}", file=sys.stderr)
            return 2
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in wanted]
    failed = []
    for script in scripts:
        print(f"\n##### {script.name} #####", flush=True)
        tic = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"##### {script.name}: exit {code}, {time.perf_counter() - tic:.0f} s #####", flush=True)
        if code:
            failed.append(script.name)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
