"""The bad-input corpus: every bad input gets a clear message or a warning, never a raw traceback.

House rule (ARCHITECTURE.md): "Bad input gets a clear message and loses nothing: the user
sees what was wrong and how to fix it." Each case builds its bad input in ``tmp_path``
(small files, small seeded models), calls the public API (``import explorer as ex``), and
asserts

* for an error: its class, a fragment of its message (what was wrong, what to do), and that
  it is an exception a user can act on: one of Python's or the explorer's own (not a
  library's leaking through, not ``KeyError``/``UnicodeDecodeError``/``AssertionError``, not
  TorchScript's "The following operation failed in the TorchScript interpreter." alone);
* for a warning (the input is usable, something about it must be said): the warning's words
  and that the result came back.

Existing tests of the same rules (kept, not repeated in depth here): test_io_models.py
(pickles, state dicts, random bytes, CUDA), test_io_probing.py (lengths, the model's own
error text), test_io_loci.py (duplicate FASTA names, the index in the cache),
test_attribution_finite.py and test_attribution_api.py (NaN maps, input checks),
test_motifs_databases.py, test_variants_io.py.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from torch import nn

import explorer as ex
from small_models import TinyCNN
from explorer.io.models import CHECKPOINT_FORMAT

#: 100 bp; the base at 1-based position p is SEQ[p - 1] (p = 5: "A", p = 51: "A")
SEQ = "ACGTACGTAC" * 10
VCF_HEAD = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
MEME_HEAD = "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")


# ------------------------------------------------------------------------------ small models

class Raises(nn.Module):
    """Raises its own error on every input."""

    def forward(self, x):
        if x.numel() >= 0:  # always (TorchScript needs a path that returns)
            raise ValueError("this network was trained on 7-channel input, not one-hot DNA")
        return x.mean(-1)


class RaisesOnN(nn.Module):
    """Refuses sequences with N (all-zero columns), in its own words."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 2, 3)

    def forward(self, x):
        if bool((x.sum(1) == 0).any()):
            raise ValueError("N bases are not allowed by this model")
        return self.conv(x).mean(-1)


class FixedToCuda(nn.Module):
    """Adds a tensor made on a CUDA device, as a model traced on a GPU does."""

    def forward(self, x):
        return x.mean(-1) + torch.zeros(1, 4, device=torch.device("cuda"))


class Flat(nn.Module):
    """One number per sequence, shape (N,): no task axis."""

    def forward(self, x):
        return x.sum((1, 2))


class ReturnsText(nn.Module):
    """Returns a string, not a tensor."""

    def forward(self, x) -> str:
        return "hello"


class FixedLinear(nn.Module):
    """Takes exactly 50 bp (a flatten and a linear layer)."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4 * 50, 2)

    def forward(self, x):
        return self.linear(torch.flatten(x, 1))


class BatchNormalised(nn.Module):
    """Normalises its scores across the batch: each sequence's output depends on the others."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 2, 3)

    def forward(self, x):
        y = self.conv(x).mean(-1)
        return (y - y.mean(0, keepdim=True)) / (y.std(0, keepdim=True, unbiased=False) + 1e-3)


class DropoutOn(nn.Module):
    """Dropout forced on, whatever the mode: the output changes from run to run."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 2, 3)

    def forward(self, x):
        return nn.functional.dropout(self.conv(x), p=0.5, training=True).mean(-1)


class NaNOutput(nn.Module):
    """Returns NaN."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 2, 3)

    def forward(self, x):
        return self.conv(x).mean(-1) * float("nan")


def seeded(cls: type) -> nn.Module:
    torch.manual_seed(0)
    return cls().eval()


def torchscript(tmp: Path, cls: type, name: str = "model.pt") -> Path:
    """``cls`` scripted (seeded) and saved as TorchScript in ``tmp``."""
    path = tmp / name
    torch.jit.save(torch.jit.script(seeded(cls)), str(path))
    return path


def explorer_model(net: nn.Module, tasks=("CTCF", "SPI1")) -> ex.ExplorerModel:
    """A loaded model without probing (the card says what it returns)."""
    return ex.ExplorerModel(net, {"tasks": list(tasks), "min_length": 3})


