"""Security: pickles that could run code, paths out of the served folders, writes beside the data.

What is checked, through the public API and through the app's state object (no browser):

* a full pickle (``torch.save(module)``) can run code when read: ``load_model`` refuses it
  unless ``trusted=True``, and refusing runs nothing; in a served app only the operator
  (``EXPLORER_ALLOW_PICKLES=1`` / ``allow_pickles=True``) may allow it, a visitor's ticked box
  does not, and the box is not shown at all;
* the served app reads only under its folders: symbolic links are followed before the
  check (file and folder links out are refused), ``..`` cannot climb out, hard links are
  refused, and the words are the same whether a path outside exists or not;
* uploads land in the session's folder whatever their names say;
* loading a FASTA writes its ``.fai`` (and a bgzip file's ``.gzi``) only in the cache, never
  beside the data, and loading a model writes no card beside it.

Light on purpose: small models built here, a pasted locus, one ``Explorer`` (for the box).
test_ui_state.py holds the same rules for the sample data's app.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
import torch

import explorer as ex
from small_models import TinyCNN
from explorer.nets import SampleCNN
from explorer.ui.files import PICKLES_ENV, checked_path, pickles_allowed, safe_name, write_upload

SEQ = "ACGTTGCA" * 125  # 1,000 bp


class RunsCode:
    """A pickle that touches a file when it is read: what a malicious model file would do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.fixture()
