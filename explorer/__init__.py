"""The attribution and motif explorer: public API.

Everything a script, a notebook or the app needs is importable from here::

    import explorer as ex
    model = ex.load_model("sample_data/models/sample_cnn.pt")
    locus = ex.load_locus("sample_data/loci/HUMHBB.gb.gz", region="HUMHBB:29,211-31,210")
    res = ex.attribute(model, locus, method="ism", target="CTCF")

Importing ``explorer`` imports no UI library (panel, holoviews, bokeh, matplotlib): names
are resolved lazily, and only ``ex.Explorer`` pulls in the UI layer.

Data conventions
----------------
One-hot DNA
    ``torch.float32``, shape ``(N, 4, L)`` (or ``(4, L)`` for one sequence), alphabet order
    ``A, C, G, T`` (tangermeme's convention). Lowercase (soft-masked) bases are accepted.
    ``N`` and the other IUPAC ambiguity codes (R, Y, S, W, K, M, B, D, H, V) encode as
    all-zero columns: the model sees "no base" there, and attributions there are 0.
Attributions
    Same shape as the one-hot input: ``(4, L)`` for one locus. ISM maps hold
    ``f(mutant) - f(reference)`` for every substitution, 0 at the reference base.
Coordinates
    0-based, half-open internally (like BED). Shown 1-based and inclusive to people, like
    every genome browser: the region string ``"chr1:101-200"`` is the 0-based interval
    ``[100, 200)``. Every function that takes a coordinate says which it expects.
PWMs
    ``(4, W)`` probability matrices (columns sum to 1); a motif database is a
    :class:`MotifDatabase`: a ``dict[name, Tensor(4, W)]`` plus a metadata table.
Tables
    Motif matches, FIMO hits, variants and seqlets are ``pandas.DataFrame`` with documented
    columns.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

ALPHABET = "ACGT"

# public name -> module that defines it (resolved on first access)
_API = {
    # io
    "one_hot_encode": "explorer.io.sequences",
    "one_hot_decode": "explorer.io.sequences",
    "reverse_complement": "explorer.io.sequences",
    "dinucleotide_shuffle": "explorer.io.sequences",
    "validate_sequence": "explorer.io.sequences",
    "Locus": "explorer.io.loci",
    "load_locus": "explorer.io.loci",
    "locus_from_sequence": "explorer.io.loci",
    "parse_region": "explorer.io.loci",
    "Region": "explorer.io.loci",
    "load_model": "explorer.io.models",
    "cache_root": "explorer.io.cachefiles",
    "register_architecture": "explorer.io.registry",
    "save_checkpoint": "explorer.io.models",
    "export_torchscript": "explorer.io.models",
    "ExplorerModel": "explorer.io.models",
    "ModelLoadError": "explorer.io.models",
    "SAMPLE_MODEL": "explorer.io.samples",
    "SAMPLE_TORCHSCRIPT": "explorer.io.samples",
    "SAMPLE_LOCUS": "explorer.io.samples",
    "SAMPLE_BOOKMARKS": "explorer.io.samples",
    "load_sample_model": "explorer.io.samples",
    "load_sample_locus": "explorer.io.samples",
    "YEAST_LM": "explorer.io.samples",
    "YEAST_LOCUS": "explorer.io.samples",
    "YEAST_BOOKMARKS": "explorer.io.samples",
    "ARS1_EFFECTS": "explorer.io.samples",
    "load_yeast_lm": "explorer.io.samples",
    "load_yeast_locus": "explorer.io.samples",
    # attribution
    "Attribution": "explorer.attribution.result",
    "Target": "explorer.attribution.targets",
    "attribute": "explorer.attribution.api",
    "predict": "explorer.attribution.api",
    "METHODS": "explorer.attribution.api",
    "methods_for": "explorer.attribution.api",
    "LM_METHODS": "explorer.attribution.api",
    "fast_ism": "explorer.attribution.fast_ism",
    "progressive_ism": "explorer.attribution.fast_ism",
    "BPNet": "explorer.nets.bpnet",
    "random_bpnet": "explorer.nets.random_weights",
    "Cancelled": "explorer.attribution.progress",
    "resolve_target": "explorer.attribution.targets",
    "target_choices": "explorer.attribution.targets",
    "center_ism": "explorer.attribution.ism",
    "TargetSum": "explorer.attribution.targets",
    "contrast_choices": "explorer.attribution.targets",
    "gene_target": "explorer.attribution.genes",
    "ism_cost": "explorer.attribution.cost",
    "OutputBins": "explorer.io.bins",
    "predict_tracks": "explorer.attribution.binned",
    "target_spelling": "explorer.attribution.binned",
    "search_targets": "explorer.attribution.binned",
    # motifs
    "MotifDatabase": "explorer.motifs.databases",
    "jaspar": "explorer.motifs.databases",
    "read_meme": "explorer.motifs.databases",
    "call_seqlets": "explorer.motifs.seqlets",
    "shuffled_null": "explorer.motifs.null",
    "match_motifs": "explorer.motifs.matching",
    "scan_motifs": "explorer.motifs.scanning",
    "agreement": "explorer.motifs.agreement",
    "Agreement": "explorer.motifs.agreement",
    "jaspar_releases": "explorer.motifs.databases",
    # variants
    "variant_effect": "explorer.variants",
    "parse_variants": "explorer.variants",
    "load_measured_effects": "explorer.variants",
    "compare_measured": "explorer.variants",
    "effects_from_ism": "explorer.variants",
    "compare_ism_measured": "explorer.variants",
    "measured_matrix": "explorer.variants",
    "ref_alt_attributions": "explorer.variants",
    "describe_variant_effect": "explorer.variants",
    "variant_motif_report": "explorer.variants",
    "variant_table_tsv": "explorer.variants",
    # UI (imports panel)
    "Explorer": "explorer.ui.app",
    "ExplorerState": "explorer.ui.state",
}

__all__ = sorted(_API) + ["ALPHABET", "__version__"]


def __getattr__(name: str):
    try:
        module = _API[name]
    except KeyError:
        raise AttributeError(f"module 'explorer' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