def tiny() -> ex.ExplorerModel:
    return explorer_model(seeded(TinyCNN))


def locus() -> ex.Locus:
    return ex.locus_from_sequence(SEQ, name="s")


def write(tmp: Path, name: str, content: str | bytes) -> Path:
    path = tmp / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def fasta(tmp: Path) -> Path:
    return write(tmp, "ok.fa", ">a\nACGTACGTAC\n")


def zip_file(tmp: Path, name: str) -> Path:
    path = tmp / name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.txt", "hello")
    return path


def with_side_card(tmp: Path) -> Path:
    path = torchscript(tmp, TinyCNN, "carded.pt")
    write(tmp, "carded.card.json", "[1, 2]")
    return path


def unknown_architecture(tmp: Path) -> Path:
    path = tmp / "ckpt.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "architecture": "no_such_net", "config": {}, "state_dict": {},
                "card": {"tasks": ["a"]}}, path)
    return path


GENBANK_NO_SEQUENCE = """LOCUS       TEST1                    100 bp    DNA     linear   SYN 01-JAN-2000
DEFINITION  A record with features and a CONTIG line but no bases.
ACCESSION   TEST1
VERSION     TEST1.1
FEATURES             Location/Qualifiers
     source          1..100
                     /organism="synthetic construct"
     gene            10..50
                     /gene="abc"
CONTIG      join(X00001.1:1..100)
//
"""


# ------------------------------------------------------------------------------ the corpus

@dataclass(frozen=True)
class Case:
    """One bad input.

    Attributes
    ----------
    id : str
        Shown in the test id.
    run : callable
        ``run(tmp_path)`` does the bad thing through the public API.
    match : str
        Regex searched in the message (or the warning).
    raises : type
        The exception class expected (ignored for a warning).
    warns : bool
        The input is usable: a ``UserWarning`` is expected and the result must come back.
    absent : str
        Text the message must not hold (e.g. TorchScript's first line alone).
    """

    id: str
    run: Callable[[Path], Any]
    match: str
    raises: type = ValueError
    warns: bool = False
    absent: str | None = None


def case(id: str, run, match: str, raises: type = ValueError, *, warns: bool = False, absent: str | None = None,
         marks=()) -> Any:
    return pytest.param(Case(id, run, match, raises, warns, absent), id=id, marks=marks)


TS_FIRST_LINE = "The following operation failed in the TorchScript interpreter"

