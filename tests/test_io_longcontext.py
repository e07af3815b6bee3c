"""Enformer and Borzoi folders (optional extras ``enformer``, ``borzoi``) load by folder and are
explained right.

Tiny random-init configurations are built in the test, saved with ``save_pretrained`` to a
temp folder beside a basenji targets table, and loaded with ``ex.load_model(folder)``. The
checks: tracks named (description, identifier alias), bins known, the output equals the
package's own model, gradient x input of a track over a window of bins equals autograd on
the package's model directly (checkpointing changes nothing), IG adds up, ISM over a 50 bp
sub-window equals brute force, ISM past its limit and DeepLIFT/SHAP are refused with words,
and a Borzoi gene target sums the gene's exon bins.
"""

import pandas as pd
import pytest
import torch

enformer_pytorch = pytest.importorskip(
    "enformer_pytorch", reason="enformer-pytorch is not installed (optional extra 'enformer': make install adds it)")
borzoi_pytorch = pytest.importorskip(
    "borzoi_pytorch", reason="borzoi-pytorch is not installed (optional extra 'borzoi': make install adds it)")

import explorer as ex  # noqa: E402
from explorer.attribution.genes import exon_bins, gene_target  # noqa: E402
from explorer.attribution.targets import TargetSum, resolve_target  # noqa: E402
from explorer.io.loci import ANNOTATION_COLUMNS, locus_from_sequence  # noqa: E402
from explorer.io.models import ModelLoadError  # noqa: E402
from brute_force import brute_force_ism  # noqa: E402
from longcontext_folders import write_targets  # noqa: E402

@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models gain nothing from threads, and on a loaded 2-core machine two threads made
    each pass about 100 times slower (measured: 1 s against 10 ms); restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TRACKS = [("ENCFF001", "CAGE:HepG2"), ("ENCFF002", "CAGE:K562"), ("ENCFF003", "DNASE:K562")]


