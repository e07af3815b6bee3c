"""Drive the explorer's state and views from Python (no browser)."""

import json

import numpy as np
import pytest
import torch

import explorer as ex
from explorer.io.samples import SAMPLE_BOOKMARKS, SAMPLE_DATA
from explorer.nets import SampleCNN
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
                 pasted_sequence=s.pasted_sequence, model_path=s.model_path, locus_path=s.locus_path,
                 attribution=s.attribution, ism=s.ism, motifs=s.motifs, diagnostics=s.diagnostics,
                 region_problem=s.region_problem)
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
    lo, hi = explorer_app.state.x_range
    assert lo == pytest.approx(seqlet["genome_start"] - 10 + 0.5)
    assert hi == pytest.approx(seqlet["genome_end"] + 10 + 0.5)
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
    assert "empty or reversed" in state.region_problem and f"Still showing {window.region}" in state.region_problem
    state.region = "HUMHBB:1-90,000"
    assert state.window is window and "outside the loaded locus" in state.region_problem
    state.region = "HUMHBB:100-150"
    assert state.window is window and "at least 100 bp" in state.region_problem
    # the box and the URL synced to it show the window still explained, not the bad text
    state.region = "banana"
    assert state.window is window and state.region == str(window.region)
    assert "'banana'" in state.region_problem
    # a job's messages do not hide it; a valid region clears it
    state.say("Done: something.", "success")
    assert "'banana'" in state.region_problem
    state.region = "HUMHBB:29,191-31,190"
    assert state.window is not window and state.region_problem == ""


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
    assert "is not under the folders this app may read" in state.message
    refused = state.message.replace("/etc/hostname", "PATH")
    state.model_path = "/etc/no-such-file-here"  # same words: nothing said about what exists outside
    assert state.load_model() is False
    assert state.message.replace("/etc/no-such-file-here", "PATH") == refused
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