MODEL_CASES = [
    case("model-random-bytes", lambda t: ex.load_model(write(t, "r.pt", bytes(range(256)) * 8)),
         r"r\.pt is not a PyTorch model file", ex.ModelLoadError),
    case("model-empty-file", lambda t: ex.load_model(write(t, "e.pt", b"")),
         r"e\.pt is empty \(0 bytes\)", ex.ModelLoadError),
    case("model-bare-state-dict",
         lambda t: (torch.save(seeded(TinyCNN).state_dict(), t / "sd.pt"), ex.load_model(t / "sd.pt")),
         r"holds a bare state_dict \(weights only, no architecture\)", ex.ModelLoadError),
    case("model-full-pickle-untrusted",
         lambda t: (torch.save(seeded(TinyCNN), t / "full.pt"), ex.load_model(t / "full.pt")),
         r"full Python pickle: reading it can run arbitrary code.*trusted=True", ex.ModelLoadError),
    case("model-folder", lambda t: ex.load_model(t), r"is a folder, not a model file", ex.ModelLoadError),
    case("model-missing", lambda t: ex.load_model(t / "nope.pt"), r"model file not found: nope\.pt",
         FileNotFoundError),
    case("model-cuda-on-a-cpu-machine", lambda t: ex.load_model(torchscript(t, TinyCNN), device="cuda"),
         r"no CUDA device.*use device='cpu'", ex.ModelLoadError, marks=NO_CUDA),
    case("model-unknown-device", lambda t: ex.load_model(torchscript(t, TinyCNN), device="gpu0"),
         r"device must be 'cpu', 'cuda', 'cuda:N' or 'mps'; got 'gpu0'", ex.ModelLoadError),
    case("model-output-without-task-axis", lambda t: ex.load_model(torchscript(t, Flat)),
         r"has shape \(1,\) for one input; expected \(1, n_tasks\)", ex.ModelLoadError),
    case("model-output-not-a-tensor", lambda t: ex.load_model(torchscript(t, ReturnsText)),
         r"returned a str; expected a tensor, a tuple or a dict", ex.ModelLoadError),
    case("model-card-names-too-many-tasks",
         lambda t: ex.load_model(torchscript(t, TinyCNN), tasks=["a", "b", "c"]),
         r"returns 2 output channels .* names 3 tasks", ex.ModelLoadError),
    case("model-raises-inside-forward", lambda t: ex.load_model(torchscript(t, Raises)),
         r"Its own error at 1,000 bp: ValueError: this network was trained on 7-channel input, not one-hot DNA",
         ex.ModelLoadError, absent=TS_FIRST_LINE),
    case("model-shape-mismatch-at-given-length",
         lambda t: ex.load_model(torchscript(t, FixedLinear), input_length=300),
         r"fails on the given input length of 300 bp: RuntimeError: mat1 and mat2 shapes cannot be multiplied "
         r"\(1x1200 and 200x2\)", ex.ModelLoadError, absent=TS_FIRST_LINE),
    case("model-fixed-to-cuda", lambda t: ex.load_model(torchscript(t, FixedToCuda)),
         r"'CUDA' backend.*fixed to a CUDA GPU.*export it again from the CPU", ex.ModelLoadError,
         absent=TS_FIRST_LINE, marks=NO_CUDA),
    case("model-zip-that-is-not-torch", lambda t: ex.load_model(zip_file(t, "z.pt")),
         r"z\.pt is not a PyTorch model file", ex.ModelLoadError),
    case("model-side-card-not-an-object", lambda t: ex.load_model(with_side_card(t)),
         r"carded\.card\.json holds a list, not a JSON object", ex.ModelLoadError),
    case("model-unknown-architecture", lambda t: ex.load_model(unknown_architecture(t)),
         r"needs the architecture 'no_such_net', which is not registered", ex.ModelLoadError),
    case("model-normalises-across-the-batch", lambda t: ex.load_model(torchscript(t, BatchNormalised)),
         r"changes when other sequences are in the same batch.*change with the batch size", warns=True),
    case("model-dropout-left-on", lambda t: ex.load_model(torchscript(t, DropoutOn)),
         r"changes from run to run.*dropout", warns=True),
]

ATTRIBUTION_CASES = [
    case("attribute-unknown-method", lambda t: ex.attribute(tiny(), locus(), method="shap", target="CTCF"),
         r"method must be one of \['deeplift_shap', 'ig', 'ism', 'saliency'\]; got 'shap'"),
    case("attribute-unknown-task", lambda t: ex.attribute(tiny(), locus(), target="GATA1"),
         r"unknown target 'GATA1'; the model has tasks \['CTCF', 'SPI1'\]"),
    case("attribute-task-index-out-of-range", lambda t: ex.attribute(tiny(), locus(), target=5),
         r"target index 5 is out of range for 2 outputs"),
    case("attribute-no-target-for-two-tasks", lambda t: ex.attribute(tiny(), locus()),
         r"the model has 2 outputs; choose a target"),
    case("attribute-window-reversed", lambda t: ex.attribute(tiny(), locus(), target=0, start=50, end=10),
         r"the window \[start=50, end=10\) is empty"),
    case("attribute-window-past-the-end", lambda t: ex.attribute(tiny(), locus(), target=0, start=50, end=1000),
         r"0 <= start < end <= length; got start=50, end=1000 for a 100 bp sequence"),
    case("attribute-option-of-another-method",
         lambda t: ex.attribute(tiny(), locus(), method="ism", target=0, n_steps=5),
         r"unknown option\(s\) \['n_steps'\] for method 'ism'"),
    case("attribute-one-hot-not-0-1", lambda t: ex.attribute(tiny(), torch.full((4, 50), 0.25), target=0),
         r"one-hot input must hold only 0 and 1"),
    case("attribute-one-hot-transposed", lambda t: ex.attribute(tiny(), torch.zeros(50, 4), target=0),
         r"it looks transposed"),
    case("attribute-sequence-too-short", lambda t: ex.attribute(tiny(), "AC", target=0),
         r"needs inputs of at least 3 bp; got 2 bp"),
    case("attribute-not-a-sequence", lambda t: ex.attribute(tiny(), 5, target=0),
         r"expected a Locus, a \(4, L\) one-hot tensor or a DNA string; got int", TypeError),
    case("attribute-torchscript-model-raises",
         lambda t: ex.attribute(explorer_model(torch.jit.load(str(torchscript(t, RaisesOnN)))), "ACGTNACGTACGT",
                                method="saliency", target=0),
         r"the model failed while computing the saliency map\. Its own error: ValueError: N bases are not "
         r"allowed by this model", RuntimeError, absent=TS_FIRST_LINE),
    case("attribute-nan-output", lambda t: ex.attribute(explorer_model(seeded(NaNOutput)), SEQ, method="saliency",
                                                        target=0),
         r"(?i)nan"),
    case("attribute-cuda-on-a-cpu-machine", lambda t: ex.attribute(tiny(), locus(), target=0, device="cuda"),
         r"no CUDA device is available; use 'cpu'", marks=NO_CUDA),
    case("predict-window-longer-than-the-sequence", lambda t: ex.predict(tiny(), locus(), window=500),
         r"window must be between 1 and the sequence length 100; got 500"),
]

