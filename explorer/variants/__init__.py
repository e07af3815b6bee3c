"""Variant effects: predicted (the model on ref vs alt), measured (e.g. Kircher et al. 2019
saturation mutagenesis), their comparison, ref/alt attributions and export.

No UI imports: usable from scripts, notebooks and the app alike. Positions in every table
are 1-based (VCF convention) on the table's ``chrom``; see :mod:`explorer.variants.effects`
for the scoring window and the handling of indels.
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
    load_measured_effects,
    place_measured,
)

__all__ = [
    "parse_variants", "read_vcf", "read_measured_table",
    "variant_effect", "check_variants", "variant_window", "effects_from_ism",
    "load_measured_effects", "place_measured", "find_element", "ElementPlacement",
    "compare_measured", "Comparison",
    "ref_alt_attributions", "RefAltAttribution", "VariantAlignment", "alternative_locus", "variant_at",
    "motif_changes", "describe_variant_effect", "variant_motif_report",
    "merge_measured", "variant_table_tsv",
    "measured_matrix", "MeasuredMatrix", "compare_ism_measured", "scatter_data",
]
