"""Drive the explorer's state and views from Python (no browser)."""

import json

import numpy as np
import pytest
import torch

import explorer as ex
from explorer.io.samples import SAMPLE_BOOKMARKS, SAMPLE_DATA
from explorer.variants import judge_comparison, output_kind

DEFAULT_REGION = next(iter(SAMPLE_BOOKMARKS.values()))


@pytest.fixture(scope="module")
def explorer_app(tmp_path_factory):
    """One Explorer on the sample data with IG computed on the default window.

    ``EXPLORER_CACHE_DIR`` points at a folder of this module while it runs, and is restored after.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXPLORER_CACHE_DIR", str(tmp_path_factory.mktemp("ui-cache")))
        app = ex.Explorer(roots=[SAMPLE_DATA, tmp_path_factory.getbasetemp()], autorun=False)
        app.state.method = "ig"
        app.run()
        yield app


@pytest.fixture()
def state(explorer_app):
    """The shared state, with its inputs put back after each test."""
    s = explorer_app.state
    saved = dict(region=s.region, task=s.task, method=s.method, model=s.model, locus=s.locus, window=s.window,
                 pasted_sequence=s.pasted_sequence, model_path=s.model_path, locus_path=s.locus_path)
    yield s
    s.param.update(**saved)


def test_defaults_open_sample_model_and_locus(explorer_app):
    s = explorer_app.state
    assert s.model.tasks == ["CTCF", "SPI1"] and s.task == "CTCF"
    assert s.locus.chrom == "HUMHBB" and len(s.locus) == 73308
    assert str(s.window.region) == ex.parse_region(DEFAULT_REGION).__str__() and len(s.window) == 2000
    assert s.predictions is not None and {"CTCF", "SPI1"} <= set(s.predictions.columns)


def test_ig_result_is_shown_with_motifs(explorer_app):
    s = explorer_app.state
    assert s.attribution is not None and s.attribution.method == "ig"
    assert s.attribution.values.shape == (4, 2000)
    assert "completeness error" in s.diagnostics
    table = explorer_app.matches.value
    assert "TF" in table and (table["TF"].str.upper().str.contains("CTCF")).any(), table
    assert explorer_app.tracks.object is not None
    assert "Agreement with JASPAR2026" in explorer_app.agreement.object


def test_clicking_a_match_zooms_and_draws_the_alignment(explorer_app):
    class Click:
        row = 0

    explorer_app._on_match_click(Click())
    seqlet = explorer_app.state.motifs.seqlets.loc[int(explorer_app.state.motifs.matches.iloc[0]["seqlet"])]
    lo, hi = explorer_app._range_stream.x_range
    assert lo == pytest.approx(seqlet["genome_start"] - 10 + 0.5)
    assert hi == pytest.approx(seqlet["genome_end"] + 10 + 0.5)
    assert explorer_app.state.x_range == pytest.approx((lo, hi))
    assert explorer_app.alignment.visible and explorer_app.alignment.object is not None


def test_switching_method_keeps_results_per_method(state, explorer_app):
    ig = state.attribution
    state.method = "saliency"
    assert state.attribution is None
    explorer_app.run()
    assert state.attribution.method == "saliency"
    state.method = "ig"
    assert state.attribution is ig


def test_ism_fills_the_heatmap_and_a_click_describes_the_substitution(state, explorer_app):
    state.method = "ism"
    explorer_app.run()
    assert state.ism is not None and state.ism.values.shape == (4, 2000)
    assert len(explorer_app.tracks.object) == 2  # logo and heatmap, one layout (shared x axis)
    col = 150
    ref_row = "ACGT".index(state.ism.sequence[col])
    alt_row = (ref_row + 1) % 4
    explorer_app._on_ism_tap([col * 4 + alt_row])
    text = explorer_app.substitution.object
    pos = state.ism.genome_start + col + 1
    assert f"{state.ism.sequence[col]}>{'ACGT'[alt_row]} at HUMHBB:{pos:,}" in text
    assert f"{abs(float(state.ism.values[alt_row, col])):.4f}" in text


def test_bad_region_keeps_the_window_and_says_why(state):
    window = state.window
    state.region = "HUMHBB:50,000-40,000"
    assert state.window is window
    assert state.message_kind == "danger" and "empty or reversed" in state.message
    state.region = "HUMHBB:1-90,000"
    assert state.window is window and "outside the loaded locus" in state.message
    state.region = "HUMHBB:100-150"
    assert state.window is window and "at least 100 bp" in state.message


def test_window_too_large_for_ism(state):
    state.region = "HUMHBB:20,001-30,000"
    assert len(state.window) == 10000
    with pytest.raises(ValueError, match="at most 5,000 bp"):
        state.check_ready("ism")


def test_bad_model_file_keeps_the_model(state, tmp_path_factory):
    model = state.model
    bad = tmp_path_factory.getbasetemp() / "not_a_model.pt"
    bad.write_text("hello")
    state.model_path = str(bad)
    assert state.load_model() is False
    assert state.model is model and "not a PyTorch model file" in state.message


def test_files_outside_the_configured_folders_are_refused(state):
    state.model_path = "/etc/hostname"
    assert state.load_model() is False
    assert "outside the folders this app may read" in state.message
    state.locus_path = "../../../../etc/passwd"
    assert state.load_locus() is False
    assert "Could not load the locus" in state.message
    assert state.locus.chrom == "HUMHBB"


def test_invalid_pasted_sequence_keeps_the_locus(state):
    locus = state.locus
    state.pasted_sequence = "ACGTACGTXX"
    assert state.load_locus() is False
    assert state.locus is locus and "'X' at position 9" in state.message


def test_pasted_sequence_is_explained(state, explorer_app):
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 300))
    state.pasted_sequence = seq
    assert state.load_locus() is True
    assert state.window.chrom == "pasted" and len(state.window) == 300
    state.method = "saliency"
    explorer_app.run()
    assert state.attribution.values.shape == (4, 300)
    state.pasted_sequence = ""


def test_exports(explorer_app):
    png = explorer_app._logo_bytes("png").getvalue()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    svg = explorer_app._logo_bytes("svg").getvalue()
    assert b"<svg" in svg[:500]
    with np.load(explorer_app._npz()) as npz:
        att = explorer_app.state.attribution
        assert npz["ohe"].shape == npz["attr"].shape == (1, 4, len(att))
        assert np.allclose(npz["attr"][0], att.values.numpy())
        assert json.loads(str(npz["meta"]))["chrom"] == "HUMHBB"
    csv = explorer_app._csv().getvalue().splitlines()
    assert csv[0] == "chrom,position_1based,ref,A,C,G,T,per_base" and len(csv) == len(att) + 1
    bed = explorer_app._bed().getvalue().strip().splitlines()
    assert bed and all(len(line.split("\t")) == 6 for line in bed)


def test_open_a_typed_variant_shows_ref_alt_and_difference(state, explorer_app):
    view = explorer_app.variants
    pos = state.window.start + 1000  # 1-based position of window index 999
    ref = state.window.sequence[999]
    alt = "A" if ref != "A" else "C"
    view.open_text(f"{state.window.chrom}:{pos:,}:{ref}>{alt}")
    layout = view.refalt_plot.object
    assert layout is not None and len(layout) == 3
    assert f"{ref}>{alt} at {pos:,}" in view.words.object and "alt - ref" in view.words.object


def test_a_wrong_reference_allele_is_named(state, explorer_app):
    view = explorer_app.variants
    pos = state.window.start + 1000
    ref = state.window.sequence[999]
    wrong = "G" if ref != "G" else "T"
    view.open_text(f"{state.window.chrom}:{pos}:{wrong}>A")
    assert state.message_kind == "danger"
    assert f"reference allele {wrong} does not match the locus, which has {ref}" in state.message


def test_measured_effects_are_compared_with_ism(state, explorer_app):
    view = explorer_app.variants
    state.region = SAMPLE_BOOKMARKS["HBB promoter"]
    state.method = "ism"
    explorer_app.run()
    view.measured_select.value = "variants/kircher2019_HBB.tsv.gz"
    assert view.load_measured() is True
    assert "on the minus strand" in view.measured_report.object  # HBB lies reversed in HUMHBB
    assert "Pearson r" in view.caption.object and "Spearman" in view.caption.object
    # the caption judges the numbers and the model card; no fixed verdict for a model's name
    cmp = ex.compare_ism_measured(state.ism, state.measured)
    judgement = judge_comparison(cmp, output_kind=output_kind(state.model.card),
                                 description=state.model.card.get("description"))
    assert judgement in view.caption.object
    assert f"r = {cmp.pearson:.2f}, p = {cmp.pearson_p:.2g}, n = {cmp.n}" in view.caption.object
    assert "expected, true result" not in view.caption.object
    assert view.compare_scatter.object is not None
    tsv = view._tsv().getvalue().splitlines()
    assert {"measured_effect", "measured_pvalue"} <= set(tsv[0].split("\t"))


def test_measured_track_shows_the_ism_per_base_importance(state, explorer_app):
    """The model track under the measured one is Attribution.per_base: 0 at N bases, and the
    observed-base value of a mean-centred map (not minus the column sum / 3)."""
    view = explorer_app.variants
    state.region = SAMPLE_BOOKMARKS["HBB promoter"]
    state.method = "ism"
    explorer_app.run()
    if state.measured is None:
        view.measured_select.value = "variants/kircher2019_HBB.tsv.gz"
        assert view.load_measured() is True
    ism = state.ism
    one_hot = ism.one_hot.clone()
    one_hot[:, 5] = 0  # an N base
    values = ism.values - ism.values.mean(dim=0, keepdim=True)  # a mean-centred ("hypothetical") map
    centred = ex.Attribution(values=values, one_hot=one_hot, method="ism", target=ism.target, chrom=ism.chrom,
                             genome_start=ism.genome_start, options={"ism_centered": True})
    state.ism = centred
    tracks = view.compare_tracks.object
    predicted = tracks[1].data  # the model's per-base track
    assert np.allclose(predicted["ISM"].to_numpy(), centred.per_base, atol=1e-6)
    assert abs(predicted["ISM"].to_numpy()[5]) < 1e-12
    naive = -centred.values.numpy().sum(axis=0) / 3  # the old recomputation: about 0 for centred maps
    assert not np.allclose(predicted["ISM"].to_numpy(), naive, atol=1e-4)


def test_ism_chunks_are_shown_as_they_arrive(state, explorer_app):
    """Progressive ISM: each chunk from the worker thread fills its part of the shown map."""
    w = state.window
    state.job.start()
    state.job.chunks.append((100, 300, torch.ones(4, 200)))
    state.show_chunks()
    shown = state.attribution
    assert shown.diagnostics["partial"] and len(shown) == len(w)
    assert float(shown.values[:, 100:300].sum()) == pytest.approx(800)
    assert float(shown.values.sum()) == pytest.approx(800)
    state.job.chunks.append((300, 400, 2 * torch.ones(4, 100)))
    state.show_chunks()
    assert float(state.attribution.values.sum()) == pytest.approx(800 + 800)
    assert state.ism is state.attribution and state.job.partial is state.attribution
    assert state.job.chunks_seen == 2