SEQUENCE_CASES = [
    case("sequence-invalid-character", lambda t: ex.one_hot_encode("ACGTZ"),
         r"invalid character 'Z' at position 5 \(1-based\)"),
    case("sequence-rna", lambda t: ex.one_hot_encode("ACGU"), r"looks like RNA: write T for U"),
    case("sequence-not-a-string", lambda t: ex.one_hot_encode(5),
         r"must be a DNA string or a list of DNA strings; got int", TypeError),
    case("sequence-list-of-numbers", lambda t: ex.one_hot_encode([1, 2]), r"got a list holding int", TypeError),
    case("sequence-unequal-lengths", lambda t: ex.one_hot_encode(["ACG", "AC"]),
         r"must all have the same length to stack; got lengths \[2, 3\]"),
    case("sequence-empty", lambda t: ex.locus_from_sequence("  \n"), r"the sequence is empty"),
    case("region-reversed", lambda t: ex.parse_region("chr1:500-100"), r"is empty or reversed"),
    case("region-unreadable", lambda t: ex.parse_region("chr1:5..9"),
         r"cannot read region 'chr1:5\.\.9': write it as chrom:start-end, 1-based"),
    case("region-start-zero", lambda t: ex.parse_region("chr1:0-100"), r"positions are 1-based, so start must be"),
    case("region-of-the-wrong-type", lambda t: ex.parse_region(5),
         r"region must be a str, a \(chrom, start, end\) tuple or a Region; got int", TypeError),
    case("region-past-the-end", lambda t: ex.load_locus(fasta(t), region="a:1-50"),
         r"runs past the end of a, which is 10 bp long"),
    case("region-of-an-unknown-record", lambda t: ex.load_locus(fasta(t), region="b:1-5"),
         r"sequence 'b' is not in ok\.fa; it holds: a"),
]

