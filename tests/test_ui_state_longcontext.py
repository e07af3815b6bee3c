"""The app's state with Enformer/Borzoi folders: loaded from the Model box, predicted tracks in
the overview, targets typed and searched, folders checked like files.

Tiny random-init folders are built here (as tests/test_io_longcontext.py does); the state is
driven from Python (no browser). Checks: the folder loads by its path under the data folders
(its targets table beside it or typed), the overview's tracks equal the model's output on the
window's own input at the bins' bases, the track choice redraws them, the search box lists
at most 50 matches and chooses a whole target or contrast, bad text says what is wrong and
keeps the last valid target (box, list and "URL" value agree), and a folder linked out of
the data folders, a link inside a folder, or ``..`` are refused without naming outside paths.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest
import torch

enformer_pytorch = pytest.importorskip("enformer_pytorch", reason="enformer-pytorch is not installed (extra 'enformer')")
borzoi_pytorch = pytest.importorskip("borzoi_pytorch", reason="borzoi-pytorch is not installed (extra 'borzoi')")

import explorer as ex  # noqa: E402
from explorer.plots.bins import track_bands  # noqa: E402
from explorer.ui.files import checked_path  # noqa: E402
from explorer.ui.state import MAX_TASK_CHOICES, ExplorerState  # noqa: E402
from longcontext_folders import tiny_enformer_folder, write_targets  # noqa: E402

TRACKS = [("ENCFF001", "CAGE:HepG2"), ("ENCFF002", "CAGE:K562"), ("ENCFF003", "DNASE:K562"),
          ("ENCFF004", "CHIP:CTCF:HepG2")]


hv.extension("bokeh", logo=False)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A data folder holding ``tiny-enformer/`` (config.json, weights, targets.txt)."""
    root = tmp_path_factory.mktemp("data")
    tiny_enformer_folder(root / "tiny-enformer", TRACKS)
    return root.resolve()