def one_hot(length, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.nn.functional.one_hot(torch.randint(0, 4, (length,), generator=gen), 4).T.float()


@pytest.fixture(scope="module")
def enformer_folder(tmp_path_factory):
    torch.manual_seed(0)
    net = enformer_pytorch.Enformer.from_hparams(dim=48, depth=1, heads=2, attn_dim_key=8, output_heads=dict(human=3),
                                                 target_length=4, num_downsamples=3, dim_divisible_by=8).eval()
    # safe_serialization=False: Enformer's trunk shares its blocks' tensors, which safetensors refuses
    return saved(net, tmp_path_factory.mktemp("enformer") / "tiny-enformer", TRACKS, safe_serialization=False)


def saved(net, folder, rows, **options):
    """``(folder, net)``: ``net`` saved with ``save_pretrained`` beside a targets table of ``rows``."""
    net.save_pretrained(folder, **options)
    write_targets(folder / "targets.txt", rows)
    return folder, net


@pytest.fixture(scope="module")
def enformer(enformer_folder):
    return ex.load_model(enformer_folder[0], device="cpu")


def test_enformer_folder_loads_with_named_tracks_and_bins(enformer, enformer_folder):
    _folder, raw = enformer_folder
    assert enformer.kind == "enformer" and enformer.tasks == [d for _i, d in TRACKS]
    # 2^3 = 8 bp bins; 4 output bins cropped from 8, so 2 bins (16 bp) on each side
    assert enformer.input_length == 64 and enformer.card["output_bins"] == {"size": 8, "offset": 16, "count": 4}
    x = torch.stack([one_hot(64, 1), one_hot(64, 2)])
    with torch.no_grad():
        ours, theirs = enformer(x), raw(x.transpose(1, 2), head="human")
    assert ours.shape == (2, 3, 4)
    torch.testing.assert_close(ours, theirs.transpose(1, 2))
    # the identifier is an alias of the description
    assert resolve_target(enformer, "ENCFF002") == resolve_target(enformer, "CAGE:K562")
    assert "4 bins of 8 bp" in enformer.card["notes"] and "3 tracks" in enformer.card["notes"]
    assert "..." not in repr(enformer) and "CAGE:HepG2" in repr(enformer)


def test_saliency_of_a_track_over_bins_equals_autograd_on_the_model(enformer, enformer_folder):
    raw = enformer_folder[1]
    x = one_hot(64, 3)
    res = ex.attribute(enformer, x, method="saliency", target="CAGE:HepG2", window=(1, 3), cache=False)
    assert res.target == "CAGE:HepG2 sum[1:3]"
    z = x.T[None].clone().requires_grad_(True)  # (1, L, 4): Enformer's own layout
    raw(z, head="human")[0, 1:3, 0].sum().backward()
    direct = (z.grad[0] * x.T).T
    scale = float(direct.abs().max())
    assert scale > 0
    torch.testing.assert_close(res.values, direct, atol=1e-5 * scale, rtol=1e-4)
    # the default window is the card's central bins (here all 4), and says so in the name
    default = ex.attribute(enformer, x, method="saliency", target="CAGE:HepG2", cache=False)
    assert default.target == "CAGE:HepG2 sum[0:4]"


def test_checkpointing_changes_no_gradient(enformer_folder):
    folder, _raw = enformer_folder
    x = one_hot(64, 4)
    from explorer.io.longcontext import wrap_enformer
    from explorer.io.models import build_model

    plain_net = enformer_pytorch.Enformer.from_pretrained(str(folder), local_files_only=True).eval()
    net, card = wrap_enformer(plain_net, checkpoint=False)
    plain = build_model(net, card, check_output=False)
    checkpointed = ex.load_model(folder, device="cpu")
    a = ex.attribute(plain, x, method="ig", target=1, baseline="zeros", cache=False)
    b = ex.attribute(checkpointed, x, method="ig", target=1, baseline="zeros", cache=False)
    torch.testing.assert_close(a.values, b.values, atol=1e-5 * float(a.values.abs().max()), rtol=1e-4)
    # IG adds up: sum of the map = f(x) - f(0) within its reported completeness error
    with torch.no_grad():
        gap = float(checkpointed(x[None])[0, 1].sum() - checkpointed(torch.zeros(1, 4, 64))[0, 1].sum())
    assert abs(float(b.values.sum()) - gap) <= max(0.02, 2 * b.diagnostics.completeness_error) * abs(gap) + 1e-6


def test_ism_over_a_50bp_subwindow_equals_brute_force(enformer):
    x = one_hot(64, 5)
    target = resolve_target(enformer, "DNASE:K562", window=(1, 3))
    res = ex.attribute(enformer, x, method="ism", target=target, start=7, end=57, cache=False)
    brute, reference = brute_force_ism(lambda s: float(target(enformer(s[None]))[0]), x, range(7, 57))
    # float32 outputs of size |f(x)|: differences agree to a few of its roundoffs
    atol = 8 * torch.finfo(torch.float32).eps * max(abs(reference), float(brute.abs().max()))
    torch.testing.assert_close(res.values.double(), brute, atol=atol, rtol=1e-4)
    assert res.diagnostics.ism_path == "plain" and float(brute.abs().max()) > 100 * atol
    assert res.diagnostics.reference_score == pytest.approx(reference, rel=1e-5, abs=1e-7)


def test_ism_past_its_limit_is_refused_and_the_limit_can_be_raised(enformer):
    x = one_hot(64, 6)
    with pytest.raises(ValueError, match=r"180 times on 64 bp.*limit of 150 runs.*at most 50 bp.*max_mutants=180"):
        ex.attribute(enformer, x, method="ism", target=0, start=0, end=60, max_mutants=150, cache=False)
    res = ex.attribute(enformer, x, method="ism", target=0, start=0, end=60, max_mutants=180, cache=False)
    assert res.values.shape == (4, 60)
    cost = ex.ism_cost(enformer, 0, 200, length=64)
    assert cost.n_mutants == 600 and cost.limit == 300 and not cost.allowed and cost.seconds > 0
    assert "about" in cost.describe() and "over the limit of 300 runs" in cost.describe()


def test_deeplift_is_refused_with_the_reason(enformer):
    with pytest.raises(ValueError, match=r"DeepLIFT/SHAP is not available.*softmax.*method='ig'"):
        ex.attribute(enformer, one_hot(64), method="deeplift_shap", target=0, cache=False)


def test_contrast_of_two_tracks_is_their_difference(enformer):
    x = one_hot(64, 7)
    contrast = resolve_target(enformer, "CAGE:HepG2 - CAGE:K562")
    assert isinstance(contrast, TargetSum) and contrast.name == "CAGE:HepG2 sum[0:4] - CAGE:K562 sum[0:4]"
    with torch.no_grad():
        y = enformer(x[None])
    torch.testing.assert_close(contrast(y), y[:, 0].sum(-1) - y[:, 1].sum(-1))
    both = ex.attribute(enformer, x, method="saliency", target="CAGE:HepG2 - CAGE:K562", cache=False)
    a = ex.attribute(enformer, x, method="saliency", target="CAGE:HepG2", cache=False)
    b = ex.attribute(enformer, x, method="saliency", target="CAGE:K562", cache=False)
    torch.testing.assert_close(both.values, a.values - b.values, atol=1e-5 * float(a.values.abs().max()), rtol=1e-4)


def test_targets_table_problems_are_explained(enformer_folder, tmp_path):
    folder, _raw = enformer_folder
    short = write_targets(tmp_path / "short.txt", TRACKS[:2])
    with pytest.raises(ModelLoadError, match=r"names 2 tracks, but the model's human head has 3"):
        ex.load_model(folder, targets=short, device="cpu")
    repeated = write_targets(tmp_path / "repeated.txt", [("ENCFF1", "DNASE:K562"), ("ENCFF2", "DNASE:K562"),
                                                         ("ENCFF3", "CAGE:HepG2")])
    model = ex.load_model(folder, targets=repeated, device="cpu")
    assert model.tasks == ["DNASE:K562 (ENCFF1)", "DNASE:K562 (ENCFF2)", "CAGE:HepG2"]
    assert resolve_target(model, "ENCFF2").task_index == 1
    bad = tmp_path / "bad.txt"
    bad.write_text("a\tb\n1\t2\n")
    with pytest.raises(ModelLoadError, match=r"no column identifier and description"):
        ex.load_model(folder, targets=bad, device="cpu")
    with pytest.raises(ModelLoadError, match=r"targets table not found"):
        ex.load_model(folder, targets=tmp_path / "missing.txt", device="cpu")


def test_folder_without_targets_numbers_its_tracks(enformer_folder, tmp_path):
    folder, raw = enformer_folder
    alone = tmp_path / "alone"
    raw.save_pretrained(alone, safe_serialization=False)
    model = ex.load_model(alone, device="cpu")
    assert model.tasks == ["track 0", "track 1", "track 2"] and "give targets=path" in model.card["notes"]
    with pytest.raises(ModelLoadError, match=r"input length must be a multiple of 8 bp"):
        ex.load_model(alone, input_length=60, device="cpu")
    (tmp_path / "other").mkdir()
    with pytest.raises(ModelLoadError, match=r"is a folder.*Enformer/Borzoi"):
        ex.load_model(tmp_path / "other")


# -- Borzoi -------------------------------------------------------------------------------
N_BORZOI = 7611  # borzoi-pytorch's human head has a fixed number of tracks


@pytest.fixture(scope="module")
def borzoi_folder(tmp_path_factory):
    torch.manual_seed(0)
    # the smallest Borzoi: its conv tower has fixed widths; the transformer and the crop shrink
    net = borzoi_pytorch.Borzoi.from_hparams(dim=32, depth=1, heads=1, attn_dim_key=8, attn_dim_value=32,
                                             bins_to_return=16).eval()
    rows = [(f"ENCFF{i:05d}", f"RNA:sample {i}") for i in range(N_BORZOI)]
    rows[0] = ("ENCFF90000", "RNA:liver")
    return saved(net, tmp_path_factory.mktemp("borzoi") / "tiny-borzoi", rows)


@pytest.fixture(scope="module")
def borzoi(borzoi_folder):
    return ex.load_model(borzoi_folder[0], device="cpu")


def test_borzoi_folder_loads_with_named_tracks_and_bins(borzoi, borzoi_folder):
    raw = borzoi_folder[1]
    assert borzoi.kind == "borzoi" and len(borzoi.tasks) == N_BORZOI and borzoi.tasks[0] == "RNA:liver"
    # 16 bins of 32 bp kept from 48: 16 bins (512 bp) cropped on each side of a 1,536 bp input
    assert borzoi.input_length == 1536 and borzoi.card["output_bins"] == {"size": 32, "offset": 512, "count": 16}
    assert f"{N_BORZOI:,} in all" in repr(borzoi)
    x = one_hot(1536, 1)[None]
    with torch.no_grad():
        torch.testing.assert_close(borzoi(x), raw(x))


def test_gene_target_sums_the_genes_exon_bins(borzoi, borzoi_folder):
    raw = borzoi_folder[1]
    seq = "".join("ACGT"[i] for i in one_hot(1536, 2).argmax(0).tolist())
    locus = locus_from_sequence(seq, name="chrT", start=10_000)
    # exons at input bases [520, 540), [600, 700), [690, 720): bins 0; 2-5; 5-6 (32 bp from base 512)
    locus.annotations = pd.DataFrame(
        [("chrT", 10_000 + 520, 10_000 + 540, "+", "exon", "GENE1"), ("chrT", 10_600, 10_700, "+", "exon", "GENE1"),
         ("chrT", 10_690, 10_720, "+", "exon", "GENE1"), ("chrT", 10_000, 11_536, "+", "gene", "GENE2")],
        columns=ANNOTATION_COLUMNS)
    assert exon_bins(borzoi, locus, "gene1").tolist() == [0, 2, 3, 4, 5, 6]
    target = gene_target(borzoi, locus, "GENE1", "RNA:liver")
    assert target.name == "RNA:liver over GENE1 exons (6 bins)" and len(target.terms) == 2
    x = locus.one_hot
    with torch.no_grad():
        y = raw(x[None])
    assert float(target(y)[0]) == pytest.approx(float(y[0, 0, [0, 2, 3, 4, 5, 6]].sum()), rel=1e-5)
    res = ex.attribute(borzoi, locus, method="saliency", target=target, cache=False)
    z = x[None].clone().requires_grad_(True)
    raw(z)[0, 0, [0, 2, 3, 4, 5, 6]].sum().backward()
    direct = z.grad[0] * x
    torch.testing.assert_close(res.values, direct, atol=1e-5 * float(direct.abs().max()), rtol=1e-4)
    with pytest.raises(ValueError, match=r"has gene rows for 'GENE2' but no exon rows"):
        gene_target(borzoi, locus, "GENE2", 0)
    with pytest.raises(ValueError, match=r"no exons of gene 'HBB'.*GENE1"):
        gene_target(borzoi, locus, "HBB", 0)


def test_gene_target_needs_binned_outputs():
    sample = ex.load_sample_model(device="cpu")
    locus = locus_from_sequence("ACGT" * 100)
    with pytest.raises(ValueError, match=r"needs a model whose outputs are bins"):
        exon_bins(sample, locus, "X")