LOCUS_FILE_CASES = [
    case("fasta-empty-file", lambda t: ex.load_locus(write(t, "e.fa", "")), r"e\.fa is empty \(0 bytes\)"),
    case("fasta-not-fasta", lambda t: ex.load_locus(write(t, "n.fa", "hello world\n")),
         r"neither FASTA \(first line '>name'\) nor GenBank"),
    case("fasta-duplicate-names", lambda t: ex.load_locus(write(t, "d.fa", ">a\nACGT\n>a\nACGT\n")),
         r"holds two records named 'a'; record names must be unique"),
    case("fasta-folder", lambda t: ex.load_locus(t), r"is a folder, not a FASTA or GenBank file"),
    case("fasta-missing", lambda t: ex.load_locus(t / "nope.fa"), r"locus file not found", FileNotFoundError),
    case("fasta-gz-name-but-not-gzip", lambda t: ex.load_locus(write(t, "x.fa.gz", bytes(range(1, 200)))),
         r"its name ends in \.gz but it is not gzip-compressed"),
    case("fasta-gzip-truncated",
         lambda t: ex.load_locus(write(t, "t.fa.gz", gzip.compress(b">a\nACGTACGT\n" * 100)[:30])),
         r"t\.fa\.gz is a damaged or truncated gzip file"),
    case("fasta-zip-archive", lambda t: ex.load_locus(zip_file(t, "z.fa")), r"z\.fa is a zip archive: unzip it"),
    case("fasta-header-without-bases", lambda t: ex.load_locus(write(t, "h.fa", ">chr1\n>chr2\nACGT\n")),
         r"record 'chr1' of h\.fa holds no bases"),
    case("fasta-header-without-a-name", lambda t: ex.load_locus(write(t, "b.fa", ">\nACGT\n")),
         r"b\.fa has a header line without a name.*pyfaidx: Bad sequence name"),
    case("fasta-invalid-base", lambda t: ex.load_locus(write(t, "x.fa", ">a\nACGTXACGT\n"), region="a:2-9"),
         r"invalid character 'X' at position 5 of a \(1-based\) in x\.fa"),
    case("genbank-without-sequence", lambda t: ex.load_locus(write(t, "n.gb", GENBANK_NO_SEQUENCE)),
         r"record 'TEST1' of n\.gb holds no sequence.*no ORIGIN section; Biopython: Sequence content is "
         r"undefined"),
    case("genbank-truncated",
         lambda t: ex.load_locus(write(t, "t.gb", GENBANK_NO_SEQUENCE.split("FEATURES")[0])),
         r"t\.gb is not a readable GenBank file"),
    case("annotation-line-not-gtf-or-bed",
         lambda t: ex.load_locus(fasta(t), annotations=write(t, "a.gtf", "a\tx\n")),
         r"a\.gtf, line 1: not a GTF/GFF \(9 tab-separated columns\) or BED"),
]


def vcf(tmp: Path, body: str, name: str = "v.vcf") -> Path:
    return write(tmp, name, VCF_HEAD + body)


VARIANT_CASES = [
    case("vcf-only-symbolic-alleles",
         lambda t: ex.parse_variants(vcf(t, "s\t5\t.\tA\t<DEL>\t.\t.\t.\ns\t6\t.\tC\t<INS>\t.\t.\t.\n"
                                            "s\t7\t.\tG\tG]s:20]\t.\t.\t.\ns\t8\t.\tT\t*\t.\t.\t.\n")),
         r"4 alternative alleles were skipped.*2 symbolic.*<DEL>, <INS>.*1 breakend.*1 '\*'.*No variant is left",
         warns=True),
    case("vcf-breakend-among-snvs",
         lambda t: ex.parse_variants(vcf(t, "s\t5\t.\tA\tA.\t.\t.\t.\ns\t6\t.\tC\tT\t.\t.\t.\n")),
         r"1 alternative allele was skipped.*1 breakend.*1 variant written as bases was read", warns=True),
    case("vcf-no-data-lines", lambda t: ex.parse_variants(vcf(t, "")), r"holds no variant lines", warns=True),
    case("vcf-too-few-columns", lambda t: ex.parse_variants(vcf(t, "s\t5\tA\tT\n")),
         r"v\.vcf line 3: a VCF data line needs at least 5 tab-separated columns"),
    case("vcf-space-separated", lambda t: ex.parse_variants(vcf(t, "s 5 . A T . . .\n")),
         r"separated by spaces: a VCF separates them with tabs"),
    case("vcf-ref-not-the-genome", lambda t: ex.parse_variants(vcf(t, "s\t5\t.\tC\tT\n"), locus=locus()),
         r"the reference allele C does not match the locus, which has A at s:5"),
    case("vcf-position-outside-the-locus", lambda t: ex.parse_variants(vcf(t, "s\t500\t.\tA\tT\n"), locus=locus()),
         r"lies outside the locus s:1-100"),
    case("vcf-position-zero", lambda t: ex.parse_variants(vcf(t, "s\t0\t.\tA\tT\n")),
         r"positions are 1-based, so pos must be >= 1; got 0"),
    case("vcf-position-not-a-number", lambda t: ex.parse_variants(vcf(t, "s\tfive\t.\tA\tT\n")),
         r"position 'five' is not a whole number"),
    case("vcf-other-sequence", lambda t: ex.parse_variants(vcf(t, "chr9\t5\t.\tA\tT\n"), locus=locus()),
         r"is on 'chr9' but the locus is s:1-100"),
    case("vcf-binary", lambda t: ex.parse_variants(write(t, "b.vcf", bytes(range(256)))),
         r"b\.vcf could not be read as text"),
    case("variant-table-missing-a-column",
         lambda t: ex.parse_variants(write(t, "t.tsv", "chrom\tposition\tref\ns\t5\tA\n")),
         r"lacks the column\(s\) \['alt'\]"),
    case("variant-table-empty", lambda t: ex.parse_variants(write(t, "e.tsv", "")),
         r"e\.tsv is empty: a variant table needs a header line"),
    case("variant-string-unreadable", lambda t: ex.parse_variants("rs12345"),
         r"cannot read variant 'rs12345': write a variant as 'chrom:pos:ref>alt'"),
    case("variant-same-alleles", lambda t: ex.parse_variants("s:5:A>A"), r"ref and alt are the same allele"),
    case("variant-folder", lambda t: ex.parse_variants(t), r"is a folder, not a variant file"),
    case("variant-of-the-wrong-type", lambda t: ex.parse_variants(5), r"variants must be a VCF/TSV path", TypeError),
    case("variant-insertion-longer-than-the-window",
         lambda t: ex.variant_effect(tiny(), locus(), "s:51:A>A" + "G" * 30, window=20),
         r"alternative allele \(31 bp\) is longer than the 10 bp of the 20 bp scoring window.*21 inserted bases "
         r"cut off", warns=True),
    case("variant-scoring-torchscript-model-raises",
         lambda t: ex.variant_effect(explorer_model(torch.jit.load(str(torchscript(t, RaisesOnN)))), locus(),
                                     "s:51:A>T", window=200),
         r"Its own error: ValueError: N bases are not allowed by this model", RuntimeError, absent=TS_FIRST_LINE),
]


