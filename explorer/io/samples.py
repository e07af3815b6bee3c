"""The sample models, loci and data that ship in ``sample_data/`` (provenance in its README)."""

from __future__ import annotations

from pathlib import Path

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"
#: state_dict checkpoint of the registered ``sample_cnn`` architecture (tasks CTCF, SPI1)
SAMPLE_MODEL = SAMPLE_DATA / "models" / "sample_cnn.pt"
#: the same model exported as TorchScript
SAMPLE_TORCHSCRIPT = SAMPLE_DATA / "models" / "sample_cnn.torchscript.pt"
#: GenBank record U01317.1, human beta-globin region (chrom name ``HUMHBB``)
SAMPLE_LOCUS = SAMPLE_DATA / "loci" / "HUMHBB.gb.gz"
#: named windows of the sample locus, 1-based inclusive (the first is the app's default)
#: chosen with ``python scripts/train_sample.py --bookmarks sample_data/loci/HUMHBB.gb.gz``:
#: the CTCF window is centred on the sample model's strongest CTCF site in the record
#: (HUMHBB:30,211, also the record's best JASPAR MA0139.1 CTCF match); the HBB and HBG1
#: windows run from 1 kb upstream of the transcription start (HUMHBB:62,137 and 39,414,
#: + strand); they hold the Kircher et al. 2019 MPRA elements. See
#: sample_data/README.md.
SAMPLE_BOOKMARKS: dict[str, str] = {
    "CTCF site (default)": "HUMHBB:29,211-31,210",
    "HBB promoter": "HUMHBB:61,137-63,136",
    "HBG1 promoter": "HUMHBB:38,414-40,413",
}


#: the yeast masked LM (registered ``conv_masked_lm``; card kind ``masked_lm``), trained on chrIV
#: by ``scripts/train_yeast_lm.py`` (metrics, split and command in its card)
YEAST_LM = SAMPLE_DATA / "models" / "yeast_lm.pt"
#: S. cerevisiae (sacCer3) chromosome IV, soft-masked (chrom name ``chrIV``)
YEAST_LOCUS = SAMPLE_DATA / "loci" / "sacCer3_chrIV.fa.gz"
#: its Ensembl gene annotation (GTF)
YEAST_ANNOTATION = SAMPLE_DATA / "loci" / "sacCer3_chrIV.annotation.gtf.gz"
#: measured ARS1 per-variant enrichment (log2, vs wild type) from the logomaker wheel's selection
#: data, made by ``scripts/make_ars1_effects.py``; 1-based on chrIV:462,475-462,624
ARS1_EFFECTS = SAMPLE_DATA / "variants" / "ars1_enrichment.tsv.gz"
#: named windows of chrIV, 1-based inclusive (the first is the yeast demo's default); see
#: sample_data/README.md for how they were chosen
YEAST_BOOKMARKS: dict[str, str] = {
    "ARS1 (ARS416) and TRP1 (default)": "chrIV:461,550-463,549",
    "most predictable 2 kb (yeast LM)": "chrIV:348,001-350,000",
    "least predictable 2 kb (yeast LM)": "chrIV:634,001-636,000",
}


def load_sample_model(**kwargs):
    """Load the sample model (keyword arguments go to :func:`explorer.load_model`)."""
    from explorer.io.models import load_model

    return load_model(SAMPLE_MODEL, **kwargs)


def load_yeast_lm(**kwargs):
    """Load the yeast masked LM (keyword arguments go to :func:`explorer.load_model`)."""
    from explorer.io.models import load_model

    return load_model(YEAST_LM, **kwargs)


def load_yeast_locus(region: str | None = None):
    """Load a window of yeast chrIV with its genes; ``region`` defaults to the first yeast bookmark."""
    from explorer.io.loci import load_locus

    return load_locus(YEAST_LOCUS, region=region or next(iter(YEAST_BOOKMARKS.values())),
                      annotations=YEAST_ANNOTATION)


def load_sample_locus(region: str | None = None):
    """Load the sample locus; ``region`` defaults to the first bookmark."""
    from explorer.io.loci import load_locus

    return load_locus(SAMPLE_LOCUS, region=region or next(iter(SAMPLE_BOOKMARKS.values())))
