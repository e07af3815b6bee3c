"""Warm the caches a first click would otherwise wait for: ``python -m explorer.warmup``.

1. numba's on-disk cache for memelite's TOMTOM and FIMO (below), and the import of
   tangermeme's dinucleotide shuffle (IG's baselines; about 1 s in a new process);
2. the attribution cache for the app's opening view (IG and ISM of the sample's default
   window, :func:`precompute_default_view`; skip with ``--no-precompute``).


memelite compiles its kernels with numba on first use (about a minute for TOMTOM and 10-20 s
for FIMO on 2 cores). numba can keep the compiled code on disk in ``NUMBA_CACHE_DIR``
(``make`` sets it to ``.cache/numba`` in the project); this script runs TOMTOM and FIMO
once, through the same code paths and dtypes as :func:`explorer.match_motifs` and
:func:`explorer.scan_motifs`, so that the compiled code lands there and no user waits for
it on a click. ``make install`` runs it; running it again is quick (a few seconds: the
cache is only loaded) and changes nothing.

A process still pays about 1-3 s to load the cached code on its first TOMTOM/FIMO call;
an app can call :func:`warm` in a background thread at start to take that off the first click.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pandas as pd
import torch

#: a call slower than this (seconds) is taken to have compiled rather than loaded the cache
COMPILED_AFTER_S = 8.0


def _toy_inputs():
    from explorer.attribution.result import Attribution
    from explorer.io.sequences import one_hot_encode
    from explorer.motifs.databases import METADATA_COLUMNS, MotifDatabase

    rng = np.random.default_rng(0)
    names = [f"toy{i}" for i in range(30)]  # >= 25, below which memelite's TOMTOM warns
    pwms = {n: torch.from_numpy(rng.dirichlet([0.5] * 4, size=int(rng.integers(6, 16))).T.copy()).float()
            for n in names}
    meta = pd.DataFrame([{c: "" for c in METADATA_COLUMNS} | {"matrix_id": n, "tf_name": n,
                                                             "width": p.shape[1]}
                         for n, p in pwms.items()], index=names)
    db = MotifDatabase(pwms, meta, name="warm-up motifs", source="random")
    seq = "".join(rng.choice(list("ACGT"), 200))
    x = one_hot_encode(seq)
    per_base = np.zeros(200, dtype=np.float32)
    per_base[90:110] = 1.0
    att = Attribution(values=x * torch.from_numpy(per_base), one_hot=x, method="saliency", target="warm-up")
    return db, att


def _shuffle_baselines() -> None:
    """Import tangermeme's dinucleotide shuffle (about 1 s) and run it once: IG's and
    DeepLIFT/SHAP's shuffled baselines then cost nothing extra on the first click."""
    from explorer.io.sequences import dinucleotide_shuffle, one_hot_encode

    dinucleotide_shuffle(one_hot_encode("ACGTTGCAAC" * 20), n=2, random_state=0)


def warm(verbose: bool = True) -> dict[str, float]:
    """Run TOMTOM and FIMO once on toy inputs, and the shuffle of IG's baselines; return the
    seconds each took.

    Idempotent. With a warm ``NUMBA_CACHE_DIR`` it takes a few seconds (loading the cache).
    """
    from explorer.motifs.matching import match_motifs
    from explorer.motifs.scanning import scan_motifs
    from explorer.motifs.seqlets import call_seqlets

    db, att = _toy_inputs()
    times: dict[str, float] = {}
    t = time.perf_counter()
    seqlets = call_seqlets(att)
    if len(seqlets) == 0:  # cannot happen with the toy map; keep TOMTOM warmed regardless
        seqlets = pd.DataFrame({"start": [90], "end": [110], "genome_start": [90], "genome_end": [110],
                                "score": [20.0], "matrix": [att.contribution[:, 90:110].numpy()]})
    match_motifs(att, seqlets, db, top_k=1)
    times["TOMTOM"] = time.perf_counter() - t
    t = time.perf_counter()
    scan_motifs(att, db, threshold=1e-3)
    times["FIMO"] = time.perf_counter() - t
    t = time.perf_counter()
    _shuffle_baselines()
    times["shuffle"] = time.perf_counter() - t
    if verbose:
        for name in ("TOMTOM", "FIMO"):
            sec = times[name]
            state = "compiled and cached" if sec > COMPILED_AFTER_S else "already warm (loaded from the cache)"
            print(f"explorer.warmup: memelite {name}: {state} in {sec:.1f} s")
    return times


def warm_figures() -> float:
    """Draw one small motif alignment (:func:`explorer.plots.static.aligned_motif_figure`) as SVG
    and return the seconds it took: its first call in a process imports tangermeme's plotting
    and Matplotlib's fonts (1-6 s), which a first click on a motif row would otherwise wait for."""
    from explorer.plots.static import aligned_motif_figure, figure_bytes

    t = time.perf_counter()
    rng = np.random.default_rng(0)
    fig = aligned_motif_figure(rng.normal(size=(4, 12)), rng.dirichlet([1.0] * 4, size=8).T, 2, "+", 1,
                               seqlet_title="warm-up", motif_title="warm-up")
    figure_bytes(fig, "svg")
    return time.perf_counter() - t


def precompute_default_view(verbose: bool = True) -> dict[str, float]:
    """Put the app's first maps in the attribution cache: IG and ISM of the sample model's
    first task on the sample locus's default window, with the app's default options.

    The app then shows its opening view at once (the cache key is the model's weights, the
    sequence, the method and its options: see :mod:`explorer.attribution.cache`).
    """
    import explorer as ex
    from explorer.ui.state import ExplorerState, method_options

    model = ex.load_sample_model()
    locus = ex.load_sample_locus()
    times = {}
    for method in ("ig", "ism"):
        t = time.perf_counter()
        res = ex.attribute(model, locus, method=method, target=model.tasks[0],
                           **method_options(ExplorerState, method))
        times[method] = time.perf_counter() - t
        if verbose:
            how = "already cached" if res.diagnostics.get("cache_hit") else f"computed in {times[method]:.1f} s"
            print(f"explorer.warmup: default view {locus} {method} for {model.tasks[0]}: {how}")
    return times


def main() -> int:
    cache = os.environ.get("NUMBA_CACHE_DIR")
    if cache:
        os.makedirs(cache, exist_ok=True)
        print(f"explorer.warmup: numba cache: NUMBA_CACHE_DIR={cache}")
    else:
        print("explorer.warmup: NUMBA_CACHE_DIR is not set; numba caches beside memelite's sources "
              "(set NUMBA_CACHE_DIR to a writable folder if that is read-only; `make` sets it to .cache/numba)")
    t = time.perf_counter()
    warm(verbose=True)
    if "--no-precompute" not in sys.argv[1:]:
        precompute_default_view(verbose=True)
    print(f"explorer.warmup: done in {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