def meme(tmp: Path, body: str, name: str = "m.meme") -> Path:
    return write(tmp, name, MEME_HEAD + body)


MOTIF_CASES = [
    case("meme-counts-given-as-probabilities",
         lambda t: ex.read_meme(meme(t, "MOTIF M1 CTCF\nletter-probability matrix: alength= 4 w= 3 nsites= 20\n"
                                        "10 5 5 0\n0 20 0 0\n1 1 1 17\n")),
         r"1 of 1 motif holds counts \(or percentages\), not probabilities.*M1 \(rows summing to 20\).*divided "
         r"by its total", warns=True),
    case("meme-row-not-summing-to-1",
         lambda t: ex.read_meme(meme(t, "MOTIF M1\nletter-probability matrix: alength= 4 w= 2\n"
                                        "0.5 0.1 0.1 0.1\n0.25 0.25 0.25 0.25\n")),
         r"m\.meme, line 9: row 1 of motif 'M1' sums to 0\.8, not 1"),
    case("meme-empty", lambda t: ex.read_meme(write(t, "e.meme", "")), r"e\.meme is empty: it holds no motifs"),
    case("meme-truncated",
         lambda t: ex.read_meme(meme(t, "MOTIF M1\nletter-probability matrix: alength= 4 w= 3\n0.5 0.1 0.2 0.2\n")),
         r"declares w= 3 but has 1 rows; the file may be cut short"),
    case("meme-truncated-row",
         lambda t: ex.read_meme(meme(t, "MOTIF M1\nletter-probability matrix: w= 2\n0.5 0.1 0.2 0.2\n0.5 0.1\n")),
         r"line 10: a matrix row of motif 'M1' must hold 4 numbers \(A C G T\); got 2"),
    case("meme-protein-alphabet", lambda t: ex.read_meme(write(t, "p.meme", "MEME version 4\n\nALPHABET= "
                                                                             "ACDEFGHIKLMNPQRSTVWY\n")),
         r"only the DNA alphabet ACGT is supported"),
    case("meme-rna-alphabet", lambda t: ex.read_meme(write(t, "r.meme", "MEME version 4\n\nALPHABET= ACGU\n")),
         r"the U column is the T column: write ALPHABET= ACGT"),
    case("meme-negative-value",
         lambda t: ex.read_meme(meme(t, "MOTIF a\nletter-probability matrix: w= 2\n1 0 0 0\n-0.5 0.5 0.5 0.5\n")),
         r"line 10: row 2 of motif 'a' holds -0\.5 0\.5 0\.5 0\.5; matrix values must be finite and >= 0"),
    case("meme-all-zero-row",
         lambda t: ex.read_meme(meme(t, "MOTIF a\nletter-probability matrix: w= 2\n1 0 0 0\n0 0 0 0\n")),
         r"line 10: row 2 of motif 'a' is all zero"),
    case("meme-log-odds-only",
         lambda t: ex.read_meme(meme(t, "MOTIF a\nlog-odds matrix: alength= 4 w= 1\n1.2 -3 -3 -1\n")),
         r"only a 'log-odds matrix:'"),
    case("jaspar-file-given-as-meme",
         lambda t: ex.read_meme(write(t, "m.jaspar", ">MA0139.2\tCTCF\nA  [ 0 0 1 ]\nC  [ 20 0 3 ]\n"
                                                     "G  [ 0 20 0 ]\nT  [ 0 0 16 ]\n")),
         r"it is a JASPAR motif file.*jaspar2meme"),
    case("homer-file-given-as-meme",
         lambda t: ex.read_meme(write(t, "m.motif", ">ACGT\tCTCF(Zf)/Homer\t6.5\n0.9 0.05 0.03 0.02\n"
                                                    "0.1 0.7 0.1 0.1\n")),
         r"it is a HOMER motif file.*letter-probability matrix"),
    case("transfac-file-given-as-meme",
         lambda t: ex.read_meme(write(t, "t.dat", "AC  M00001\nXX\nID  V$MYOD_01\nP0      A      C      G      T\n"
                                                  "01      1      2      2      0      S\n//\n")),
         r"it is a TRANSFAC motif file.*transfac2meme"),
    case("meme-folder", lambda t: ex.read_meme(t), r"is a folder, not a MEME motif file"),
    case("meme-binary", lambda t: ex.read_meme(write(t, "b.meme", bytes(range(256)) * 4)),
         r"could not be read as a MEME text file"),
    case("jaspar-unknown-release", lambda t: ex.jaspar(release="JASPAR1999"),
         r"unknown JASPAR release 'JASPAR1999'; pyjaspar .* ships: "),
]