def folders(tmp_path):
    """``(allowed, outside)``: a folder the app may read and one beside it that it may not."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    return allowed, outside


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    return ex.ExplorerModel(TinyCNN().eval(), {"tasks": ["a", "b"], "min_length": 3})


@pytest.fixture(scope="module")
def pasted():
    return ex.locus_from_sequence(SEQ, name="pasted")


def evil_pickle(folder: Path) -> tuple[Path, Path]:
    """``(file, marker)``: a pickle that creates ``marker`` when it is read."""
    marker = folder / "code-ran"
    path = folder / "evil.pt"
    torch.save(RunsCode(marker), path)
    return path, marker


def full_pickle(folder: Path) -> Path:
    """A real module saved as a full pickle (what ``torch.save(model)`` writes)."""
    torch.manual_seed(0)
    path = folder / "full.pt"
    torch.save(SampleCNN(n_tasks=2, channels=8), path)
    return path


def state(small_model, pasted, roots, allow_pickles=None):
    return ex.ExplorerState(model=small_model, locus=pasted, roots=list(roots), allow_pickles=allow_pickles)


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ------------------------------------------------------------------------------ pickles: the API

def test_an_untrusted_pickle_is_refused_and_runs_nothing(tmp_path):
    path, marker = evil_pickle(tmp_path)
    with pytest.raises(ex.ModelLoadError, match="full Python pickle: reading it can run arbitrary code"):
        ex.load_model(path)
    assert not marker.exists()


def test_a_trusted_pickle_loads(tmp_path):
    model = ex.load_model(full_pickle(tmp_path), trusted=True)
    assert model.kind == "pickle" and len(model.tasks) == 2


def test_an_untrusted_real_module_is_refused_too(tmp_path):
    with pytest.raises(ex.ModelLoadError, match="trusted=True"):
        ex.load_model(full_pickle(tmp_path))


def test_pickles_are_off_unless_the_operator_says(monkeypatch):
    monkeypatch.delenv(PICKLES_ENV, raising=False)
    assert pickles_allowed() is False
    for value, allowed in (("1", True), ("yes", True), ("0", False), ("", False), ("no", False)):
        monkeypatch.setenv(PICKLES_ENV, value)
        assert pickles_allowed() is allowed, value


# ------------------------------------------------------------------------------ pickles: the state object

def test_a_visitor_cannot_make_the_server_unpickle(small_model, pasted, folders, monkeypatch):
    allowed, _ = folders
    path, marker = evil_pickle(allowed)
    monkeypatch.delenv(PICKLES_ENV, raising=False)
    s = state(small_model, pasted, [allowed])
    assert s.allow_pickles is False
    s.param.update(model_path=str(path), trust_model=True)  # the box ticked anyway
    assert s.load_model() is False and not marker.exists()
    assert s.model is small_model
    assert "does not open full pickles" in s.message and "trust" not in s.message.lower()


def test_an_uploaded_pickle_runs_nothing(small_model, pasted, folders):
    allowed, _ = folders
    _, marker = evil_pickle(allowed)
    s = state(small_model, pasted, [allowed], allow_pickles=False)
    data = (allowed / "evil.pt").read_bytes()
    assert s.upload("model", "evil.pt", data) is False and not marker.exists()
    assert s.model is small_model and "does not open full pickles" in s.message


def test_the_operator_may_allow_trusted_pickles(small_model, pasted, folders):
    allowed, _ = folders
    s = state(small_model, pasted, [allowed], allow_pickles=True)
    s.model_path = str(full_pickle(allowed))
    assert s.load_model() is False and "tick 'I trust this file'" in s.message  # not ticked: told how
    s.trust_model = True
    assert s.load_model() is True and s.model.kind == "pickle"


def test_the_trust_box_is_shown_only_when_pickles_are_allowed(small_model, pasted, folders):
    allowed, _ = folders
    closed = ex.Explorer(model=small_model, locus=pasted, roots=[allowed], autorun=False, allow_pickles=False)
    assert closed.w_trust.visible is False
    opened = ex.Explorer(model=small_model, locus=pasted, roots=[allowed], autorun=False, allow_pickles=True)
    assert opened.w_trust.visible is True


# ------------------------------------------------------------------------------ paths: links, traversal

OUTSIDE_WORDS = "is not under the folders this app may read"


def test_a_file_link_out_of_the_folders_is_refused(folders):
    allowed, outside = folders
    (outside / "secret.pt").write_bytes(b"not for visitors")
    (allowed / "soft.pt").symlink_to(outside / "secret.pt")
    with pytest.raises(PermissionError, match=OUTSIDE_WORDS):
        checked_path(allowed / "soft.pt", [allowed.resolve()], "model file")


def test_a_folder_link_out_of_the_folders_is_refused(folders):
    allowed, outside = folders
    (outside / "secret.fa").write_text(">s\nACGT\n")
    (allowed / "linked").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PermissionError, match=OUTSIDE_WORDS):
        checked_path("linked/secret.fa", [allowed.resolve()], "locus file")


def test_a_link_that_stays_inside_is_followed(folders):
    allowed, _ = folders
    (allowed / "real.fa").write_text(">s\nACGT\n")
    (allowed / "alias.fa").symlink_to(allowed / "real.fa")
    assert checked_path("alias.fa", [allowed.resolve()]) == (allowed / "real.fa").resolve()


@pytest.mark.parametrize("climb", ["../outside/secret.fa", "sub/../../outside/secret.fa", "{allowed}/../outside/secret.fa",
                                   "../../../../../../etc/passwd"])
def test_dot_dot_cannot_climb_out(folders, climb):
    allowed, outside = folders
    (outside / "secret.fa").write_text(">s\nACGT\n")
    (allowed / "sub").mkdir()
    with pytest.raises(PermissionError, match=OUTSIDE_WORDS):
        checked_path(climb.format(allowed=allowed), [allowed.resolve()], "locus file")


def test_a_hard_link_is_refused(folders):
    allowed, outside = folders
    (outside / "secret.pt").write_bytes(b"not for visitors")
    os.link(outside / "secret.pt", allowed / "hard.pt")
    with pytest.raises(PermissionError, match="has other hard links") as info:
        checked_path(allowed / "hard.pt", [allowed.resolve()], "model file")
    assert "not for visitors" not in str(info.value)


def test_outside_paths_get_the_same_words_whether_they_exist_or_not(folders):
    allowed, outside = folders
    (outside / "there.pt").write_bytes(b"x")
    words = []
    for name in ("there.pt", "not-there.pt"):
        with pytest.raises(PermissionError) as info:
            checked_path(outside / name, [allowed.resolve()], "model file")
        words.append(str(info.value).replace(name, "NAME"))
    assert words[0] == words[1]


def test_a_missing_file_and_a_folder_inside_are_named(folders):
    allowed, _ = folders
    (allowed / "models").mkdir()
    with pytest.raises(FileNotFoundError, match="no model file nope.pt under the folders"):
        checked_path("nope.pt", [allowed.resolve()], "model file")
    with pytest.raises(IsADirectoryError, match="is a folder, not a file"):
        checked_path("models", [allowed.resolve()], "model file")


def test_the_state_refuses_links_and_traversal_and_keeps_what_it_had(small_model, pasted, folders):
    allowed, outside = folders
    (outside / "secret.fa").write_text(">secret\n" + "ACGT" * 100 + "\n")
    (allowed / "soft.fa").symlink_to(outside / "secret.fa")
    s = state(small_model, pasted, [allowed])
    for path in ("soft.fa", "../outside/secret.fa", str(allowed / ".." / "outside" / "secret.fa")):
        s.param.update(locus_path=path, pasted_sequence="")
        assert s.load_locus() is False, path
        assert OUTSIDE_WORDS in s.message and s.locus.chrom == "pasted", path
        assert "ACGT" not in s.message


# ------------------------------------------------------------------------------ uploads

@pytest.mark.parametrize("name, kept", [("../../evil.pt", "evil.pt"), ("/etc/passwd", "passwd"),
                                        ("..\\..\\win.pt", "win.pt"), (".bashrc", "bashrc"), ("", "upload")])
def test_uploads_land_in_their_folder_whatever_their_name(tmp_path, name, kept):
    folder = tmp_path / "uploads"
    path = write_upload(folder, name, b"data", limit=100)
    assert path.parent == folder and path.name == kept == safe_name(name)
    assert listing(tmp_path) == ["uploads", f"uploads/{kept}"]


# ------------------------------------------------------------------------------ nothing written beside the data

def _fasta_files(folder: Path) -> list[Path]:
    from Bio import bgzf

    text = ">chrA\n" + "ACGTACGTAC\n" * 20 + ">chrB\n" + "TTTTGGGGCC\n" * 5
    plain = folder / "genome.fa"
    plain.write_text(text)
    packed = folder / "genome.fa.gz"
    with gzip.open(packed, "wt") as fh:
        fh.write(text)
    blocked = folder / "genome.bgz.fa.gz"
    with bgzf.BgzfWriter(str(blocked)) as fh:
        fh.write(text)
    return [plain, packed, blocked]


def test_loading_a_fasta_writes_its_index_only_in_the_cache(tmp_path, monkeypatch):
    cache, data = tmp_path / "cache", tmp_path / "data"
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(cache))
    data.mkdir()
    files = _fasta_files(data)
    before = listing(data)
    for path in files:
        locus = ex.load_locus(path, region="chrA:3-12")
        assert locus.sequence == "GTACGTACAC", path.name
    assert listing(data) == before  # no .fai, no .gzi beside the data
    indexes = sorted(p.name for p in (cache / "fasta-index").iterdir())
    assert any(n.startswith("genome.fa-") and n.endswith(".fai") for n in indexes), indexes
    assert any(n.startswith("genome.bgz.fa.gz-") and n.endswith(".gzi") for n in indexes), indexes


def test_a_read_only_data_folder_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "data"
    data.mkdir()
    files = _fasta_files(data)
    data.chmod(0o555)
    try:
        if os.access(data, os.W_OK):
            pytest.skip("running as a user who can write read-only folders")
        for path in files:
            assert ex.load_locus(path, region="chrB:1-4").sequence == "TTTT"
    finally:
        data.chmod(0o755)


def test_the_state_and_the_model_loader_write_nothing_beside_the_data(small_model, pasted, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "data"
    data.mkdir()
    _fasta_files(data)
    torch.manual_seed(0)
    torch.jit.save(torch.jit.script(TinyCNN().eval()), str(data / "tiny.pt"))
    before = listing(data)
    s = state(small_model, pasted, [data])
    s.model_path = "tiny.pt"
    assert s.load_model() is True, s.message
    s.param.update(locus_path="genome.fa", pasted_sequence="", region="chrA:1-200")
    assert s.load_locus() is True, s.message
    assert listing(data) == before
