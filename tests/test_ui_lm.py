"""The app with a masked language model: the model kind decides the methods; the yeast demo
locus opens with its genes and bookmarks."""

import pytest
import torch

import explorer as ex
from explorer.io.models import save_checkpoint
from explorer.io.samples import SAMPLE_DATA, YEAST_BOOKMARKS
from explorer.nets.conv_lm import ConvMaskedLM
from explorer.ui.state import LM_METHOD_CHOICES, LM_TARGET, METHOD_CHOICES, ExplorerState, annotation_beside


@pytest.fixture()
def lm_file(tmp_path):
    torch.manual_seed(0)
    net = ConvMaskedLM(channels=8, dilations=(1, 2))
    return save_checkpoint(net, tmp_path / "tiny_lm.pt", card={"kind": "masked_lm", "tasks": list("ACGT"),
                                                               "receptive_field": net.receptive_field})


def test_lm_gets_the_lm_methods_and_back(lm_file):
    s = ExplorerState(roots=[SAMPLE_DATA, lm_file.parent])
    s.locus_path = "loci/sacCer3_chrIV.fa.gz"
    assert s.load_locus()
    assert s.bookmarks == YEAST_BOOKMARKS and str(s.window.region) == "chrIV:461,550-463,549"
    assert "YDR007W" in set(s.locus.annotations["name"])  # TRP1, from the GTF beside the FASTA
    assert s.jaspar_tax_group == "fungi"
    s.method = "ig"
    assert s.load_model(str(lm_file))
    assert s.param.method.objects == LM_METHOD_CHOICES and s.method == "ism"
    assert s.param.task.objects == [LM_TARGET] and s.predictions is None
    s.set_region("chrIV:462,451-462,650")
    s.method = "masked_distribution"
    s.compute()
    assert s.attribution.method == "masked_distribution" and s.attribution.values.shape == (4, 200)
    assert s.load_model("models/sample_cnn.pt")
    assert s.param.method.objects == METHOD_CHOICES and s.method == "ig"  # the first predictor method


def test_annotation_beside_only_for_fasta(tmp_path):
    (tmp_path / "x.fa.gz").write_bytes(b"")
    assert annotation_beside(tmp_path / "x.fa.gz") is None
    (tmp_path / "x.gtf").write_text("")
    assert annotation_beside(tmp_path / "x.fa.gz") == tmp_path / "x.gtf"
    assert annotation_beside(tmp_path / "x.gb") is None
