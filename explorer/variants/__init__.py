"""Variant effects: predicted (the model on ref vs alt), measured (e.g. Kircher et al. 2019
saturation mutagenesis), their comparison, ref/alt attributions and export.

No UI imports: usable from scripts, notebooks and the app alike. Positions in every table
are 1-based (VCF convention) on the table's ``chrom``; see :mod:`explorer.variants.effects`
for the scoring window and the handling of indels.

Typical use (every name below is also ``explorer.<name>`` unless marked)::

    import explorer as ex
    from explorer.variants import scatter_data, variant_at

    model = ex.load_sample_model()
    locus = ex.load_sample_locus("HUMHBB:61,001-63,000")              # HBB promoter
    effects = ex.variant_effect(model, locus, ["HUMHBB:62150:A>T", "HUMHBB:62150:AC>A"])
    measured = ex.load_measured_effects("sample_data/variants/kircher2019_HBB.tsv.gz", locus=locus)
    print(measured.attrs["report"])                                    # where it mapped
    cmp = ex.compare_measured(effects, measured, "CTCF")               # or, from an ISM map:
    ism = ex.attribute(model, locus, method="ism", target="CTCF", start=990, end=1190)
    cmp = ex.compare_ism_measured(ism, measured)                       # SNVs in the ISM window
    points, caption = scatter_data(cmp)                                # (explorer.variants only)
    words = judge_comparison(cmp, output_kind=output_kind(model.card))  # what r, p and n mean
    track = ex.measured_matrix(measured, locus, 990, 1190)             # (4, L) like the ISM map
    variant = variant_at(ism, "T", 10)                                 # a clicked ISM cell
    ra = ex.ref_alt_attributions(model, locus, variant, "ism", "CTCF")  # ref, alt, diff aligned
    changes, words = ex.variant_motif_report(ra, database=ex.jaspar())
    tsv = ex.variant_table_tsv(effects, measured)                      # measured beside predicted
"""

from explorer.io.variants import check_variants, parse_variants, read_measured_table, read_vcf
from explorer.variants.effects import (
    effects_from_ism,
    variant_effect,
    variant_window,
)
from explorer.variants.plotdata import MeasuredMatrix, compare_ism_measured, measured_matrix, scatter_data
from explorer.variants.refalt import (
    RefAltAttribution,
    VariantAlignment,
    alternative_locus,
    ref_alt_attributions,
    variant_at,
)
from explorer.variants.describe import describe_variant_effect, motif_changes, variant_motif_report
from explorer.variants.export import merge_measured, variant_table_tsv
from explorer.variants.measured import (
    Comparison,
    ElementPlacement,
    compare_measured,
    find_element,
    judge_comparison,
    load_measured_effects,
    output_kind,
    place_measured,
)

__all__ = [
    "parse_variants", "read_vcf", "read_measured_table",
    "variant_effect", "check_variants", "variant_window", "effects_from_ism",
    "load_measured_effects", "place_measured", "find_element", "ElementPlacement",
    "compare_measured", "Comparison", "judge_comparison", "output_kind",
    "ref_alt_attributions", "RefAltAttribution", "VariantAlignment", "alternative_locus", "variant_at",
    "motif_changes", "describe_variant_effect", "variant_motif_report",
    "merge_measured", "variant_table_tsv",
    "measured_matrix", "MeasuredMatrix", "compare_ism_measured", "scatter_data",
]
