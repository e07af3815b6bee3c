"""The sample model and locus that ship in ``sample_data/`` (provenance in its README)."""

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
SAMPLE_BOOKMARKS: dict[str, str] = {
    "CTCF site (default)": "HUMHBB:44,001-46,000",  # placeholder until the sample model picks it
    "HBB promoter": "HUMHBB:61,001-63,000",
}


def load_sample_model(**kwargs):
    """Load the sample model (keyword arguments go to :func:`explorer.load_model`)."""
    from explorer.io.models import load_model

    return load_model(SAMPLE_MODEL, **kwargs)


def load_sample_locus(region: str | None = None):
    """Load the sample locus; ``region`` defaults to the first bookmark."""
    from explorer.io.loci import load_locus

    return load_locus(SAMPLE_LOCUS, region=region or next(iter(SAMPLE_BOOKMARKS.values())))