CORPUS = MODEL_CASES + ATTRIBUTION_CASES + SEQUENCE_CASES + LOCUS_FILE_CASES + VARIANT_CASES + MOTIF_CASES


def assert_actionable(exc: BaseException) -> None:
    """An exception a user can act on: Python's or the explorer's own, with words of its own."""
    cls = type(exc)
    assert cls.__module__ == "builtins" or cls.__module__.startswith("explorer."), (
        f"a library's exception leaked: {cls.__module__}.{cls.__name__}: {exc}")
    assert not isinstance(exc, (KeyError, IndexError, AttributeError, AssertionError, UnicodeError,
                                NotImplementedError)), f"a raw {cls.__name__}: {exc}"
    text = str(exc)
    assert text.strip(), f"{cls.__name__} without a message"
    assert not text.startswith(TS_FIRST_LINE), text


def test_the_corpus_is_big_enough():
    assert len(CORPUS) >= 40
    assert len({p.values[0].id for p in CORPUS}) == len(CORPUS), "case ids must be unique"


@pytest.mark.parametrize("bad", CORPUS)
def test_bad_input(bad: Case, tmp_path):
    if bad.warns:
        with pytest.warns(UserWarning, match=bad.match) as record:
            result = bad.run(tmp_path)
        assert result is not None
        if bad.absent:
            assert all(bad.absent not in str(w.message) for w in record)
        return
    with pytest.raises(Exception) as info:
        bad.run(tmp_path)
    exc = info.value
    assert isinstance(exc, bad.raises), f"expected {bad.raises.__name__}, got {type(exc).__name__}: {exc}"
    assert_actionable(exc)
    assert info.match(bad.match)
    if bad.absent:
        assert bad.absent not in str(exc)


# ------------------------------------------------------------------------------ what the corpus's fixes keep