# -- bring your own model and files (issue 13, item 6) ----------------------------------------
class _ProfileAndCounts(torch.nn.Module):
    """BPNet-like tuple output: (profile (N, 2, L), counts (N, 1)); any length."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(4, 2, 11, padding=5)
        self.counts = torch.nn.Linear(2, 1)

    def forward(self, x):
        profile = self.conv(x)
        return profile, self.counts(torch.logsumexp(profile, -1))


class _FixedLength(torch.nn.Module):
    """Valid convolution, pooling, flatten, linear: only 249 bp fit."""

    def __init__(self, length: int = 249):
        super().__init__()
        self.conv = torch.nn.Conv1d(4, 6, 10)
        self.pool = torch.nn.MaxPool1d(4)
        self.linear = torch.nn.Linear(6 * ((length - 9) // 4), 2)

    def forward(self, x):
        return self.linear(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


class _AlwaysFails(torch.nn.Module):
    def forward(self, x):
        torch._assert(x.shape[0] < 0, "this model refuses every input")
        return x


def _scripted_bytes(cls, tmp_path, name) -> bytes:
    """A cardless TorchScript file of a seeded ``cls()``, as the bytes a browser uploads."""
    torch.manual_seed(0)
    path = tmp_path / name
    torch.jit.save(torch.jit.script(cls().eval()), str(path))
    return path.read_bytes()


def _fasta(name: str, n: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    seq = "".join(rng.choice(list("ACGT"), n))
    return (f">{name} a test record\n" + "\n".join(seq[i:i + 60] for i in range(0, n, 60)) + "\n").encode()


@pytest.fixture()
def own_state(explorer_app):
    """A fresh state on the sample model and a short stretch of the sample locus (its own
    upload folder in this test's cache)."""
    s = explorer_app.state
    locus = s.locus.subregion(s.window.start - 1000, s.window.end + 1000)
    return ex.ExplorerState(model=s.model, locus=locus, roots=[SAMPLE_DATA])


def test_upload_a_cardless_tuple_output_model(own_state, tmp_path):
    s = own_state
    assert s.upload("model", "../my model (v2).pt", _scripted_bytes(_ProfileAndCounts, tmp_path, "m.pt"))
    saved = s.upload_dir / "my_model_v2_.pt"
    assert saved.is_file() and s.upload_dir.resolve() in s.roots
    assert s.upload_dir.parent.name == "uploads"
    # the targets come from ex.target_choices: the counts head (named by position) first, then
    # the profile's channels, then the contrasts between those channels
    assert s.param.task.objects == ex.target_choices(s.model) + ex.contrast_choices(s.model) and s.task == "output 1"
    assert len(s.param.task.objects) == 5 and s.model.tasks == []
    assert all(" - " in t for t in s.param.task.objects[3:])
    assert "output 1" in s.model_summary and "profile" in s.model_summary
    assert s.message_kind == "success" and "tuple of 2 heads" in s.message
    assert s.predictions is not None and "output 1" in s.predictions  # the overview scores the default head
    s.region = str(s.locus.subregion(s.locus.start + 500, s.locus.start + 700).region)
    res = s.compute("ism", with_motifs=False)
    assert res.values.shape == (4, 200) and "output 1" in res.target


def test_contrasts_of_the_sample_tasks_are_offered_and_computed(own_state):
    s = own_state
    assert s.param.task.objects[-2:] == ["CTCF - SPI1", "SPI1 - CTCF"]
    s.region = str(s.locus.subregion(s.locus.start + 500, s.locus.start + 700).region)
    s.task = "CTCF - SPI1"
    res = s.compute("saliency", with_motifs=False)
    a = ex.attribute(s.model, s.window, method="saliency", target="CTCF", cache=False)
    b = ex.attribute(s.model, s.window, method="saliency", target="SPI1", cache=False)
    assert res.target == "CTCF - SPI1"
    torch.testing.assert_close(res.values, a.values - b.values, atol=1e-5 * float((a.values - b.values).abs().max()),
                               rtol=1e-4)


def test_corrections_reload_the_model_and_save_its_card(own_state, tmp_path):
    s = own_state
    assert s.upload("model", "pc.pt", _scripted_bytes(_ProfileAndCounts, tmp_path, "pc.pt"))
    s.fix_heads = "profile, counts"
    assert s.load_model(corrections=True), s.message
    assert s.task == "counts" and all(t == "counts" or t.startswith("profile:") for t in s.param.task.objects)
    where = s.save_card()
    assert where is not None and where.is_file() and str(where) in s.message
    card = json.loads(where.read_text())
    assert [h if isinstance(h, str) else h["name"] for h in card["heads"]] == ["profile", "counts"]
    # the next load of the file reads the card, with no corrections typed
    s.fix_heads = ""
    assert s.load_model() and "profile" in s.fix_heads


def test_a_fixed_length_model_sizes_the_window(own_state, tmp_path):
    s = own_state
    old = s.window
    centre = (old.start + old.end) // 2
    assert s.upload("model", "fixed.pt", _scripted_bytes(_FixedLength, tmp_path, "fixed.pt")), s.message
    assert s.model.input_length == 249 and "exactly 249 bp" in s.model_summary
    assert len(s.window) % 249 == 0 and len(s.window) <= len(old)
    assert abs((s.window.start + s.window.end) // 2 - centre) <= 1
    window = s.window
    s.region = str(s.locus.subregion(s.locus.start + 10, s.locus.start + 110).region)
    assert s.window is window and "at least 249 bp" in s.region_problem
    # a corrected input length that the model does not take: the model and the window stay
    model = s.model
    s.fix_input_length = 300
    assert s.load_model(corrections=True) is False
    assert s.model is model and s.window is window and s.message_kind == "danger"


def test_a_card_that_contradicts_the_model_keeps_the_state(own_state, tmp_path):
    s = own_state
    model, window = s.model, s.window
    s.upload_dir.mkdir(parents=True)
    (s.upload_dir / "fixed.card.json").write_text(json.dumps({"tasks": ["a", "b", "c", "d", "e"]}))
    assert s.upload("model", "fixed.pt", _scripted_bytes(_FixedLength, tmp_path, "fixed.pt")) is False
    assert s.model is model and s.window is window
    assert "2 output channels" in s.message and "5 tasks" in s.message
    assert s.model_path != str(s.upload_dir / "fixed.pt")


def test_bad_uploads_keep_the_state_and_say_why(own_state, tmp_path):
    s = own_state
    model, window, locus = s.model, s.window, s.locus
    s.upload_limits["model"] = 1000
    big = _scripted_bytes(_ProfileAndCounts, tmp_path, "big.pt")
    assert len(big) > 1000
    assert s.upload("model", "big.pt", big) is False
    assert "at most 1000 bytes" in s.message and not (s.upload_dir / "big.pt").exists()
    assert s.upload("model", "hello.pt", b"hello") is False
    assert "not a PyTorch model file" in s.message
    s.upload_limits["model"] = 10 * 2**20
    assert s.upload("model", "fails.pt", _scripted_bytes(_AlwaysFails, tmp_path, "fails.pt")) is False
    assert "refuses every input" in s.message or "length" in s.message
    assert s.upload("locus", "junk.fa", b"this is no sequence file\n") is False
    assert s.upload("meme", "junk.meme", b"nothing\n") is False
    assert s.model is model and s.window is window and s.locus is locus
    for words in ("tasks=[", "max_steps", "trusted=True", "explorer.save_checkpoint"):
        assert words not in s.message


def test_a_locus_of_another_record_resets_region_and_bookmarks(own_state, tmp_path):
    s = own_state
    assert "HBB promoter" in s.param.bookmark.objects
    assert s.upload("locus", "my locus.fa.gz", __import__("gzip").compress(_fasta("myseq", 5000))), s.message
    assert s.locus.chrom == "myseq" and len(s.locus) == 5000
    assert str(s.window.region) == str(ex.Region("myseq", 1500, 3500)) and s.region == str(s.window.region)
    assert s.param.bookmark.objects == ["Centre of myseq"] and s.bookmark == "Centre of myseq"
    assert "HUMHBB" not in s.message
    # a fixed-length model on the new record: a window of its length, centred
    assert s.upload("model", "fixed.pt", _scripted_bytes(_FixedLength, tmp_path, "fixed.pt"))
    assert s.upload("locus", "other.fa", _fasta("other", 3000, seed=1))
    assert s.locus.chrom == "other" and len(s.window) == 249
    assert s.window.start == (3000 - 249) // 2
    # the sample locus again: its own bookmarks
    s.locus_path = "loci/HUMHBB.gb.gz"
    s.region = ""
    assert s.load_locus(), s.message
    assert s.locus.chrom == "HUMHBB" and "HBB promoter" in s.param.bookmark.objects


def test_messages_use_the_apps_words():
    from explorer.ui.state import app_words

    assert "tasks=" not in app_words("it carries no task names. Pass tasks=[...] to load_model")
    text = app_words("x.pt is a full Python pickle: reading it can run arbitrary code (torch.load with "
                     "weights_only=True refused it). If you trust where it came from, load it with "
                     "trusted=True (in the app: tick 'I trust this file'); better, export it as TorchScript.")
    assert "trusted=True" not in text and "weights_only" not in text and "tick 'I trust this file'" in text
    assert "max_steps" not in app_words("not converged even with n_steps=256; raise max_steps, or read the map")
    text = app_words("ConvMax declares no structure (model card 'structure', see explorer.attribution.structure), "
                     "so receptive-field-local ISM cannot be used; plain ISM works for any model")
    assert "explorer." not in text and "plain ISM was used" in text


def test_the_seqlet_threshold_shows_how_many_seqlets_each_setting_gives(state, explorer_app):
    s = state
    s.method = "ig"
    s.set_region(DEFAULT_REGION)  # the module's IG result, with its motifs
    assert s.motifs is not None and set(s.motifs.counts) == {0.001, 0.01, 0.05}
    n = dict(s.motifs.counts)  # not monotonic in general: a looser threshold can merge sites
    assert n[0.01] == len(s.motifs.seqlets)
    try:
        s.seqlet_threshold = 0.05
        assert s.motifs.threshold == 0.05 and len(s.motifs.seqlets) == n[0.05]
        assert f"{n[0.05]} seqlet" in explorer_app.agreement.object and "p < 0.05" in explorer_app.agreement.object
    finally:
        s.seqlet_threshold = 0.01
    assert len(s.motifs.seqlets) == n[0.01]


class _RunsCode:
    """A pickle that touches a file when it is read: what a malicious upload would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        from pathlib import Path

        return (Path.touch, (Path(self.marker),))


def test_a_visitor_cannot_make_the_server_unpickle(state, tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.getbasetemp()
    marker = folder / "code-ran"
    evil = folder / "evil.pt"
    torch.save(_RunsCode(str(marker)), evil)
    monkeypatch.delenv("EXPLORER_ALLOW_PICKLES", raising=False)
    visitor = ex.ExplorerState(model=state.model, locus=state.locus, roots=[SAMPLE_DATA, folder])
    assert visitor.allow_pickles is False
    model = visitor.model
    visitor.param.update(model_path=str(evil), trust_model=True)  # a visitor ticks the box anyway
    assert visitor.load_model() is False and not marker.exists()
    assert visitor.model is model
    assert "does not open full pickles" in visitor.message and "trust" not in visitor.message.lower()
    # the box is not offered at all
    app = ex.Explorer(model=state.model, locus=state.locus, roots=[SAMPLE_DATA], autorun=False)
    assert app.w_trust.visible is False


def test_the_operator_may_allow_trusted_pickles(state, tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.getbasetemp()
    torch.manual_seed(0)
    path = folder / "full_pickle.pt"
    torch.save(SampleCNN(n_tasks=2, channels=8), path)  # a real module, as a full pickle
    monkeypatch.setenv("EXPLORER_ALLOW_PICKLES", "1")
    operator = ex.ExplorerState(model=state.model, locus=state.locus, roots=[SAMPLE_DATA, folder])
    assert operator.allow_pickles is True
    operator.model_path = str(path)
    assert operator.load_model() is False  # not ticked: refused, and told how
    assert "tick 'I trust this file'" in operator.message
    operator.trust_model = True
    assert operator.load_model() is True and operator.model.kind == "pickle"


def test_links_out_of_the_folders_are_refused(state, tmp_path_factory):
    import os

    allowed = tmp_path_factory.mktemp("allowed")
    outside = tmp_path_factory.mktemp("outside")
    secret = outside / "secret.pt"
    secret.write_bytes(b"not for visitors")
    (allowed / "soft.pt").symlink_to(secret)
    os.link(secret, allowed / "hard.pt")
    s = ex.ExplorerState(model=state.model, locus=state.locus, roots=[SAMPLE_DATA, allowed])
    model = s.model
    s.model_path = str(allowed / "soft.pt")
    assert s.load_model() is False and "is not under the folders this app may read" in s.message
    s.model_path = str(allowed / "hard.pt")
    assert s.load_model() is False and "has other hard links" in s.message
    assert s.model is model and "not for visitors" not in s.message


def test_cancel_shows_the_last_result_again_with_its_inputs(explorer_app, state):
    """Cancel after switching method and window: the IG result, its method, its window and a
    diagnostics line about it come back (one truth on screen)."""
    ig, region = state.attribution, state.region
    assert ig is not None and ig.method == "ig"
    state.region = "HUMHBB:29,191-31,190"  # a window nothing was computed on
    state.method = "saliency"
    assert state.attribution is None and state.diagnostics == ""  # nothing computed for these inputs yet
    explorer_app.cancel()
    assert state.method == "ig" and state.region == region and state.attribution is ig
    assert state.diagnostics.startswith("Integrated gradients · target CTCF")
    assert state.message_kind == "warning"
    assert f"Cancelled; the Integrated gradients result for CTCF on {region} is shown again" in state.message


def test_the_diagnostics_line_describes_the_result_shown(state):
    shown = state.diagnostics
    job = state.run_job("saliency")  # computed, but another method is shown
    state.apply(job)
    assert state.diagnostics == shown and state.attribution.method == "ig"
    assert "model output for the reference window" in shown and "f(x)" not in shown


def test_diagnostics_explain_the_fast_ism_check_and_the_output_in_words(state):
    from types import SimpleNamespace

    res = SimpleNamespace(method="ism", target="CTCF", device="cpu", seconds=8.1,
                          diagnostics={"fast_ism_max_abs_diff": 1.4e-6, "fast_ism_verified_positions": [3, 40, 90],
                                       "reference_score": 3.979})
    words = state.describe(res)
    assert "fast ISM, checked against plain ISM at 3 positions: they agree within 1.4e-06" in words
    assert "model output for the reference window 3.979" in words
    assert "verified" not in words and "f(x)" not in words


def test_a_bad_motif_file_is_named_as_a_motif_file_problem(state):
    assert "JASPAR" in state.motif_action()
    state.meme_path = "motifs/broken.meme"
    try:
        words = state.motif_action()
    finally:
        state.meme_path = ""
    assert words.startswith("use the motif file broken.meme") and "MEME format" in words


def test_the_plots_draw_on_a_2d_canvas_not_webgl(explorer_app):
    """HoloViews asks for WebGL by default, which a browser without GPU acceleration emulates
    in software at several seconds of CPU per page: every figure of the page draws on a canvas."""
    from bokeh.models import Plot

    root = explorer_app.main.get_root()
    plots = list(root.select({"type": Plot}))
    assert len(plots) >= 3, "the overview and the tracks should have been drawn"
    assert {plot.output_backend for plot in plots} == {"canvas"}