def pasted(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return ex.locus_from_sequence("".join(rng.choice(list("ACGT"), n)), name="chrT")


def loaded(root) -> ExplorerState:
    s = ExplorerState(locus=pasted(), roots=[root], model_path="tiny-enformer")
    assert s.model is not None and s.model.kind == "enformer", s.message
    return s


def test_the_model_box_loads_a_folder_and_the_overview_shows_its_tracks(root):
    s = loaded(root)
    assert s.model.tasks == [d for _i, d in TRACKS] and "Loaded model" in s.message
    assert len(s.window) == 64 and s.predictions is None  # the window is the model's input
    assert s.shown_tracks == ["CAGE:HepG2", "CAGE:K562", "DNASE:K562"]  # the task first, then 2 more
    frame = s.track_predictions
    assert list(frame.columns[6:]) == s.shown_tracks
    # the window's own input is one of the inputs; its bins equal the model on the window
    mine = frame[frame["input_start"] == s.window.start - s.locus.start]
    with torch.no_grad():
        direct = s.model(s.window.one_hot[None])[0]
    np.testing.assert_allclose(mine["CAGE:K562"], direct[1].numpy(), rtol=1e-6, atol=1e-6 * float(direct.abs().max()))
    # 4 bins of 8 bp from input base 16: genome bases window.start + 16 + 8 i
    assert mine["genome_start"].tolist() == [s.window.start + 16 + 8 * i for i in range(4)]
    # the bands: one per track, the window shaded, bins in the title
    bands = track_bands(frame, s.shown_tracks, chrom=s.locus.chrom, window=(s.window.start, s.window.end),
                        xlim=(s.locus.start, s.locus.end)).bands
    assert len(bands.Rectangles) == 3 and "bins of 8 bp" in hv.render(bands).title.text
    # another choice of tracks redraws; the window moved moves the inputs with it
    s.shown_tracks = ["CHIP:CTCF:HepG2"]
    assert list(s.track_predictions.columns[6:]) == ["CHIP:CTCF:HepG2"]
    s.region = "chrT:101-164"
    assert s.window.start == 100 and 100 in set(s.track_predictions["input_start"])


def test_a_typed_targets_table_names_the_tracks(root, tmp_path):
    other = [(f"X{i}", f"renamed {i}") for i in range(4)]
    write_targets(root / "renamed.txt", other)
    s = ExplorerState(locus=pasted(), roots=[root], model_path="tiny-enformer", targets_path="renamed.txt")
    assert s.model.tasks == ["renamed 0", "renamed 1", "renamed 2", "renamed 3"]
    s.targets_path = "../outside.txt"
    assert s.load_model() is False and "not under the folders" in s.message and s.model.tasks[0] == "renamed 0"


def test_targets_are_searched_spelled_and_bad_text_keeps_the_last_target(root):
    s = loaded(root)
    assert s.task == "CAGE:HepG2"
    s.task_search = "k562"
    assert s.param.task.objects == ["CAGE:K562", "DNASE:K562", "CAGE:HepG2"] and s.task == "CAGE:HepG2"
    s.task_search = "cage:hepg2 - ENCFF002"  # a whole contrast, an alias in it: chosen
    assert s.task == "CAGE:HepG2 - CAGE:K562" and s.task in s.param.task.objects and not s.task_problem
    s.task_search = "nonsense"
    assert "No target matches 'nonsense'" in s.task_problem and s.task == "CAGE:HepG2 - CAGE:K562"
    s.task_search = ""
    assert not s.task_problem
    # a linked (URL) target: spelled, or refused with words and the last one put back
    s.task = "encff003"
    assert s.task == "DNASE:K562" and "encff003" not in s.param.task.objects
    s.task = "CAGE:HepG3 - CAGE:K562"
    assert s.task == "DNASE:K562" and "no target is called 'CAGE:HepG3'" in s.task_problem
    assert "did you mean 'CAGE:HepG2'" in s.task_problem and "Still explaining DNASE:K562" in s.task_problem
    assert "CAGE:HepG3 - CAGE:K562" not in s.param.task.objects
    s.task = "CAGE:K562"
    assert not s.task_problem
    # a contrast target is computed like any other
    s.task = "CAGE:HepG2 - DNASE:K562"
    s.method = "saliency"
    res = s.compute(with_motifs=False)
    assert res.target.startswith("CAGE:HepG2") and " - " in res.target and s.attribution is res


def test_a_borzoi_with_thousands_of_tracks_lists_fifty_and_searches_the_rest(tmp_path):
    torch.manual_seed(0)
    net = borzoi_pytorch.Borzoi.from_hparams(dim=32, depth=1, heads=1, attn_dim_key=8, attn_dim_value=32,
                                             bins_to_return=16).eval()
    rows = [(f"ENCFF{i:05d}", f"RNA:sample {i}") for i in range(7611)]
    rows[5] = ("ENCFF90000", "RNA:liver")
    net.save_pretrained(tmp_path / "tiny-borzoi")
    write_targets(tmp_path / "tiny-borzoi" / "targets.txt", rows)
    s = ExplorerState(locus=pasted(12_000, 1), roots=[tmp_path.resolve()], model_path="tiny-borzoi")
    assert s.model is not None and s.model.kind == "borzoi", s.message
    assert s.many_targets and len(s.param.task.objects) == MAX_TASK_CHOICES and "7,611 tracks" in s.message
    s.task_search = "liver"
    assert s.task == "RNA:liver"
    s.task_search = "ENCFF07000"
    assert s.task == "RNA:sample 7000"
    assert len(s.shown_tracks) == 3 and s.track_predictions is not None
    assert (s.track_predictions["end"] - s.track_predictions["start"]).eq(32).all()


def test_model_folders_are_checked_like_files(root, tmp_path):
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    tiny_enformer_folder(outside / "secret-enformer", TRACKS)
    (allowed / "linked-enformer").symlink_to(outside / "secret-enformer", target_is_directory=True)
    inner = allowed / "inner-link"
    inner.mkdir()
    (inner / "config.json").symlink_to(outside / "secret-enformer" / "config.json")
    roots = [allowed.resolve()]
    for path in ("linked-enformer", "../outside/secret-enformer", str(allowed / ".." / "outside" / "secret-enformer")):
        with pytest.raises(PermissionError, match="not under the folders") as info:
            checked_path(path, roots, "model file", folders=True)
        assert str(outside) not in str(info.value).replace(str(path), "")
    with pytest.raises(PermissionError, match="config.json, a link out of the folders") as info:
        checked_path("inner-link", roots, "model file", folders=True)
    assert str(outside) not in str(info.value)
    assert checked_path("tiny-enformer", [root], "model file", folders=True) == root / "tiny-enformer"
    with pytest.raises(IsADirectoryError):  # without folders=True a folder is still refused
        checked_path("tiny-enformer", [root], "model file")
    # through the state: refused, the model loaded before stays
    s = ExplorerState(locus=pasted(), roots=[root, allowed.resolve()], model_path="tiny-enformer")
    for path in ("linked-enformer", "inner-link", "../outside/secret-enformer"):
        s.model_path = path
        assert s.load_model() is False and s.model.name == "tiny-enformer", path
        assert str(outside) not in s.message.replace(path, "")


def test_the_page_shows_the_folder_boxes_tracks_and_search(root):
    from explorer.ui.app import Explorer

    app = Explorer(model="tiny-enformer", locus=pasted(), roots=[root], autorun=False)
    s = app.state
    assert s.model.kind == "enformer", s.message
    assert list(app.w_tracks.options) == s.model.tasks and app.w_tracks.value == s.shown_tracks  # box and state agree
    app.w_tracks.value = ["DNASE:K562", "CAGE:K562"]
    assert list(s.track_predictions.columns[6:]) == ["DNASE:K562", "CAGE:K562"]
    figures = app._overview(s.locus, s.predictions, s.window, s.model, s.track_predictions)
    assert len(figures.scores.Rectangles) == 2 and figures.picker is not None
    search = app.w_task_search[0]
    search.value = "ENCFF002 - cage:hepg2"
    assert s.task == "CAGE:K562 - CAGE:HepG2" and app.w_task.value == s.task