def test_a_model_error_keeps_its_cause(tmp_path):
    model = explorer_model(torch.jit.load(str(torchscript(tmp_path, RaisesOnN))))
    with pytest.raises(RuntimeError) as info:
        ex.attribute(model, "ACGTNACGTACGT", method="saliency", target=0)
    assert TS_FIRST_LINE in str(info.value.__cause__)  # the whole traceback stays attached


def test_a_well_behaved_model_loads_without_warning(tmp_path, recwarn):
    model = ex.load_model(torchscript(tmp_path, TinyCNN))
    assert not [w for w in recwarn if issubclass(w.category, UserWarning) and "batch" in str(w.message)]
    assert model.facts.warnings == [] and "Warning" not in model.report


def test_a_batch_dependent_model_says_so_in_its_report(tmp_path):
    with pytest.warns(UserWarning, match="same batch"):
        model = ex.load_model(torchscript(tmp_path, BatchNormalised))
    assert len(model.facts.warnings) == 1 and "Warning: the model's output for a sequence changes" in model.report


def test_counts_become_the_probabilities_of_the_same_sites(tmp_path):
    path = meme(tmp_path, "MOTIF M1\nletter-probability matrix: w= 2\n10 5 5 0\n3 2 1 0\n")
    with pytest.warns(UserWarning, match=r"rows summing to 6-20"):
        db = ex.read_meme(path)
    expected = torch.tensor([[10 / 20, 3 / 6], [5 / 20, 2 / 6], [5 / 20, 1 / 6], [0.0, 0.0]])
    assert torch.allclose(db["M1"], expected, atol=1e-6)
    assert db.notes and "M1" in db.notes[0]


def test_rounded_probabilities_are_read_without_a_word(tmp_path, recwarn):
    path = meme(tmp_path, "MOTIF M1\nletter-probability matrix: w= 2\n0.33 0.33 0.33 0.00\n0.25 0.25 0.25 0.26\n")
    db = ex.read_meme(path)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)] and db.notes == []
    assert torch.allclose(db["M1"].sum(0), torch.ones(2), atol=1e-6)


def test_a_fasta_with_uneven_lines_is_read_whole(tmp_path):
    path = write(tmp_path, "uneven.fa", ">a\nACGTAC\nACG\nACGTACGT\n>b\nTTTT\n")
    loc = ex.load_locus(path, region="a:2-16")
    assert loc.sequence == "CGTACACGACGTACG" and loc.chrom_length == 17


def test_skipped_alleles_are_listed_and_the_rest_kept(tmp_path):
    path = vcf(tmp_path, "s\t5\t.\tA\t<DEL>,T\t.\t.\t.\ns\t6\t.\tC\t*\t.\t.\t.\n")
    with pytest.warns(UserWarning, match="2 alternative alleles were skipped"):
        table = ex.parse_variants(path, locus=locus())
    assert table[["pos", "ref", "alt"]].values.tolist() == [[5, "A", "T"]]
    assert table.attrs["skipped"] == ["s:5:A><DEL>", "s:6:C>*"] and len(table.attrs["notes"]) == 1


def test_a_truncated_insertion_is_still_scored_and_noted(tmp_path):
    with pytest.warns(UserWarning, match="cut off"):
        effects = ex.variant_effect(tiny(), locus(), "s:51:A>A" + "G" * 30, window=20)
    assert len(effects) == 2 and effects["diff"].notna().all()
    assert len(effects.attrs["notes"]) == 1 and "s:51:A>A" in effects.attrs["notes"][0]


def test_an_insertion_that_fits_gets_no_note():
    effects = ex.variant_effect(tiny(), locus(), "s:51:A>AGG", window=20)
    assert effects.attrs["notes"] == []


def test_corpus_cases_write_no_card_or_index_beside_the_data(tmp_path):
    """Reading bad (and good) files writes nothing beside them (cards and indexes go to the cache)."""
    fasta(tmp_path)
    torchscript(tmp_path, TinyCNN)
    before = sorted(p.name for p in tmp_path.iterdir())
    ex.load_locus(tmp_path / "ok.fa")
    ex.load_model(tmp_path / "model.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert json.loads(json.dumps(before))  # the listing is plain names
